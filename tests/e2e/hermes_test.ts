import assert from "node:assert/strict";
import { HERMES_DEFAULTS } from "../../src/agent/backends/hermes.ts";
import { FAILURE_TEXT_DEFAULTS } from "../../src/config/validate_agent.ts";
import { rerunJob } from "../../src/jobs/rerun.ts";
import { agentSession } from "../../src/agent/session_ids.ts";
import { listJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { type FakeHermes, startFakeHermes } from "../fakes/hermes_api.ts";
import { startWorld, type World } from "../fakes/world.ts";
import { waitFor } from "../lib/wait.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

const KEY = "hermes-e2e-key-0123";

async function hermesWorld(hermes: FakeHermes, timeoutMs = 10_000): Promise<World> {
  return await startWorld({
    configure: (config) => {
      config.agent = {
        ...config.agent,
        kind: "hermes",
        timeoutMs,
        hermes: { ...HERMES_DEFAULTS, baseUrl: hermes.url, apiKey: KEY },
      };
    },
  });
}

Deno.test("e2e hermes: members who open alike get their own Hermes sessions; /reset starts a new one", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  const w = await hermesWorld(hermes);
  try {
    assert.equal(await w.text("zhangsan", "你好", "1"), 200);
    assert.equal(await w.text("lisi", "你好", "2"), 200);
    await waitFor(
      () => w.texts("zhangsan").length === 1 && w.texts("lisi").length === 1,
      "two answers",
    );
    assert.deepEqual(w.texts("zhangsan"), ["Hermes: 你好"]);
    assert.equal(hermes.sessions.size, 2);
    assert.equal(await w.text("zhangsan", "/reset", "3"), 200);
    await waitFor(() => w.texts("zhangsan").length === 2, "the reset notice");
    assert.equal(await w.text("zhangsan", "again", "4"), 200);
    await waitFor(() => w.texts("zhangsan").length === 3, "the answer after /reset");
    assert.equal(hermes.sessions.size, 3);
    // The two members' first requests run concurrently: find zhangsan's by his ids.
    const zhang = await agentSession(w.gateway.kv, `${w.app.corpId}:zhangsan`);
    const mine = hermes.requests.filter((request) => request.sessionKey === zhang.memberId);
    assert.deepEqual(mine.map((request) => request.text), ["你好", "again"]);
    const [first, after] = mine;
    assert.notEqual(after.sessionHeader, first.sessionHeader);
    assert.equal(after.sessionHeader, zhang.sessionId, "after /reset: the new epoch's session");
  } finally {
    await w.close();
    await hermes.close();
  }
});

Deno.test("e2e hermes: a failed Hermes run reaches the member as the apology, never as an answer", async () => {
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ failure: "provider_down" }) });
  const w = await hermesWorld(hermes);
  try {
    assert.equal(await w.text("wangwu", "summarise the report", "1"), 200);
    await waitFor(() => w.texts("wangwu").length === 1, "the apology");
    assert.deepEqual(w.texts("wangwu"), [FAILURE_TEXT_DEFAULTS.en]);
    const [job] = await listJobs(w.gateway.kv, { state: "failed" });
    assert.ok(job.error?.includes("reported a failed run"), job.error);
    assert.ok(
      (await w.gateway.metrics.render()).includes(
        'wecom_agent_failures_total{reason="failed_run"} 1',
      ),
    );
    // The next turn is answered normally.
    hermes.behave = () => ({});
    assert.equal(await w.text("wangwu", "再试一次", "2"), 200);
    await waitFor(() => w.texts("wangwu").length === 2, "the answer");
    assert.equal(w.texts("wangwu")[1], "Hermes: 再试一次");
    assert.ok(!w.texts("wangwu").join("\n").includes("Connection error"));
  } finally {
    await w.close();
    await hermes.close();
  }
});

