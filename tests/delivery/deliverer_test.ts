import assert from "node:assert/strict";
import type { DeliveryConfig } from "../../src/config/types.ts";
import {
  deliveryConcurrency,
  type DeliveryDeps,
  startDelivery,
} from "../../src/delivery/deliverer.ts";
import { listOutbox } from "../../src/records/outbox_queries.ts";
import {
  addOutboxItems,
  cancelPending,
  planNotice,
  planRecall,
  planReply,
} from "../../src/records/outbox.ts";
import type { OutboxItem } from "../../src/records/outbox_item.ts";
import type { LogFields, LogLevel } from "../../src/log.ts";
import { keys } from "../../src/store/keys.ts";
import { delay } from "../../src/delay.ts";
import { createPriorityGate } from "../../src/priority_gate.ts";
import { waitFor } from "../lib/wait.ts";
import { visibleText } from "../../src/delivery/duplicate_check.ts";
import { DUPLICATE_CHECK_INTERVAL_SECONDS } from "../../src/wecom/client.ts";
import {
  APP,
  type Clock,
  createClock,
  createFakeWeCom,
  DELIVERY,
  type FakeWeCom,
  httpError,
  timeoutError,
  wecomError,
} from "./fake_client.ts";

interface LogLine {
  level: LogLevel;
  message: string;
  fields?: LogFields;
}

interface Harness {
  kv: Deno.Kv;
  clock: Clock;
  fake: FakeWeCom;
  logs: LogLine[];
  delivery: ReturnType<typeof startDelivery>;
  close(): Promise<void>;
}

type Overrides = Partial<Omit<DeliveryDeps, "config">> & { config?: Partial<DeliveryConfig> };

async function setup(overrides: Overrides = {}, shared?: Harness): Promise<Harness> {
  const kv = shared?.kv ?? await Deno.openKv(":memory:");
  const clock = shared?.clock ?? createClock();
  const fake = shared?.fake ?? createFakeWeCom(clock.now);
  const logs: LogLine[] = shared?.logs ?? [];
  const { config, ...rest } = overrides;
  const delivery = startDelivery({
    kv,
    apps: [APP],
    client: fake.client,
    config: { ...DELIVERY, ...config },
    now: clock.now,
    log: (level, message, fields) => logs.push({ level, message, fields }),
    pollMs: 20,
    random: () => 1,
    ...rest,
  });
  return {
    kv,
    clock,
    fake,
    logs,
    delivery,
    async close() {
      await delivery.stop();
      if (!shared) kv.close();
    },
  };
}

function target(userId: string, app = APP.name) {
  return { conversation: `${APP.corpId}:${userId}`, app, userId, jobId: "job1" };
}

function textItems(clock: Clock, userId: string, texts: string[], app = APP.name): OutboxItem[] {
  return texts.map((text) => planNotice(target(userId, app), text, "reply", { now: clock.now() }));
}

async function enqueue(kv: Deno.Kv, items: OutboxItem[]): Promise<void> {
  const result = await addOutboxItems(kv.atomic(), items).commit();
  assert(result.ok);
}

async function item(kv: Deno.Kv, id: string): Promise<OutboxItem> {
  const entry = await kv.get<OutboxItem>(keys.outbox(id));
  assert(entry.value, `item ${id} exists`);
  return entry.value;
}

/** Runs the loop to completion, advancing the clock by `stepMs` while items wait. */
async function drain(h: Harness, stepMs: number, rounds = 50): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await h.delivery.idle();
    if ((await listOutbox(h.kv, { state: "pending" })).length === 0) return;
    h.clock.advance(stepMs);
    h.delivery.wake();
  }
  throw new Error(`items still pending after ${rounds} rounds`);
}

function assertNoContent(logs: LogLine[], texts: string[]): void {
  const written = JSON.stringify(logs);
  for (const text of texts) assert(!written.includes(text), `log contains message content`);
}

Deno.test("delivers each conversation's items once, in id order, and records the msgid", async () => {
  const h = await setup();
  try {
    const a = textItems(h.clock, "alice", ["a1", "a2", "a3", "a4", "a5"]);
    const b = textItems(h.clock, "bob", ["b1", "b2", "b3"]);
    await enqueue(h.kv, [a[0], b[0], a[1]]);
    await enqueue(h.kv, [...a.slice(2), ...b.slice(1)]);
    await h.delivery.idle();

    assert.deepEqual(h.fake.textsOf("alice"), ["a1", "a2", "a3", "a4", "a5"]);
    assert.deepEqual(h.fake.textsOf("bob"), ["b1", "b2", "b3"]);
    assert.deepEqual(h.fake.calls.length, 8);
    assert(
      h.fake.calls.every((call) => call.duplicateCheck),
      "every send, the first included, carries the duplicate check (a crash may follow it)",
    );
    const stored = await item(h.kv, a[0].id);
    assert.deepEqual(stored.state, "sent");
    assert.deepEqual(stored.attempts, 1);
    assert.deepEqual(stored.inFlightUntil, undefined);
    assert.deepEqual(stored.msgId, h.fake.received.find((r) => r.userId === "alice")?.msgId);
    // Queues and ready markers are gone.
    assert.deepEqual((await Array.fromAsync(h.kv.list({ prefix: ["out_q"] }))).length, 0);
    assert.deepEqual(
      (await Array.fromAsync(h.kv.list({ prefix: keys.outboxReadyPrefix() }))).length,
      0,
    );
    assertNoContent(h.logs, ["a1", "b1"]);
  } finally {
    await h.close();
  }
});

