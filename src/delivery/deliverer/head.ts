/**
 * One step on a conversation: what to do with the head of its queue
 * (`keys.outboxQueue`, id order). An empty queue drops the marker; a stale
 * entry is removed; an item not due is held (`./holds.ts`); a recall goes to
 * `./recall.ts`; a notice recalled further down the queue is cancelled; an
 * item of an unknown app, or whose sender stopped mid-send after the retry
 * window, becomes a dead letter (`./failures.ts`); over the pacing limits it
 * is held; else it is sent (`./send.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { processHead } from "./head.ts";
 * while (await processHead(state, conversation) === "next") {
 *   // the head changed: look again
 * }
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { addCancel, type OutboxReady } from "../../records/outbox.ts";
import { reserveSlot } from "../pacing.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { deadLetter, deadReason, stoppedAfterWindow } from "./failures.ts";
import { hold, holdForPacing } from "./holds.ts";
import { processRecall, recalledLater } from "./recall.ts";
import { type SendableItem, sendItem } from "./send.ts";
import { type DeliveryState, itemFields, type Step } from "./state.ts";

/** Purposes of items a later recall may target. */
const RECALLABLE = new Set<OutboxItem["purpose"]>(["notice", "working"]);

/** Handles the head item of a conversation: "next" to look at the (new) head again. */
export async function processHead(state: DeliveryState, conversation: string): Promise<Step> {
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
