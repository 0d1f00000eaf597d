/**
 * Cancelling runs here: `/stop` of the member (a cancel request on the job,
 * seen at a wake-up or a heartbeat, or a `/stop` answered by this very runner)
 * aborts the agent; the run then ends the job `failed` with
 * `CANCELLED_ERROR` (see `./finish.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { cancelRun, checkCancels } from "./cancel.ts";
 * await checkCancels(state); // at a wake-up: cancel the runs whose job asks for it
 * cancelRun(state.runs.get(jobId)!); // `/stop` answered here
 * ```
 *
 * @module
 */

import { CANCELLED_ERROR, cancelRequested } from "../../records/job_store/mod.ts";
import type { Run, RunnerState } from "./state.ts";

/**
 * Aborts the agent of `run` to end it cancelled; false when it is a command,
 * its agent has returned, or its end is already decided.
 */
export function cancelRun(run: Run): boolean {
  if (run.command || run.settled || run.outcome) return false;
  run.outcome = "cancelled";
  run.controller.abort(new Error(CANCELLED_ERROR));
  return true;
}

/** Cancels the agent runs here whose job has a cancel request in the store. */
export async function checkCancels(state: RunnerState): Promise<void> {
  const candidates = [...state.runs.values()].filter((run) => !run.command && !run.outcome);
  if (candidates.length === 0) return;
  try {
    const wanted = await cancelRequested(state.kv, candidates.map((run) => run.job.id));
    for (const run of candidates) if (wanted.has(run.job.id)) cancelRun(run);
  } catch (error) {
    state.log("warn", "could not read cancel requests", { runner: state.runnerId, error });
  }
}
