/**
 * Claiming jobs: `claimNext` (one job) and `claimJobs` (several, from one listing of the hint index).
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { type Commit, directCommit } from "../../store/group_commit.ts";
import type { JobRecord } from "../job.ts";
import { positive } from "./_util.ts";
import { type Admission, claimAgentJobs, claimCommands, type Claimer } from "./claim_lanes.ts";

/** Which kinds of job {@linkcode claimNext} may claim. */
export interface ClaimOptions {
  /** Claim command jobs (default true). They are always tried first. */
  commands?: boolean;
  /** Claim agent jobs (default true). */
  jobs?: boolean;
  /** Hints visited per page (default 50; the first page is shorter); at most 20 pages per call. */
  scanLimit?: number;
}

/** How many jobs of each kind {@linkcode claimJobs} may claim. */
export interface ClaimJobsOptions {
  /** Most agent jobs to claim (default 1; 0 claims none), e.g. the free agent slots. */
  jobs?: number;
  /** Most command jobs to claim (default 1; 0 claims none). */
  commands?: number;
  /**
   * Hints listed per page (default 50, and never fewer than the jobs asked
   * for; the first page lists only about twice the jobs asked for); at most 20
   * pages are visited per call.
   */
  scanLimit?: number;
  /**
   * Called with each job as soon as its claim commits, before the call resolves,
   * so the caller can start it without waiting for the other claims. The
   * versionstamp is the claim commit's: pass it to `completeJob` to end the job
   * without reading it again (see `CompleteOptions.versionstamp`).
   */
  onClaim?: (job: JobRecord, versionstamp: string) => void;
  /** Commits each claim (default: a commit of its own). */
  commit?: Commit;
  /**
   * Conversations being claimed right now by other calls of the same caller:
   * they are skipped, and this call adds the ones it tries while it tries
   * them. Lets a caller run several calls at once without two of them racing
   * for the same job (a race would be safe, only wasted work).
   */
  claiming?: Set<string>;
  /**
   * Bounds the agent jobs the caller holds: `acquire()` is awaited right before
   * each agent-job claim commits (false gives the claim up) and `release()` is
   * called when that claim did not commit. A runner uses it to read candidates
   * for a slot whose job is still ending, and to commit the claim only once that
   * job has ended, so it never holds more jobs than its slots.
   */
  admit?: Admission;
}

/**
 * Claims the oldest runnable job for `runnerId`, or returns `null` when none is
 * runnable. An agent job is runnable when it is the head of its conversation
 * queue and the conversation has no live lock; a command job is always
 * runnable. The claim is one atomic commit that checks the job's versionstamp
 * and the lock (absent, or exactly the expired one read), so exactly one runner
 * across all processes wins. The returned record has state `running`,
 * `attempts + 1` and a lease until `now + leaseMs`. To fill several free slots
 * at once, use {@linkcode claimJobs}.
 *
 * @example Usage
 * ```ts
 * import { claimNext } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await claimNext(kv, "runner-1", Date.now(), 60_000) === null);
 * kv.close();
 * ```
 */
export async function claimNext(
  kv: Deno.Kv,
  runnerId: string,
  now: number,
  leaseMs: number,
  options: ClaimOptions = {},
): Promise<JobRecord | null> {
  positive("leaseMs", leaseMs);
  const limit = options.scanLimit ?? 50;
  const claimer: Claimer = {
    kv,
    run: directCommit(kv),
    runnerId,
    now,
    leaseMs,
    onClaim: () => {},
    claiming: new Set(),
  };
  if (options.commands ?? true) {
    const [command] = await claimCommands(claimer, 1, limit);
    if (command) return command;
  }
  if (!(options.jobs ?? true)) return null;
  const [job] = await claimAgentJobs(claimer, 1, limit);
  return job ?? null;
}

/**
 * Claims up to `options.jobs` agent jobs and up to `options.commands` command
 * jobs for `runnerId` from one pass over the hint indexes, oldest first. The
 * agent-job claims run concurrently, one at a time per conversation; command
 * jobs are claimed one after another in id order. Each claim is the same
 * atomic commit as {@linkcode claimNext}'s (job versionstamp and lock checked),
 * so concurrent calls, in this process or others, never claim a job twice: a
 * claim that loses a race moves on to the next candidate. Returns the claimed
 * records (commands first); fewer than asked means no more were runnable when
 * the index was read.
 *
 * @example Usage
 * ```ts
 * import { claimJobs, enqueueJob } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * for (const user of ["u1", "u2", "u3"]) {
 *   const job: JobRecord = {
 *     id: `j-${user}`, conversation: `ww1:${user}`, app: "default", corpId: "ww1",
 *     agentId: "1", userId: user, receivedAt: now, state: "queued", attempts: 0,
 *     updatedAt: now,
 *     message: { type: "text", content: "hi", msgId: user, corpId: "ww1", userId: user,
 *       createTime: 0, agentId: "1" },
 *   };
 *   await enqueueJob(kv.atomic(), job).commit();
 * }
 * const claimed = await claimJobs(kv, "runner-1", now, 60_000, { jobs: 2 });
 * console.assert(claimed.length === 2);
 * kv.close();
 * ```
 *
 * @throws {RangeError} When `leaseMs` is not positive, or `jobs` or `commands`
 * is not a non-negative integer.
 */
export async function claimJobs(
  kv: Deno.Kv,
  runnerId: string,
  now: number,
  leaseMs: number,
  options: ClaimJobsOptions = {},
): Promise<JobRecord[]> {
  positive("leaseMs", leaseMs);
  const jobs = count("jobs", options.jobs ?? 1);
  const commands = count("commands", options.commands ?? 1);
  const limit = Math.max(options.scanLimit ?? 50, jobs, commands, 1);
  const claimer: Claimer = {
    kv,
    run: options.commit ?? directCommit(kv),
    runnerId,
    now,
    leaseMs,
    onClaim: options.onClaim ?? (() => {}),
    claiming: options.claiming ?? new Set(),
    admit: options.admit,
  };
  const [claimedCommands, claimedJobs] = await Promise.all([
    commands > 0 ? claimCommands(claimer, commands, limit) : [],
    jobs > 0 ? claimAgentJobs(claimer, jobs, limit) : [],
  ]);
  return [...claimedCommands, ...claimedJobs];
}

function count(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot claim jobs as '${name}' must be a non-negative integer: current value is ${value}`,
    );
  }
  return value;
}
