/**
 * What delivery does after a failed send: retry later (and when), or give up.
 *
 * Decisions follow the `kind` of {@linkcode WeComApiError}: busy, rate limits,
 * revoked tokens and network failures are retried with exponential back-off and
 * jitter; an untrusted IP (60020) is retried with a long back-off because the
 * operator can fix it; wrong credentials and requests WeCom rejects for good
 * (81013, 40003, 60011, …) become dead letters at once. Errors that are not
 * WeCom errors count as network failures.
 *
 * @example Usage
 * ```ts
 * import { decideRetry } from "./retry_policy.ts";
 * const policy = { maxAttempts: 8, baseMs: 1000, maxMs: 300_000, ipBaseMs: 60_000 };
 * const decision = decideRetry(new Error("connection reset"), 1, policy, () => 0.5);
 * console.assert(decision.action === "retry" && decision.delayMs === 750);
 * ```
 *
 * @module
 */

import { NO_ERRCODE, WeComApiError, type WeComErrorKind } from "../wecom/errors.ts";

/** Back-off settings. */
export interface RetryPolicy {
  /** Attempts before an item becomes a dead letter. */
  maxAttempts: number;
  /** First back-off, ms (doubles each attempt). */
  baseMs: number;
  /** Largest back-off, ms. */
  maxMs: number;
  /** First back-off after 60020 (trusted IP), ms: WeCom needs a minute to apply a fix. */
  ipBaseMs: number;
}

/** The default policy: 1 s, 2 s, 4 s … capped at 5 minutes; 1 minute first after 60020. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseMs: 1000,
  maxMs: 300_000,
  ipBaseMs: 60_000,
};

/** What to do after a failure. */
export type RetryDecision =
  | { action: "retry"; delayMs: number; kind: WeComErrorKind }
  | { action: "dead"; kind: WeComErrorKind; reason: string };

/**
 * The kind of a failure: the `kind` of a {@linkcode WeComApiError}, else
 * `network` (the call's outcome is unknown).
 *
 * @example Usage
 * ```ts
 * import { errorKind } from "./retry_policy.ts";
 * console.assert(errorKind(new TypeError("fetch failed")) === "network");
 * ```
 */
export function errorKind(error: unknown): WeComErrorKind {
  return error instanceof WeComApiError ? error.kind : "network";
}

/**
 * A one-line description of a failure for `lastError` and logs. WeCom errors
 * carry only the errcode and its explanation, never message content.
 *
 * @example Usage
 * ```ts
 * import { describeError } from "./retry_policy.ts";
 * console.assert(describeError(new Error("timed out")) === "timed out");
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof WeComApiError) {
    const status = error.httpStatus ? ` (HTTP ${error.httpStatus})` : "";
    return error.errcode === NO_ERRCODE
      ? `${error.message}${status}`
      : `errcode ${error.errcode}${status}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The back-off before attempt `attempt + 1`: `base * 2^(attempt-1)` capped at
 * `maxMs`, with "equal jitter" (between half and all of it).
 *
 * @example Usage
 * ```ts
 * import { backoffDelay } from "./retry_policy.ts";
 * console.assert(backoffDelay(3, 1000, 300_000, () => 1) === 4000);
 * ```
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(full / 2 + (random() * full) / 2);
}

/**
 * Decides what to do after attempt number `attempts` (1-based, already counted)
 * failed with `error`.
 *
 * @example Usage
 * ```ts
 * import { decideRetry, DEFAULT_RETRY_POLICY } from "./retry_policy.ts";
 * import { WeComApiError } from "../wecom/errors.ts";
 * const error = new WeComApiError({ api: "message/send", errcode: 81013, errmsg: "invalid user" });
 * console.assert(decideRetry(error, 1, DEFAULT_RETRY_POLICY).action === "dead");
 * ```
 */
export function decideRetry(
  error: unknown,
  attempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  const kind = errorKind(error);
  const description = describeError(error);
  if (kind === "credentials" || kind === "permanent") {
    return { action: "dead", kind, reason: description };
  }
  if (attempts >= policy.maxAttempts) {
    return {
      action: "dead",
      kind,
      reason: `gave up after ${attempts} attempts; last error: ${description}`,
    };
  }
  const base = kind === "ip_not_trusted" ? Math.max(policy.ipBaseMs, policy.baseMs) : policy.baseMs;
  const maxMs = Math.max(policy.maxMs, base);
  return { action: "retry", kind, delayMs: backoffDelay(attempts, base, maxMs, random) };
}
