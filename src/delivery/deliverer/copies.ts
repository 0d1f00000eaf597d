/**
 * Counting identical copies (`../duplicate_check.ts`): a text identical to one
 * sent to the member within WeCom's duplicate-check interval gets the next
 * variant (an invisible suffix), fixed at its first attempt and stored with the
 * per-member counter in the claim's commit, so that WeCom does not drop it and
 * a resend is the very same request.
 *
 * @example Usage
 * ```ts ignore
 * import { addCount, countCopy } from "./copies.ts";
 * const counted = await countCopy(state, app, item, item.message, now);
 * if (counted !== null) claimed.variant = counted.variant;
 * await state.commit((op) => addCount(state, op.check(entry).set(entry.key, claimed), counted));
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../config/types.ts";
import { type DuplicateRecord, duplicateRecordKey, nextVariant } from "../duplicate_check.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import type { DeliveryState } from "./state.ts";

/** A variant and the per-member counter of identical texts to store with it. */
export interface Counted {
  variant: number;
  entry: Deno.KvEntryMaybe<DuplicateRecord>;
  record: DuplicateRecord;
}

/**
 * The variant of `item` sent as `message` (its own, or the next free one for a
 * text identical to earlier ones to the member), with the counter to store in
 * the same commit; null for a message that cannot be a copy of another
 * (media: a fresh upload each).
 */
export async function countCopy(
  state: DeliveryState,
  app: AppConfig,
  item: OutboxItem,
  message: OutboxItem["message"],
  at: number,
): Promise<Counted | null> {
  const key = await duplicateRecordKey(app, { userId: item.userId, message });
  if (key === null) return null;
  const seen = await state.kv.get<DuplicateRecord>(key);
  const next = nextVariant(seen.value, item.variant, at, state.variantHoldMs);
  return { variant: next.variant, entry: seen, record: next.record };
}

/** Adds the store of a counter from {@linkcode countCopy} (with its check) to `op`. */
export function addCount(
  state: DeliveryState,
  op: Deno.AtomicOperation,
  counted: Counted | null,
): Deno.AtomicOperation {
  if (counted === null) return op;
  return op.check(counted.entry).set(counted.entry.key, counted.record, {
    expireIn: state.variantHoldMs,
  });
}
