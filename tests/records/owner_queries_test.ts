import assert from "node:assert/strict";
import { type AppDeliveryStatus, listAppStatuses } from "../../src/records/app_status.ts";
import { addOutboxItems, planNotice } from "../../src/records/outbox.ts";
import {
  countDeadLetters,
  countOutbox,
  getOutboxItem,
  outboxItemsSince,
} from "../../src/records/outbox_queries.ts";
import { readStoreStats } from "../../src/records/stats.ts";
import { listPacing } from "../../src/delivery/pacing.ts";
import {
  type CredentialFailure,
  readCachedToken,
  readCredentialFailure,
} from "../../src/wecom/token.ts";
import { keys } from "../../src/store/keys.ts";
import type { AppConfig } from "../../src/config/types.ts";

const APP = { name: "default", corpId: "ww1", agentId: "1000002" } as AppConfig;
/** An item id made at `ms` (the layout of `newId`: 12 hex digits of time, a counter, a suffix). */
function idAt(ms: number): string {
  return ms.toString(16).padStart(12, "0") + "0000" + "abcd1234";
}

const target = { conversation: "ww1:zhangsan", app: "default", userId: "zhangsan", jobId: "j1" };

Deno.test("the outbox owner counts items by state and dead letters, bounded by a limit", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = Date.now();
    const pending = planNotice(target, "one", "reply", { now });
    const sent = { ...planNotice(target, "two", "reply", { now }), state: "sent" as const };
    const dead = [1, 2, 3].map((n) => ({
      ...planNotice(target, `dead ${n}`, "reply", { now }),
      state: "dead" as const,
    }));
    const op = addOutboxItems(kv.atomic(), [pending, sent, ...dead]);
    for (const item of dead) op.set(keys.deadLetter(item.id), item.id);
    assert.ok((await op.commit()).ok);

    assert.deepEqual(await countOutbox(kv), { pending: 1, sent: 1, dead: 3 });
    assert.equal(await countDeadLetters(kv), 3);
    assert.equal(await countDeadLetters(kv, 2), 2, "the limit bounds the count");
    assert.equal((await getOutboxItem(kv, sent.id))?.state, "sent");
    assert.equal(await getOutboxItem(kv, "no-such-item"), null);

    const stats = await readStoreStats(kv, [APP], now);
    assert.deepEqual(stats.outbox, { pending: 1, sent: 1, dead: 3 });
    assert.equal(stats.deadLetters, 3);
  } finally {
    kv.close();
  }
});

Deno.test("outboxItemsSince reads only items made from that time on", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const old = { ...planNotice(target, "old", "reply"), id: idAt(1_000_000) };
    const recent = { ...planNotice(target, "recent", "reply"), id: idAt(5_000_000) };
    assert.ok((await addOutboxItems(kv.atomic(), [old, recent]).commit()).ok);
    const seen: string[] = [];
    for await (const item of outboxItemsSince(kv, 2_000_000)) seen.push(item.id);
    assert.deepEqual(seen, [recent.id]);
    const all: string[] = [];
    for await (const item of outboxItemsSince(kv, 0)) all.push(item.id);
    assert.deepEqual(all, [old.id, recent.id]);
  } finally {
    kv.close();
  }
});

Deno.test("app statuses, token records and pacing are read through their owners", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = Date.now();
    assert.deepEqual(await listAppStatuses(kv), []);
    assert.equal(await readCredentialFailure(kv, APP), null);
    assert.equal(await readCachedToken(kv, APP), null);

    const status: AppDeliveryStatus = { app: "default", ok: false, message: "60020", at: now };
    const failure: CredentialFailure = {
      errcode: 40001,
      errmsg: "invalid credential",
      message: "WeCom refused the credentials",
      fingerprint: "00",
      at: now,
      expiresAt: now + 60_000,
    };
    const token = { token: "t", expiresAt: now + 7_200_000, refreshAt: now + 6_000_000 };
    await kv.atomic()
      .set(keys.appStatus("default"), status)
      .set(keys.credentialFailure(APP.corpId, APP.agentId), failure)
      .set(keys.accessToken(APP.corpId, APP.agentId), token)
      .set(keys.pacing(APP.corpId, APP.agentId, "zhangsan"), { sent: [now] })
      .set(keys.pacing(APP.corpId, "other-agent", "lisi"), { sent: [now] })
      .commit();

    assert.deepEqual(await listAppStatuses(kv), [status]);
    assert.equal((await readCredentialFailure(kv, APP))?.errcode, 40001);
    assert.equal((await readCachedToken(kv, APP))?.token, "t");
    assert.deepEqual(await listPacing(kv, APP, 10), [{
      userId: "zhangsan",
      state: { sent: [now] },
    }]);

    const stats = await readStoreStats(kv, [APP], now);
    assert.deepEqual(stats.apps, [status]);
    assert.deepEqual(stats.gettokenPaused.map((paused) => paused.app), ["default"]);
    assert.deepEqual((await readStoreStats(kv, [APP], now + 120_000)).gettokenPaused, []);
  } finally {
    kv.close();
  }
});
