/**
 * The public shapes of the job runner: what `startRunner` needs
 * (`RunnerDeps`, with the injected `OutboxPlanner`), what it returns (`Runner`)
 * and its counters (`RunnerStats`). Re-exported by `../runner.ts`, where
 * callers import them.
 *
 * @example Usage
 * ```ts
 * import type { RunnerStats } from "./deps.ts";
 *
 * const stats: RunnerStats = {
 *   runnerId: "runner-1", running: 0, commands: 0, claimed: 0, done: 0,
 *   failed: 0, cancelled: 0, lost: 0, released: 0,
 * };
 * console.assert(stats.running === 0);
 * ```
 *
 * @module
 */

import type { AgentReply } from "../../records/agent.ts";
import type { FailureText, JobsConfig } from "../../config/types.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import type { LogFields, LogLevel } from "../../log.ts";
import type { Commit as Committer } from "../../store/group_commit.ts";
import type { JobRecord } from "../../records/job.ts";

/** Who an outbox notice goes to. */
export interface NoticeTarget {
  conversation: string;
  app: string;
  userId: string;
  jobId: string;
}

/** The outbox functions of src/records/outbox.ts the runner uses (injected, so tests may observe them). */
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
  /**
   * Awaited before each claim round (the gateway passes its priority gate's
   * `idle`, `src/priority_gate.ts`: callbacks being answered go first). Default: none.
   */
  yieldTo?: () => Promise<void>;
  /**
   * True when the callback server runs in this process and calls `wake()` for
   * each job it records (role `all`): the runner then does not watch
   * `keys.intakeWake()`, whose every bump would only wake it a second time
   * (a KV read on the SQLite thread and a claim attempt per commit of
   * callbacks). Default: false, i.e. watched.
   */
  intakeInProcess?: boolean;
}

/** Counters of one runner since it started (kept in its state as they happen). */
export interface RunnerCounters {
  claimed: number;
  done: number;
  failed: number;
  cancelled: number;
  /** Runs whose lease another runner took over (not completed here). */
  lost: number;
  /** Runs given back to the queue by `stop()` or a closing agent pool. */
  released: number;
}

/** A runner's counters and what it runs now. */
export interface RunnerStats extends RunnerCounters {
  runnerId: string;
  /** Agent jobs running now. */
  running: number;
  /** Command jobs running now. */
  commands: number;
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
