/**
 * Recording the end of a claimed item: sent (with WeCom's msgid) or given up
 * (a recall that failed). The record checks the claim's versionstamp and is
 * retried on a lost check unless another sender already recorded a send, so a
 * send is recorded exactly once. The end of a conversation's last item may drop
 * its marker in the same commit.
 *
 * @example Usage
 * ```ts ignore
 * import { finishItem } from "./finish.ts";
 * const dropped = await finishItem(state, claimed, versionstamp, { state: "sent", msgId }, ready);
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { FINISHED_RETENTION_MS, type OutboxReady, withoutLease } from "../../records/outbox.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { type DeliveryState, itemFields } from "./state.ts";

/** How a claimed item ended. */
export type ItemOutcome = { state: "sent"; msgId?: string } | { state: "dead"; lastError: string };

/**
 * Records the end of a claimed item: sent (with msgid) or given up (a recall).
 * Retries on a lost check unless another sender already recorded a send.
 * Returns true when the conversation's marker `ready` was dropped with it.
 */
export async function finishItem(
  state: DeliveryState,
  claimed: OutboxItem,
  versionstamp: string,
  outcome: ItemOutcome,
  ready?: Deno.KvEntryMaybe<OutboxReady>,
): Promise<boolean> {
  const key = keys.outbox(claimed.id);
  let current: { value: OutboxItem; versionstamp: string } = { value: claimed, versionstamp };
  // `ready`: the conversation's marker, read before its queue showed this item
  // alone; dropped in the same commit unless it changed (an item was added).
  let marker = ready;
  for (;;) {
    const done: OutboxItem = { ...withoutLease(current.value), ...outcome };
    if (outcome.state === "sent" && outcome.msgId !== undefined) delete done.lastError;
    if (outcome.state === "sent") delete done.deadReason;
    const dropping = marker;
    const result = await state.commit((op) => {
      finishMutation(op.check({ key, versionstamp: current.versionstamp }), done);
      return dropping ? op.check(dropping).delete(dropping.key) : op;
    });
    if (result.ok) return dropping !== undefined;
    marker = undefined;
    const fresh = await state.kv.get<OutboxItem>(key);
    if (fresh.value === null || fresh.value.state === "sent") return false;
    if (fresh.value.state === "dead" && outcome.state === "sent") {
      state.log(
        "warn",
        "an item cancelled or dead-lettered meanwhile was sent; recording the send",
        {
          ...itemFields(claimed),
        },
      );
    }
    current = { value: fresh.value, versionstamp: fresh.versionstamp! };
  }
}

/** Adds to `op` the store of a finished item: kept a while, out of its queue and the dead letters. */
export function finishMutation(op: Deno.AtomicOperation, done: OutboxItem): Deno.AtomicOperation {
  return op
    .set(keys.outbox(done.id), done, { expireIn: FINISHED_RETENTION_MS })
    .delete(keys.outboxQueue(done.conversation, done.id))
    .delete(keys.deadLetter(done.id));
}