Deno.test("a 10 KB reply arrives as ordered chunks of at most 2048 bytes", async () => {
  const h = await setup({ config: { markdown: true } });
  try {
    const paragraphs = Array.from(
      { length: 40 },
      (_, i) => `Paragraph ${i}: ` + "lorem ipsum dolor sit amet ".repeat(9).trim(),
    );
    const text = paragraphs.join("\n\n");
    const job = { id: "job1", conversation: "wwcorp:carol", app: APP.name, userId: "carol" };
    await enqueue(
      h.kv,
      planReply(job, { text, attachments: [] }, { markdown: true, now: h.clock.now() }),
    );
    await h.delivery.idle();
    const chunks = h.fake.textsOf("carol");
    assert(chunks.length >= 5);
    for (const chunk of chunks) assert(new TextEncoder().encode(chunk).length <= 2048);
    assert.deepEqual(chunks.join("\n\n"), text);
    assert(h.fake.received.every((r) => r.message.msgtype === "markdown"));
  } finally {
    await h.close();
  }
});

Deno.test("45 messages to one member: 30 in the first minute, the rest held, none dropped", async () => {
  const h = await setup();
  try {
    const start = h.clock.now();
    const texts = Array.from({ length: 45 }, (_, i) => `m${i}`);
    await enqueue(h.kv, textItems(h.clock, "dave", texts));
    await enqueue(h.kv, textItems(h.clock, "erin", ["other member"]));
    await h.delivery.idle();

    assert.deepEqual(h.fake.textsOf("dave"), texts.slice(0, 30));
    assert.deepEqual(h.fake.textsOf("erin"), ["other member"], "other members are not held");
    const pending = await listOutbox(h.kv, { state: "pending" });
    assert.deepEqual(pending.length, 15);
    assert(pending.every((p) => p.attempts === 0), "holding is not an attempt");
    assert(pending[0].notBefore >= start + 60_000);

    h.clock.advance(30_000);
    h.delivery.wake();
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("dave").length, 30, "still held half a minute later");

    await drain(h, 31_000);
    assert.deepEqual(h.fake.textsOf("dave"), texts);
    assert.deepEqual(h.fake.dropped, [], "WeCom dropped nothing");
    const late = h.fake.received.filter((r) => r.userId === "dave").slice(30);
    assert(late.every((r) => r.at >= start + 60_000));
    assert(h.logs.some((line) => line.message.includes("held by pacing")));
  } finally {
    await h.close();
  }
});

Deno.test("busy, rate-limited, 503 and timed-out sends are retried until each arrives once, in order", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push(
      wecomError(-1),
      wecomError(45009),
      httpError(503),
      timeoutError(),
      wecomError(-1),
    );
    const texts = ["r1", "r2", "r3"];
    const items = textItems(h.clock, "frank", texts);
    await enqueue(h.kv, items);
    await h.delivery.idle();
    assert.deepEqual(h.fake.received.length, 0);
    const held = await item(h.kv, items[0].id);
    assert.deepEqual(held.attempts, 1);
    assert.match(held.lastError ?? "", /errcode -1/);
    assert(held.notBefore > h.clock.now(), "backs off");

    await drain(h, 60_000);
    assert.deepEqual(h.fake.textsOf("frank"), texts);
    assert.deepEqual(h.fake.duplicates.length, 0);
    // Every send of r1 is the same request with the duplicate check on.
    const r1Calls = h.fake.calls.filter((c) =>
      "content" in c.message && c.message.content === "r1"
    );
    assert.deepEqual(r1Calls.map((c) => c.duplicateCheck), [true, true, true, true, true, true]);
    assert.deepEqual((await item(h.kv, items[0].id)).attempts, 6);
    assert(h.logs.some((line) => line.level === "warn" && line.message.includes("retrying")));
    assertNoContent(h.logs, ["r1", "r2", "r3"]);
  } finally {
    await h.close();
  }
});

