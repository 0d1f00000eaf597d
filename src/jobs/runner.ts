/**
 * The job runner: claims jobs from the store, runs the agent with a lease kept
 * alive by heartbeats, and commits the reply into the outbox in the same atomic
 * commit that marks the job done.
 *
 * - Bounded: at most `config.concurrency` agent jobs at once, plus a few
 *   command jobs (`/stop`, `/status`, …), which are answered at once even when
 *   every agent slot is busy (the commands of one conversation in the order
 *   sent).
 * - Claims fill every free slot from one scan of the store (`claimJobs`: the
 *   claims run concurrently, each an atomic commit), and each job starts as
 *   soon as its claim commits.
 * - Woken by `wake()` (intake, same process), by `kv.watch([keys.wake()])`
 *   (other processes) and by a poll every `config.pollMs`. It never uses
 *   `listenQueue`, so it works on a local file, over KV Connect and on Deploy.
 * - Sweeps expired leases every `leaseMs / 2` (all processes may), and purges
 *   finished jobs older than the retention now and then.
 * - Per job: heartbeat every `leaseMs / 3` (a lost lease aborts the agent and
 *   the job is left to its new owner); one "working on it" notice after
 *   `config.workingNoticeMs`, recalled before the reply when
 *   `config.recallWorkingNotice`; agent errors and timeouts end the job
 *   `failed` with the error on the job (for the operator) and a short
 *   apology to the member (`./apology.ts`), never the error itself.
 * - `stop()` waits for running jobs up to `graceMs`, then aborts them and
 *   releases their leases, so another process (or the next start) takes them
 *   at once.
 *
 * @module
 */

import { AgentError } from "../records/agent_error.ts";
import { shorten } from "../text/format.ts";
import type { AgentReply } from "../records/agent.ts";
import type { FailureText, JobsConfig } from "../config/types.ts";
import { apologyFor } from "./apology.ts";
import type { OutboxItem } from "../records/outbox_item.ts";
import { createGroupCommit } from "../store/group_commit.ts";
import { type LogFields, type LogLevel, write } from "../log.ts";
import { newId } from "../store/id.ts";
import { keys } from "../store/keys.ts";
import { isTransientKvError } from "../store/kv.ts";
import { answerCommand } from "./commands.ts";
import { type JobCommand, parseCommand } from "../records/command.ts";
import {
  type Admission,
  CANCELLED_ERROR,
  cancelRequested,
  claimJobs,
  commitWhileOwned,
  completeJob,
  heartbeat,
  purgeJobs,
  releaseJob,
  sweepExpired,
} from "../records/job_store/mod.ts";
import type { JobRecord } from "../records/job.ts";
import type { Commit as Committer } from "../store/group_commit.ts";

/** Who an outbox notice goes to. */
export interface NoticeTarget {
  conversation: string;
  app: string;
  userId: string;
  jobId: string;
}

/** The outbox functions of src/delivery/outbox.ts the runner uses (injected, so tests may observe them). */
export interface OutboxPlanner {
  /** `planReply`: the reply split into outbox items. */
  reply(
    job: Pick<JobRecord, "id" | "conversation" | "app" | "userId">,
    reply: AgentReply,
    options: { markdown: boolean; now?: number },
  ): OutboxItem[];
  /** `planNotice`: one text item. */
  notice(
    target: NoticeTarget,
    text: string,
    purpose: OutboxItem["purpose"],
    options?: { notBefore?: number },
  ): OutboxItem;
  /** `planRecall`: recalls an earlier item once it was sent. */
  recall(target: NoticeTarget, ofItemId: string): OutboxItem;
  /** `addOutboxItems`: the mutations that store items (no reads). */
  add(op: Deno.AtomicOperation, items: OutboxItem[]): Deno.AtomicOperation;
}

/** A log function; defaults to `write` of src/log.ts. */
export type RunnerLog = (level: LogLevel, message: string, fields?: LogFields) => void;

