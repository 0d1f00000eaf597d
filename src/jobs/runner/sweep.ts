/**
 * The sweeper of a runner: every `sweepMs` (default `leaseMs / 2`; all
 * processes may sweep) it ends or requeues jobs whose lease expired
 * (`sweepExpired`): a job that lost its runner `maxAttempts` times is dead and
 * its member gets {@linkcode DEAD_NOTICE}. Now and then it also purges
 * finished jobs older than the retention.
 *
 * @example Usage
 * ```ts ignore
 * import { sweep } from "./sweep.ts";
 * await sweep(state, () => void pump(state)); // pump: requeued jobs are claimable
 * ```
 *
 * @module
 */

import { purgeJobs, sweepExpired } from "../../records/job_store/mod.ts";
import { type RunnerState, targetOf } from "./state.ts";

/** Text sent when a job is given up after losing its runner `maxAttempts` times. */
export const DEAD_NOTICE =
  "Sorry, your request could not be completed: it was interrupted several times. " +
  "Please send it again.";

/**
 * One sweep (and a purge when one is due); `requeued` is called when jobs went
 * back to the queue. One sweep at a time; none once the runner stops.
 */
export async function sweep(state: RunnerState, requeued: () => void): Promise<void> {
  const { kv, now, log, config } = state;
  const { plan } = state.deps;
  if (state.stopping || state.sweeping) return;
  state.sweeping = true;
  try {
    const result = await sweepExpired(kv, now(), config.maxAttempts, {
      onDead: (op, job) => {
        plan.add(op, [plan.notice(targetOf(job), DEAD_NOTICE, "error")]);
      },
    });
    for (const id of result.requeued) log("warn", "job lost its runner; queued again", { id });
    for (const id of result.dead) log("error", "job lost its runner too often; dead", { id });
    for (const id of result.cancelled) log("info", "cancelled job ended by sweeper", { id });
    if (now() - state.lastPurge >= state.purgeEveryMs) {
      state.lastPurge = now();
      const purged = await purgeJobs(kv, { olderThan: now() - state.retentionMs });
      if (purged > 0) log("info", "purged finished jobs", { purged });
    }
    if (result.requeued.length > 0) requeued();
  } catch (error) {
    log("warn", "job sweep failed; it runs again shortly", { runner: state.runnerId, error });
  } finally {
    state.sweeping = false;
  }
}