Deno.test("back-off doubles up to the cap and is persisted in notBefore", async () => {
  const h = await setup({ backoffBaseMs: 1000, backoffMaxMs: 4000 });
  try {
    for (let i = 0; i < 5; i++) h.fake.sendBehaviours.push(wecomError(-1));
    const [only] = textItems(h.clock, "gina", ["x"]);
    await enqueue(h.kv, [only]);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await h.delivery.idle();
      const stored = await item(h.kv, only.id);
      delays.push(stored.notBefore - h.clock.now());
      h.clock.set(stored.notBefore);
      h.delivery.wake();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 4000, 4000]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("gina"), ["x"]);
  } finally {
    await h.close();
  }
});

Deno.test("a send whose answer was lost is resent with the duplicate check and arrives once", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push({ deliverThenThrow: timeoutError() });
    const items = textItems(h.clock, "hank", ["once", "after"]);
    await enqueue(h.kv, items);
    await drain(h, 10_000);
    assert.deepEqual(h.fake.textsOf("hank"), ["once", "after"]);
    assert.deepEqual(h.fake.duplicates.length, 1, "WeCom dropped the identical resend");
    assert.deepEqual(h.fake.calls.map((c) => c.duplicateCheck), [true, true, true]);
    assert.deepEqual((await item(h.kv, items[0].id)).state, "sent");
  } finally {
    await h.close();
  }
});

Deno.test("an item left in flight by a crashed sender is resent after its lease, once", async () => {
  const h = await setup({ leaseMs: 30_000 });
  try {
    const [crashed, next] = textItems(h.clock, "ivan", ["in flight", "next one"]);
    // The crashed process claimed the item and WeCom delivered it; "sent" was never recorded.
    await h.fake.client.send(
      APP,
      "ivan",
      crashed.message as { msgtype: "text"; content: string },
      { duplicateCheck: true },
    );
    await enqueue(h.kv, [
      { ...crashed, attempts: 1, variant: 0, inFlightUntil: h.clock.now() + 30_000 },
      next,
    ]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.calls.length, 1, "nothing is sent while the lease holds");

    h.clock.advance(30_001);
    h.delivery.wake();
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("ivan"), ["in flight", "next one"]);
    assert.deepEqual(h.fake.calls.map((c) => c.duplicateCheck), [true, true, true]);
    assert.deepEqual(h.fake.duplicates.length, 1);
    const stored = await item(h.kv, crashed.id);
    assert.deepEqual(stored.state, "sent");
    assert.deepEqual(stored.attempts, 2);
  } finally {
    await h.close();
  }
});

Deno.test("an item left in flight past its window is resent once while WeCom's duplicate check covers it, else dead-lettered", async () => {
  const h = await setup();
  try {
    const now = h.clock.now();
    const [recent, old, next] = textItems(h.clock, "nora", ["down 40 min", "down 5 h", "after"]);
    // Both were claimed and sent (with the check) by a process that then died; it stayed down.
    for (const [crashed, ago] of [[recent, 40 * 60_000], [old, 5 * 3_600_000]] as const) {
      await h.fake.client.send(
        APP,
        "nora",
        crashed.message as { msgtype: "text"; content: string },
        { duplicateCheck: true },
      );
      await enqueue(h.kv, [{
        ...crashed,
        attempts: 1,
        variant: 0,
        firstAttemptAt: now - ago,
        lastAttemptAt: now - ago,
        inFlightUntil: now - ago + 7000,
      }]);
    }
    await enqueue(h.kv, [next]);
    await drain(h, 1000);
    assert.deepEqual(h.fake.textsOf("nora"), ["down 40 min", "down 5 h", "after"], "once each");
    assert.deepEqual(h.fake.duplicates.length, 1, "the resend within 4 h was recognised");
    assert.deepEqual((await item(h.kv, recent.id)).state, "sent");
    const dead = await item(h.kv, old.id);
    assert.deepEqual(dead.state, "dead", "not resent after 5 h: WeCom would not drop the copy");
    assert.deepEqual(dead.deadReason?.cause, "window");
    assert.match(dead.lastError ?? "", /outcome is unknown.*outside WeCom's duplicate check/);
  } finally {
    await h.close();
  }
});

Deno.test("a permanent error makes a dead letter and the conversation's next item still goes out", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push(wecomError(81013));
    const items = textItems(h.clock, "judy", ["private words", "second"]);
    await enqueue(h.kv, items);
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("judy"), ["second"]);
    const dead = await item(h.kv, items[0].id);
    assert.deepEqual(dead.state, "dead");
    assert.match(dead.lastError ?? "", /81013/);
    assert.deepEqual((await h.kv.get(keys.deadLetter(items[0].id))).value, items[0].id);
    assert.deepEqual(h.fake.calls.length, 2, "a permanent error is not retried");
    const line = h.logs.find((l) => l.level === "error" && l.message.includes("dead letters"));
    assert(line, "the dead letter is logged as an error");
    assert.deepEqual(line.fields?.item, items[0].id);
    assertNoContent(h.logs, ["private words"]);
  } finally {
    await h.close();
  }
});

