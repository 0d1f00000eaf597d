/**
 * The one polling helper of the test suite: wait until a condition holds, or
 * fail naming what never happened. Every test that waits for the system to get
 * somewhere uses {@linkcode waitFor}; a test that waits for something NOT to
 * happen first waits for a positive event with it.
 *
 * @example Usage
 * ```ts
 * import { waitFor } from "./wait.ts";
 * let ready = false;
 * setTimeout(() => (ready = true), 10);
 * const tookMs = await waitFor(() => ready, "ready", 1000);
 * console.log(`ready after ${tookMs} ms`);
 * ```
 *
 * @module
 */

/**
 * Polls `check` every `everyMs` until it returns true and resolves with the
 * milliseconds it took; throws naming `what` (a string, or a function called
 * only on failure, e.g. to add the output so far) once `timeoutMs` has passed.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 20_000,
  everyMs = 10,
): Promise<number> {
  const began = performance.now();
  while (!(await check())) {
    if (performance.now() - began > timeoutMs) {
      const named = typeof what === "function" ? what() : what;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${named}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return performance.now() - began;
}
