/**
 * Stopping a delivery loop: no scan starts any more, the wake-up watch and the
 * timer end, and the scans and sends in flight are awaited (an item a stop
 * cuts short is due again once its in-flight lease runs out).
 *
 * @example Usage
 * ```ts ignore
 * import { stopDelivery } from "./stop.ts";
 * await stopDelivery(state, watch);
 * ```
 *
 * @module
 */

import type { DeliveryState } from "./state.ts";
import type { WakeWatch } from "./wake_ups.ts";

/** Stops the loop of `state` and waits for sends in flight; later calls return at once. */
export async function stopDelivery(state: DeliveryState, watch: WakeWatch): Promise<void> {
  if (state.stopped) return;
  state.stopped = true;
  if (state.timer !== undefined) clearTimeout(state.timer);
  state.timer = undefined;
  await watch.close();
  await Promise.allSettled([state.scanning, state.queuedScan, ...state.active.values()]);
}
