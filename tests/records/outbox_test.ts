import assert from "node:assert/strict";
import {
  addOutboxItems,
  cancelPending,
  type OutboxReady,
  planNotice,
  planRecall,
  planReply,
} from "../../src/records/outbox.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import { keys } from "../../src/store/keys.ts";

const job = { id: "job42", conversation: "wwcorp:zhangsan", app: "default", userId: "zhangsan" };
const target = { conversation: job.conversation, app: job.app, userId: job.userId, jobId: job.id };
const bytes = (text: string) => new TextEncoder().encode(text).length;
const contentOf = (item: OutboxItem) => "content" in item.message ? item.message.content : "";

Deno.test("planReply splits a 10 KB reply into ordered chunks of at most 2048 bytes", () => {
  const sentences = Array.from({ length: 400 }, (_, i) => `这是第${i}句话, with some English.`);
  const text = sentences.join(" ");
  assert.ok(bytes(text) > 10_000);
  const items = planReply(job, { text, attachments: [] }, { markdown: false, now: 1_000 });
  assert.ok(items.length >= 5);
  for (const item of items) {
    assert.ok(bytes(contentOf(item)) <= 2048);
    assert.equal(item.message.msgtype, "text");
    assert.equal(item.state, "pending");
    assert.equal(item.attempts, 0);
    assert.equal(item.purpose, "reply");
    assert.equal(item.jobId, "job42");
    assert.equal(item.conversation, "wwcorp:zhangsan");
    assert.equal(item.createdAt, 1_000);
  }
  for (let i = 1; i < items.length; i++) assert.ok(items[i - 1].id < items[i].id, "ids in order");
  assert.equal(items.map(contentOf).join(" "), text);
});

Deno.test("planReply uses markdown when configured", () => {
  const [item] = planReply(job, { text: "**bold**", attachments: [] }, { markdown: true });
  assert.deepEqual(item.message, { msgtype: "markdown", content: "**bold**" });
});

Deno.test("planReply plans one media item per attachment, after the text", () => {
  const reply = {
    text: "Here is the report.",
    attachments: [{ path: "/tmp/out/report.pdf" }, {
      path: "C:\\work\\chart.png",
      kind: "image" as const,
    }],
  };
  const items = planReply(job, reply, { markdown: false });
  assert.equal(items.length, 3);
  assert.equal(contentOf(items[0]), "Here is the report.");
  assert.deepEqual(items[1].message, {
    msgtype: "media",
    path: "/tmp/out/report.pdf",
    filename: "report.pdf",
  });
  assert.deepEqual(items[2].message, {
    msgtype: "media",
    path: "C:\\work\\chart.png",
    filename: "chart.png",
    kind: "image",
  });
  assert.ok(items[0].id < items[1].id && items[1].id < items[2].id, "text first, files in order");
  assert.ok(items.every((item) => item.purpose === "reply" && item.jobId === "job42"));

  const only = planReply(job, { text: "", attachments: [{ path: "a.txt" }] }, { markdown: false });
  assert.equal(only.length, 1);
  assert.equal(only[0].message.msgtype, "media");
});