Deno.test("e2e hermes: Hermes down is retried, fails once with the apology; jobs rerun brings one answer", async () => {
  const hermes = startFakeHermes({ apiKey: KEY });
  await hermes.stop();
  const w = await hermesWorld(hermes, 1500);
  try {
    assert.equal(await w.text("zhaoliu", "你在吗", "1"), 200);
    await waitFor(() => w.texts("zhaoliu").length === 1, "the apology");
    assert.deepEqual(w.texts("zhaoliu"), [FAILURE_TEXT_DEFAULTS.zh]);
    const [failed] = await listJobs(w.gateway.kv, { state: "failed" });
    const attempts = /could not reach Hermes at 127\.0\.0\.1:\d+.*after (\d+) attempts/.exec(
      failed.error ?? "",
    );
    assert.ok(
      attempts && Number(attempts[1]) >= 2,
      `it was retried before giving up: ${failed.error}`,
    );
    assert.ok(!w.texts("zhaoliu")[0].includes("127.0.0.1"));
    assert.ok(
      (await w.gateway.metrics.render()).includes(
        'wecom_agent_failures_total{reason="unreachable"} 1',
      ),
    );

    hermes.restart();
    const outcome = await rerunJob(w.gateway.kv, failed.id, Date.now());
    assert.ok(outcome.ok);
    w.gateway.runner?.wake();
    await waitFor(() => w.texts("zhaoliu").length === 2, "the answer of the rerun");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(w.texts("zhaoliu"), [FAILURE_TEXT_DEFAULTS.zh, "Hermes: 你在吗"]);
    assert.equal(hermes.requests.length, 1);
  } finally {
    await w.close();
    await hermes.close();
  }
});

Deno.test("e2e hermes: /stop during a slow Hermes run stops the job; the run's answer never reaches the member", async () => {
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ delayMs: 1500 }) });
  const w = await hermesWorld(hermes, 60_000);
  try {
    assert.equal(await w.text("sunqi", "write a long report", "1"), 200);
    await waitFor(() => hermes.requests.length === 1, "the run at Hermes");
    const stopped = performance.now();
    assert.equal(await w.text("sunqi", "/stop", "2"), 200);
    await waitFor(() => w.texts("sunqi").length === 1, "the /stop answer");
    assert.ok(w.texts("sunqi")[0].startsWith("Stopped the running request"), w.texts("sunqi")[0]);
    const [job] = await listJobs(w.gateway.kv, { state: "failed" });
    assert.equal(job.error, "cancelled by /stop");
    assert.ok(performance.now() - stopped < 1400, "stopped before Hermes finished");
    // Hermes finishes the turn anyway (chat completions has no run id to stop): its answer
    // goes nowhere.
    await waitFor(() => hermes.finished.length === 1, "Hermes ending the run");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(w.texts("sunqi").length, 1);
    // The positive control: the next message is answered.
    hermes.behave = () => ({});
    assert.equal(await w.text("sunqi", "short one", "3"), 200);
    await waitFor(() => w.texts("sunqi").length === 2, "the next answer");
    assert.deepEqual(w.texts("sunqi").slice(1), ["Hermes: short one"]);
  } finally {
    await w.close();
    await hermes.close();
  }
});

Deno.test("e2e hermes: a run slower than agent.timeout_seconds ends in the apology, once", async () => {
  const hermes = startFakeHermes({ apiKey: KEY, behave: () => ({ delayMs: 1500 }) });
  const w = await hermesWorld(hermes, 500);
  try {
    assert.equal(await w.text("zhouba", "think very hard", "1"), 200);
    await waitFor(() => w.texts("zhouba").length === 1, "the apology");
    assert.deepEqual(w.texts("zhouba"), [FAILURE_TEXT_DEFAULTS.en]);
    const [job] = await listJobs(w.gateway.kv, { state: "failed" });
    assert.ok(job.error?.startsWith("timeout:"), job.error);
    await waitFor(() => hermes.finished.length === 1, "Hermes ending the run");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(hermes.requests.length, 1, "a timed-out run is not sent again");
    assert.equal(w.texts("zhouba").length, 1, "the late answer is not delivered");
  } finally {
    await w.close();
    await hermes.close();
  }
});
