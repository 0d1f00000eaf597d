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
 * @module
 */

import { keys } from "../store/keys.ts";
import type { Delivery, DeliveryDeps } from "./deliverer/deps.ts";
import { deadLetter, deadReason, stoppedAfterWindow } from "./deliverer/failures.ts";
import { hold, holdForPacing } from "./deliverer/holds.ts";
import { processRecall, recalledLater } from "./deliverer/recall.ts";
import { type SendableItem, sendItem } from "./deliverer/send.ts";
import {
  createDeliveryState,
  type DeliveryState,
  itemFields,
  type Step,
} from "./deliverer/state.ts";
import { addCancel, type OutboxReady } from "./outbox.ts";
import { reserveSlot } from "./pacing.ts";
import { describeError } from "./retry_policy.ts";
import type { OutboxItem } from "./types.ts";

export type { AppDeliveryStatus } from "./deliverer/app_status.ts";
export type { Delivery, DeliveryDeps, DeliveryLog } from "./deliverer/deps.ts";

// ---- one step on a queue head ----------------------------------------
/** Purposes of items a later recall may target. */
const RECALLABLE = new Set<OutboxItem["purpose"]>(["notice", "working"]);

/** Handles the head item of a conversation: "next" to look at the (new) head again. */
async function processHead(state: DeliveryState, conversation: string): Promise<Step> {
  const { kv, commit } = state;
  const at = state.now();
  const ready = await kv.get<OutboxReady>(keys.outboxReady(conversation));
  const [head, next] = await Array.fromAsync(
    kv.list<string>({ prefix: keys.outboxQueuePrefix(conversation) }, { limit: 2 }),
  );
  if (head === undefined) {
    // Queue empty: drop the marker unless an item was added since it was read.
    if (ready.versionstamp !== null) {
      await commit((op) => op.check(ready).delete(ready.key));
    }
    return "done";
  }
  const read = await kv.get<OutboxItem>(keys.outbox(head.value));
  const item = read.value;
  if (item === null || item.state !== "pending") {
    await commit((op) => op.check(head).delete(head.key)); // stale queue entry
    return "next";
  }
  const entry = read as Deno.KvEntry<OutboxItem>;
  if ((item.inFlightUntil ?? 0) > at) return await hold(state, ready, item.inFlightUntil!);
  if (item.message.msgtype === "recall") {
    return await processRecall(state, entry, item.message.ofItem, ready, at);
  }
  if (RECALLABLE.has(item.purpose) && await recalledLater(state, conversation, item.id)) {
    const result = await commit((op) => addCancel(op.check(entry), item));
    if (result.ok) state.log("info", "notice cancelled before sending", itemFields(item));
    return "next";
  }
  const app = state.apps.get(item.app);
  if (app === undefined) {
    const why = `Cannot deliver through app '${item.app}': no app of that name is configured ` +
      "(the configuration changed). Add the app back and retry the dead letter, or purge it.";
    await deadLetter(state, entry, why, deadReason(state, item, "app_missing", why));
    return "next";
  }
  if (item.notBefore > at) return await hold(state, ready, item.notBefore);
  const stopped = stoppedAfterWindow(state, item, at);
  if (stopped !== null) {
    await deadLetter(state, entry, stopped, deadReason(state, item, "window", stopped));
    return "next";
  }
  const slot = await reserveSlot(kv, app, item.userId, at, state.limits);
  if (!slot.ok) return await holdForPacing(state, entry, slot.retryAt);
  const sendable = entry as Deno.KvEntry<SendableItem>; // not a recall: handled above
  return await sendItem(state, {
    entry: sendable,
    app,
    slot,
    ready,
    last: next === undefined,
    at,
  });
}

// ---- scanning and ordering ----------------------------------------
/** Steps one conversation may take in one go before yielding to a new scan. */
const MAX_STEPS = 1000;

/** Runs a scan now, or once the scan in progress ends; resolves when it has run. */
function requestScan(state: DeliveryState): Promise<void> {
  if (state.stopped) return Promise.resolve();
  if (state.scanning === null) {
    state.scanning = scan(state)
      .catch((error) => state.log("error", "delivery scan failed", { error: describeError(error) }))
      .finally(() => {
        state.scanning = null;
      });
    return state.scanning;
  }
  state.queuedScan ??= state.scanning.then(() => {
    state.queuedScan = null;
    return requestScan(state);
  });
  return state.queuedScan;
}

