/**
 * How `jobs dead` tells why each dead letter died: a short cause per item (the
 * errcode or HTTP status included) for the table, the meaning of each errcode
 * once below it, and the full record for `--json`. Never message content.
 *
 * @example Usage
 * ```ts
 * import { deadReasonSummary } from "./dead_reason.ts";
 * const summary = deadReasonSummary({
 *   lastError: "errcode 81013: …",
 *   deadReason: { cause: "permanent", errcode: 81013, meaning: "No valid recipient.", attempts: 1, at: 0 },
 * });
 * console.assert(summary === "refused for good: errcode 81013");
 * ```
 *
 * @module
 */

import type { DeadReason, OutboxItem } from "../records/outbox_item.ts";

/** What failed last: `errcode N`, `HTTP N`, or `no answer`. */
function failure(reason: DeadReason): string {
  if (reason.errcode !== undefined) return `errcode ${reason.errcode}`;
  if (reason.httpStatus !== undefined) return `HTTP ${reason.httpStatus}`;
  return "no answer";
}

/**
 * One line saying why an item died: the cause and WeCom's last errcode (or HTTP
 * status). Dead letters written before reasons were recorded show their last error.
 *
 * @example Usage
 * ```ts
 * import { deadReasonSummary } from "./dead_reason.ts";
 * console.assert(deadReasonSummary({ lastError: "gave up" }) === "gave up");
 * ```
 */
export function deadReasonSummary(item: Pick<OutboxItem, "lastError" | "deadReason">): string {
  const reason = item.deadReason;
  if (reason === undefined) return item.lastError ?? "";
  switch (reason.cause) {
    case "permanent":
      return `refused for good: ${failure(reason)}`;
    case "credentials":
      return `app credentials refused: ${failure(reason)}`;
    case "window": {
      const minutes = Math.round((reason.windowMs ?? 0) / 60_000);
      return `retry window (${minutes} min) ran out: ${failure(reason)}`;
    }
    case "app_missing":
      return "app no longer configured";
  }
}

/**
 * The meaning of every errcode (or failure) among `items`, once each, as
 * `errcode N: meaning` lines (what happened and what to do).
 *
 * @example Usage
 * ```ts
 * import { deadReasonMeanings } from "./dead_reason.ts";
 * const lines = deadReasonMeanings([{ deadReason: { cause: "permanent", errcode: 40003,
 *   meaning: "Unknown user id.", attempts: 1, at: 0 } }]);
 * console.assert(lines[0] === "errcode 40003: Unknown user id.");
 * ```
 */
export function deadReasonMeanings(items: Pick<OutboxItem, "deadReason">[]): string[] {
  const meanings = new Map<string, string>();
  for (const { deadReason } of items) {
    if (deadReason === undefined || deadReason.cause === "app_missing") continue;
    const label = failure(deadReason);
    if (!meanings.has(label)) meanings.set(label, deadReason.meaning);
  }
  return [...meanings].map(([label, meaning]) => `${label}: ${meaning}`);
}

/**
 * The reason for `--json`: times as ISO strings.
 *
 * @example Usage
 * ```ts
 * import { deadReasonJson } from "./dead_reason.ts";
 * const json = deadReasonJson({ cause: "window", meaning: "busy", attempts: 9, at: 0 });
 * console.assert(json.at === "1970-01-01T00:00:00.000Z");
 * ```
 */
export function deadReasonJson(reason: DeadReason): Record<string, unknown> {
  const iso = (ms: number | undefined) => ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    ...reason,
    firstAttemptAt: iso(reason.firstAttemptAt),
    lastAttemptAt: iso(reason.lastAttemptAt),
    at: iso(reason.at),
  };
}
