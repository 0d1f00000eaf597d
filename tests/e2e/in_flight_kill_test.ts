/**
 * kill -9 of a gateway subprocess while WeCom holds the answer to its
 * `message/send` (the send is in flight: WeCom has the request, the gateway
 * has no answer and has recorded nothing), then a restart on the same KV file.
 * The member must receive the reply exactly once, whether the held send lands
 * before or after the restarted gateway resends it.
 *
 * The simulated WeCom follows the documented duplicate check (the same request
 * JSON within `duplicate_check_interval` is not received twice), so the reply
 * arrives once only if the first send already carried the check with the same
 * interval as the resend.
 *
 * @module
 */

import assert from "node:assert/strict";
import { visibleText } from "../../src/delivery/duplicate_check.ts";
import { createHarness, tag } from "./lib/harness.ts";
import { waitFor } from "../lib/wait.ts";
import { readKvState, waitForSettledKv } from "./lib/kv_state.ts";

/** Sends of the reply WeCom received (held or not), by the fake's request log. */
function sendsReceived(h: Awaited<ReturnType<typeof createHarness>>): number {
  return h.api.received.filter((r) => r.api === "send").length;
}

async function killDuringSend(holdMs: number): Promise<void> {
  // Lease of a send: 2 × request timeout + 5 s = 7 s; the restarted gateway resends after it.
  const h = await createHarness({ requestTimeoutSeconds: 1, agentSeconds: 0.1 });
  const user = "zhangsan";
  const content = `the reply in flight ${tag()}`;
  let gateway = await h.start("all", "first gateway");
  try {
    h.api.inject("send", [{ delayMs: holdMs }]);
    assert.equal(await h.post(gateway, await h.callback(user, content, "4200000001")), 200);
    await waitFor(() => sendsReceived(h) >= 1, "the send to reach WeCom", 15_000, 5);
    const killedAt = Date.now();
    await gateway.kill();

    const crashed = await readKvState(h.kvPath, killedAt);
    assert.deepEqual(crashed.outbox, {
      pending: 1,
      sent: 0,
      dead: 0,
      failedPending: 0,
      inFlight: 1,
    });
    assert.equal(h.api.delivered(user).length, 0, "the send is still held by WeCom");

    gateway = await h.start("all", "restarted gateway");
    await waitFor(() => h.api.delivered(user).length >= 1, "the reply", 30_000);
    // Until the restarted gateway has recorded the reply, and the held send has landed.
    const settled = await waitForSettledKv(h.kvPath, 30_000);
    await waitFor(() => sendsReceived(h) >= 2, "the resend", 15_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, holdMs - 7000) + 500));
    assert.equal((await gateway.stop()).code, 0, gateway.output());

    const received = h.api.delivered(user);
    assert.equal(received.length, 1, `the member received ${received.length} copies`);
    assert.equal(visibleText(String(received[0].payload.content)), content);
    assert.equal(sendsReceived(h), 2, "the held send and one resend");
    assert.equal(h.api.state.duplicatesSuppressed.length, 1, "WeCom dropped the second copy");
    for (const request of h.api.received.filter((r) => r.api === "send")) {
      const body = request.body as Record<string, unknown>;
      assert.equal(body.enable_duplicate_check, 1, "every send carries the duplicate check");
      assert.equal(body.duplicate_check_interval, 14_400);
    }
    assert.equal(settled.outbox.sent, 1);
    assert.equal(settled.deadLetters, 0);
    assert.ok(settled.jobs.done === 1, "the agent ran once");
  } finally {
    await gateway.kill();
    await h.close();
  }
}

Deno.test({
  name: "kill -9 while WeCom holds the send, which lands before the restarted gateway resends: " +
    "the member gets the reply once",
  async fn() {
    await killDuringSend(1500);
  },
});

Deno.test({
  name: "kill -9 while WeCom holds the send, which lands after the restarted gateway resent it: " +
    "the member gets the reply once",
  async fn() {
    await killDuringSend(14_000);
  },
});