/** Resolves once nothing due is pending: no conversation has an item due by `now()`. */
async function waitIdle(state: DeliveryState): Promise<void> {
  for (;;) {
    if (state.stopped) return;
    await requestScan(state);
    if (state.active.size === 0 && state.dueWaiting === 0) return;
    await Promise.allSettled([...state.active.values()]);
  }
}

async function scan(state: DeliveryState): Promise<void> {
  const at = state.now();
  let earliest = Infinity;
  let waiting = 0;
  // Read in small batches and stop once every slot is taken and one more
  // conversation is due: with a backlog, a scan then reads a few entries
  // instead of every conversation's marker (it runs after each conversation).
  // Each scan goes on after the conversation the last one started, round the
  // key order, so that a backlog is served in turn, not by conversation name.
  for await (const entry of markersAfter(state, state.resumeAfter)) {
    if (state.stopped) return;
    const conversation = entry.key[entry.key.length - 1] as string;
    if (state.active.has(conversation)) continue;
    const troubledUntil = state.troubled.get(conversation);
    if (troubledUntil !== undefined) {
      if (troubledUntil > at) continue;
      state.troubled.delete(conversation);
    }
    const notBefore = entry.value?.notBefore ?? 0;
    if (notBefore > at) {
      earliest = Math.min(earliest, notBefore);
    } else if (state.active.size < state.concurrency) {
      startConversation(state, conversation);
      state.resumeAfter = conversation;
    } else {
      waiting++;
      break; // the next scan (when a slot frees up) goes on from here
    }
  }
  state.dueWaiting = waiting;
  schedule(state, waiting > 0 ? state.pollMs : Math.min(state.pollMs, earliest - at));
}

/** Every conversation marker once: those after `after` in key order, then the rest. */
async function* markersAfter(state: DeliveryState, after: string | undefined) {
  const { kv } = state;
  const prefix = keys.outboxReadyPrefix();
  const options = { batchSize: 4 * state.concurrency };
  if (after === undefined) {
    yield* kv.list<OutboxReady>({ prefix }, options);
    return;
  }
  for await (
    const entry of kv.list<OutboxReady>({ prefix, start: [...prefix, after] }, options)
  ) {
    if (entry.key[entry.key.length - 1] !== after) yield entry;
  }
  yield* kv.list<OutboxReady>({ prefix, end: [...prefix, after] }, options);
  const last = await kv.get<OutboxReady>([...prefix, after]);
  if (last.versionstamp !== null) yield last as Deno.KvEntry<OutboxReady>;
}

function schedule(state: DeliveryState, delayMs: number): void {
  if (state.stopped) return;
  if (state.timer !== undefined) clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    state.timer = undefined;
    requestScan(state);
  }, Math.max(5, Math.min(state.pollMs, delayMs)));
}

function startConversation(state: DeliveryState, conversation: string): void {
  const run = processConversation(state, conversation)
    .catch((error) => {
      state.troubled.set(conversation, state.now() + state.pollMs);
      state.log("error", "delivery of a conversation failed; retrying soon", {
        conversation,
        error: describeError(error),
      });
    })
    .finally(() => {
      state.active.delete(conversation);
      requestScan(state);
    });
  state.active.set(conversation, run);
}

async function processConversation(state: DeliveryState, conversation: string): Promise<void> {
  for (let step = 0; step < MAX_STEPS && !state.stopped; step++) {
    if (await processHead(state, conversation) === "done") return;
  }
}

// ---- wake-ups ----------------------------------------
/** The watch of the wake-up key. */
interface WakeWatch {
  /** Ends the watch and resolves once its reader has stopped. */
  close(): Promise<void>;
}

/** Requests a scan at every change of `keys.outboxWake()`, until closed. */
function watchWakeUps(state: DeliveryState): WakeWatch {
  const reader = state.kv.watch([keys.outboxWake()]).getReader();
  const watching = (async () => {
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done || state.stopped) return;
        requestScan(state);
      }
    } catch (error) {
      if (!state.stopped) {
        state.log("warn", "watching the outbox wake-up key failed; polling only", {
          error: describeError(error),
        });
      }
    }
  })();
  return {
    async close() {
      await reader.cancel().catch(() => {});
      await watching;
    },
  };
}

// ---- stop ----------------------------------------
/** Stops the loop of `state` and waits for sends in flight; later calls return at once. */
async function stopDelivery(state: DeliveryState, watch: WakeWatch): Promise<void> {
  if (state.stopped) return;
  state.stopped = true;
  if (state.timer !== undefined) clearTimeout(state.timer);
  state.timer = undefined;
  await watch.close();
  await Promise.allSettled([state.scanning, state.queuedScan, ...state.active.values()]);
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