Deno.test("planReply explains an attachment whose bytes were never stored", () => {
  const data = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const items = planReply(job, { text: "", attachments: [{ path: "x.bin", data }] }, {
    markdown: false,
  });
  assert.equal(items.length, 1);
  assert.match(contentOf(items[0]), /^\[Could not send the file "x\.bin"/);
});

Deno.test("planReply of an empty reply plans nothing", () => {
  assert.deepEqual(planReply(job, { text: " \n", attachments: [] }, { markdown: false }), []);
});

Deno.test("planNotice plans one text item and refuses text that does not fit", () => {
  const item = planNotice(target, "Working on it…", "working", { notBefore: 5_000, now: 1_000 });
  assert.deepEqual(item.message, { msgtype: "text", content: "Working on it…" });
  assert.equal(item.purpose, "working");
  assert.equal(item.notBefore, 5_000);
  assert.throws(() => planNotice(target, "好".repeat(700), "notice"), /1 to 2048 UTF-8 bytes/);
  assert.throws(() => planNotice(target, "  ", "notice"), RangeError);
});

Deno.test("planRecall targets an item and sorts after it", () => {
  const notice = planNotice(target, "Working on it…", "working");
  const recall = planRecall(target, notice.id);
  assert.deepEqual(recall.message, { msgtype: "recall", ofItem: notice.id });
  assert.equal(recall.purpose, "recall");
  assert.ok(recall.id > notice.id);
});

Deno.test("addOutboxItems queues items, marks the conversation ready and bumps the wake-up", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const items = planReply(job, { text: "one\n\ntwo", attachments: [] }, { markdown: false });
    const other = planNotice(
      { ...target, conversation: "wwcorp:lisi", userId: "lisi" },
      "hi",
      "notice",
    );
    const result = await addOutboxItems(kv.atomic().set(["job", job.id], "done"), [...items, other])
      .commit();
    assert.ok(result.ok);
    assert.equal((await kv.get(["job", job.id])).value, "done", "part of the caller's commit");
    for (const item of [...items, other]) {
      assert.deepEqual((await kv.get(keys.outbox(item.id))).value, item);
      assert.equal((await kv.get(keys.outboxQueue(item.conversation, item.id))).value, item.id);
    }
    const ready = await Array.fromAsync(kv.list<OutboxReady>({ prefix: keys.outboxReadyPrefix() }));
    assert.deepEqual(ready.map((e) => [e.key[1], e.value.notBefore]), [
      ["wwcorp:lisi", 0],
      ["wwcorp:zhangsan", 0],
    ]);
    assert.equal((await kv.get<Deno.KvU64>(keys.outboxWake())).value?.value, 1n);
    await addOutboxItems(kv.atomic(), [planNotice(target, "again", "notice")]).commit();
    assert.equal((await kv.get<Deno.KvU64>(keys.outboxWake())).value?.value, 2n);
  } finally {
    kv.close();
  }
});

Deno.test("addOutboxItems writes nothing when the caller's check fails", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["job", job.id], "running");
    const stale = { key: ["job", job.id], versionstamp: "00000000000000000000" };
    const items = planReply(job, { text: "reply", attachments: [] }, { markdown: false });
    const result = await addOutboxItems(kv.atomic().check(stale), items).commit();
    assert.equal(result.ok, false);
    assert.equal((await kv.get(keys.outbox(items[0].id))).value, null);
    assert.equal((await Array.fromAsync(kv.list({ prefix: ["out_q"] }))).length, 0);
  } finally {
    kv.close();
  }
});

Deno.test("cancelPending cancels a pending item, leaves the queue and reports the other states", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = 1_000_000;
    const held = planNotice(target, "Working on it…", "working", { notBefore: now + 60_000, now });
    const inFlight = {
      ...planNotice(target, "busy", "notice", { now }),
      inFlightUntil: now + 5_000,
    };
    const sent: OutboxItem = { ...planNotice(target, "done", "notice", { now }), state: "sent" };
    await addOutboxItems(kv.atomic(), [held, inFlight, sent]).commit();

    assert.equal(await cancelPending(kv, held.id, now), "cancelled");
    const cancelled = (await kv.get<OutboxItem>(keys.outbox(held.id))).value;
    assert.equal(cancelled?.state, "dead");
    assert.equal(cancelled?.lastError, "cancelled");
    assert.equal((await kv.get(keys.outboxQueue(held.conversation, held.id))).value, null);
    assert.equal((await kv.get(keys.deadLetter(held.id))).value, null, "not a dead letter");
    assert.equal(await cancelPending(kv, held.id, now), "cancelled", "idempotent");

    assert.equal(await cancelPending(kv, inFlight.id, now), "in_flight");
    assert.equal(await cancelPending(kv, inFlight.id, now + 5_001), "cancelled", "lease expired");
    assert.equal(await cancelPending(kv, sent.id, now), "sent");
    assert.equal(await cancelPending(kv, "missing", now), "not_found");
  } finally {
    kv.close();
  }
});