/** What the runner needs. */
export interface RunnerDeps {
  kv: Deno.Kv;
  /** Runs the agent for a job (`runAgentForJob` bound to its pool); must honour `signal`. */
  runAgent: (job: JobRecord, signal: AbortSignal) => Promise<AgentReply>;
  /** Clears a conversation's history (`resetHistory` of src/agent/run.ts), for `/reset`. */
  resetHistory: (kv: Deno.Kv, conversation: string) => Promise<void>;
  /** The apology a member gets when their job fails (`agent.failure_text`; default zh/en). */
  failureText?: FailureText;
  plan: OutboxPlanner;
  config: JobsConfig;
  /** Send replies as markdown (`delivery.markdown`). */
  markdown: boolean;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
  log?: RunnerLog;
  /** Unique id of this runner (default: a new id per start). */
  runnerId?: string;
  /** Command jobs handled at once besides the agent jobs (default 4). */
  commandConcurrency?: number;
  /** Sweep interval, ms (default `leaseMs / 2`). */
  sweepMs?: number;
  /** Finished jobs are purged this long after their last change (default 7 days). */
  retentionMs?: number;
  /** Least time between two purges, ms (default 1 hour). */
  purgeEveryMs?: number;
  /**
   * Commits claims and job ends. Default: a group commit over `kv`
   * (`createGroupCommit`), so that concurrent claims and completions share one
   * durable commit. The gateway passes the process's one committer (a commit
   * of its own each when `gateway.group_commit` is off). Each operation keeps
   * its own checks either way.
   */
  commit?: Committer;
}

/** Counters of one runner since it started. */
export interface RunnerStats {
  runnerId: string;
  /** Agent jobs running now. */
  running: number;
  /** Command jobs running now. */
  commands: number;
  claimed: number;
  done: number;
  failed: number;
  cancelled: number;
  /** Runs whose lease another runner took over (not completed here). */
  lost: number;
  /** Runs given back to the queue by `stop()` or a closing agent pool. */
  released: number;
}

/** A started runner. */
export interface Runner {
  readonly runnerId: string;
  /**
   * Stops claiming, waits up to `graceMs` (default 30 s) for running jobs, then
   * aborts the rest and releases their leases. Does not close the KV store.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** Looks for work now (intake calls it after recording a job). */
  wake(): void;
  /** Resolves once nothing runs here and no job is claimable by this runner. */
  idle(): Promise<void>;
  stats(): RunnerStats;
}

/** Text sent when a job is given up after losing its runner `maxAttempts` times. */
export const DEAD_NOTICE =
  "Sorry, your request could not be completed: it was interrupted several times. " +
  "Please send it again.";

/**
 * The job's `error` (for the operator: `jobs list`, the log) and the member's
 * notice for a failed run: the apology of `./apology.ts`, never the error.
 */
function describeFailure(
  error: unknown,
  job: JobRecord,
  command: boolean,
  texts: FailureText | undefined,
): { error: string; notice: string } {
  if (error instanceof AgentError) {
    return { error: `${error.kind}: ${error.message}`, notice: apologyFor(job.message, texts) };
  }
  const message = shorten(error instanceof Error ? error.message : String(error), 300);
  return {
    error: `internal: ${message}`,
    notice: command
      ? "Sorry, that command failed. Please try again."
      : apologyFor(job.message, texts),
  };
}

interface Run {
  job: JobRecord;
  command: JobCommand | null;
  controller: AbortController;
  /** KV operations of this run (heartbeat, notice), one after another. */
  chain: Promise<void>;
  /** The agent (or command) has returned. */
  settled: boolean;
  /** Decided outside the agent: the lease was lost, `/stop`, or `stop()` released it. */
  outcome: "lost" | "cancelled" | "released" | null;
  noticeItemId?: string;
  done: Promise<void>;
}

