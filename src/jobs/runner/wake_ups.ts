/**
 * What makes a runner look for work: a watch on `keys.wake()` (job ends,
 * `jobs rerun`, and cancel requests, which are checked when it changes) and,
 * unless the callback server runs in this process, on `keys.intakeWake()`
 * (jobs recorded by another process's intake); a poll every `config.pollMs`
 * and a sweep every `sweepMs`. `wake()` of the runner (intake, same process)
 * calls the claim loop directly. It never uses `listenQueue`, so it works on
 * a local file, over KV Connect and on Deploy.
 *
 * @example Usage
 * ```ts ignore
 * import { startWakeUps } from "./wake_ups.ts";
 * const wakeUps = startWakeUps(state);
 * // … at stop():
 * wakeUps.halt();
 * await wakeUps.close();
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { checkCancels } from "./cancel.ts";
import { pump } from "./claim_loop.ts";
import { type RunnerState, track } from "./state.ts";
import { sweep } from "./sweep.ts";

/** The running wake-ups of a runner. */
export interface WakeUps {
  /** Stops the poll and the sweeps (at once, without waiting). */
  halt(): void;
  /** Ends the watch and resolves once its reader has stopped. */
  close(): Promise<void>;
}

/** Starts the watch, the poll and the sweeps, and runs a first sweep then a claim round. */
export function startWakeUps(state: RunnerState): WakeUps {
  const next = () => void pump(state);
  const watched = state.intakeInProcess ? [keys.wake()] : [keys.wake(), keys.intakeWake()];
  const reader = state.kv.watch(watched).getReader();
  const watching = (async () => {
    // Cancel requests bump keys.wake(): read them only when it changed.
    let seen: string | null | undefined;
    try {
      while (!state.stopping) {
        const { done, value } = await reader.read();
        if (done || state.stopping) break;
        void pump(state);
        if (value[0].versionstamp !== seen) {
          seen = value[0].versionstamp;
          void track(state, checkCancels(state));
        }
      }
    } catch (error) {
      if (!state.stopping) {
        state.log("warn", "watching the wake-up key failed; polling only", { error });
      }
    }
  })();
  const pollTimer = setInterval(next, state.config.pollMs);
  const sweepTimer = setInterval(() => void track(state, sweep(state, next)), state.sweepMs);
  void track(state, sweep(state, next).then(() => pump(state)));
  return {
    halt() {
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
    },
    async close() {
      await reader.cancel().catch(() => {});
      await watching;
    },
  };
}
