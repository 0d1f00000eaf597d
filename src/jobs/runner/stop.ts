/**
 * Stopping a runner: claim nothing more, wait up to `graceMs` for the running
 * jobs, then abort the rest and release their leases, so that another process
 * (or the next start) takes them at once. Later calls return the same promise.
 *
 * @example Usage
 * ```ts ignore
 * import { stopRunner } from "./stop.ts";
 * await stopRunner(state, wakeUps, 30_000);
 * ```
 *
 * @module
 */

import { releaseJob } from "../../records/job_store/mod.ts";
import { admitWaiting } from "./admission.ts";
import { jobFields, type RunnerState } from "./state.ts";
import type { WakeUps } from "./wake_ups.ts";

/** Stops the runner of `state` (see the module doc); does not close the KV store. */
export function stopRunner(state: RunnerState, wakeUps: WakeUps, graceMs: number): Promise<void> {
  if (state.stopPromise) return state.stopPromise;
  state.stopping = true;
  admitWaiting(state);
  wakeUps.halt();
  state.stopPromise = (async () => {
    await wakeUps.close();
    await Promise.allSettled([...state.background]);
    await settleWithin([...state.runs.values()].map((run) => run.done), graceMs);
    const releasing: Promise<void>[] = [];
    for (const run of state.runs.values()) {
      if (run.settled || run.outcome) continue;
      run.outcome = "released";
      run.controller.abort(new Error("the gateway is shutting down"));
      releasing.push((async () => {
        if (await releaseJob(state.kv, run.job, state.runnerId, state.now())) {
          state.counters.released++;
          state.log("info", "job released at shutdown", jobFields(state, run.job));
        }
      })());
    }
    await Promise.allSettled(releasing);
    // Runs end once their agent honours the abort; do not wait forever for one that does not.
    await settleWithin([...state.runs.values()].map((run) => run.done), 5_000);
    await Promise.allSettled([...state.background]);
  })();
  return state.stopPromise;
}

/** Waits until `promises` settle or `ms` pass, whichever comes first. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(promises), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
