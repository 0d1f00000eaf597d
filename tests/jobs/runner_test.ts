import assert from "node:assert/strict";
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
  enqueue,
  gatedAgent,
  outbox,
  recordingAgent,
  runnerDeps,
  send,
  sleep,
  textJob,
  textOf,
} from "./job_fixtures.ts";
import { waitFor } from "../lib/wait.ts";
import { createPriorityGate } from "../../src/priority_gate.ts";

Deno.test("runner answers a message: job done and its reply in the outbox", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent));
  try {
    const job = await send(kv, "ww1:alice", "hello");
    runner.wake();
    await runner.idle();
    const done = await getJob(kv, job.id);
    assert.deepEqual(done?.state, "done");
    assert.deepEqual(done?.attempts, 1);
    const items = await outbox(kv, "ww1:alice");
    assert.deepEqual(items.map((item) => [item.purpose, textOf(item), item.jobId]), [
      ["reply", "echo: hello", job.id],
    ]);
    assert.deepEqual(runner.stats().done, 1);
  } finally {
    await runner.stop();
  }
});

for (const by of ["other", "intake"] as const) {
  Deno.test(`a worker's runner picks up a job another process recorded (by ${by}) through the watched keys`, async () => {
    using kv = await Deno.openKv(":memory:");
    const { agent } = recordingAgent();
    // Polling is slow here: only the watch can find the job quickly.
    const runner = startRunner(runnerDeps(kv, agent, { config: { pollMs: 60_000 } }));
    try {
      await sleep(20);
      const job = await enqueue(kv, textJob("ww1:alice", "from elsewhere"), { by });
      await waitFor(async () => (await getJob(kv, job.id))?.state === "done", "the job", 2000);
    } finally {
      await runner.stop();
    }
  });
}

