/**
 * Deleting finished job records older than a retention.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import type { JobRecord, JobState } from "../job.ts";
import { idOf } from "./_util.ts";
import { FINISHED_STATES } from "./values.ts";

/** Options of {@linkcode purgeJobs}. */
export interface PurgeOptions {
  /** States to purge (default done, failed, dead); only finished states are allowed. */
  states?: JobState[];
  /** Purge jobs whose last change is before this epoch ms. */
  olderThan: number;
  /** At most this many per call (default 500), so a sweep stays short. */
  limit?: number;
}

/**
 * Deletes finished job records whose last change is older than `olderThan`,
 * with their index entries. Returns how many were deleted.
 *
 * @example Usage
 * ```ts
 * import { purgeJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const week = 7 * 24 * 3600_000;
 * console.assert(await purgeJobs(kv, { olderThan: Date.now() - week }) === 0);
 * kv.close();
 * ```
 */
export async function purgeJobs(kv: Deno.Kv, options: PurgeOptions): Promise<number> {
  const states = options.states ?? [...FINISHED_STATES];
  for (const state of states) {
    if (!FINISHED_STATES.includes(state)) {
      throw new RangeError(
        `Cannot purge jobs in state '${state}' as only finished jobs may be purged: ` +
          `use one of ${FINISHED_STATES.join(", ")}`,
      );
    }
  }
  let budget = options.limit ?? 500;
  let purged = 0;
  // Ids start with 12 hex digits of their creation time: a job created after
  // `olderThan` cannot have changed before it, so the scan ends there.
  const floor = Math.max(0, Math.floor(options.olderThan)).toString(16).padStart(12, "0");
  for (const state of states) {
    const index = kv.list<string>({
      start: keys.jobsByStatePrefix(state),
      end: keys.jobsByState(state, floor),
    });
    for await (const entry of index) {
      if (budget-- <= 0) return purged;
      const id = idOf(entry.key);
      const jobEntry = await kv.get<JobRecord>(keys.job(id));
      const job = jobEntry.value;
      if (job && (job.state !== state || job.updatedAt >= options.olderThan)) continue;
      const result = await commit(() =>
        kv.atomic().check(jobEntry).delete(keys.job(id)).delete(entry.key)
      );
      if (result.ok && job) purged++;
    }
  }
  return purged;
}
