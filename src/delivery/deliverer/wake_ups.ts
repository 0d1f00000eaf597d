/**
 * The wake-ups of a delivery loop: a watch on `keys.outboxWake()` (items
 * added by any process) requests a scan at each change. Besides it, a scan is
 * requested by `Delivery.wake()`, by the end of each conversation's turn and
 * by the timer of the last scan (the earliest due time, else the poll).
 *
 * @example Usage
 * ```ts ignore
 * import { watchWakeUps } from "./wake_ups.ts";
 * const watch = watchWakeUps(state);
 * // … at stop:
 * await watch.close();
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { describeError } from "../retry_policy.ts";
import { requestScan } from "./scan.ts";
import type { DeliveryState } from "./state.ts";

/** The watch of the wake-up key. */
export interface WakeWatch {
  /** Ends the watch and resolves once its reader has stopped. */
  close(): Promise<void>;
}

/** Requests a scan at every change of `keys.outboxWake()`, until closed. */
export function watchWakeUps(state: DeliveryState): WakeWatch {
  const reader = state.kv.watch([keys.outboxWake()]).getReader();
  const watching = (async () => {
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done || state.stopped) return;
        requestScan(state);
      }
    } catch (error) {
      if (!state.stopped) {
        state.log("warn", "watching the outbox wake-up key failed; polling only", {
          error: describeError(error),
        });
      }
    }
  })();
  return {
    async close() {
      await reader.cancel().catch(() => {});
      await watching;
    },
  };
}