Deno.test("beside the callback server, the runner is woken by its intake, not by the intake's key; reruns still reach it through the watch", async () => {
  using kv = await Deno.openKv(":memory:");
  const { agent } = recordingAgent();
  const runner = startRunner(
    runnerDeps(kv, agent, { intakeInProcess: true, config: { pollMs: 60_000 } }),
  );
  try {
    await sleep(20);
    const job = await enqueue(kv, textJob("ww1:alice", "hello"), { by: "intake" });
    // Each commit of callbacks would wake it a second time: it does not watch that key.
    await sleep(300);
    assert.equal((await getJob(kv, job.id))?.state, "queued");
    runner.wake(); // what the intake beside it does
    await waitFor(async () => (await getJob(kv, job.id))?.state === "done", "the job", 2000);
    // A job recorded by anything else (`jobs rerun`) bumps the key every runner watches.
    const rerun = await enqueue(kv, textJob("ww1:bob", "again"));
    await waitFor(async () => (await getJob(kv, rerun.id))?.state === "done", "the rerun", 2000);
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
    assert.deepEqual(aliceRuns.map((run) => run.id), alice.map((job) => job.id));
    for (let i = 1; i < aliceRuns.length; i++) {
      assert.ok(aliceRuns[i].start >= aliceRuns[i - 1].end, "alice's jobs do not overlap");
    }
    const bobRuns = runs.filter((run) => run.conversation === "ww1:bob");
    assert.deepEqual(bobRuns.map((run) => run.id), bob.map((job) => job.id));
    assert.ok(bobRuns[0].start < aliceRuns[0].end, "bob ran alongside alice");
    assert.deepEqual(maxActive(), 2);
    const replies = (await outbox(kv, "ww1:alice")).map(textOf);
    assert.deepEqual(replies, ["echo: a0", "echo: a1", "echo: a2"]);
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
    await waitFor(() => runner.stats().running === 2, "two running", 1000);
    await runner.idle();
    assert.deepEqual(runs.length, 7);
    assert.deepEqual(maxActive(), 2);
    assert.deepEqual((await countJobs(kv)).done, 7);
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
    assert.deepEqual(runs.length, 30);
    assert.deepEqual(maxActive(), 3, "every slot was used");
    assert.ok(held <= 3, `the store held ${held} running jobs at once with 3 slots`);
    assert.deepEqual((await countJobs(kv)).done, 30);
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
    await waitFor(async () => (await countJobs(kv)).done === 50, "50 jobs done", 10_000);
    assert.deepEqual(counts.size, 50);
    assert.ok([...counts.values()].every((count) => count === 1), "every job ran exactly once");
    assert.ok(!overlap, "no conversation ran two jobs at once");
    const items = await outbox(kv);
    assert.deepEqual(items.length, 50);
    assert.deepEqual(new Set(items.map((item) => item.jobId)).size, 50);
    assert.ok(one.stats().done > 0 && two.stats().done > 0, "both runners worked");
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
  assert.deepEqual(claimed?.id, job.id);
  const { agent, runs } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { now, sweepMs: 10 }));
  try {
    await sleep(40); // four sweep periods
    // Positive control: the runner is claiming and running meanwhile.
    const other = await send(kv, "ww1:bob", "meanwhile");
    runner.wake();
    await waitFor(
      async () => (await getJob(kv, other.id))?.state === "done",
      "the other job",
      2000,
    );
    assert.deepEqual(runs.map((run) => run.id), [other.id], "the lease is still valid");
    offset.ms = 30_001;
    await waitFor(async () => (await getJob(kv, job.id))?.state === "done", "the rerun", 2000);
    assert.deepEqual((await getJob(kv, job.id))?.attempts, 2);
    assert.deepEqual((await outbox(kv, "ww1:alice")).map(textOf), ["echo: hello"]);
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
    await waitFor(async () => (await getJob(kv, job.id))?.state === "dead", "dead", 2000);
    assert.deepEqual(runs.length, 0);
    const items = await outbox(kv, "ww1:alice");
    assert.deepEqual(items.map((item) => [item.purpose, textOf(item)]), [["error", DEAD_NOTICE]]);
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
    await waitFor(() => gate.started.length === 1, "the agent to start", 1000);
    // Another runner took the job over (as after a sweep).
    const record = (await getJob(kv, job.id))!;
    await kv.set(keys.job(job.id), {
      ...record,
      attempts: 2,
      lease: { owner: "thief", until: Date.now() + 60_000 },
    });
    await waitFor(() => gate.started[0].signal.aborted, "the abort", 1000);
    await runner.idle();
    assert.deepEqual(runner.stats().lost, 1);
    assert.deepEqual((await getJob(kv, job.id))?.lease?.owner, "thief");
    assert.deepEqual(await outbox(kv), []);
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
    assert.deepEqual((await getJob(kv, crash.id))?.state, "failed");
    assert.deepEqual((await getJob(kv, crash.id))?.error, "crash: the agent crashed");
    assert.deepEqual((await outbox(kv, "ww1:alice")).map((item) => [item.purpose, textOf(item)]), [
      ["error", FAILURE_TEXT_DEFAULTS.en],
    ]);
    assert.deepEqual((await getJob(kv, odd.id))?.state, "failed");
    // The operator's detail stays on the job; the member gets the apology only.
    assert.deepEqual((await getJob(kv, odd.id))?.error, "internal: ECONNREFUSED secret-host:1234");
    assert.deepEqual((await outbox(kv, "ww1:bob")).map(textOf), [FAILURE_TEXT_DEFAULTS.en]);
    assert.deepEqual(runner.stats().failed, 2);
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
    assert.deepEqual((await getJob(kv, job.id))?.state, "failed");
    assert.ok((await getJob(kv, job.id))?.error?.includes("30 min"));
    const [notice] = await outbox(kv, "ww1:alice");
    assert.deepEqual([notice.purpose, textOf(notice)], ["error", "Oops."]);
    assert.deepEqual((await getJob(kv, chinese.id))?.state, "failed");
    assert.deepEqual((await outbox(kv, "ww1:li")).map(textOf), ["抱歉，出错了。"]);
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
    await waitFor(async () => (await outbox(kv)).length === 1, "the working notice", 1000);
    const [working] = await outbox(kv);
    assert.deepEqual([working.purpose, textOf(working)], ["working", "Working on it…"]);
    assert.deepEqual((await getJob(kv, job.id))?.state, "running");
    await runner.idle();
    const items = await outbox(kv, "ww1:alice");
    assert.deepEqual(items.map((item) => item.purpose), ["working", "recall", "reply"]);
    assert.deepEqual(items[1].message, { msgtype: "recall", ofItem: working.id });
    assert.deepEqual(textOf(items[2]), "echo: think hard");
  } finally {
    await runner.stop();
  }
});

