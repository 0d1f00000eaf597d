/**
 * Waits a number of milliseconds, or less when a signal aborts first (as
 * `delay` of `@std/async`), leaving no timer or listener behind.
 *
 * @example Usage
 * ```ts
 * import { delay } from "./delay.ts";
 * await delay(1);
 * const aborted = AbortSignal.abort(new Error("stopped"));
 * await delay(60_000, { signal: aborted }).catch((error) => console.assert(error.message === "stopped"));
 * ```
 *
 * @module
 */

/** Options of {@linkcode delay}. */
export interface DelayOptions {
  /** Ends the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Resolves after `ms`; rejects with `signal.reason` as soon as the signal aborts. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
