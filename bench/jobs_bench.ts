/**
 * Job-start throughput of the job store and runner: how long a burst of jobs
 * from distinct users takes from enqueue to completion, on a KV file and on
 * `:memory:`. One iteration is a burst of {@linkcode BURST} jobs, one per new
 * conversation, recorded 32 at a time the way intake records them (one atomic
 * commit each); divide the time by {@linkcode BURST} for the cost of one job.
 *
 * Steps per KV (group `file` or `memory`):
 * - baseline: the enqueue alone;
 * - enqueue, then `claimNext` → `completeJob` one job at a time (the old
 *   runner's claim pattern: one claim, then the next);
 * - enqueue, then claims of up to 16 at once (`claimJobs`) completed
 *   concurrently;
 * - enqueue while a runner (`startRunner`) with an agent that answers at once
 *   runs them (concurrency 4 and 16), until the runner is idle: the store, the
 *   pump, the outbox planner and the completion commit together.
 *
 * Each step keeps its KV across iterations, so whatever a burst leaves behind
 * (hints, finished records) weighs on the next one as it would in a gateway.
 *
 * Run: `deno bench --unstable-kv -A bench/jobs_bench.ts`
 *
 * @module
 */

import type { AgentReply } from "../src/records/agent.ts";
import type { JobsConfig } from "../src/config/types.ts";
import { addOutboxItems, planNotice, planRecall, planReply } from "../src/records/outbox.ts";
import { startRunner } from "../src/jobs/runner.ts";
import { claimJobs, claimNext, completeJob, enqueueJob } from "../src/records/job_store/mod.ts";
import type { JobRecord } from "../src/records/job.ts";
import { newId } from "../src/store/id.ts";

/** Jobs per iteration (one per distinct conversation). */
const BURST = 200;
/** Enqueues in flight at once, like concurrent callbacks. */
const ENQUEUE_CONCURRENCY = 32;
const ITERATIONS = 20;
const WARMUP = 2;
const LEASE_MS = 60_000;

const CONFIG: JobsConfig = {
  concurrency: 4,
  leaseMs: LEASE_MS,
  maxAttempts: 3,
  workingNoticeMs: 0,
  workingNoticeText: "Working on it…",
  recallWorkingNotice: true,
  pollMs: 1000,
};

let users = 0;

/** A queued text job of a new conversation. */
function newJob(): JobRecord {
  const now = Date.now();
  const userId = `u${users++}`;
  return {
    id: newId(now),
    conversation: `ww1:${userId}`,
    app: "default",
    corpId: "ww1",
    agentId: "1000002",
    userId,
    message: {
      type: "text",
      content: "hi",
      msgId: crypto.randomUUID(),
      corpId: "ww1",
      userId,
      createTime: Math.floor(now / 1000),
      agentId: "1000002",
    },
    receivedAt: now,
    state: "queued",
    attempts: 0,
    updatedAt: now,
  };
}

/** Records a burst of new jobs, `ENQUEUE_CONCURRENCY` commits in flight; `onJob` after each. */
async function enqueueBurst(kv: Deno.Kv, onJob: () => void = () => {}): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < BURST) {
      next++;
      const result = await enqueueJob(kv.atomic(), newJob()).commit();
      if (!result.ok) throw new Error("Cannot benchmark the job store: an enqueue failed");
      onJob();
    }
  };
  await Promise.all(Array.from({ length: ENQUEUE_CONCURRENCY }, worker));
}

async function echo(job: JobRecord): Promise<AgentReply> {
  await Promise.resolve();
  return {
    text: `echo: ${job.message.type === "text" ? job.message.content : ""}`,
    attachments: [],
  };
}

const dir = await Deno.makeTempDir({ prefix: "jobs-bench-" });
const opened: Deno.Kv[] = [];

/** A KV per step: a fresh file in the temp folder, or `:memory:`. */
async function openFor(kind: "file" | "memory", step: string): Promise<Deno.Kv> {
  const kv = await Deno.openKv(kind === "file" ? `${dir}/${step}.sqlite3` : ":memory:");
  opened.push(kv);
  return kv;
}

function check(done: number, what: string): void {
  if (done !== BURST) {
    throw new Error(`Cannot benchmark ${what}: ${done} of ${BURST} jobs completed`);
  }
}

for (const kind of ["file", "memory"] as const) {
  const label = kind === "file" ? "KV file" : ":memory:";

  const enqueueKv = await openFor(kind, "enqueue");
  Deno.bench({
    name: `baseline: enqueue ${BURST} jobs, ${label}`,
    group: kind,
    baseline: true,
    n: ITERATIONS,
    warmup: WARMUP,
    async fn() {
      await enqueueBurst(enqueueKv);
    },
  });

  const oneKv = await openFor(kind, "one");
  Deno.bench({
    name: `enqueue → claimNext → completeJob, one at a time, ${label}`,
    group: kind,
    n: ITERATIONS,
    warmup: WARMUP,
    async fn() {
      await enqueueBurst(oneKv);
      let done = 0;
      for (;;) {
        const job = await claimNext(oneKv, "bench", Date.now(), LEASE_MS);
        if (!job) break;
        if (await completeJob(oneKv, job, "bench", { state: "done" })) done++;
      }
      check(done, "claimNext");
    },
  });

  const batchKv = await openFor(kind, "batch");
  Deno.bench({
    name: `enqueue → claimJobs (up to 16) → completeJob concurrently, ${label}`,
    group: kind,
    n: ITERATIONS,
    warmup: WARMUP,
    async fn() {
      await enqueueBurst(batchKv);
      let done = 0;
      for (;;) {
        const jobs = await claimJobs(batchKv, "bench", Date.now(), LEASE_MS, { jobs: 16 });
        if (jobs.length === 0) break;
        const completed = await Promise.all(
          jobs.map((job) => completeJob(batchKv, job, "bench", { state: "done" })),
        );
        done += completed.filter(Boolean).length;
      }
      check(done, "claimJobs");
    },
  });

  for (const concurrency of [4, 16]) {
    const runnerKv = await openFor(kind, `runner-${concurrency}`);
    Deno.bench({
      name: `enqueue → runner (concurrency ${concurrency}) → done, ${label}`,
      group: kind,
      n: ITERATIONS,
      warmup: WARMUP,
      async fn(b) {
        const runner = startRunner({
          kv: runnerKv,
          runAgent: echo,
          resetHistory: async () => {},
          plan: { reply: planReply, notice: planNotice, recall: planRecall, add: addOutboxItems },
          config: { ...CONFIG, concurrency },
          markdown: false,
          log: () => {},
        });
        try {
          await runner.idle();
          const before = runner.stats().done;
          b.start();
          await enqueueBurst(runnerKv, () => runner.wake());
          await runner.idle();
          b.end();
          check(runner.stats().done - before, `the runner at concurrency ${concurrency}`);
        } finally {
          await runner.stop();
        }
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  for (const kv of opened) kv.close();
  Deno.removeSync(dir, { recursive: true });
});