Deno.test("no working notice when the agent answers before the delay", async () => {
  using kv = await Deno.openKv(":memory:");
  const quick = recordingAgent(0).agent;
  const slow = recordingAgent(150).agent;
  const agent = (job: JobRecord, signal: AbortSignal) =>
    job.conversation === "ww1:bob" ? slow(job, signal) : quick(job, signal);
  const runner = startRunner(runnerDeps(kv, agent, { config: { workingNoticeMs: 60 } }));
  try {
    await send(kv, "ww1:alice", "quick");
    runner.wake();
    await runner.idle();
    // Positive control: a run started later that outlasts the delay gets its notice.
    await send(kv, "ww1:bob", "slow");
    runner.wake();
    await waitFor(
      async () => (await outbox(kv, "ww1:bob")).some((item) => item.purpose === "working"),
      "the working notice of the slow run",
      2000,
    );
    assert.deepEqual((await outbox(kv, "ww1:alice")).map((item) => item.purpose), ["reply"]);
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
    assert.deepEqual((await outbox(kv)).map((item) => item.purpose), ["working", "reply"]);
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
    await waitFor(() => gate.started.length === 1, "the agent to start", 1000);
    const waiting = await send(kv, "ww1:alice", "next task");
    const stop = await send(kv, "ww1:alice", "/stop");
    const sent = performance.now();
    runner.wake();
    await waitFor(() => gate.started[0].signal.aborted, "the abort", 1000);
    assert.ok(performance.now() - sent < 500, "cancelled without waiting for a heartbeat");
    await runner.idle();
    assert.deepEqual((await getJob(kv, running.id))?.state, "failed");
    assert.deepEqual((await getJob(kv, running.id))?.error, CANCELLED_ERROR);
    assert.deepEqual((await getJob(kv, waiting.id))?.state, "failed");
    assert.deepEqual((await getJob(kv, stop.id))?.state, "done");
    const items = await outbox(kv, "ww1:alice");
    assert.deepEqual(items.length, 1, "only the answer to /stop, no failure notice");
    assert.ok(textOf(items[0]).startsWith("Stopped the running request"), textOf(items[0]));
    assert.ok(textOf(items[0]).includes("Dropped 1 waiting message."), textOf(items[0]));
    assert.deepEqual(gate.started.length, 1, "the dropped job never ran");
    assert.deepEqual(runner.stats().cancelled, 1);
  } finally {
    await runner.stop();
  }
});

