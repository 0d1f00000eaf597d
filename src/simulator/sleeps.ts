/**
 * Sleeps that can all be cut short at once: a simulated server that delays its
 * answers wakes every sleeper when it closes, so closing never waits out a
 * delay (and no timer outlives the server).
 *
 * @example Usage
 * ```ts
 * import { createSleeps } from "./sleeps.ts";
 * const sleeps = createSleeps();
 * const napping = sleeps.sleep(60_000);
 * sleeps.wakeAll();
 * await napping; // resolves at once
 * ```
 *
 * @module
 */

/** A group of sleeps; {@linkcode Sleeps.wakeAll} ends every one still running. */
export interface Sleeps {
  /** Resolves after `ms`, or as soon as `wakeAll()` is called. */
  sleep(ms: number): Promise<void>;
  /** Ends every running sleep now. */
  wakeAll(): void;
}

/**
 * Creates a group of sleeps.
 *
 * @example Usage
 * ```ts
 * import { createSleeps } from "./sleeps.ts";
 * const sleeps = createSleeps();
 * await sleeps.sleep(1);
 * ```
 */
export function createSleeps(): Sleeps {
  const sleepers = new Set<() => void>();
  return {
    sleep(ms) {
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        sleepers.add(wake);
      });
    },
    wakeAll() {
      for (const wake of [...sleepers]) wake();
    },
  };
}
