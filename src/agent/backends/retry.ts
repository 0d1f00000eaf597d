/**
 * Retrying an agent server call within the job's time budget.
 *
 * A backend call that fails with a transient {@linkcode BackendFailure}
 * (connection refused, a timeout, 429, 5xx, Hermes' 502 `agent_incomplete`)
 * is tried again after a back-off (0.5 s doubling to at most 15 s, with
 * jitter, or the server's `Retry-After` when longer), as long as the wait
 * ends before `deadlineAt` (epoch ms: the job's `agent.timeout_seconds` from
 * its start). A permanent failure (401, 403, 404, 400, a failed run) and the
 * last transient one are thrown as they are. The signal (timeout, `/stop`)
 * ends the wait at once.
 *
 * @example Usage
 * ```ts
 * import { retryWithin } from "./retry.ts";
 * import { delay } from "../../delay.ts";
import { BackendFailure } from "./failure.ts";
 * let calls = 0;
 * const answer = await retryWithin(() => {
 *   calls++;
 *   if (calls < 2) throw new BackendFailure("could not reach the server", { transient: true });
 *   return Promise.resolve("ok");
 * }, { signal: new AbortController().signal, deadlineAt: Date.now() + 5_000, baseMs: 1 });
 * console.assert(answer === "ok" && calls === 2);
 * ```
 *
 * @module
 */

import { delay } from "../../delay.ts";
import { BackendFailure } from "./failure.ts";

/** Options of {@linkcode retryWithin}. */
export interface RetryOptions {
  signal: AbortSignal;
  /** Epoch ms after which no new attempt starts (absent: one attempt only). */
  deadlineAt?: number;
  /** First back-off, ms (default 500). */
  baseMs?: number;
  /** Longest back-off, ms (default 15 000). */
  maxMs?: number;
  /** Clock (default `Date.now`). */
  now?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the next try would
 * start after `deadlineAt`. A failure thrown after retries says how many
 * attempts were made.
 *
 * @example Usage
 * ```ts
 * import { retryWithin } from "./retry.ts";
 * const value = await retryWithin(() => Promise.resolve(42), { signal: AbortSignal.timeout(1000) });
 * console.assert(value === 42);
 * ```
 */
export async function retryWithin<T>(
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 15_000;
  for (let tries = 1;; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason ?? error;
      if (!(error instanceof BackendFailure) || !error.transient) throw error;
      const backoff = Math.min(max, base * 2 ** (tries - 1)) * (0.8 + Math.random() * 0.4);
      const pause = Math.max(backoff, error.retryAfterMs ?? 0);
      if (options.deadlineAt === undefined || now() + pause >= options.deadlineAt) {
        throw tries > 1 ? error.afterAttempts(tries) : error;
      }
      await delay(pause, { signal: options.signal });
    }
  }
}
