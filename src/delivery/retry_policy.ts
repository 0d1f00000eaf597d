/**
 * What delivery does after a failed send: retry later (and when), or give up.
 *
 * Decisions follow the `kind` of {@linkcode WeComApiError}: busy, rate limits,
 * revoked tokens, HTTP 5xx and network failures are retried with capped
 * exponential back-off and jitter for as long as the retry window lasts
 * (counted from the item's first attempt; default 30 minutes), so that a WeCom
 * outage of that length needs no operator; an untrusted IP (60020) is retried
 * within the same window with a longer first back-off because the operator
 * can fix it; wrong credentials and requests WeCom rejects for good (81013,
 * 40003, 60011, 86xxx, …) become dead letters at once. Errors that are not
 * WeCom errors count as network failures.
 *
 * @example Usage
 * ```ts
 * import { decideRetry } from "./retry_policy.ts";
 * const policy = { windowMs: 1_800_000, baseMs: 1000, maxMs: 300_000, ipBaseMs: 60_000 };
 * const history = { attempts: 1, firstAttemptAt: 0, now: 0 };
 * const decision = decideRetry(new Error("connection reset"), history, policy, () => 0.5);
 * console.assert(decision.action === "retry" && decision.delayMs === 750);
 * ```
 *
 * @module
 */

import { explainErrcode, NO_ERRCODE, WeComApiError, type WeComErrorKind } from "../wecom/errors.ts";

/** Back-off settings. */
export interface RetryPolicy {
  /**
   * How long failures WeCom may get over are retried, ms, counted from the
   * item's first attempt; after it the item becomes a dead letter.
   */
  windowMs: number;
  /** First back-off, ms (doubles each attempt). */
  baseMs: number;
  /** Largest back-off, ms. */
  maxMs: number;
  /** First back-off after 60020 (trusted IP), ms: WeCom needs a minute to apply a fix. */
  ipBaseMs: number;
}

/**
 * The default policy: retries for 30 minutes, 1 s, 2 s, 4 s … capped at 5
 * minutes; 1 minute first after 60020.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  windowMs: 30 * 60_000,
  baseMs: 1000,
  maxMs: 300_000,
  ipBaseMs: 60_000,
};

/** The attempts of an item so far, for {@linkcode decideRetry}. */
export interface AttemptHistory {
  /** Attempts made, the failed one included (1-based). */
  attempts: number;
  /** Epoch ms of the first attempt. */
  firstAttemptAt: number;
  /** Epoch ms now. */
  now: number;
}

/** Why an item is given up: see `DeadReason` in `./types.ts`. */
export type GiveUpCause = "permanent" | "credentials" | "window";

/** What to do after a failure. */
export type RetryDecision =
  | { action: "retry"; delayMs: number; kind: WeComErrorKind }
  | { action: "dead"; kind: WeComErrorKind; cause: GiveUpCause; reason: string };

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
    // The default message already names the errcode ("WeCom gettoken failed with errcode 40001: …").
    return error.errcode === NO_ERRCODE || error.message.includes(`errcode ${error.errcode}`)
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
 * Decides what to do after attempt number `history.attempts` (1-based, already
 * counted) failed with `error`: a permanent or credential error gives up at
 * once; any other is retried after a capped, jittered exponential back-off
 * until the retry window (from the first attempt) has passed. The last retry
 * is placed at the window's end, so an outage a little shorter than the window
 * is still bridged.
 *
 * @example Usage
 * ```ts
 * import { decideRetry, DEFAULT_RETRY_POLICY } from "./retry_policy.ts";
 * import { WeComApiError } from "../wecom/errors.ts";
 * const error = new WeComApiError({ api: "message/send", errcode: 81013, errmsg: "invalid user" });
 * const history = { attempts: 1, firstAttemptAt: 0, now: 0 };
 * console.assert(decideRetry(error, history, DEFAULT_RETRY_POLICY).action === "dead");
 * ```
 */
export function decideRetry(
  error: unknown,
  history: AttemptHistory,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  const kind = errorKind(error);
  const description = describeError(error);
  if (kind === "credentials" || kind === "permanent") {
    return { action: "dead", kind, cause: kind, reason: description };
  }
  const windowEnd = history.firstAttemptAt + policy.windowMs;
  if (history.now >= windowEnd) {
    return {
      action: "dead",
      kind,
      cause: "window",
      reason: `gave up after ${history.attempts} attempts over ${
        formatMinutes(history.now - history.firstAttemptAt)
      } (retry window ${formatMinutes(policy.windowMs)}); last error: ${description}`,
    };
  }
  const base = kind === "ip_not_trusted" ? Math.max(policy.ipBaseMs, policy.baseMs) : policy.baseMs;
  const maxMs = Math.max(policy.maxMs, base);
  const delayMs = Math.min(
    backoffDelay(history.attempts, base, maxMs, random),
    windowEnd - history.now,
  );
  return { action: "retry", kind, delayMs };
}

/**
 * What an error means for the operator: WeCom's errcode with its explanation,
 * or the transport failure.
 *
 * @example Usage
 * ```ts
 * import { explainError } from "./retry_policy.ts";
 * console.assert(explainError(new Error("reset")).meaning === "reset");
 * ```
 */
export function explainError(
  error: unknown,
): { errcode?: number; httpStatus?: number; meaning: string } {
  if (error instanceof WeComApiError) {
    const known = error.errcode === NO_ERRCODE ? {} : { errcode: error.errcode };
    const status = error.httpStatus === undefined ? {} : { httpStatus: error.httpStatus };
    const meaning = error.errcode === NO_ERRCODE ? error.message : explainErrcode(error.errcode);
    return { ...known, ...status, meaning };
  }
  return { meaning: describeError(error) };
}

function formatMinutes(ms: number): string {
  const minutes = ms / 60_000;
  return minutes >= 1 ? `${Math.round(minutes)} min` : `${Math.round(ms / 1000)} s`;
}
