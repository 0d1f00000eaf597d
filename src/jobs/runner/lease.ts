/**
 * The lease of a run: a heartbeat every `leaseMs / 3` renews it while the
 * agent works; a lease taken over by another runner aborts the agent (the job
 * is left to its new owner), and a cancel request seen at the heartbeat
 * cancels the run. The KV steps of one run (heartbeats, the working notice)
 * go one after another in its chain ({@linkcode serial}).
 *
 * @example Usage
 * ```ts ignore
 * import { startHeartbeat } from "./lease.ts";
 * const beat = startHeartbeat(state, run);
 * // … once the agent returned:
 * clearInterval(beat);
 * await run.chain;
 * ```
 *
 * @module
 */

import { heartbeat } from "../../records/job_store/mod.ts";
import { cancelRun } from "./cancel.ts";
import { jobFields, type Run, type RunnerState } from "./state.ts";

/** Renews the lease of `run` every `heartbeatMs` until cleared. */
export function startHeartbeat(state: RunnerState, run: Run): ReturnType<typeof setInterval> {
  return setInterval(() => serial(state, run, () => renew(state, run)), state.heartbeatMs);
}

/** Runs `step` after the earlier KV steps of `run`; a failure is logged, not thrown. */
export function serial(state: RunnerState, run: Run, step: () => Promise<void>): void {
  run.chain = run.chain.then(step).catch((error) => {
    state.log("warn", "job bookkeeping failed", jobFields(state, run.job, { error }));
  });
}

/** One heartbeat: extends the lease, or decides the run lost or cancelled. */
export async function renew(state: RunnerState, run: Run): Promise<void> {
  if (run.settled || run.outcome) return;
  run.stamp = undefined; // the heartbeat rewrites the job
  const beat = await heartbeat(
    state.kv,
    run.job,
    state.runnerId,
    state.now(),
    state.config.leaseMs,
  );
  if (beat.ok) return;
  if (beat.reason === "cancelled") {
    cancelRun(run);
  } else if (!run.outcome) {
    run.outcome = "lost";
    run.controller.abort(new Error("the job's lease was lost to another runner"));
  }
}