/**
 * Makes WeCom fail every send until `recoverAt` (fake clock), cycling through HTTP 500,
 * errcode -1 and errcode 45009; counts the failed calls per text.
 */
function outageUntil(h: Harness, recoverAt: number): Map<string, number> {
  const failed = new Map<string, number>();
  const errors = [httpError(500), wecomError(-1), wecomError(45009)];
  const send = h.fake.client.send;
  let n = 0;
  h.fake.client.send = (app, userId, message, options) => {
    if (h.clock.now() >= recoverAt) return send(app, userId, message, options);
    const text = "content" in message ? message.content : "";
    failed.set(text, (failed.get(text) ?? 0) + 1);
    return Promise.reject(errors[n++ % errors.length]);
  };
  return failed;
}

Deno.test("a 25-minute WeCom outage (HTTP 500, -1, 45009) needs no operator: replies wait in order and go out on their own, once", async () => {
  const h = await setup(); // default window: 30 minutes
  try {
    const start = h.clock.now();
    const recoverAt = start + 25 * 60_000;
    const failed = outageUntil(h, recoverAt);
    const a = textItems(h.clock, "olga", ["o1", "o2", "o3"]);
    const b = textItems(h.clock, "pete", ["p1"]);
    await enqueue(h.kv, [...a, ...b]);

    // Through the outage, in steps of 20 s of fake time.
    while (h.clock.now() < recoverAt) {
      await h.delivery.idle();
      h.clock.advance(20_000);
      h.delivery.wake();
    }
    assert.deepEqual(h.fake.received.length, 0, "nothing got through during the outage");
    assert.deepEqual((await listOutbox(h.kv, { state: "dead" })).length, 0, "no dead letters");
    assert((failed.get("o1") ?? 0) > 8, `o1 was tried ${failed.get("o1")} times, beyond 8`);
    assert.deepEqual(failed.get("o2"), undefined, "o2 waits behind o1: never sent before it");
    const waiting = await item(h.kv, a[0].id);
    assert.deepEqual(waiting.state, "pending");
    assert.deepEqual(waiting.firstAttemptAt, start);
    assert(
      waiting.notBefore - h.clock.now() <= 5 * 60_000,
      "the back-off is capped at 5 minutes",
    );

    // WeCom is back: everything goes out without anyone running `jobs retry`.
    await drain(h, 20_000, 100);
    assert.deepEqual(h.fake.textsOf("olga"), ["o1", "o2", "o3"]);
    assert.deepEqual(h.fake.textsOf("pete"), ["p1"]);
    assert.deepEqual(h.fake.received.length, 4, "each reply exactly once");
    const lastAt = Math.max(...h.fake.received.map((r) => r.at));
    assert(lastAt - recoverAt <= 5 * 60_000 + 20_000, "out within one capped back-off");
    assert.deepEqual((await listOutbox(h.kv, { state: "dead" })).length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("an outage longer than the retry window makes a dead letter that records why; the next reply goes on", async () => {
  const h = await setup({ config: { retryWindowMs: 10 * 60_000, retryMaxBackoffMs: 60_000 } });
  try {
    const start = h.clock.now();
    outageUntil(h, start + 15 * 60_000);
    const items = textItems(h.clock, "quinn", ["q1", "q2"]);
    await enqueue(h.kv, items);
    await drain(h, 10_000, 200);
    assert.deepEqual(h.fake.textsOf("quinn"), ["q2"]);
    const dead = await item(h.kv, items[0].id);
    assert.deepEqual(dead.state, "dead");
    assert((await h.kv.get(keys.deadLetter(items[0].id))).versionstamp, "listed as dead letter");
    const why = dead.deadReason!;
    assert.deepEqual(why.cause, "window");
    assert.deepEqual(why.windowMs, 10 * 60_000);
    assert.deepEqual(why.firstAttemptAt, start);
    assert(why.lastAttemptAt! >= start + 10 * 60_000, "tried until the window's end");
    assert.deepEqual(why.attempts, dead.attempts);
    assert(why.attempts > 8);
    assert(why.errcode === -1 || why.errcode === 45009 || why.httpStatus === 500);
    assert.match(dead.lastError ?? "", /gave up after \d+ attempts over 10 min/);
  } finally {
    await h.close();
  }
});

Deno.test("81013, 40003 and 86xxx make dead letters at once, with the errcode and its meaning", async () => {
  const h = await setup();
  try {
    for (const errcode of [81013, 40003, 86001]) {
      h.fake.sendBehaviours.push(wecomError(errcode));
    }
    const items = textItems(h.clock, "rita", ["r-a", "r-b", "r-c", "r-d"]);
    await enqueue(h.kv, items);
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("rita"), ["r-d"], "no retry, and the queue goes on");
    assert.deepEqual(h.fake.calls.length, 4);
    const reasons = await Promise.all(items.slice(0, 3).map(async (i) => (await item(h.kv, i.id))));
    assert.deepEqual(reasons.map((r) => r.deadReason?.cause), [
      "permanent",
      "permanent",
      "permanent",
    ]);
    assert.deepEqual(reasons.map((r) => r.deadReason?.errcode), [81013, 40003, 86001]);
    assert.deepEqual(reasons.map((r) => r.deadReason?.attempts), [1, 1, 1]);
    assert.match(reasons[0].deadReason!.meaning, /visible range/);
    assert.match(reasons[1].deadReason!.meaning, /user id/);
    assert.deepEqual(reasons[0].deadReason!.firstAttemptAt, h.clock.now());
  } finally {
    await h.close();
  }
});

Deno.test("60020 tells the operator once, records the app status and keeps retrying slowly", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push(wecomError(60020), wecomError(60020));
    const [only] = textItems(h.clock, "liam", ["hello"]);
    await enqueue(h.kv, [only]);
    await h.delivery.idle();
    const status = await h.kv.get<{ ok: boolean; problem: string; errcode: number }>(
      keys.appStatus(APP.name),
    );
    assert.deepEqual(status.value?.ok, false);
    assert.deepEqual(status.value?.problem, "ip_not_trusted");
    assert.deepEqual(status.value?.errcode, 60020);
    const stored = await item(h.kv, only.id);
    assert(stored.notBefore - h.clock.now() >= 30_000, "long back-off after 60020");

    await drain(h, 60_000);
    assert.deepEqual(h.fake.textsOf("liam"), ["hello"]);
    const advice = h.logs.filter((l) => l.message.includes("trusted IPs"));
    assert.deepEqual(advice.length, 1, "the fix is logged once per app");
    assert.deepEqual(advice[0].level, "error");
    assert.match(advice[0].message, /egress IP/);
    const recovered = await h.kv.get<{ ok: boolean }>(keys.appStatus(APP.name));
    assert.deepEqual(recovered.value?.ok, true);
  } finally {
    await h.close();
  }
});

Deno.test("wrong credentials make a dead letter at once and mark the app", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push(wecomError(40001, "gettoken"));
    const [only] = textItems(h.clock, "mona", ["x"]);
    await enqueue(h.kv, [only]);
    await h.delivery.idle();
    assert.deepEqual((await item(h.kv, only.id)).state, "dead");
    const status = await h.kv.get<{ ok: boolean; problem: string }>(keys.appStatus(APP.name));
    assert.deepEqual(status.value?.problem, "credentials");
  } finally {
    await h.close();
  }
});

