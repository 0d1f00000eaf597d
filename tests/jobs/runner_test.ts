import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  AgentCrashError,
  AgentPoolClosedError,
  AgentTimeoutError,
} from "../../src/records/agent_error.ts";
import { appendHistory, loadHistory, resetHistory } from "../../src/agent/run.ts";
import { DEAD_NOTICE, startRunner } from "../../src/jobs/runner.ts";
import { FAILURE_TEXT_DEFAULTS } from "../../src/config/validate_agent.ts";
import {
  cancelConversation,
  CANCELLED_ERROR,
  claimNext,
  countJobs,
  getJob,
  sweepExpired,
} from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";
import type { Commit as Committer } from "../../src/store/group_commit.ts";
import { keys } from "../../src/store/keys.ts";
import {
  gatedAgent,
  outbox,
  recordingAgent,
  runnerDeps,
  send,
  sleep,
  textOf,
  until,
} from "./job_fixtures.ts";

Deno.test("runner answers a message: job done and its reply in the outbox", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent));
  try {
    const job = await send(kv, "ww1:alice", "hello");
    runner.wake();
    await runner.idle();
    const done = await getJob(kv, job.id);
    assertEquals(done?.state, "done");
    assertEquals(done?.attempts, 1);
    const items = await outbox(kv, "ww1:alice");
    assertEquals(items.map((item) => [item.purpose, textOf(item), item.jobId]), [
      ["reply", "echo: hello", job.id],
    ]);
    assertEquals(runner.stats().done, 1);
  } finally {
    await runner.stop();
  }
});

Deno.test("runner picks up a job recorded by another process through the watched key", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent();
  // Polling is slow here: only the watch can find the job quickly.
  const runner = startRunner(runnerDeps(kv, agent, { config: { pollMs: 60_000 } }));
  try {
    await sleep(20);
    const job = await send(kv, "ww1:alice", "from elsewhere");
    await until(async () => (await getJob(kv, job.id))?.state === "done", 2000, "the job");
  } finally {
    await runner.stop();
  }
});

Deno.test("one conversation runs in order while others run in parallel", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent, runs, maxActive } = recordingAgent(30);
  const runner = startRunner(runnerDeps(kv, agent));
  try {
    const alice = [];
    for (let i = 0; i < 3; i++) alice.push(await send(kv, "ww1:alice", `a${i}`));
    const bob = [await send(kv, "ww1:bob", "b0"), await send(kv, "ww1:bob", "b1")];
    runner.wake();
    await runner.idle();
    const aliceRuns = runs.filter((run) => run.conversation === "ww1:alice");
    assertEquals(aliceRuns.map((run) => run.id), alice.map((job) => job.id));
    for (let i = 1; i < aliceRuns.length; i++) {
      assert(aliceRuns[i].start >= aliceRuns[i - 1].end, "alice's jobs do not overlap");
    }
    const bobRuns = runs.filter((run) => run.conversation === "ww1:bob");
    assertEquals(bobRuns.map((run) => run.id), bob.map((job) => job.id));
    assert(bobRuns[0].start < aliceRuns[0].end, "bob ran alongside alice");
    assertEquals(maxActive(), 2);
    const replies = (await outbox(kv, "ww1:alice")).map(textOf);
    assertEquals(replies, ["echo: a0", "echo: a1", "echo: a2"]);
  } finally {
    await runner.stop();
  }
});

Deno.test("runner never runs more agent jobs at once than its concurrency", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent, runs, maxActive } = recordingAgent(25);
  const runner = startRunner(runnerDeps(kv, agent, { config: { concurrency: 2 } }));
  try {
    for (let i = 0; i < 7; i++) await send(kv, `ww1:user${i}`, `m${i}`);
    runner.wake();
    await until(() => runner.stats().running === 2, 1000, "two running");
    await runner.idle();
    assertEquals(runs.length, 7);
    assertEquals(maxActive(), 2);
    assertEquals((await countJobs(kv)).done, 7);
  } finally {
    await runner.stop();
  }
});

