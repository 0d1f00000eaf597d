/**
 * kill -9 of a gateway subprocess in the middle of everything, then a restart
 * on the same KV file: every acknowledged message must be answered exactly
 * once, in order per user, including the reply whose send was in flight at
 * the kill and the messages WeCom retries after it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { SealedCallback } from "../../src/simulator/seal.ts";
import type { GatewayProcess } from "./lib/gateway_process.ts";
import { createHarness, type Harness, tag } from "./lib/harness.ts";
import { waitFor } from "../lib/wait.ts";
import { checkLedger, createLedger, type Ledger } from "./lib/ledger.ts";
import { readKvState, waitForSettledKv } from "./lib/kv_state.ts";
import { measured } from "../lib/measured.ts";

interface Sent {
  user: string;
  content: string;
  msgId: string;
  sealed: SealedCallback;
}

/** Sends each user's messages one after another (users in parallel); acknowledged ones go in the ledger. */
async function sendAll(
  h: Harness,
  gateway: GatewayProcess,
  messages: Sent[][],
  ledger: Ledger,
): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(messages.map(async (mine) => {
    for (const message of mine) {
      const status = await h.post(gateway, message.sealed);
      statuses.push(status);
      if (status === 200) ledger.ack(message.user, message.content);
    }
  }));
  return statuses;
}

async function plan(h: Harness, users: string[], from: number, count: number): Promise<Sent[][]> {
  const run = tag();
  return await Promise.all(users.map(async (user, u) => {
    const mine: Sent[] = [];
    for (let i = from; i < from + count; i++) {
      const content = `${user} #${i} ${run}`;
      const msgId = String(7_000_000_000 + u * 1000 + i);
      mine.push({ user, content, msgId, sealed: await h.callback(user, content, msgId) });
    }
    return mine;
  }));
}

function sendCount(h: Harness): number {
  return h.api.received.filter((r) => r.api === "send").length;
}

Deno.test({
  name: "kill -9 with jobs queued and running and replies in back-off: each acked message is " +
    "answered exactly once, in order, after a restart",
  async fn() {
    const h = await createHarness({
      leaseSeconds: 2,
      requestTimeoutSeconds: 1,
      agentSeconds: 0.5,
      concurrency: 4,
    });
    const ledger = createLedger();
    const users = ["zhangsan", "lisi", "wangwu", "zhaoliu", "sunqi"];
    let gateway = await h.start("all", "first gateway");
    try {
      const batch = await plan(h, users, 1, 6);
      const statuses = await sendAll(h, gateway, batch, ledger);
      assert.deepEqual(statuses.filter((s) => s !== 200), [], "every callback is acknowledged");
      assert.equal(ledger.size(), 30);

      // A few replies go out normally; then WeCom fails a burst of sends, and the send after
      // the burst is slow: WeCom delivers it 800 ms later, after the gateway has died.
      await waitFor(() => h.api.delivered().length >= 3, "the first replies", 15_000);
      const before = sendCount(h);
      const burst = [
        { httpStatus: 503 },
        { errcode: -1 },
        { httpStatus: 503 },
        { errcode: -1 },
        { httpStatus: 503 },
        { errcode: -1 },
      ];
      h.api.inject("send", [...burst, { delayMs: 800 }]);
      await waitFor(() => sendCount(h) > before + burst.length, "the slow send", 15_000, 2);
      const killedAt = Date.now();
      await gateway.kill();

      // What the crash left behind.
      const crashed = await readKvState(h.kvPath, killedAt);
      assert.ok(
        crashed.jobs.queued > 0,
        `jobs were queued at the kill: ${JSON.stringify(crashed.jobs)}`,
      );
      assert.ok(
        crashed.jobs.running > 0,
        `jobs were running at the kill: ${JSON.stringify(crashed.jobs)}`,
      );
      assert.ok(
        crashed.outbox.failedPending > 0,
        `replies waited in back-off at the kill: ${JSON.stringify(crashed.outbox)}`,
      );
      assert.ok(crashed.outbox.inFlight > 0, "a send was in flight at the kill");
      const deliveredAtKill = h.api.delivered().length;
      assert.ok(deliveredAtKill < 30);

      // The slow send lands at WeCom while the gateway is down.
      await waitFor(() => h.api.delivered().length > deliveredAtKill, "the slow send to land");

      gateway = await h.start("all", "restarted gateway");
      const restartedAt = performance.now();
      // WeCom retries some callbacks after the crash: same sealed callbacks, same MsgIds.
      const retried = batch.map((mine, u) => mine[u % mine.length]);
      for (const message of retried) assert.equal(await h.post(gateway, message.sealed), 200);
      // New messages after the restart come after the older ones.
      const after = await plan(h, users, 7, 1);
      assert.deepEqual((await sendAll(h, gateway, after, ledger)).filter((s) => s !== 200), []);

      const recoveryMs = await waitFor(
        () => checkLedger(ledger, h.api).lost === 0,
        "a reply to every acknowledged message",
        25_000,
      );
      await waitForSettledKv(h.kvPath); // nothing left to send: a double would have gone out
      const stopped = await gateway.stop();
      assert.equal(stopped.code, 0, gateway.output());

      const settled = await readKvState(h.kvPath);
      assert.deepEqual(settled.jobs, { queued: 0, running: 0, done: 35, failed: 0, dead: 0 });
      assert.equal(settled.outbox.pending, 0, "nothing left to send");
      assert.equal(settled.deadLetters, 0, "no dead letters");

      const check = checkLedger(ledger, h.api, users);
      assert.deepEqual(check.problems, []);
      assert.equal(check.delivered, 35, "35 replies for 35 acknowledged messages");
      // Each suppressed resend is a reply WeCom already had: never a second copy, never a loss.
      for (const resend of h.api.state.duplicatesSuppressed) {
        const content = String(resend.payload.content);
        assert.equal(
          h.api.delivered(resend.touser).filter((m) => m.payload.content === content).length,
          1,
        );
        assert.equal(Number(resend.body.enable_duplicate_check), 1);
      }
      assert.ok(check.suppressed >= 1, "the resend of the in-flight reply was suppressed by WeCom");

      const runs = await h.agentRuns();
      assert.ok(runs.started.length >= 35, "the agent ran for every job");
      measured(
        `crash: at the kill ${JSON.stringify(crashed.jobs)}, outbox ${
          JSON.stringify(crashed.outbox)
        }; restart ready in ${Math.round(gateway.startMs)} ms; every reply delivered ${
          Math.round(recoveryMs)
        } ms after the restart (${
          Math.round(performance.now() - restartedAt)
        } ms incl. stop); agent runs ${runs.started.length} for 35 jobs; ` +
          `resends suppressed ${check.suppressed}`,
      );
    } catch (error) {
      console.error(gateway.output());
      throw error;
    } finally {
      await gateway.kill();
      await h.close();
    }
  },
});