Deno.test("an item for an app no longer configured becomes a dead letter with a clear error", async () => {
  const h = await setup();
  try {
    const gone = textItems(h.clock, "nina", ["lost app"], "removed-app");
    const fine = textItems(h.clock, "nina", ["known app"]);
    await enqueue(h.kv, [...gone, ...fine]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("nina"), ["known app"]);
    const dead = await item(h.kv, gone[0].id);
    assert.deepEqual(dead.state, "dead");
    assert.match(dead.lastError ?? "", /app 'removed-app'.*configured/);
    assert((await h.kv.get(keys.deadLetter(gone[0].id))).versionstamp);
  } finally {
    await h.close();
  }
});

Deno.test("two delivery loops on one KV send every item exactly once, in order", async () => {
  const first = await setup();
  const second = await setup({}, first);
  try {
    const users = ["u1", "u2", "u3", "u4"];
    const expected = new Map<string, string[]>();
    for (const user of users) {
      const texts = Array.from({ length: 8 }, (_, i) => `${user}-${i}`);
      expected.set(user, texts);
      await enqueue(first.kv, textItems(first.clock, user, texts));
    }
    for (let i = 0; i < 3; i++) {
      await Promise.all([first.delivery.idle(), second.delivery.idle()]);
    }
    assert.deepEqual(first.fake.calls.length, 32, "no item was sent twice");
    for (const user of users) assert.deepEqual(first.fake.textsOf(user), expected.get(user));
    assert.deepEqual(first.fake.duplicates.length, 0);
  } finally {
    await second.close();
    await first.close();
  }
});

Deno.test("a recall of a sent notice recalls it at WeCom", async () => {
  const h = await setup();
  try {
    const notice = planNotice(target("olga"), "Working on it…", "working", { now: h.clock.now() });
    await enqueue(h.kv, [notice]);
    await h.delivery.idle();
    const msgId = (await item(h.kv, notice.id)).msgId;
    assert(msgId);

    const recall = planRecall(target("olga"), notice.id, h.clock.now());
    const reply = textItems(h.clock, "olga", ["the answer"]);
    await enqueue(h.kv, [recall, ...reply]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.recalls, [msgId]);
    assert.deepEqual((await item(h.kv, recall.id)).state, "sent");
    assert.deepEqual(h.fake.textsOf("olga"), ["Working on it…", "the answer"]);
  } finally {
    await h.close();
  }
});