Deno.test("a freed slot is claimed for at once, yet the store never holds more jobs than the slots", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent, runs, maxActive } = recordingAgent(15);
  // Slow job ends: the next claim is read, and ready, while a job's end is still being
  // committed; it must wait for that commit.
  const slowCommit: Committer = async (build) => {
    const op = kv.atomic();
    let ending = false;
    const watched = new Proxy(op, {
      get(target, name) {
        const value = Reflect.get(target, name);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (name === "delete" && (args[0] as Deno.KvKey)[0] === keys.runningPrefix()[0]) {
            ending = true;
          }
          value.apply(target, args);
          return watched;
        };
      },
    });
    build(watched);
    if (ending) await sleep(10);
    return await op.commit();
  };
  const runner = startRunner(
    runnerDeps(kv, agent, { commit: slowCommit, config: { concurrency: 3 } }),
  );
  let held = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      held = Math.max(
        held,
        (await Array.fromAsync(kv.list({ prefix: keys.runningPrefix() }))).length,
      );
      await sleep(0);
    }
  })();
  try {
    for (let i = 0; i < 30; i++) await send(kv, `ww1:user${i}`, `m${i}`);
    runner.wake();
    await runner.idle();
    assertEquals(runs.length, 30);
    assertEquals(maxActive(), 3, "every slot was used");
    assert(held <= 3, `the store held ${held} running jobs at once with 3 slots`);
    assertEquals((await countJobs(kv)).done, 30);
  } finally {
    sampling = false;
    await sampler;
    await runner.stop();
  }
});

Deno.test("two runners on one store run each of 50 jobs exactly once", async () => {
  using kv = await Deno.openKv(":memory:");
  const counts = new Map<string, number>();
  const busy = new Set<string>();
  let overlap = false;
  const agent = async (job: { id: string; conversation: string }) => {
    counts.set(job.id, (counts.get(job.id) ?? 0) + 1);
    if (busy.has(job.conversation)) overlap = true;
    busy.add(job.conversation);
    await sleep(1 + Math.floor(Math.random() * 4));
    busy.delete(job.conversation);
    return { text: `done ${job.id}`, attachments: [] };
  };
  const jobs = [];
  for (let i = 0; i < 50; i++) jobs.push(await send(kv, `ww1:user${i % 10}`, `m${i}`));
  const one = startRunner(runnerDeps(kv, agent, { runnerId: "one" }));
  const two = startRunner(runnerDeps(kv, agent, { runnerId: "two" }));
  try {
    await until(async () => (await countJobs(kv)).done === 50, 10_000, "50 jobs done");
    assertEquals(counts.size, 50);
    assert([...counts.values()].every((count) => count === 1), "every job ran exactly once");
    assert(!overlap, "no conversation ran two jobs at once");
    const items = await outbox(kv);
    assertEquals(items.length, 50);
    assertEquals(new Set(items.map((item) => item.jobId)).size, 50);
    assert(one.stats().done > 0 && two.stats().done > 0, "both runners worked");
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
});

Deno.test("a job left by a dead runner is swept back and run again", async () => {
  using kv = await Deno.openKv(":memory:");
  const offset = { ms: 0 };
  const now = () => Date.now() + offset.ms;
  const job = await send(kv, "ww1:alice", "hello");
  const claimed = await claimNext(kv, "dead-runner", now(), 30_000);
  assertEquals(claimed?.id, job.id);
  const { agent, runs } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { now, sweepMs: 10 }));
  try {
    await sleep(40);
    assertEquals(runs.length, 0, "the lease is still valid");
    offset.ms = 30_001;
    await until(async () => (await getJob(kv, job.id))?.state === "done", 2000, "the rerun");
    assertEquals((await getJob(kv, job.id))?.attempts, 2);
    assertEquals((await outbox(kv)).map(textOf), ["echo: hello"]);
  } finally {
    await runner.stop();
  }
});

Deno.test("a job that exhausted its attempts becomes dead and the user is told", async () => {
  using kv = await Deno.openKv(":memory:");
  let t = Date.now();
  const job = await send(kv, "ww1:alice", "hello", t);
  for (let i = 0; i < 2; i++) {
    await claimNext(kv, "dead-runner", t, 1000);
    t += 1001;
    await sweepExpired(kv, t, 3);
  }
  await claimNext(kv, "dead-runner", t, 1000);
  t += 1001;
  const { agent, runs } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { now: () => t }));
  try {
    await until(async () => (await getJob(kv, job.id))?.state === "dead", 2000, "dead");
    assertEquals(runs.length, 0);
    const items = await outbox(kv, "ww1:alice");
    assertEquals(items.map((item) => [item.purpose, textOf(item)]), [["error", DEAD_NOTICE]]);
  } finally {
    await runner.stop();
  }
});

