import assert from "node:assert/strict";
import {
  decideSlot,
  type PacingState,
  reserveSlot,
  validatePacingLimits,
} from "../../src/delivery/pacing.ts";
import { keys } from "../../src/store/keys.ts";

const limits = { perMinute: 30, perHour: 1000, marginMs: 0 };
const app = { corpId: "wwcorp", agentId: "1000002" };

Deno.test("decideSlot allows 30 sends in a minute and holds the 31st until the first leaves the window", () => {
  let sent: number[] = [];
  for (let i = 0; i < 30; i++) {
    const decision = decideSlot(sent, 1_000 + i * 100, limits);
    assert.ok(decision.ok, `send ${i + 1} fits`);
    sent = decision.sent;
  }
  const held = decideSlot(sent, 5_000, limits);
  assert.deepEqual(held, { ok: false, retryAt: 61_000 });
  assert.equal(decideSlot(sent, 60_999, limits).ok, false);
  assert.equal(decideSlot(sent, 61_000, limits).ok, true);
  // The default margin adds a second against latency.
  const margin = decideSlot(sent, 5_000, { perMinute: 30, perHour: 1000 });
  assert.deepEqual(margin, { ok: false, retryAt: 62_000 });
});

Deno.test("decideSlot holds the 1001st send of an hour", () => {
  const sent = Array.from({ length: 1000 }, (_, i) => i * 3_000); // 20 a minute
  const held = decideSlot(sent, 3_000_000, limits);
  assert.deepEqual(held, { ok: false, retryAt: 3_600_000 });
  const later = decideSlot(sent, 3_600_000, limits);
  assert.ok(later.ok);
  assert.equal(later.sent.length, 1000, "sends older than an hour are pruned");
  assert.equal(later.sent.at(-1), 3_600_000);
});

Deno.test("decideSlot copes with send times out of order (other processes)", () => {
  const sent = [50_000, 10_000, 30_000];
  const decision = decideSlot(sent, 60_000, { perMinute: 3, perHour: 100, marginMs: 0 });
  assert.deepEqual(decision, { ok: false, retryAt: 70_000 });
});

Deno.test("reserveSlot persists send times; a full hour still fits in one KV value", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (let i = 0; i < 1000; i++) {
      const slot = await reserveSlot(kv, app, "zhangsan", i * 3_500, limits);
      assert.ok(slot.ok, `send ${i} fits`);
      assert.ok((await slot.commitMutation(kv.atomic()).commit()).ok);
    }
    const state = await kv.get<PacingState>(keys.pacing("wwcorp", "1000002", "zhangsan"));
    assert.equal(state.value?.sent.length, 1000);
    const next = await reserveSlot(kv, app, "zhangsan", 3_499_000, limits);
    assert.deepEqual(next, { ok: false, retryAt: 3_600_000 });
    // Another member and another app are counted apart.
    assert.ok((await reserveSlot(kv, app, "lisi", 3_499_000, limits)).ok);
    assert.ok(
      (await reserveSlot(kv, { ...app, agentId: "1000003" }, "zhangsan", 3_499_000, limits)).ok,
    );
  } finally {
    kv.close();
  }
});

Deno.test("two senders cannot both take the last slot", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const tight = { perMinute: 1, perHour: 10, marginMs: 0 };
    const first = await reserveSlot(kv, app, "zhangsan", 1_000, tight);
    const second = await reserveSlot(kv, app, "zhangsan", 1_000, tight);
    assert.ok(first.ok && second.ok, "both read a free slot");
    const a = await first.commitMutation(kv.atomic()).commit();
    const b = await second.commitMutation(kv.atomic()).commit();
    assert.equal(a.ok, true);
    assert.equal(b.ok, false, "the second commit fails its check");
    const again = await reserveSlot(kv, app, "zhangsan", 1_000, tight);
    assert.deepEqual(again, { ok: false, retryAt: 61_000 });
  } finally {
    kv.close();
  }
});

Deno.test("validatePacingLimits explains bad settings", () => {
  validatePacingLimits({ perMinute: 30, perHour: 1000 });
  assert.throws(
    () => validatePacingLimits({ perMinute: 0, perHour: 1000 }),
    /'delivery.perMinute' must be a positive integer: current value is 0/,
  );
  assert.throws(() => validatePacingLimits({ perMinute: 30, perHour: 1.5 }), /perHour/);
  assert.throws(() => validatePacingLimits({ perMinute: 30, perHour: 9000 }), /at most 5000/);
});