Deno.test("a failing recall is tried three times and never blocks the queue", async () => {
  const h = await setup();
  try {
    const notice = planNotice(target("pete"), "Working on it…", "working", { now: h.clock.now() });
    await enqueue(h.kv, [notice]);
    await h.delivery.idle();
    h.fake.recallBehaviours.push(
      wecomError(-1, "message/recall"),
      wecomError(-1, "message/recall"),
      wecomError(-1, "message/recall"),
      wecomError(-1, "message/recall"),
    );
    const recall = planRecall(target("pete"), notice.id, h.clock.now());
    await enqueue(h.kv, [recall, ...textItems(h.clock, "pete", ["after the recall"])]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.recallCalls, 3);
    assert.deepEqual(h.fake.textsOf("pete"), ["Working on it…", "after the recall"]);
    const stored = await item(h.kv, recall.id);
    assert.deepEqual(stored.state, "dead");
    assert.deepEqual((await h.kv.get(keys.deadLetter(recall.id))).versionstamp, null);
    assert(h.logs.some((l) => l.message === "recall failed"));
  } finally {
    await h.close();
  }
});

Deno.test("a recall of a notice not sent yet cancels it: never sent, and the reply does not wait", async () => {
  const h = await setup();
  try {
    const notice = planNotice(target("quin"), "Working on it…", "working", {
      now: h.clock.now(),
      notBefore: h.clock.now() + 60_000,
    });
    await enqueue(h.kv, [notice]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.calls.length, 0);

    h.clock.advance(20_000);
    const reply = textItems(h.clock, "quin", ["the answer"]);
    await enqueue(h.kv, [...reply, planRecall(target("quin"), notice.id, h.clock.now())]);
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("quin"), ["the answer"]);

    h.clock.advance(120_000);
    h.delivery.wake();
    await h.delivery.idle();
    assert.deepEqual(h.fake.calls.length, 1, "the notice was never sent");
    assert.deepEqual(h.fake.recallCalls, 0);
    const cancelled = await item(h.kv, notice.id);
    assert.deepEqual(cancelled.state, "dead");
    assert.deepEqual(cancelled.lastError, "cancelled");
    assert.deepEqual((await h.kv.get(keys.deadLetter(notice.id))).versionstamp, null);
  } finally {
    await h.close();
  }
});

Deno.test("cancelPending cancels a held notice and reports a sent one", async () => {
  const h = await setup();
  try {
    const held = planNotice(target("rita"), "Working on it…", "working", {
      now: h.clock.now(),
      notBefore: h.clock.now() + 60_000,
    });
    const sent = planNotice(target("sam"), "Working on it…", "working", { now: h.clock.now() });
    await enqueue(h.kv, [held, sent]);
    await h.delivery.idle();
    assert.deepEqual(await cancelPending(h.kv, held.id, h.clock.now()), "cancelled");
    assert.deepEqual(await cancelPending(h.kv, held.id, h.clock.now()), "cancelled");
    assert.deepEqual(await cancelPending(h.kv, sent.id, h.clock.now()), "sent");
    assert.deepEqual(await cancelPending(h.kv, "no-such-item", h.clock.now()), "not_found");

    h.clock.advance(120_000);
    h.delivery.wake();
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("rita"), []);
    assert.deepEqual(h.fake.textsOf("sam"), ["Working on it…"]);
  } finally {
    await h.close();
  }
});

Deno.test("startDelivery refuses settings it cannot honour", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const fake = createFakeWeCom(Date.now);
    const base = { kv, apps: [APP], client: fake.client };
    assert.throws(
      () => startDelivery({ ...base, config: { ...DELIVERY, retryWindowMs: 0 } }),
      /'delivery.retryWindowMs' must be a positive integer: current value is 0/,
    );
    assert.throws(
      () => startDelivery({ ...base, config: { ...DELIVERY, perHour: 100_000 } }),
      /'delivery.perHour' must be at most 5000/,
    );
  } finally {
    kv.close();
  }
});

