/**
 * The delivery loop: sends outbox items to WeCom, per conversation in id
 * order, paced, retried, and never lost nor doubled.
 *
 * - Order: only the head of a conversation's queue (`keys.outboxQueue`) is
 *   processed; conversations run in parallel up to `concurrency`.
 * - Exactly one sender per item, across processes: before a send the loop
 *   commits `attempts + 1`, a short in-flight lease (`inFlightUntil`) and the
 *   pacing reservation, with a check on the item's versionstamp. After the send
 *   it commits `state: "sent"` and the msgid and removes the queue entry.
 * - Exactly once (`./duplicate_check.ts`): every send, the first included,
 *   carries WeCom's duplicate check with a 4-hour interval, so a resend after a
 *   crash between send and commit (or after a timeout) is the same request as
 *   the copy that may have landed, and WeCom drops it. A text identical to one
 *   sent to the member within that interval gets an invisible suffix (its
 *   variant, fixed at the first attempt) so that WeCom does not drop it.
 * - Crashes: an item whose lease ran out is due again.
 * - Pacing (`./pacing.ts`): a message over 30/min or 1000/h per member is held
 *   (`notBefore`), never sent, because WeCom would drop it silently.
 * - Failures (`./retry_policy.ts`): busy, rate limit, HTTP 5xx, token and
 *   network errors back off exponentially with jitter, capped
 *   (`retryMaxBackoffMs`, default 5 min), for the retry window from the first
 *   attempt (`retryWindowMs`, default 30 min); meanwhile the item holds its
 *   conversation, so later items for the member wait behind it, in order.
 *   60020 (untrusted IP) is reported to the operator once per app, recorded at
 *   `keys.appStatus(app)` and retried slowly within the same window. Credential
 *   and permanent errors (81013, 40003, 86xxx, …) at once, an exhausted window
 *   and unknown apps make dead letters that record why (`deadReason`), and the
 *   conversation's next item goes on.
 * - Media and markdown (`./prepare.ts`): right before a send, a media item is
 *   uploaded (its media id stored on the item first, so a resend sends the
 *   same one) or explained in a short text; markdown goes as text to
 *   WeChat-plugin users.
 * - Recalls: a recall item recalls its target if it was sent and cancels it if
 *   not; a pending notice with a recall behind it in the queue is cancelled at
 *   once instead of being sent late.
 * - Wake-ups: a watch on `keys.outboxWake()`, a poll, {@linkcode Delivery.wake}
 *   and the earliest due time. Message content never reaches the log.
 * - Cost per message: the commits of conversations sent in parallel share one
 *   durable KV commit (group commit, each keeping its own checks), and the
 *   record of a conversation's last send also drops its marker.
 *
 * This file wires the parts of `./deliverer/` together: one `DeliveryState`
 * (`./deliverer/state.ts`) shared explicitly by the scan (`scan.ts`), the
 * step on a queue head (`head.ts`), the send of one item (`send.ts`, with
 * `copies.ts` and `finish.ts`), recalls (`recall.ts`), holds (`holds.ts`),
 * retry and dead-letter decisions (`failures.ts`), app status
 * (`app_status.ts`), the wake-ups (`wake_ups.ts`) and `stop.ts`.
 *
 * @example Usage
 * ```ts ignore
 * import { startDelivery } from "./deliverer.ts";
 * const delivery = startDelivery({ kv, apps: config.apps, client, config: config.delivery });
 * // … on shutdown:
 * await delivery.stop();
 * ```
 *
 * @module
 */

import type { Delivery, DeliveryDeps } from "./deliverer/deps.ts";
import { requestScan, waitIdle } from "./deliverer/scan.ts";
import { createDeliveryState } from "./deliverer/state.ts";
import { stopDelivery } from "./deliverer/stop.ts";
import { watchWakeUps } from "./deliverer/wake_ups.ts";

export type { AppDeliveryStatus } from "../records/app_status.ts";
export type { Delivery, DeliveryDeps, DeliveryLog } from "./deliverer/deps.ts";

/**
 * Conversations delivered at once for a runner with `jobsConcurrency` agent
 * slots: twice the slots, at least 8. Each job ends in one or more outbox
 * items, and one delivery step (reads, claim, send, record: a few KV round
 * trips and one WeCom request) takes about as long as a job holds its slot,
 * so with fewer delivery slots than that, delivery becomes the stage replies
 * wait in (measured in docs/BENCHMARKS.md). Per-member order and pacing do
 * not depend on it: each conversation is delivered by one step at a time.
 *
 * @example Usage
 * ```ts
 * import { deliveryConcurrency } from "./deliverer.ts";
 * console.assert(deliveryConcurrency(4) === 8 && deliveryConcurrency(16) === 32);
 * ```
 */
export function deliveryConcurrency(jobsConcurrency: number): number {
  return Math.max(8, 2 * jobsConcurrency);
}

/**
 * Starts the delivery loop.
 *
 * @example Usage
 * ```ts ignore
 * import { startDelivery } from "./deliverer.ts";
 * const delivery = startDelivery({ kv, apps, client, config: config.delivery });
 * delivery.wake();
 * await delivery.stop();
 * ```
 *
 * @throws {RangeError} When `config` has values delivery cannot work with.
 */
export function startDelivery(deps: DeliveryDeps): Delivery {
  const state = createDeliveryState(deps);
  const watch = watchWakeUps(state);
  requestScan(state);
  return {
    wake() {
      requestScan(state);
    },
    stop: () => stopDelivery(state, watch),
    idle: () => waitIdle(state),
  };
}
