/**
 * Holds: a conversation whose head item is not due (a retry's back-off, a
 * send in flight elsewhere) keeps its marker at the due time, and a message
 * over WeCom's per-member pacing limits (`../pacing.ts`: 30/min, 1000/h) is
 * held (`notBefore`) instead of sent, because WeCom would drop it silently.
 *
 * @example Usage
 * ```ts ignore
 * import { hold, holdForPacing } from "./holds.ts";
 * if (item.notBefore > now) return await hold(state, ready, item.notBefore);
 * const slot = await reserveSlot(state.kv, app, item.userId, now, state.limits);
 * if (!slot.ok) return await holdForPacing(state, entry, slot.retryAt);
 * ```
 *
 * @module
 */

import type { OutboxReady } from "../../records/outbox.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { type DeliveryState, itemFields, type Step } from "./state.ts";

/** Keeps the conversation's marker at `until` (the head is not due); "done" unless it moved. */
export async function hold(
  state: DeliveryState,
  ready: Deno.KvEntryMaybe<OutboxReady>,
  until: number,
): Promise<Step> {
  const value: OutboxReady = { notBefore: until };
  const result = await state.commit((op) => op.check(ready).set(ready.key, value));
  return result.ok ? "done" : "next";
}

/** Holds the item of `entry` until `retryAt`, when pacing has a slot for its member again. */
export async function holdForPacing(
  state: DeliveryState,
  entry: Deno.KvEntry<OutboxItem>,
  retryAt: number,
): Promise<Step> {
  const item = entry.value;
  const held: OutboxItem = { ...item, notBefore: retryAt };
  const result = await state.commit((op) => op.check(entry).set(entry.key, held));
  if (result.ok) {
    state.log("info", "message held by pacing (WeCom drops sends over its per-member limits)", {
      ...itemFields(item),
      until: new Date(retryAt).toISOString(),
    });
  }
  return "next";
}