Deno.test("a lost lease aborts the agent and the runner does not reply", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = gatedAgent();
  const runner = startRunner(runnerDeps(kv, gate.agent, { config: { leaseMs: 150 } }));
  try {
    const job = await send(kv, "ww1:alice", "hello");
    runner.wake();
    await until(() => gate.started.length === 1, 1000, "the agent to start");
    // Another runner took the job over (as after a sweep).
    const record = (await getJob(kv, job.id))!;
    await kv.set(keys.job(job.id), {
      ...record,
      attempts: 2,
      lease: { owner: "thief", until: Date.now() + 60_000 },
    });
    await until(() => gate.started[0].signal.aborted, 1000, "the abort");
    await runner.idle();
    assertEquals(runner.stats().lost, 1);
    assertEquals((await getJob(kv, job.id))?.lease?.owner, "thief");
    assertEquals(await outbox(kv), []);
  } finally {
    gate.release();
    await runner.stop();
  }
});

Deno.test("an agent error fails the job and tells the member the apology, never the error", async () => {
  using kv = await Deno.openKv(":memory:");
  const agent = (job: JobRecord) => {
    const text = job.message.type === "text" ? job.message.content : "";
    if (text === "crash") return Promise.reject(new AgentCrashError(job.id, "Uncaught boom"));
    return Promise.reject(new Error("ECONNREFUSED secret-host:1234"));
  };
  const runner = startRunner(runnerDeps(kv, agent));
  try {
    const crash = await send(kv, "ww1:alice", "crash");
    const odd = await send(kv, "ww1:bob", "other");
    runner.wake();
    await runner.idle();
    assertEquals((await getJob(kv, crash.id))?.state, "failed");
    assertEquals((await getJob(kv, crash.id))?.error, "crash: the agent crashed");
    assertEquals((await outbox(kv, "ww1:alice")).map((item) => [item.purpose, textOf(item)]), [
      ["error", FAILURE_TEXT_DEFAULTS.en],
    ]);
    assertEquals((await getJob(kv, odd.id))?.state, "failed");
    // The operator's detail stays on the job; the member gets the apology only.
    assertEquals((await getJob(kv, odd.id))?.error, "internal: ECONNREFUSED secret-host:1234");
    assertEquals((await outbox(kv, "ww1:bob")).map(textOf), [FAILURE_TEXT_DEFAULTS.en]);
    assertEquals(runner.stats().failed, 2);
  } finally {
    await runner.stop();
  }
});

Deno.test("an agent timeout fails the job; the member gets the apology in their language", async () => {
  using kv = await Deno.openKv(":memory:");
  const agent = (job: { id: string }) => Promise.reject(new AgentTimeoutError(job.id, 1_800_000));
  const runner = startRunner(
    runnerDeps(kv, agent, { failureText: { zh: "抱歉，出错了。", en: "Oops." } }),
  );
  try {
    const job = await send(kv, "ww1:alice", "slow");
    const chinese = await send(kv, "ww1:li", "请总结这份报告");
    runner.wake();
    await runner.idle();
    assertEquals((await getJob(kv, job.id))?.state, "failed");
    assert((await getJob(kv, job.id))?.error?.includes("30 min"));
    const [notice] = await outbox(kv, "ww1:alice");
    assertEquals([notice.purpose, textOf(notice)], ["error", "Oops."]);
    assertEquals((await getJob(kv, chinese.id))?.state, "failed");
    assertEquals((await outbox(kv, "ww1:li")).map(textOf), ["抱歉，出错了。"]);
  } finally {
    await runner.stop();
  }
});

Deno.test("a slow agent gets one working notice, recalled before the reply", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent(150);
  const runner = startRunner(runnerDeps(kv, agent, { config: { workingNoticeMs: 30 } }));
  try {
    const job = await send(kv, "ww1:alice", "think hard");
    runner.wake();
    await until(async () => (await outbox(kv)).length === 1, 1000, "the working notice");
    const [working] = await outbox(kv);
    assertEquals([working.purpose, textOf(working)], ["working", "Working on it…"]);
    assertEquals((await getJob(kv, job.id))?.state, "running");
    await runner.idle();
    const items = await outbox(kv, "ww1:alice");
    assertEquals(items.map((item) => item.purpose), ["working", "recall", "reply"]);
    assertEquals(items[1].message, { msgtype: "recall", ofItem: working.id });
    assertEquals(textOf(items[2]), "echo: think hard");
  } finally {
    await runner.stop();
  }
});

