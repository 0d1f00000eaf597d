/**
 * The sweeper: jobs whose lease ran out (a crashed runner) are requeued or, after too many attempts, dead.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import type { JobRecord } from "../job.ts";
import { CONFLICT_RETRIES, idOf, positive } from "./_util.ts";
import { finishMutations, requeueMutations } from "./complete.ts";
import {
  CANCELLED_ERROR,
  type CancelRequest,
  type ConversationLock,
  type RunningEntry,
} from "./values.ts";

/** Options of {@linkcode sweepExpired}. */
export interface SweepOptions {
  /** Adds mutations (the user notice) to the commit that makes a job dead. */
  onDead?: (op: Deno.AtomicOperation, job: JobRecord) => void;
}

/** What one sweep did: ids of the jobs it moved. */
export interface SweepResult {
  requeued: string[];
  dead: string[];
  cancelled: string[];
}

/**
 * Takes back running jobs whose lease expired before `now` (their runner died
 * or hung): back to `queued` with the same id, so they stay at the head of
 * their conversation, attempts kept; once `attempts >= maxAttempts` the job
 * becomes `dead` instead and `onDead` adds the user notice to that commit. A
 * job `/stop` cancelled becomes `failed`. Every move is an atomic commit with
 * checks, so all processes may sweep at once.
 *
 * @example Usage
 * ```ts
 * import { sweepExpired } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const result = await sweepExpired(kv, Date.now(), 3);
 * console.assert(result.requeued.length === 0);
 * kv.close();
 * ```
 */
export async function sweepExpired(
  kv: Deno.Kv,
  now: number,
  maxAttempts: number,
  options: SweepOptions = {},
): Promise<SweepResult> {
  positive("maxAttempts", maxAttempts);
  const result: SweepResult = { requeued: [], dead: [], cancelled: [] };
  for await (const running of kv.list<RunningEntry>({ prefix: keys.runningPrefix() })) {
    if (running.value.until >= now) continue;
    const id = idOf(running.key);
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const [jobEntry, lockEntry, cancelEntry] = await kv.getMany<
        [JobRecord, ConversationLock, CancelRequest]
      >([keys.job(id), keys.conversationLock(running.value.conversation), keys.jobCancel(id)]);
      const job = jobEntry.value;
      if (!job || job.state !== "running") {
        // Stale index entry (should not happen): drop it.
        await commit(() => kv.atomic().check(jobEntry).check(running).delete(running.key));
        break;
      }
      if (job.lease && job.lease.until >= now) break; // renewed meanwhile
      const held = jobEntry as Deno.KvEntry<JobRecord>;
      const moved: keyof SweepResult = cancelEntry.value
        ? "cancelled"
        : job.attempts >= maxAttempts
        ? "dead"
        : "requeued";
      const committed = await commit(() => {
        const op = kv.atomic();
        if (moved === "cancelled") {
          finishMutations(op, held, lockEntry, "failed", now, CANCELLED_ERROR);
        } else if (moved === "dead") {
          const error = `lost its runner ${job.attempts} time(s) (lease expired); gave up`;
          finishMutations(op, held, lockEntry, "dead", now, error);
          options.onDead?.(op, job);
        } else {
          requeueMutations(op, held, lockEntry, job.attempts, now);
        }
        return op;
      });
      if (committed.ok) {
        result[moved].push(id);
        break;
      }
    }
  }
  return result;
}