Deno.test("stop waits for a send in flight; a restarted loop goes on without resending", async () => {
  const h = await setup();
  let restarted: Harness | undefined;
  try {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    let reachedGate!: () => void;
    const atGate = new Promise<void>((resolve) => reachedGate = resolve);
    const send = h.fake.client.send;
    h.fake.client.send = async (app, userId, message, options) => {
      if ("content" in message && message.content === "b") {
        reachedGate();
        await gate;
      }
      return await send(app, userId, message, options);
    };
    const items = textItems(h.clock, "tina", ["a", "b", "c"]);
    await enqueue(h.kv, items);
    await atGate;
    const stopping = h.delivery.stop();
    release();
    await stopping;
    assert.deepEqual(h.fake.textsOf("tina"), ["a", "b"]);
    assert.equal((await item(h.kv, items[1].id)).state, "sent", "the send in flight was recorded");
    assert.equal((await item(h.kv, items[2].id)).state, "pending");

    restarted = await setup({}, h);
    await restarted.delivery.idle();
    assert.deepEqual(h.fake.textsOf("tina"), ["a", "b", "c"]);
    assert.equal(h.fake.calls.length, 3);
  } finally {
    await restarted?.close();
    await h.close();
  }
});

/** The raw contents (variant suffix included) sent to `userId`, in order. */
function rawTexts(fake: FakeWeCom, userId: string): string[] {
  return fake.received.filter((r) => r.userId === userId).map((r) =>
    "content" in r.message ? r.message.content : ""
  );
}

Deno.test("an identical later reply is not swallowed by WeCom's duplicate check: it differs invisibly", async () => {
  const h = await setup();
  try {
    const [first] = textItems(h.clock, "ivan", ["好的"]);
    await enqueue(h.kv, [first]);
    await drain(h, 1000);
    // The same text again, and WeCom is busy at the first try.
    h.fake.sendBehaviours.push(wecomError(-1));
    const [second] = textItems(h.clock, "ivan", ["好的"]);
    await enqueue(h.kv, [second]);
    await drain(h, 60_000);
    assert.deepEqual(h.fake.textsOf("ivan"), ["好的", "好的"], "the member sees both");
    assert.deepEqual(h.fake.duplicates.length, 0);
    assert(h.fake.calls.every((c) => c.duplicateCheck), "all with the duplicate check");
    const [a, b] = rawTexts(h.fake, "ivan");
    assert.notEqual(a, b, "the second request differs from the first");
    assert.deepEqual(a, "好的", "the first goes out as written");
    assert.deepEqual(visibleText(b), "好的");
    assert.deepEqual((await item(h.kv, second.id)).variant, 1);
  } finally {
    await h.close();
  }
});

Deno.test("identical texts get distinct variants; a resend of one is the very same request and is dropped", async () => {
  const h = await setup();
  try {
    const [one] = textItems(h.clock, "jack", ["ok"]);
    await enqueue(h.kv, [one]);
    await drain(h, 1000);
    // The second one's answer is lost after WeCom delivered it: it is resent.
    h.fake.sendBehaviours.push({ deliverThenThrow: timeoutError() });
    const more = textItems(h.clock, "jack", ["ok", "ok"]);
    await enqueue(h.kv, more);
    await drain(h, 10_000);
    assert.deepEqual(h.fake.textsOf("jack"), ["ok", "ok", "ok"]);
    assert.deepEqual(new Set(rawTexts(h.fake, "jack")).size, 3, "three distinct requests");
    assert.deepEqual(h.fake.duplicates.length, 1, "WeCom dropped the resend of the second");
    const secondCalls = h.fake.calls.filter((c) =>
      "content" in c.message && visibleText(c.message.content) === "ok" &&
      c.message.content === rawTexts(h.fake, "jack")[1]
    );
    assert.deepEqual(secondCalls.length, 2, "the resend repeats the second's request exactly");

    // Once the interval (and the retry window) has passed, the text goes out as written again.
    h.clock.advance(DUPLICATE_CHECK_INTERVAL_SECONDS * 1000 + 2 * 3_600_000);
    const [later] = textItems(h.clock, "jack", ["ok"]);
    await enqueue(h.kv, [later]);
    await drain(h, 1000);
    assert.deepEqual(rawTexts(h.fake, "jack").at(-1), "ok");
    // Another member's identical text is no copy either.
    const [other] = textItems(h.clock, "kim", ["ok"]);
    await enqueue(h.kv, [other]);
    await drain(h, 1000);
    assert.deepEqual(rawTexts(h.fake, "kim"), ["ok"]);
  } finally {
    await h.close();
  }
});

Deno.test("an item sent again with its old variant (a retried dead letter) is never matched by newer identical texts", async () => {
  const h = await setup();
  try {
    // Kept its variant 3 from long ago; nothing identical was sent since.
    const [retried] = textItems(h.clock, "mia", ["收到"]);
    await enqueue(h.kv, [{ ...retried, variant: 3 }]);
    await drain(h, 1000);
    const newer = textItems(h.clock, "mia", ["收到", "收到", "收到", "收到"]);
    await enqueue(h.kv, newer);
    await drain(h, 1000);
    assert.deepEqual(h.fake.textsOf("mia").length, 5, "all five arrive");
    assert.deepEqual(h.fake.duplicates.length, 0);
    assert.deepEqual(new Set(rawTexts(h.fake, "mia")).size, 5);
  } finally {
    await h.close();
  }
});

