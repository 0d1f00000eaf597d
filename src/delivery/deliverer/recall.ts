/**
 * Recalls: a recall item recalls its target at WeCom (through the app that
 * sent it) if it was sent, and cancels it if not; a pending notice with a
 * recall behind it in the queue is cancelled at once instead of being sent
 * late ({@linkcode recalledLater}). A recall is tried a few times at most, so
 * it never holds up its conversation for long.
 *
 * @example Usage
 * ```ts ignore
 * import { processRecall } from "./recall.ts";
 * if (item.message.msgtype === "recall") {
 *   return await processRecall(state, entry, item.message.ofItem, ready, now);
 * }
 * ```
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import {
  addCancel,
  FINISHED_RETENTION_MS,
  type OutboxReady,
  withoutLease,
} from "../../records/outbox.ts";
import { decideRetry, describeError } from "../retry_policy.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { finishItem, finishMutation } from "./finish.ts";
import { hold } from "./holds.ts";
import { type DeliveryState, doneItem, itemFields, type Step } from "./state.ts";

/** Attempts of a recall before it is given up (recalls never block a queue for long). */
const RECALL_MAX_ATTEMPTS = 3;

/** Handles the recall item of `entry` (the head of its queue), recalling `ofItem`. */
export async function processRecall(
  state: DeliveryState,
  entry: Deno.KvEntry<OutboxItem>,
  ofItem: string,
  ready: Deno.KvEntryMaybe<OutboxReady>,
  at: number,
): Promise<Step> {
  const { kv, commit, log } = state;
  const item = entry.value;
  if (item.notBefore > at) return await hold(state, ready, item.notBefore);
  const target = await kv.get<OutboxItem>(keys.outbox(ofItem));
  const original = target.value;
  if (original === null || original.state === "dead" || original.state === "pending") {
    if (original?.state === "pending") {
      if ((original.inFlightUntil ?? 0) > at) {
        // Being sent right now by someone: recall it once that send is recorded.
        const held: OutboxItem = { ...item, notBefore: original.inFlightUntil! };
        await commit((op) => op.check(entry).set(entry.key, held));
        return "next";
      }
      const done = doneItem(item, "sent");
      const result = await commit((op) =>
        addCancel(op.check(entry).check(target), original)
          .set(entry.key, done, { expireIn: FINISHED_RETENTION_MS })
          .delete(keys.outboxQueue(item.conversation, item.id))
      );
      if (result.ok) log("info", "notice cancelled before sending", itemFields(original));
      return "next";
    }
    await commit((op) => finishMutation(op.check(entry), doneItem(item, "sent")));
    return "next";
  }
  // Sent: recall it at WeCom, through the app that sent it.
  const app = state.apps.get(original.app);
  if (original.msgId === undefined || app === undefined) {
    const why = app === undefined
      ? `nothing recalled: app '${original.app}' is no longer configured`
      : "nothing recalled: WeCom gave no msgid";
    log("warn", "recall skipped", { ...itemFields(item), reason: why });
    await commit((op) => finishMutation(op.check(entry), doneItem(item, "dead", why)));
    return "next";
  }
  const claimed: OutboxItem = {
    ...item,
    // A lease left behind means a sender stopped mid-send: that send may have landed.
    uncertain: item.uncertain === true || item.inFlightUntil !== undefined,
    attempts: item.attempts + 1,
    inFlightUntil: at + state.leaseMs,
  };
  const claim = await commit((op) => op.check(entry).set(entry.key, claimed));
  if (!claim.ok) return "next";
  try {
    await state.client.recall(app, original.msgId);
  } catch (error) {
    const reason = describeError(error);
    log("warn", "recall failed", {
      ...itemFields(item),
      attempt: claimed.attempts,
      error: reason,
    });
    const history = { attempts: claimed.attempts, firstAttemptAt: at, now: state.now() };
    const retry = claimed.attempts < RECALL_MAX_ATTEMPTS &&
      decideRetry(error, history, state.policy, state.random).action === "retry";
    if (retry) {
      // Try again right away: a recall must not hold up the conversation.
      const again: OutboxItem = { ...withoutLease(claimed), lastError: reason };
      await commit((op) =>
        op.check({ key: entry.key, versionstamp: claim.versionstamp }).set(
          entry.key,
          again,
        )
      );
    } else {
      await finishItem(state, claimed, claim.versionstamp, { state: "dead", lastError: reason });
    }
    return "next";
  }
  await finishItem(state, claimed, claim.versionstamp, { state: "sent" });
  return "next";
}

/** True when a recall of `itemId` waits further down the queue of `conversation`. */
export async function recalledLater(
  state: DeliveryState,
  conversation: string,
  itemId: string,
): Promise<boolean> {
  const ids: string[] = [];
  for await (
    const entry of state.kv.list<string>({ prefix: keys.outboxQueuePrefix(conversation) }, {
      limit: 100,
    })
  ) {
    if (entry.value !== itemId) ids.push(entry.value);
  }
  for (let i = 0; i < ids.length; i += 10) {
    const entries = await state.kv.getMany<OutboxItem[]>(ids.slice(i, i + 10).map(keys.outbox));
    for (const { value } of entries) {
      if (value?.message.msgtype === "recall" && value.message.ofItem === itemId) return true;
    }
  }
  return false;
}