type Result =
  | { kind: "reply"; reply: AgentReply }
  | { kind: "command"; text: string }
  | { kind: "error"; error: unknown };

function targetOf(job: JobRecord): NoticeTarget {
  return { conversation: job.conversation, app: job.app, userId: job.userId, jobId: job.id };
}

function validate(config: JobsConfig, commandConcurrency: number): void {
  const integers: [string, number][] = [
    ["jobs.concurrency", config.concurrency],
    ["jobs.maxAttempts", config.maxAttempts],
    ["commandConcurrency", commandConcurrency],
  ];
  for (const [name, value] of integers) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot start the job runner as '${name}' must be a positive integer: current value is ${value}`,
      );
    }
  }
  const positives: [string, number][] = [
    ["jobs.leaseMs", config.leaseMs],
    ["jobs.pollMs", config.pollMs],
  ];
  for (const [name, value] of positives) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(
        `Cannot start the job runner as '${name}' must be a positive number of milliseconds: ` +
          `current value is ${value}`,
      );
    }
  }
  if (!Number.isFinite(config.workingNoticeMs) || config.workingNoticeMs < 0) {
    throw new RangeError(
      "Cannot start the job runner as 'jobs.workingNoticeMs' must be 0 (off) or a positive " +
        `number of milliseconds: current value is ${config.workingNoticeMs}`,
    );
  }
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  const timer = delay(ms);
  try {
    await Promise.race([Promise.allSettled(promises), timer.promise]);
  } finally {
    timer.cancel();
  }
}

/**
 * Starts a runner. Call `stop()` before closing the KV store.
 *
 * @example Usage
 * ```ts
 * import { startRunner } from "./runner.ts";
 * import { addOutboxItems, planNotice, planRecall, planReply } from "../records/outbox.ts";
 * import { resetHistory } from "../agent/run.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const runner = startRunner({
 *   kv,
 *   runAgent: async (job) => ({ text: `echo ${job.id}`, attachments: [] }),
 *   resetHistory,
 *   plan: { reply: planReply, notice: planNotice, recall: planRecall, add: addOutboxItems },
 *   config: {
 *     concurrency: 4, leaseMs: 60_000, maxAttempts: 3, workingNoticeMs: 60_000,
 *     workingNoticeText: "Working on it…", recallWorkingNotice: true, pollMs: 1000,
 *   },
 *   markdown: false,
 * });
 * await runner.stop();
 * kv.close();
 * ```
 */
export function startRunner(deps: RunnerDeps): Runner {
  const { kv, config, plan } = deps;
  const commandConcurrency = deps.commandConcurrency ?? 4;
  validate(config, commandConcurrency);
  const now = deps.now ?? Date.now;
  const log: RunnerLog = deps.log ?? ((level, message, fields) => write(level, message, fields));
  const runnerId = deps.runnerId ?? `runner-${newId()}`;
  const heartbeatMs = Math.max(1, Math.floor(config.leaseMs / 3));
  const sweepMs = deps.sweepMs ?? Math.max(1, Math.floor(config.leaseMs / 2));
  const retentionMs = deps.retentionMs ?? 7 * 24 * 60 * 60 * 1000;
  const purgeEveryMs = deps.purgeEveryMs ?? 60 * 60 * 1000;
  const group: Committer = deps.commit ?? createGroupCommit(kv);

  const runs = new Map<string, Run>();
  /** The last command run of each conversation: the next one waits for it. */
  const commandTails = new Map<string, Promise<void>>();
  const background = new Set<Promise<unknown>>();
  const counters = { claimed: 0, done: 0, failed: 0, cancelled: 0, lost: 0, released: 0 };
  let stopping = false;
  let stopPromise: Promise<void> | null = null;
  /** Claim rounds in flight, and the agent and command slots they reserve. */
  const rounds = new Set<Promise<void>>();
  let reservedJobs = 0;
  let reservedCommands = 0;
  /** A pump found every free slot reserved: pump again when a round ends. */
  let pumpWanted = false;
  /** Conversations a round of this runner is claiming now (other rounds skip them). */
  const claiming = new Set<string>();
  let sweeping = false;
  let lastPurge = Number.NEGATIVE_INFINITY;
  /** The agent pool said it is closing: claim no more agent jobs (commands still run). */
  let agentsClosed = false;

  function track<T>(promise: Promise<T>): Promise<T> {
    background.add(promise);
    promise.finally(() => background.delete(promise)).catch(() => {});
    return promise;
  }

  function fields(job: JobRecord, extra: LogFields = {}): LogFields {
    return { runner: runnerId, jobId: job.id, app: job.app, attempt: job.attempts, ...extra };
  }

  function agentRuns(): number {
    let count = 0;
    for (const run of runs.values()) if (!run.command) count++;
    return count;
  }

  /** Agent runs whose agent has not returned yet: the slots a claim round cannot use. */
  function busyAgentSlots(): number {
    let count = 0;
    for (const run of runs.values()) if (!run.command && !run.settled) count++;
    return count;
  }

  /**
   * Agent jobs this runner holds in the store (claimed, not yet ended): at most
   * `config.concurrency`. A claim round may read candidates for a slot whose job
   * is still being ended, but its claim commits only once a slot is held free
   * here (`admission.acquire()`), so the bound holds in the store too.
   */
  let held = 0;
  const waiting: ((admitted: boolean) => void)[] = [];
  const admission: Admission = {
    acquire() {
      if (stopping || agentsClosed) return Promise.resolve(false);
      if (held < config.concurrency && waiting.length === 0) {
        held++;
        return Promise.resolve(true);
      }
      const admitted = new Promise<boolean>((resolve) => waiting.push(resolve));
      admitWaiting();
      return admitted;
    },
    release: releaseHeld,
  };

  function releaseHeld(): void {
    held--;
    admitWaiting();
  }

  function admitWaiting(): void {
    while (waiting.length > 0) {
      if (stopping || agentsClosed) {
        waiting.shift()!(false);
      } else if (held < config.concurrency) {
        held++;
        waiting.shift()!(true);
      } else {
        return;
      }
    }
  }

  /**
   * Claims jobs for the free slots. A slot is free when it neither runs a job
   * nor is reserved by a claim round in flight, so a slot that frees up is
   * claimed for at once, without waiting for another round to end, and the
   * slots reserved plus the jobs running never exceed the bounds.
   */
  function pump(): Promise<void> {
    if (stopping) return Promise.resolve();
    const agents = agentRuns();
    const jobs = agentsClosed
      ? 0
      : Math.max(0, config.concurrency - busyAgentSlots() - reservedJobs);
    const commands = Math.max(0, commandConcurrency - (runs.size - agents) - reservedCommands);
    if (jobs === 0 && commands === 0) {
      // Every free slot is being claimed for: look again once those rounds end,
      // as they may have listed the index before the work that woke us.
      if (rounds.size > 0) pumpWanted = true;
      return Promise.resolve();
    }
    pumpWanted = false; // this round lists the index after whatever woke us
    const round = track(claimRound(jobs, commands));
    rounds.add(round);
    void round.finally(() => rounds.delete(round));
    return round;
  }

  /** One claim round for `jobs` agent slots and `commands` command slots, reserved meanwhile. */
  async function claimRound(jobs: number, commands: number): Promise<void> {
    reservedJobs += jobs;
    reservedCommands += commands;
    let agentsClaimed = 0;
    let commandsClaimed = 0;
    const giveBack: JobRecord[] = [];
    let failed = false;
    try {
      await claimJobs(kv, runnerId, now(), config.leaseMs, {
        jobs,
        commands,
        commit: group,
        claiming,
        admit: admission,
        // Each job starts as soon as its claim commits, not after the whole round.
        onClaim: (job) => {
          const command = parseCommand(job.message) !== null;
          if (command) {
            commandsClaimed++;
            reservedCommands--;
          } else {
            agentsClaimed++;
            reservedJobs--;
          }
          if (stopping || (agentsClosed && !command)) {
            // Claimed while this runner stopped taking such jobs: give it back untouched.
            giveBack.push(job);
            return;
          }
          counters.claimed++;
          startRun(job);
        },
      });
    } catch (error) {
      failed = true;
      log("error", "job runner could not claim jobs; retrying at the next wake-up", {
        runner: runnerId,
        error,
      });
    } finally {
      reservedJobs -= jobs - agentsClaimed;
      reservedCommands -= commands - commandsClaimed;
    }
    await Promise.all(giveBack.map(async (job) => {
      await releaseJob(kv, job, runnerId, now()).catch(() => {});
      if (parseCommand(job.message) === null) releaseHeld();
    }));
    if (failed || stopping) return;
    // A kind that got all it asked for may have more waiting; fewer means the
    // index had no more when it was read, and only new work needs a new look.
    const more = (jobs > 0 && agentsClaimed === jobs) ||
      (commands > 0 && commandsClaimed === commands);
    if (more || pumpWanted) void pump();
  }

  async function sweep(): Promise<void> {
    if (stopping || sweeping) return;
    sweeping = true;
    try {
      const result = await sweepExpired(kv, now(), config.maxAttempts, {
        onDead: (op, job) => {
          plan.add(op, [plan.notice(targetOf(job), DEAD_NOTICE, "error")]);
        },
      });
      for (const id of result.requeued) log("warn", "job lost its runner; queued again", { id });
      for (const id of result.dead) log("error", "job lost its runner too often; dead", { id });
      for (const id of result.cancelled) log("info", "cancelled job ended by sweeper", { id });
      if (now() - lastPurge >= purgeEveryMs) {
        lastPurge = now();
        const purged = await purgeJobs(kv, { olderThan: now() - retentionMs });
        if (purged > 0) log("info", "purged finished jobs", { purged });
      }
      if (result.requeued.length > 0) void pump();
    } catch (error) {
      log("warn", "job sweep failed; it runs again shortly", { runner: runnerId, error });
    } finally {
      sweeping = false;
    }
  }

  async function checkCancels(): Promise<void> {
    const candidates = [...runs.values()].filter((run) => !run.command && !run.outcome);
    if (candidates.length === 0) return;
    try {
      const wanted = await cancelRequested(kv, candidates.map((run) => run.job.id));
      for (const run of candidates) if (wanted.has(run.job.id)) cancelRun(run);
    } catch (error) {
      log("warn", "could not read cancel requests", { runner: runnerId, error });
    }
  }

  function cancelRun(run: Run): boolean {
    if (run.command || run.settled || run.outcome) return false;
    run.outcome = "cancelled";
    run.controller.abort(new Error(CANCELLED_ERROR));
    return true;
  }

  function serial(run: Run, step: () => Promise<void>): void {
    run.chain = run.chain.then(step).catch((error) => {
      log("warn", "job bookkeeping failed", fields(run.job, { error }));
    });
  }

  async function renew(run: Run): Promise<void> {
    if (run.settled || run.outcome) return;
    const beat = await heartbeat(kv, run.job, runnerId, now(), config.leaseMs);
    if (beat.ok) return;
    if (beat.reason === "cancelled") {
      cancelRun(run);
    } else if (!run.outcome) {
      run.outcome = "lost";
      run.controller.abort(new Error("the job's lease was lost to another runner"));
    }
  }

  async function sendWorkingNotice(run: Run): Promise<void> {
    if (run.settled || run.outcome) return;
    const item = plan.notice(targetOf(run.job), config.workingNoticeText, "working");
    const sent = await commitWhileOwned(kv, run.job, runnerId, (op) => {
      plan.add(op, [item]);
    });
    if (sent) run.noticeItemId = item.id;
  }

  async function perform(run: Run): Promise<Result> {
    try {
      if (run.command) {
        const text = await answerCommand(
          {
            kv,
            now: now(),
            resetHistory: deps.resetHistory,
            cancelLocal: (jobId) => {
              const target = runs.get(jobId);
              return target ? cancelRun(target) : false;
            },
          },
          run.job,
          run.command,
        );
        return { kind: "command", text };
      }
      return { kind: "reply", reply: await deps.runAgent(run.job, run.controller.signal) };
    } catch (error) {
      return { kind: "error", error };
    }
  }

  /**
   * Runs a store step that ends a run (the commit of the reply), retrying
   * transient KV errors ("database is locked": another process holds the
   * SQLite file for a moment) for up to `leaseMs`, so that a passing lock does
   * not throw away a finished agent run and make the job run again once its
   * lease expires. The step's own checks keep it exactly-once: if the job was
   * swept and taken meanwhile, it returns false.
   */
  async function persist<T>(step: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + config.leaseMs;
    for (let pause = 50;; pause = Math.min(pause * 2, 1000)) {
      try {
        return await step();
      } catch (error) {
        if (!isTransientKvError(error) || stopping || Date.now() + pause > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  async function finish(run: Run, result: Result): Promise<void> {
    const { job } = run;
    const target = targetOf(job);
    if (run.outcome === "lost") {
      counters.lost++;
      log("warn", "job lease lost; leaving the job to its new owner", fields(job));
      return;
    }
    if (run.outcome === "released") return; // stop() released it
    if (run.outcome === "cancelled") {
      if (
        await persist(() =>
          completeJob(kv, job, runnerId, {
            state: "failed",
            error: CANCELLED_ERROR,
            now: now(),
            commit: group,
          })
        )
      ) {
        counters.cancelled++;
        log("info", "job cancelled by /stop", fields(job));
      }
      return;
    }
    if (
      result.kind === "error" && result.error instanceof AgentError &&
      result.error.kind === "closed"
    ) {
      // The agent pool is shutting down: someone else (or the next start) runs it.
      if (!agentsClosed) {
        log("warn", "agent pool closed; no more agent jobs taken here", fields(job));
      }
      agentsClosed = true;
      admitWaiting();
      run.outcome = "released";
      if (await releaseJob(kv, job, runnerId, now())) counters.released++;
      return;
    }
    let state: "done" | "failed" = "done";
    let error: string | undefined;
    const items: OutboxItem[] = [];
    if (result.kind === "error") {
      state = "failed";
      const failure = describeFailure(result.error, job, run.command !== null, deps.failureText);
      error = failure.error;
      items.push(plan.notice(target, failure.notice, "error"));
      log("warn", "job failed", fields(job, { error }));
    } else if (result.kind === "command") {
      items.push(plan.notice(target, result.text, "reply"));
    } else {
      if (run.noticeItemId && config.recallWorkingNotice) {
        items.push(plan.recall(target, run.noticeItemId));
      }
      items.push(...plan.reply(job, result.reply, { markdown: deps.markdown, now: now() }));
    }
    const completed = await persist(() =>
      completeJob(kv, job, runnerId, {
        state,
        error,
        now: now(),
        commit: group,
        extra: (op) => {
          if (items.length > 0) plan.add(op, items);
        },
      })
    );
    if (!completed) {
      counters.lost++;
      log("warn", "job lease lost before the reply was stored; its new owner answers", fields(job));
      return;
    }
    counters[state]++;
    if (state === "done") {
      log("info", "job done", fields(job, { ms: now() - job.receivedAt, items: items.length }));
    }
  }

  async function execute(run: Run): Promise<void> {
    if (run.outcome === "released") return; // stop() gave it back while it waited its turn
    const beat = setInterval(() => serial(run, () => renew(run)), heartbeatMs);
    let noticeTimer: ReturnType<typeof setTimeout> | undefined;
    if (!run.command && config.workingNoticeMs > 0) {
      noticeTimer = setTimeout(
        () => serial(run, () => sendWorkingNotice(run)),
        config.workingNoticeMs,
      );
    }
    let result: Result;
    try {
      result = await perform(run);
    } finally {
      run.settled = true;
      clearInterval(beat);
      clearTimeout(noticeTimer);
    }
    // Look for the next job while this one is ended: its claim commits once this
    // job's end has (see `admission`).
    if (!run.command && !stopping) void pump();
    await run.chain;
    await finish(run, result);
  }

  function startRun(job: JobRecord): void {
    const run: Run = {
      job,
      command: parseCommand(job.message),
      controller: new AbortController(),
      chain: Promise.resolve(),
      settled: false,
      outcome: null,
      done: Promise.resolve(),
    };
    runs.set(job.id, run);
    // Commands of one conversation run one after another, in claim (id) order, so
    // that `/status` then `/help` are answered in that order.
    const previous = run.command ? commandTails.get(job.conversation) : undefined;
    run.done = (previous ? previous.then(() => execute(run)) : execute(run))
      .catch((error) => log("error", "job run failed unexpectedly", fields(job, { error })))
      .finally(() => {
        runs.delete(job.id);
        if (!run.command) releaseHeld();
        if (!stopping) void pump();
      });
    if (run.command) {
      const tail = run.done;
      commandTails.set(job.conversation, tail);
      void tail.finally(() => {
        if (commandTails.get(job.conversation) === tail) commandTails.delete(job.conversation);
      });
    }
  }

  // Wake-ups from other processes (and this one): the watched key.
  const reader = kv.watch([keys.wake()]).getReader();
  const watching = (async () => {
    try {
      while (!stopping) {
        const { done } = await reader.read();
        if (done || stopping) break;
        void pump();
        void track(checkCancels());
      }
    } catch (error) {
      if (!stopping) log("warn", "watching the wake-up key failed; polling only", { error });
    }
  })();

  const pollTimer = setInterval(() => void pump(), config.pollMs);
  const sweepTimer = setInterval(() => void track(sweep()), sweepMs);
  void track(sweep().then(() => pump()));

  return {
    runnerId,
    wake: () => void pump(),
    stats: () => {
      const agents = agentRuns();
      return { runnerId, running: agents, commands: runs.size - agents, ...counters };
    },
    async idle() {
      while (true) {
        if (rounds.size > 0) {
          // Let the rounds in flight end first (they may start runs, or more rounds).
          await Promise.all(rounds);
          continue;
        }
        await pump();
        const pending = [...runs.values()].map((run) => run.done);
        if (pending.length === 0) {
          if (rounds.size === 0) return;
          continue;
        }
        await Promise.race(pending);
      }
    },
    stop(options = {}) {
      if (stopPromise) return stopPromise;
      stopping = true;
      admitWaiting();
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
      stopPromise = (async () => {
        await reader.cancel().catch(() => {});
        await watching;
        await Promise.allSettled([...background]);
        await settleWithin([...runs.values()].map((run) => run.done), options.graceMs ?? 30_000);
        const releasing: Promise<void>[] = [];
        for (const run of runs.values()) {
          if (run.settled || run.outcome) continue;
          run.outcome = "released";
          run.controller.abort(new Error("the gateway is shutting down"));
          releasing.push((async () => {
            if (await releaseJob(kv, run.job, runnerId, now())) {
              counters.released++;
              log("info", "job released at shutdown", fields(run.job));
            }
          })());
        }
        await Promise.allSettled(releasing);
        // Runs end once their agent honours the abort; do not wait forever for one that does not.
        await settleWithin([...runs.values()].map((run) => run.done), 5_000);
        await Promise.allSettled([...background]);
      })();
      return stopPromise;
    },
  };
}