Deno.test("a full 2048-byte chunk repeated within the interval goes out without the duplicate check", async () => {
  const h = await setup();
  try {
    const full = "字".repeat(682) + "ab"; // 2048 UTF-8 bytes: no room for a suffix
    const items = textItems(h.clock, "lena", [full, full]);
    await enqueue(h.kv, items);
    await drain(h, 1000);
    assert.deepEqual(h.fake.textsOf("lena"), [full, full], "both arrive");
    assert.deepEqual(h.fake.calls.map((c) => c.duplicateCheck), [true, false]);
  } finally {
    await h.close();
  }
});

Deno.test("after a timed-out send the retry waits for the send's lease to end and uses the duplicate check", async () => {
  const h = await setup();
  try {
    h.fake.sendBehaviours.push(timeoutError());
    const [only] = textItems(h.clock, "judy", ["late"]);
    await enqueue(h.kv, [only]);
    await h.delivery.idle();
    const held = await item(h.kv, only.id);
    assert.equal(held.uncertain, true);
    // The lease: two request timeouts (2 × 1000 ms) and 5 s after the send started.
    assert(held.notBefore >= h.clock.now() + 6000, "held until a late copy has landed");
    await drain(h, 60_000);
    const calls = h.fake.calls.filter((c) =>
      "content" in c.message && c.message.content === "late"
    );
    assert.deepEqual(calls.map((c) => c.duplicateCheck), [true, true]);
    assert.deepEqual(h.fake.textsOf("judy"), ["late"]);
  } finally {
    await h.close();
  }
});

Deno.test("with 16 agent slots, 32 members' replies are sent at once, each once, so one slow send does not hold the others", async () => {
  assert.equal(deliveryConcurrency(4), 8, "the default 4 agent slots keep 8 conversations");
  assert.equal(deliveryConcurrency(16), 32);
  const kv = await Deno.openKv(":memory:");
  const clock = createClock();
  const fake = createFakeWeCom(clock.now);
  let inFlight = 0;
  let most = 0;
  const waiters: (() => void)[] = [];
  const send: typeof fake.client.send = async (...args) => {
    inFlight++;
    most = Math.max(most, inFlight);
    // Each send waits until 32 are in flight (or 300 ms pass), like a slow WeCom.
    if (inFlight >= 32) waiters.splice(0).forEach((release) => release());
    else {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 300);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    inFlight--;
    return await fake.client.send(...args);
  };
  const h = await setup({
    kv,
    now: clock.now,
    client: { ...fake.client, send },
    concurrency: deliveryConcurrency(16),
  });
  try {
    const users = Array.from({ length: 40 }, (_, i) => `member${i}`);
    await enqueue(kv, users.flatMap((user) => textItems(clock, user, [`hi ${user}`])));
    await h.delivery.idle();
    for (const user of users) assert.deepEqual(fake.textsOf(user), [`hi ${user}`]);
    assert.deepEqual(fake.calls.length, 40);
    assert.equal(most, 32, "32 sends in flight at once");
  } finally {
    await h.close();
    kv.close();
  }
});

Deno.test("while a callback is being answered, delivery waits; the items go once it is answered", async () => {
  const gate = createPriorityGate({ trickleMs: 60_000 });
  const h = await setup({ yieldTo: gate.idle });
  try {
    const answered = gate.urgent();
    await enqueue(h.kv, textItems(h.clock, "alice", ["a1", "a2"]));
    h.delivery.wake();
    await delay(50);
    assert.deepEqual(
      h.fake.textsOf("alice"),
      [],
      "nothing is sent while the callback is in progress",
    );
    answered();
    await h.delivery.idle();
    assert.deepEqual(h.fake.textsOf("alice"), ["a1", "a2"]);
    assert.ok(gate.stats().waits >= 1);
  } finally {
    await h.close();
  }
});

Deno.test("under a stream of callbacks without a pause, delivery still sends, one step per trickle", async () => {
  const gate = createPriorityGate({ trickleMs: 5 });
  const h = await setup({ yieldTo: gate.idle });
  const answered = gate.urgent(); // never answered during the test
  try {
    await enqueue(h.kv, textItems(h.clock, "alice", ["a1", "a2", "a3"]));
    h.delivery.wake();
    await waitFor(() => h.fake.textsOf("alice").length === 3, "the three items", 5_000);
    assert.deepEqual(h.fake.textsOf("alice"), ["a1", "a2", "a3"]);
    assert.ok(gate.stats().trickled >= 3, `trickled ${gate.stats().trickled}`);
  } finally {
    await h.close();
    answered();
  }
});