Deno.test("no working notice when the agent answers before the delay", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent(0);
  const runner = startRunner(runnerDeps(kv, agent, { config: { workingNoticeMs: 60 } }));
  try {
    await send(kv, "ww1:alice", "quick");
    runner.wake();
    await runner.idle();
    await sleep(100);
    assertEquals((await outbox(kv)).map((item) => item.purpose), ["reply"]);
  } finally {
    await runner.stop();
  }
});

Deno.test("without recall, the working notice stays and the reply follows", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent(100);
  const runner = startRunner(
    runnerDeps(kv, agent, { config: { workingNoticeMs: 20, recallWorkingNotice: false } }),
  );
  try {
    await send(kv, "ww1:alice", "slow");
    runner.wake();
    await runner.idle();
    assertEquals((await outbox(kv)).map((item) => item.purpose), ["working", "reply"]);
  } finally {
    await runner.stop();
  }
});

Deno.test("/stop cancels the running job at once and drops the waiting ones", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = gatedAgent();
  const runner = startRunner(runnerDeps(kv, gate.agent));
  try {
    const running = await send(kv, "ww1:alice", "long task");
    runner.wake();
    await until(() => gate.started.length === 1, 1000, "the agent to start");
    const waiting = await send(kv, "ww1:alice", "next task");
    const stop = await send(kv, "ww1:alice", "/stop");
    const sent = performance.now();
    runner.wake();
    await until(() => gate.started[0].signal.aborted, 1000, "the abort");
    assert(performance.now() - sent < 500, "cancelled without waiting for a heartbeat");
    await runner.idle();
    assertEquals((await getJob(kv, running.id))?.state, "failed");
    assertEquals((await getJob(kv, running.id))?.error, CANCELLED_ERROR);
    assertEquals((await getJob(kv, waiting.id))?.state, "failed");
    assertEquals((await getJob(kv, stop.id))?.state, "done");
    const items = await outbox(kv, "ww1:alice");
    assertEquals(items.length, 1, "only the answer to /stop, no failure notice");
    assert(textOf(items[0]).startsWith("Stopped the running request"), textOf(items[0]));
    assert(textOf(items[0]).includes("Dropped 1 waiting message."), textOf(items[0]));
    assertEquals(gate.started.length, 1, "the dropped job never ran");
    assertEquals(runner.stats().cancelled, 1);
  } finally {
    await runner.stop();
  }
});

Deno.test("/stop from another process reaches the runner through the watched key", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = gatedAgent();
  const runner = startRunner(runnerDeps(kv, gate.agent, { config: { pollMs: 60_000 } }));
  try {
    const job = await send(kv, "ww1:alice", "long task");
    runner.wake();
    await until(() => gate.started.length === 1, 1000, "the agent to start");
    const result = await cancelConversation(kv, "ww1:alice", Date.now());
    assertEquals(result.stopped.map((stopped) => stopped.id), [job.id]);
    await until(() => gate.started[0].signal.aborted, 1000, "the abort");
    await until(async () => (await getJob(kv, job.id))?.state === "failed", 1000, "failed");
    assertEquals(await outbox(kv), []);
  } finally {
    await runner.stop();
  }
});

Deno.test("/reset and /new clear the conversation's history", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent, runs } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { resetHistory }));
  try {
    await appendHistory(kv, "ww1:alice", [{ role: "user", content: "old" }], 10_000);
    await appendHistory(kv, "ww1:bob", [{ role: "user", content: "keep" }], 10_000);
    await send(kv, "ww1:alice", "/reset");
    runner.wake();
    await runner.idle();
    assertEquals(await loadHistory(kv, "ww1:alice"), []);
    assertEquals((await loadHistory(kv, "ww1:bob")).length, 1);
    await appendHistory(kv, "ww1:alice", [{ role: "user", content: "again" }], 10_000);
    await send(kv, "ww1:alice", "/NEW");
    runner.wake();
    await runner.idle();
    assertEquals(await loadHistory(kv, "ww1:alice"), []);
    assertEquals((await outbox(kv)).map(textOf), ["Conversation reset.", "Conversation reset."]);
    assertEquals(runs.length, 0, "commands never reach the agent");
  } finally {
    await runner.stop();
  }
});

