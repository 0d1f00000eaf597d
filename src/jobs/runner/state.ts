/**
 * The state one job runner shares between its parts: the settings resolved
 * from {@linkcode RunnerDeps} once, the runs in flight, the claim rounds and
 * the slots they reserve, the agent-slot admission, and the counters. Created
 * by {@linkcode createRunnerState} in `startRunner` and passed explicitly to
 * every function of `./*.ts` that reads or changes it.
 *
 * @example Usage
 * ```ts
 * import { createRunnerState } from "./state.ts";
 * import { addOutboxItems, planNotice, planRecall, planReply } from "../../records/outbox.ts";
 * import { resetHistory } from "../../agent/run.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const state = createRunnerState({
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
 * console.assert(state.heartbeatMs === 20_000 && state.runs.size === 0);
 * kv.close();
 * ```
 *
 * @module
 */

import type { JobsConfig } from "../../config/types.ts";
import { createGroupCommit } from "../../store/group_commit.ts";
import { type LogFields, write } from "../../log.ts";
import { newId } from "../../store/id.ts";
import type { JobCommand } from "../../records/command.ts";
import type { Commit as Committer } from "../../store/group_commit.ts";
import type { JobRecord } from "../../records/job.ts";
import type { NoticeTarget, RunnerCounters, RunnerDeps, RunnerLog } from "./deps.ts";

/** One claimed job being run here. */
export interface Run {
  job: JobRecord;
  /**
   * Versionstamp of the claim commit that wrote `job`, until a heartbeat
   * rewrites the job: its end then commits without reading it again.
   */
  stamp?: string;
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

/** Everything the parts of one runner share. */
export interface RunnerState {
  // ---- settings (resolved once) ----
  readonly deps: RunnerDeps;
  readonly kv: Deno.Kv;
  readonly config: JobsConfig;
  readonly now: () => number;
  readonly log: RunnerLog;
  readonly runnerId: string;
  readonly commandConcurrency: number;
  readonly heartbeatMs: number;
  readonly sweepMs: number;
  readonly retentionMs: number;
  readonly purgeEveryMs: number;
  /** Commits claims and job ends (`deps.commit`, else a group commit). */
  readonly commit: Committer;
  /** Awaited before each claim round (`deps.yieldTo`). */
  readonly yieldTo?: () => Promise<void>;
  /** The intake of this process wakes the runner directly (`deps.intakeInProcess`). */
  readonly intakeInProcess: boolean;

  // ---- runs ----
  /** Runs in flight here, by job id. */
  readonly runs: Map<string, Run>;
  /** The last command run of each conversation: the next one waits for it. */
  readonly commandTails: Map<string, Promise<void>>;
  /** Background tasks (rounds, sweeps, cancel checks) that `stop()` waits for. */
  readonly background: Set<Promise<unknown>>;
  readonly counters: RunnerCounters;
  /** `stop()` was called: claim nothing more. */
  stopping: boolean;
  stopPromise: Promise<void> | null;

  // ---- claiming ----
  /** Claim rounds in flight. */
  readonly rounds: Set<Promise<void>>;
  /** Agent slots reserved by the claim rounds in flight. */
  reservedJobs: number;
  /** Command slots reserved by the claim rounds in flight. */
  reservedCommands: number;
  /** A pump found every free slot reserved: pump again when a round ends. */
  pumpWanted: boolean;
  /** Conversations a round of this runner is claiming now (other rounds skip them). */
  readonly claiming: Set<string>;
  /** The agent pool said it is closing: claim no more agent jobs (commands still run). */
  agentsClosed: boolean;

  // ---- admission (see ./admission.ts) ----
  /** Agent jobs this runner holds in the store (claimed, not yet ended). */
  held: number;
  /** Claims waiting for an agent slot to be held free. */
  readonly waiting: ((admitted: boolean) => void)[];

  // ---- sweeping ----
  sweeping: boolean;
  lastPurge: number;
}

/**
 * Resolves the defaults of `deps`, checks the configuration and returns a
 * fresh state (nothing started yet).
 *
 * @throws {RangeError} When a count or interval of `deps.config` cannot work.
 */
export function createRunnerState(deps: RunnerDeps): RunnerState {
  const { kv, config } = deps;
  const commandConcurrency = deps.commandConcurrency ?? 4;
  validate(config, commandConcurrency);
  return {
    deps,
    kv,
    config,
    now: deps.now ?? Date.now,
    log: deps.log ?? ((level, message, fields) => write(level, message, fields)),
    runnerId: deps.runnerId ?? `runner-${newId()}`,
    commandConcurrency,
    heartbeatMs: Math.max(1, Math.floor(config.leaseMs / 3)),
    sweepMs: deps.sweepMs ?? Math.max(1, Math.floor(config.leaseMs / 2)),
    retentionMs: deps.retentionMs ?? 7 * 24 * 60 * 60 * 1000,
    purgeEveryMs: deps.purgeEveryMs ?? 60 * 60 * 1000,
    commit: deps.commit ?? createGroupCommit(kv),
    yieldTo: deps.yieldTo,
    intakeInProcess: deps.intakeInProcess ?? false,
    runs: new Map(),
    commandTails: new Map(),
    background: new Set(),
    counters: { claimed: 0, done: 0, failed: 0, cancelled: 0, lost: 0, released: 0 },
    stopping: false,
    stopPromise: null,
    rounds: new Set(),
    reservedJobs: 0,
    reservedCommands: 0,
    pumpWanted: false,
    claiming: new Set(),
    agentsClosed: false,
    held: 0,
    waiting: [],
    sweeping: false,
    lastPurge: Number.NEGATIVE_INFINITY,
  };
}

/** Adds `promise` to the background tasks `stop()` waits for, until it settles. */
export function track<T>(state: RunnerState, promise: Promise<T>): Promise<T> {
  state.background.add(promise);
  promise.finally(() => state.background.delete(promise)).catch(() => {});
  return promise;
}

/** Log fields of a job run here (ids and routing, never content). */
export function jobFields(state: RunnerState, job: JobRecord, extra: LogFields = {}): LogFields {
  return { runner: state.runnerId, jobId: job.id, app: job.app, attempt: job.attempts, ...extra };
}

/** Agent (not command) runs in flight. */
export function agentRuns(state: RunnerState): number {
  let count = 0;
  for (const run of state.runs.values()) if (!run.command) count++;
  return count;
}

/** Agent runs whose agent has not returned yet: the slots a claim round cannot use. */
export function busyAgentSlots(state: RunnerState): number {
  let count = 0;
  for (const run of state.runs.values()) if (!run.command && !run.settled) count++;
  return count;
}

/** Who the notices of `job` go to. */
export function targetOf(job: JobRecord): NoticeTarget {
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
