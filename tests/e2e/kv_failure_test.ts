/**
 * KV failures and clock skew at the callback: when the message cannot be
 * recorded the callback answers 503 (so WeCom retries) and nothing is kept;
 * once KV is back, WeCom's retry of the same sealed callback is acknowledged
 * and answered exactly once. Timestamps beyond the replay window are refused
 * with 403 and leave nothing behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { AppConfig, GatewayConfig } from "../../src/config/types.ts";
import { type Gateway, type GatewayRole, startGateway } from "../../src/gateway.ts";
import { countJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import type { SealedCallback } from "../../src/simulator/seal.ts";
import type { FakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { keys } from "../../src/store/keys.ts";
import { testConfig } from "../fakes/config.ts";
import { startFakeWeComApp } from "../fakes/wecom_app.ts";
import { startCountingAgent } from "./lib/counting_agent.ts";
import { waitFor } from "../lib/wait.ts";
import { measured } from "../lib/measured.ts";

setLogSink({
  format: "human",
  level: Deno.env.get("E2E_LOG") ? "warn" : "error",
  write: (line) => Deno.env.get("E2E_LOG") && console.error(line),
});

interface World {
  dir: string;
  app: AppConfig;
  api: FakeWeComApi;
  config: GatewayConfig;
  seal(user: string, content: string, msgId: string, timestamp?: number): Promise<SealedCallback>;
  post(gateway: Gateway, sealed: SealedCallback): Promise<{ status: number; ms: number }>;
  replies(user: string): string[];
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "wecom-kv-failure-" });
  const { app, api, sealText } = await startFakeWeComApp();
  const config = await testConfig([app], { kvPath: `${dir}/kv.sqlite3` });
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  return {
    dir,
    app,
    api,
    config,
    seal: sealText,
    async post(gateway, sealed) {
      const began = performance.now();
      const response = await fetch(
        `http://127.0.0.1:${gateway.address!.port}/wecom/callback?${sealed.query}`,
        { method: "POST", body: sealed.body },
      );
      await response.body?.cancel();
      return { status: response.status, ms: performance.now() - began };
    },
    replies: (user) => api.delivered(user).map((m) => String(m.payload.content)),
    async close() {
      await api.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function start(w: World, role: GatewayRole = "all", kv?: Deno.Kv): Promise<Gateway> {
  return startGateway(w.config, { role, kv, deliveryPollMs: 50, backoffBaseMs: 20 });
}

/** Holds SQLite's write lock on the KV file, as another process's long transaction would. */
async function lockFile(path: string): Promise<{ release(): void }> {
  const db = new DatabaseSync(path, { timeout: 2000 });
  for (let attempt = 1;; attempt++) {
    try {
      db.exec("BEGIN EXCLUSIVE");
      break;
    } catch (error) {
      if (attempt >= 20) {
        db.close();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return {
    release() {
      db.exec("ROLLBACK");
      db.close();
    },
  };
}

async function hasDedupe(kv: Deno.Kv, app: AppConfig, msgId: string): Promise<boolean> {
  return (await kv.get(keys.dedupe(app.corpId, `m:${msgId}`))).versionstamp !== null;
}

Deno.test("a locked KV file: 503 fast and nothing recorded; WeCom's retry once unlocked: 200 and one reply", async () => {
  const w = await world();
  const gateway = await start(w);
  let lock: { release(): void } | undefined;
  try {
    assert.equal(
      (await w.post(gateway, await w.seal("lisi", "before the outage", "101"))).status,
      200,
    );
    await waitFor(() => w.replies("lisi").length === 1, "the first reply");
    const jobsBefore = await countJobs(gateway.kv);

    const sealed = await w.seal("lisi", "during the outage", "102");
    lock = await lockFile(w.config.kvPath);
    const first = await w.post(gateway, sealed);
    assert.equal(first.status, 503, "WeCom must retry: the message was not stored");
    assert.ok(first.ms < 4000, `answered within WeCom's 5 s wait (${Math.round(first.ms)} ms)`);
    const again = await w.post(gateway, sealed); // WeCom's first retry, still locked
    assert.equal(again.status, 503);
    // Reads still work under SQLite's write lock: nothing of the message was kept.
    assert.equal(await hasDedupe(gateway.kv, w.app, "102"), false, "no dedupe marker");
    assert.deepEqual(await countJobs(gateway.kv), jobsBefore, "no job");
    lock.release();
    lock = undefined;

    const retry = await w.post(gateway, sealed); // WeCom's next retry: the same sealed callback
    assert.equal(retry.status, 200);
    assert.equal((await w.post(gateway, sealed)).status, 200, "a further retry is a duplicate");
    await waitFor(() => w.replies("lisi").length >= 2, "the reply after the outage");
    await gateway.runner!.idle();
    await gateway.delivery!.idle();
    assert.deepEqual(w.replies("lisi"), ["before the outage", "during the outage"]);
    assert.equal((await countJobs(gateway.kv)).done, 2);
    measured(`locked KV: 503 in ${Math.round(first.ms)} ms`);
  } finally {
    lock?.release();
    await gateway.stop({ graceMs: 1000 });
    await w.close();
  }
});

Deno.test("KV locked for 1.5 s while jobs run and replies go out: afterwards every reply arrives once", async () => {
  const w = await world();
  const agent = startCountingAgent({ delayMs: 300 });
  w.config.agent = { ...w.config.agent, kind: "http", http: { url: agent.url, headers: {} } };
  w.config.jobs = { ...w.config.jobs, leaseMs: 2000, concurrency: 4 };
  w.config.delivery = { ...w.config.delivery, requestTimeoutMs: 1000 };
  const gateway = await start(w);
  let lock: { release(): void } | undefined;
  try {
    const users = ["u1", "u2", "u3", "u4", "u5"];
    const expected = new Map(users.map((user) => [user, [1, 2].map((i) => `${user} #${i}`)]));
    await Promise.all(users.map(async (user, u) => {
      for (const [i, content] of expected.get(user)!.entries()) {
        assert.equal(
          (await w.post(gateway, await w.seal(user, content, String(400 + u * 10 + i)))).status,
          200,
        );
      }
    }));
    await waitFor(() => agent.inFlight() > 0, "running jobs", 5000, 5);
    lock = await lockFile(w.config.kvPath);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    lock.release();
    lock = undefined;
    const ms = await waitFor(
      () => users.every((user) => w.replies(user).length >= 2),
      "ten replies",
      20_000,
    );
    await gateway.runner!.idle();
    await gateway.delivery!.idle();
    for (const user of users) assert.deepEqual(w.replies(user), expected.get(user));
    const outbox = await Array.fromAsync(gateway.kv.list({ prefix: keys.outboxPrefix() }));
    assert.equal(outbox.length, 10, "one outbox item per reply");
    assert.equal(await countJobs(gateway.kv).then((c) => c.done), 10);
    assert.equal(
      agent.total(),
      10,
      "a finished agent run is not thrown away because KV was locked",
    );
    measured(
      `locked mid-flight: all replies ${Math.round(ms)} ms after the lock was released; ` +
        `agent runs ${agent.total()} for 10 jobs`,
    );
  } finally {
    lock?.release();
    await gateway.stop({ graceMs: 1000 });
    await agent.close();
    await w.close();
  }
});

Deno.test("a closed KV store: 503 and nothing recorded; with the store back, the retry is answered once", async () => {
  const w = await world();
  const kv = await Deno.openKv(w.config.kvPath);
  const edge = await start(w, "edge", kv);
  let gateway: Gateway | undefined;
  try {
    const sealed = await w.seal("wangwu", "while KV was away", "201");
    kv.close(); // KV gone under a running edge
    assert.equal((await w.post(edge, sealed)).status, 503);
    await edge.stop({ graceMs: 500 });

    gateway = await start(w); // KV back: a fresh process on the same file
    assert.equal(await hasDedupe(gateway.kv, w.app, "201"), false, "no dedupe marker");
    assert.deepEqual(await countJobs(gateway.kv), {
      queued: 0,
      running: 0,
      done: 0,
      failed: 0,
      dead: 0,
    });
    assert.equal((await w.post(gateway, sealed)).status, 200);
    assert.equal((await w.post(gateway, sealed)).status, 200);
    await waitFor(() => w.replies("wangwu").length >= 1, "the reply");
    await gateway.runner!.idle();
    await gateway.delivery!.idle();
    assert.deepEqual(w.replies("wangwu"), ["while KV was away"]);
  } finally {
    await edge.stop({ graceMs: 500 });
    await gateway?.stop({ graceMs: 1000 });
    await w.close();
  }
});

Deno.test("clock skew: within the replay window 200 and answered; beyond it 403 and nothing recorded", async () => {
  const w = await world();
  const window = w.config.replayWindowSeconds;
  assert.equal(window, 300);
  const gateway = await start(w);
  try {
    const now = Math.floor(Date.now() / 1000);
    const late = await w.seal("zhaoliu", "sent 4 minutes ago", "301", now - 240);
    const early = await w.seal("zhaoliu", "from a clock 4 minutes fast", "302", now + 240);
    assert.equal((await w.post(gateway, late)).status, 200);
    assert.equal((await w.post(gateway, early)).status, 200);
    await waitFor(() => w.replies("zhaoliu").length >= 2, "two replies");

    const stale = await w.seal("zhaoliu", "replayed", "303", now - window - 60);
    const future = await w.seal("zhaoliu", "from the future", "304", now + window + 60);
    assert.equal((await w.post(gateway, stale)).status, 403);
    assert.equal((await w.post(gateway, future)).status, 403);
    assert.equal(await hasDedupe(gateway.kv, w.app, "303"), false);
    assert.equal(await hasDedupe(gateway.kv, w.app, "304"), false);
    assert.equal(
      (await countJobs(gateway.kv)).done + (await countJobs(gateway.kv)).queued +
        (await countJobs(gateway.kv)).running,
      2,
      "only the two accepted messages became jobs",
    );

    // The same message sent again with a sane timestamp is not swallowed by the refusal.
    assert.equal(
      (await w.post(gateway, await w.seal("zhaoliu", "from the future", "304"))).status,
      200,
    );
    await waitFor(() => w.replies("zhaoliu").length >= 3, "the third reply");
    await gateway.runner!.idle();
    await gateway.delivery!.idle();
    assert.deepEqual(w.replies("zhaoliu"), [
      "sent 4 minutes ago",
      "from a clock 4 minutes fast",
      "from the future",
    ]);
  } finally {
    await gateway.stop({ graceMs: 1000 });
    await w.close();
  }
});
