/**
 * Retry and dead-letter decisions of a failed send (`../retry_policy.ts`):
 * transient errors back off within the retry window, a send whose outcome is
 * unknown is not repeated before its in-flight lease ends (so WeCom's
 * duplicate check can recognise the second copy), and permanent errors, an
 * exhausted window or an unknown app make dead letters that record why
 * (`deadReason`). A refused app is recorded in its status (`./app_status.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { sendFailed } from "./failures.ts";
 * try {
 *   await state.client.send(app, item.userId, message, { duplicateCheck: true });
 * } catch (error) {
 *   await sendFailed(state, claimed, versionstamp, app, error, true);
 * }
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../config/types.ts";
import { keys } from "../../store/keys.ts";
import { DUPLICATE_CHECK_INTERVAL_SECONDS } from "../../wecom/client.ts";
import { NO_ERRCODE, WeComApiError } from "../../wecom/errors.ts";
import { withoutLease } from "../../records/outbox.ts";
import { decideRetry, describeError, explainError } from "../retry_policy.ts";
import type { DeadReason, OutboxItem } from "../../records/outbox_item.ts";
import { appProblem } from "./app_status.ts";
import { type DeliveryState, itemFields } from "./state.ts";

/**
 * Records a failed attempt of `claimed` (committed at `versionstamp`): a later
 * retry, or a dead letter. `sending`: the message itself was being sent (not
 * its upload), so it may have landed.
 */
export async function sendFailed(
  state: DeliveryState,
  claimed: OutboxItem,
  versionstamp: string,
  app: AppConfig,
  error: unknown,
  sending: boolean,
): Promise<void> {
  const { now } = state;
  const history = {
    attempts: claimed.attempts,
    firstAttemptAt: claimed.firstAttemptAt ?? now(),
    now: now(),
  };
  const decision = decideRetry(error, history, state.policy, state.random);
  if (decision.kind === "ip_not_trusted" || decision.kind === "credentials") {
    await appProblem(state, app, decision.kind, error);
  }
  const key = keys.outbox(claimed.id);
  if (decision.action === "dead") {
    const why = deadReason(state, claimed, decision.cause, decision.reason, error);
    await deadLetter(state, { key, value: claimed, versionstamp }, decision.reason, why);
    return;
  }
  const reason = describeError(error);
  const uncertain = claimed.uncertain === true || (sending && outcomeUnknown(error));
  // A send that may still land at WeCom is not repeated before its in-flight lease ends
  // (two request timeouts and a margin after it started), so that a late first copy lands
  // before the duplicate-checked one and WeCom can recognise the second.
  const at = now();
  const landBy = Math.min(claimed.inFlightUntil ?? at, at + state.leaseMs);
  const retryAt = Math.max(at + decision.delayMs, uncertain && !claimed.uncertain ? landBy : 0);
  const retried: OutboxItem = {
    ...withoutLease(claimed),
    notBefore: retryAt,
    lastError: reason,
    uncertain,
  };
  const result = await state.commit((op) => op.check({ key, versionstamp }).set(key, retried));
  state.log("warn", "send failed; retrying later", {
    ...itemFields(claimed),
    attempt: claimed.attempts,
    kind: decision.kind,
    retryInMs: decision.delayMs,
    error: reason,
    recorded: result.ok,
  });
}

/**
 * True when a failed send may still have been delivered: WeCom gave no answer
 * (timeout, dropped connection, network error) or an HTTP error from a hop that
 * may have forwarded it. An errcode from WeCom, 503, 429 and 408 mean it was not.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof WeComApiError)) return true;
  if (error.errcode !== NO_ERRCODE) return false;
  if (error.kind === "network") return true;
  return error.httpStatus === undefined || ![408, 429, 503].includes(error.httpStatus);
}

/** Why `item` is given up, for the operator (`jobs dead`). */
export function deadReason(
  state: DeliveryState,
  item: OutboxItem,
  cause: DeadReason["cause"],
  description: string,
  error?: unknown,
): DeadReason {
  const explained = error === undefined ? { meaning: description } : explainError(error);
  const why: DeadReason = { cause, ...explained, attempts: item.attempts, at: state.now() };
  if (item.firstAttemptAt !== undefined) why.firstAttemptAt = item.firstAttemptAt;
  if (item.lastAttemptAt !== undefined) why.lastAttemptAt = item.lastAttemptAt;
  if (cause === "window") why.windowMs = state.policy.windowMs;
  return why;
}

/** Moves an item to the dead letters; the conversation's next item goes on. */
export async function deadLetter(
  state: DeliveryState,
  entry: Deno.KvEntry<OutboxItem>,
  reason: string,
  why: DeadReason,
): Promise<void> {
  const item = entry.value;
  const dead: OutboxItem = {
    ...withoutLease(item),
    state: "dead",
    lastError: reason,
    deadReason: why,
  };
  const result = await state.commit((op) =>
    op
      .check(entry)
      .set(entry.key, dead)
      .set(keys.deadLetter(item.id), item.id)
      .delete(keys.outboxQueue(item.conversation, item.id))
  );
  if (result.ok) {
    state.log("error", "message could not be delivered: moved to the dead letters", {
      ...itemFields(item),
      attempts: item.attempts,
      cause: why.cause,
      reason,
    });
  }
}

/**
 * Why an item whose sender stopped mid-send (a crash) is given up rather than
 * resent, or null to resend it. Past the retry window it gets one more
 * attempt (the gateway may simply have been down), as long as WeCom's
 * duplicate check still covers its last send; a second stop after the window,
 * or a last send older than the check's interval, makes a dead letter:
 * resending then could deliver a second copy.
 */
export function stoppedAfterWindow(
  state: DeliveryState,
  item: OutboxItem,
  at: number,
): string | null {
  const windowEnd = (item.firstAttemptAt ?? at) + state.policy.windowMs;
  if (item.inFlightUntil === undefined || at < windowEnd) return null;
  const last = item.lastAttemptAt ?? item.firstAttemptAt ?? at;
  const unknown = `gave up after ${item.attempts} attempts: the retry window ran out and the ` +
    "last attempt's outcome is unknown (its sender stopped mid-send, so the member may have it)";
  if (last >= windowEnd) return `${unknown}; it was the one attempt after the window`;
  if (at - last >= DUPLICATE_CHECK_INTERVAL_SECONDS * 1000) {
    return `${unknown}; a resend now would fall outside WeCom's duplicate check ` +
      `(${DUPLICATE_CHECK_INTERVAL_SECONDS / 3600} h) and could arrive twice`;
  }
  return null;
}