for (const intakeInProcess of [false, true]) {
  Deno.test(
    `/stop from another process reaches the runner through the watched key (${
      intakeInProcess ? "beside the callback server" : "a worker"
    })`,
    async () => {
      using kv = await Deno.openKv(":memory:");
      const gate = gatedAgent();
      const runner = startRunner(
        runnerDeps(kv, gate.agent, { intakeInProcess, config: { pollMs: 60_000 } }),
      );
      try {
        const job = await send(kv, "ww1:alice", "long task");
        runner.wake();
        await waitFor(() => gate.started.length === 1, "the agent to start", 1000);
        const result = await cancelConversation(kv, "ww1:alice", Date.now());
        assert.deepEqual(result.stopped.map((stopped) => stopped.id), [job.id]);
        await waitFor(() => gate.started[0].signal.aborted, "the abort", 1000);
        await waitFor(async () => (await getJob(kv, job.id))?.state === "failed", "failed", 1000);
        assert.deepEqual(await outbox(kv), []);
      } finally {
        await runner.stop();
      }
    },
  );
}

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
    assert.deepEqual(await loadHistory(kv, "ww1:alice"), []);
    assert.deepEqual((await loadHistory(kv, "ww1:bob")).length, 1);
    await appendHistory(kv, "ww1:alice", [{ role: "user", content: "again" }], 10_000);
    await send(kv, "ww1:alice", "/NEW");
    runner.wake();
    await runner.idle();
    assert.deepEqual(await loadHistory(kv, "ww1:alice"), []);
    assert.deepEqual((await outbox(kv)).map(textOf), [
      "Conversation reset.",
      "Conversation reset.",
    ]);
    assert.deepEqual(runs.length, 0, "commands never reach the agent");
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
    await waitFor(() => gate.started.length === 1, "the agent to start", 1000);
    await send(kv, "ww1:alice", "next task");
    await send(kv, "ww1:alice", "/status");
    await send(kv, "ww1:alice", "/help");
    runner.wake();
    await waitFor(async () => (await outbox(kv)).length === 2, "two answers", 1000);
    assert.deepEqual((await getJob(kv, running.id))?.state, "running");
    const [status, help] = (await outbox(kv)).map(textOf);
    assert.ok(status.includes("Running: your message from"), status);
    assert.ok(status.includes("Waiting: 1 message"), status);
    assert.ok(help.includes("/stop") && help.includes("/reset"), help);
    assert.ok(help.includes("Files cannot be sent"), help);
    gate.release();
    await runner.idle();
    assert.deepEqual((await outbox(kv)).map((item) => item.purpose), [
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
  await waitFor(() => gate.started.length === 1, "the agent to start", 1000);
  await first.stop({ graceMs: 20 });
  assert.ok(gate.started[0].signal.aborted);
  assert.deepEqual(first.stats().released, 1);
  const released = await getJob(kv, job.id);
  assert.deepEqual(released?.state, "queued");
  assert.deepEqual(released?.attempts, 0, "a shutdown is not a failed attempt");

  const { agent } = recordingAgent();
  const second = startRunner(runnerDeps(kv, agent, { runnerId: "second" }));
  try {
    second.wake();
    await second.idle();
    const done = await getJob(kv, job.id);
    assert.deepEqual(done?.state, "done");
    assert.deepEqual(done?.attempts, 1);
    assert.deepEqual((await outbox(kv)).map(textOf), ["echo: long task"]);
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
  await waitFor(() => runner.stats().running === 1, "the run", 1000);
  await runner.stop({ graceMs: 2000 });
  assert.deepEqual((await getJob(kv, job.id))?.state, "done");
  assert.deepEqual(runner.stats().released, 0);
});

Deno.test("a closing agent pool gives the job back instead of failing it", async () => {
  using kv = await Deno.openKv(":memory:");
  const agent = (job: { id: string }) => Promise.reject(new AgentPoolClosedError(job.id));
  const runner = startRunner(runnerDeps(kv, agent));
  const job = await send(kv, "ww1:alice", "hello");
  try {
    await waitFor(() => runner.stats().released === 1, "the release", 1000);
    await sleep(60);
    // Positive control: the runner still claims (commands need no agent) meanwhile.
    const help = await send(kv, "ww1:bob", "/help");
    runner.wake();
    await waitFor(async () => (await getJob(kv, help.id))?.state === "done", "the /help", 1000);
    assert.deepEqual(runner.stats().released, 1, "the job is not taken again by this runner");
  } finally {
    await runner.stop();
  }
  const record = await getJob(kv, job.id);
  assert.deepEqual(record?.state, "queued");
  assert.deepEqual(record?.attempts, 0);
  assert.deepEqual(await outbox(kv, "ww1:alice"), []);
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
  assert.ok(error instanceof RangeError);
  assert.ok(error.message.includes("'jobs.concurrency' must be a positive integer"), error.message);
});

Deno.test("while a callback is being answered, the runner does not claim; the job runs once it is answered", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = createPriorityGate({ trickleMs: 60_000 });
  const { agent } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { yieldTo: gate.idle }));
  try {
    const answered = gate.urgent();
    const job = await send(kv, "ww1:alice", "hello");
    runner.wake();
    await sleep(50);
    assert.equal((await getJob(kv, job.id))?.state, "queued", "not claimed during the callback");
    answered();
    await runner.idle();
    assert.equal((await getJob(kv, job.id))?.state, "done");
  } finally {
    await runner.stop();
  }
});

Deno.test("under a stream of callbacks without a pause, the runner still claims at the trickle's pace", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = createPriorityGate({ trickleMs: 5 });
  const { agent } = recordingAgent();
  const runner = startRunner(runnerDeps(kv, agent, { yieldTo: gate.idle }));
  const answered = gate.urgent(); // never answered during the test
  try {
    const jobs: JobRecord[] = [];
    for (const user of ["alice", "bob", "carol"]) jobs.push(await send(kv, `ww1:${user}`, "hi"));
    runner.wake();
    await waitFor(
      async () =>
        (await Promise.all(jobs.map((job) => getJob(kv, job.id)))).every((job) =>
          job?.state === "done"
        ),
      "the three jobs",
      5_000,
    );
    assert.ok(gate.stats().trickled >= 1);
  } finally {
    await runner.stop();
    answered();
  }
});