Deno.test("/status and /help are answered while the conversation's agent job runs", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = gatedAgent();
  // One agent slot, busy: commands must still be answered.
  const runner = startRunner(runnerDeps(kv, gate.agent, { config: { concurrency: 1 } }));
  try {
    const running = await send(kv, "ww1:alice", "long task");
    runner.wake();
    await until(() => gate.started.length === 1, 1000, "the agent to start");
    await send(kv, "ww1:alice", "next task");
    await send(kv, "ww1:alice", "/status");
    await send(kv, "ww1:alice", "/help");
    runner.wake();
    await until(async () => (await outbox(kv)).length === 2, 1000, "two answers");
    assertEquals((await getJob(kv, running.id))?.state, "running");
    const [status, help] = (await outbox(kv)).map(textOf);
    assert(status.includes("Running: your message from"), status);
    assert(status.includes("Waiting: 1 message"), status);
    assert(help.includes("/stop") && help.includes("/reset"), help);
    assert(help.includes("Files cannot be sent"), help);
    gate.release();
    await runner.idle();
    assertEquals((await outbox(kv)).map((item) => item.purpose), [
      "reply",
      "reply",
      "reply",
      "reply",
    ]);
  } finally {
    gate.release();
    await runner.stop();
  }
});

Deno.test("stop() releases running jobs so a new runner takes them at once", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = gatedAgent();
  const first = startRunner(runnerDeps(kv, gate.agent, { runnerId: "first" }));
  const job = await send(kv, "ww1:alice", "long task");
  first.wake();
  await until(() => gate.started.length === 1, 1000, "the agent to start");
  await first.stop({ graceMs: 20 });
  assert(gate.started[0].signal.aborted);
  assertEquals(first.stats().released, 1);
  const released = await getJob(kv, job.id);
  assertEquals(released?.state, "queued");
  assertEquals(released?.attempts, 0, "a shutdown is not a failed attempt");

  const { agent } = recordingAgent();
  const second = startRunner(runnerDeps(kv, agent, { runnerId: "second" }));
  try {
    second.wake();
    await second.idle();
    const done = await getJob(kv, job.id);
    assertEquals(done?.state, "done");
    assertEquals(done?.attempts, 1);
    assertEquals((await outbox(kv)).map(textOf), ["echo: long task"]);
  } finally {
    await second.stop();
  }
});

Deno.test("stop() lets a run that ends within the grace period finish", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent(60);
  const runner = startRunner(runnerDeps(kv, agent));
  const job = await send(kv, "ww1:alice", "short task");
  runner.wake();
  await until(() => runner.stats().running === 1, 1000, "the run");
  await runner.stop({ graceMs: 2000 });
  assertEquals((await getJob(kv, job.id))?.state, "done");
  assertEquals(runner.stats().released, 0);
});

Deno.test("a closing agent pool gives the job back instead of failing it", async () => {
  using kv = await Deno.openKv(":memory:");
  const agent = (job: { id: string }) => Promise.reject(new AgentPoolClosedError(job.id));
  const runner = startRunner(runnerDeps(kv, agent));
  const job = await send(kv, "ww1:alice", "hello");
  try {
    await until(() => runner.stats().released === 1, 1000, "the release");
    await sleep(60);
    assertEquals(runner.stats().released, 1, "the job is not taken again by this runner");
  } finally {
    await runner.stop();
  }
  const record = await getJob(kv, job.id);
  assertEquals(record?.state, "queued");
  assertEquals(record?.attempts, 0);
  assertEquals(await outbox(kv), []);
});

Deno.test("startRunner refuses a configuration it cannot run", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent();
  let error: unknown;
  try {
    startRunner(runnerDeps(kv, agent, { config: { concurrency: 0 } }));
  } catch (caught) {
    error = caught;
  }
  assert(error instanceof RangeError);
  assert(error.message.includes("'jobs.concurrency' must be a positive integer"), error.message);
});
