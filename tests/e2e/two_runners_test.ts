/**
 * Two gateways sharing one KV store: every job runs exactly once and every
 * reply is delivered exactly once, whichever instance claims it. In-process
 * (one `:memory:` store, roles `all` and `worker`) and as two subprocesses on
 * one SQLite file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Gateway, type GatewayRole, startGateway } from "../../src/gateway.ts";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { randomApp, testConfig } from "../fakes/config.ts";
import { startCountingAgent } from "./lib/counting_agent.ts";
import type { GatewayProcess } from "./lib/gateway_process.ts";
import { createHarness, tag } from "./lib/harness.ts";
import { waitFor } from "../lib/wait.ts";
import { checkLedger, createLedger } from "./lib/ledger.ts";
import { readKvState } from "./lib/kv_state.ts";
import { measured } from "../lib/measured.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

const USERS = Array.from({ length: 25 }, (_, i) => `member${String(i).padStart(2, "0")}`);
const PER_USER = 2;

function sendCount(api: { received: { api: string }[] }): number {
  return api.received.filter((r) => r.api === "send").length;
}

Deno.test("two gateways in one process on one KV (all + worker): 50 jobs run once each, 50 replies once each", async () => {
  const agent = startCountingAgent({ delayMs: 80 });
  const seed = randomApp({ name: "main" });
  const api = startFakeWeComApi({
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app = { ...seed, apiBase: api.url };
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0, concurrency: 4, leaseMs: 5000 };
  config.agent = {
    ...config.agent,
    kind: "http",
    workers: 4,
    http: { url: agent.url, headers: {} },
  };
  const kv = await Deno.openKv(":memory:");
  const gateways: Gateway[] = [];
  const start = async (role: GatewayRole) => {
    const gateway = await startGateway(config, {
      kv,
      role,
      deliveryPollMs: 50,
      backoffBaseMs: 20,
    });
    gateways.push(gateway);
    return gateway;
  };
  try {
    const front = await start("all");
    const back = await start("worker");
    assert.equal(back.address, undefined, "the worker role has no HTTP server");
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const url = `http://127.0.0.1:${front.address!.port}/wecom/callback`;
    const ledger = createLedger();
    const run = tag();
    await Promise.all(USERS.map(async (user, u) => {
      for (let i = 1; i <= PER_USER; i++) {
        const content = `${user} #${i} ${run}`;
        const xml = textMessage({
          corpId: app.corpId,
          agentId: app.agentId,
          userId: user,
          content,
          msgId: String(u * 100 + i),
        });
        const sealed = await sealCallback(crypto, xml, {
          corpId: app.corpId,
          agentId: app.agentId,
        });
        const response = await fetch(`${url}?${sealed.query}`, {
          method: "POST",
          body: sealed.body,
        });
        await response.body?.cancel();
        assert.equal(response.status, 200);
        ledger.ack(user, content);
      }
    }));
    assert.equal(ledger.size(), 50);

    await waitFor(() => checkLedger(ledger, api).lost === 0, "50 replies", 20_000);
    await Promise.all(gateways.flatMap((g) => [g.runner!.idle(), g.delivery!.idle()]));

    const check = checkLedger(ledger, api);
    assert.deepEqual(check.problems, []);
    assert.equal(check.delivered, 50);
    assert.equal(agent.runs.size, 50, "the agent saw every job");
    assert.deepEqual([...agent.runs.values()].filter((n) => n !== 1), [], "no job ran twice");
    assert.equal(sendCount(api), 50, "one message/send per reply: no second sender, no resend");
    assert.equal(check.suppressed, 0);
    const done = gateways.map((g) => g.runner!.stats().done);
    assert.equal(done[0] + done[1], 50);
    assert.ok(done[0] > 0 && done[1] > 0, `both instances ran jobs: ${done.join(" + ")}`);
    assert.deepEqual(gateways.map((g) => g.runner!.stats().lost), [0, 0]);
  } finally {
    for (const gateway of gateways) await gateway.stop({ graceMs: 1000 });
    kv.close();
    await agent.close();
    await api.close();
  }
});

Deno.test("two gateway processes on one SQLite file (all + worker): 50 jobs run once each, 50 replies once each", async () => {
  const h = await createHarness({ agentSeconds: 0.2, leaseSeconds: 5, pollMs: 100 });
  const processes: GatewayProcess[] = [];
  try {
    const front = await h.start("all", "front");
    processes.push(front);
    const back = await h.start("worker", "back");
    processes.push(back);
    const ledger = createLedger();
    const run = tag();
    await Promise.all(USERS.map(async (user, u) => {
      for (let i = 1; i <= PER_USER; i++) {
        const content = `${user} #${i} ${run}`;
        const status = await h.post(front, await h.callback(user, content, String(u * 100 + i)));
        assert.equal(status, 200, front.output());
        ledger.ack(user, content);
      }
    }));

    const ms = await waitFor(() => checkLedger(ledger, h.api).lost === 0, "50 replies", 40_000);
    for (const process of processes) assert.equal((await process.stop()).code, 0, process.output());

    const check = checkLedger(ledger, h.api);
    assert.deepEqual(check.problems, []);
    assert.equal(check.delivered, 50);
    const runs = await h.agentRuns();
    assert.equal(new Set(runs.started).size, 50, "the agent saw every job");
    assert.equal(runs.started.length, 50, "no job ran twice");
    assert.equal(sendCount(h.api), 50, "one message/send per reply: no second sender, no resend");
    const settled = await readKvState(h.kvPath);
    assert.deepEqual(settled.jobs, { queued: 0, running: 0, done: 50, failed: 0, dead: 0 });
    assert.equal(settled.outbox.pending, 0);
    const front_ = runs.byProcess.get("front") ?? 0;
    const back_ = runs.byProcess.get("back") ?? 0;
    assert.ok(front_ > 0 && back_ > 0, `both processes ran jobs: front ${front_}, back ${back_}`);
    measured(
      `two processes: 50 replies in ${Math.round(ms)} ms; runs front ${front_}, back ${back_}`,
    );
  } finally {
    for (const process of processes) await process.kill();
    await h.close();
  }
});
