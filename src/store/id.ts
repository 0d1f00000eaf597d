/**
 * Time-ordered unique ids for jobs and outbox items.
 *
 * 12 hex digits of epoch milliseconds, 4 of a per-process counter and 8 random
 * ones: ids sort in creation order within a process, and roughly by time
 * across processes.
 *
 * @example Usage
 * ```ts
 * import { newId } from "./id.ts";
 * const a = newId();
 * const b = newId();
 * console.assert(a < b);
 * ```
 *
 * @module
 */

let lastMs = 0;
let counter = 0;
const suffix = Array.from(
  crypto.getRandomValues(new Uint8Array(4)),
  (b) => b.toString(16).padStart(2, "0"),
).join("");

/** Returns a new id, greater than every id this process returned before. */
export function newId(now: number = Date.now()): string {
  if (now <= lastMs) {
    counter++;
    if (counter > 0xffff) {
      lastMs++;
      counter = 0;
    }
  } else {
    lastMs = now;
    counter = 0;
  }
  return lastMs.toString(16).padStart(12, "0") + counter.toString(16).padStart(4, "0") + suffix;
}
