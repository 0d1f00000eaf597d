/**
 * Planning outbox items and writing them to KV.
 *
 * The job runner turns an agent reply into items with {@linkcode planReply}
 * (or a notice with {@linkcode planNotice}, a recall with
 * {@linkcode planRecall}) and adds them with {@linkcode addOutboxItems} to the
 * same atomic operation that marks its job done, so a reply is never lost
 * between the two. The delivery loop (`./deliverer.ts`) then sends them.
 *
 * @example Usage
 * ```ts
 * import { addOutboxItems, planReply } from "./outbox.ts";
 * const kv = await Deno.openKv(":memory:");
 * const job = { id: "j1", conversation: "ww1:zhangsan", app: "default", userId: "zhangsan" };
 * const items = planReply(job, { text: "hello", attachments: [] }, { markdown: false });
 * await addOutboxItems(kv.atomic(), items).commit();
 * kv.close();
 * ```
 *
 * @module
 */

import type { AgentReply } from "./agent.ts";
import type { JobRecord } from "./job.ts";
import { commit } from "../store/kv.ts";
import { newId } from "../store/id.ts";
import { keys } from "../store/keys.ts";
import type { MediaMessage, OutboxItem } from "./outbox_item.ts";
import { splitMessage, WECOM_MAX_MESSAGE_BYTES } from "../text/split.ts";

/** `lastError` of an item that was cancelled before it was sent (not a dead letter). */
export const CANCELLED = "cancelled";

/** How long sent and cancelled items stay in KV (for recall and status), ms. */
export const FINISHED_RETENTION_MS = 3 * 24 * 3600_000;

/** Who an item goes to. */
export interface OutboxTarget {
  /** `corp_id:user_id`. */
  conversation: string;
  /** App name. */
  app: string;
  userId: string;
  /** The job the item belongs to; empty when none. */
  jobId: string;
}

/** The value at `keys.outboxReady(conversation)`: a lower bound of when its head item is due. */
export interface OutboxReady {
  notBefore: number;
}

/** Options of {@linkcode planReply}. */
export interface PlanReplyOptions {
  /** Send as WeCom markdown (`delivery.markdown`). */
  markdown: boolean;
  /** Clock, epoch ms (default `Date.now()`). */
  now?: number;
}

/**
 * Plans the items of one agent reply: the text split into chunks of at most
 * 2048 UTF-8 bytes, in order, then one media item per attachment (uploaded
 * and sent by delivery when due, or explained there when it cannot be sent).
 * An attachment still holding its bytes (nowhere to store them) becomes a line
 * saying it could not be sent. A reply with neither text nor attachments
 * gives no item.
 *
 * @example Usage
 * ```ts
 * import { planReply } from "./outbox.ts";
 * const job = { id: "j1", conversation: "ww1:zhangsan", app: "default", userId: "zhangsan" };
 * const items = planReply(job, { text: "x".repeat(5000), attachments: [] }, { markdown: false });
 * console.assert(items.length === 3 && items[0].id < items[1].id);
 * ```
 */
export function planReply(
  job: Pick<JobRecord, "id" | "conversation" | "app" | "userId">,
  reply: AgentReply,
  options: PlanReplyOptions,
): OutboxItem[] {
  const now = options.now ?? Date.now();
  const files = reply.attachments.filter((attachment) => attachment.data === undefined);
  const notes = reply.attachments.filter((attachment) => attachment.data !== undefined).map((
    attachment,
  ) => `[Could not send the file "${baseName(attachment.path)}": it was not stored.]`);
  let text = reply.text;
  if (notes.length > 0) {
    text = /\S/.test(text) ? `${text}\n\n${notes.join("\n")}` : notes.join("\n");
  }
  const msgtype = options.markdown ? "markdown" : "text";
  const target = {
    conversation: job.conversation,
    app: job.app,
    userId: job.userId,
    jobId: job.id,
  };
  const items = splitMessage(text, WECOM_MAX_MESSAGE_BYTES, { markdown: options.markdown }).map((
    content,
  ) => newItem(target, "reply", { msgtype, content }, now, 0));
  for (const file of files) {
    const message: MediaMessage = {
      msgtype: "media",
      path: file.path,
      filename: baseName(file.path),
    };
    if (file.kind) message.kind = file.kind;
    items.push(newItem(target, "reply", message, now, 0));
  }
  return items;
}

/** Options of {@linkcode planNotice}. */
export interface PlanNoticeOptions {
  /** Not sent before this time, epoch ms (e.g. the "working on it" notice). */
  notBefore?: number;
  /** Clock, epoch ms (default `Date.now()`). */
  now?: number;
}

/**
 * Plans one plain-text notice (working notice, error notice, refusal). The text
 * must fit one message.
 *
 * @example Usage
 * ```ts
 * import { planNotice } from "./outbox.ts";
 * const target = { conversation: "ww1:zhangsan", app: "default", userId: "zhangsan", jobId: "j1" };
 * const item = planNotice(target, "Working on it…", "working", { notBefore: Date.now() + 60_000 });
 * console.assert(item.message.msgtype === "text");
 * ```
 *
 * @throws {RangeError} When the text is empty or longer than 2048 UTF-8 bytes.
 */
export function planNotice(
  target: OutboxTarget,
  text: string,
  purpose: OutboxItem["purpose"],
  options: PlanNoticeOptions = {},
): OutboxItem {
  const bytes = new TextEncoder().encode(text).length;
  if (!/\S/.test(text) || bytes > WECOM_MAX_MESSAGE_BYTES) {
    throw new RangeError(
      `Cannot plan the ${purpose} notice as its text must be 1 to ${WECOM_MAX_MESSAGE_BYTES} ` +
        `UTF-8 bytes and not blank: current length is ${bytes} bytes. Change the notice text.`,
    );
  }
  const now = options.now ?? Date.now();
  return newItem(target, purpose, { msgtype: "text", content: text }, now, options.notBefore ?? 0);
}

/**
 * Plans the recall of an earlier item (e.g. the "working on it" notice once the
 * reply is there). Delivery recalls the WeCom message if the item was sent and
 * cancels the item if it was not sent yet.
 *
 * @example Usage
 * ```ts
 * import { planNotice, planRecall } from "./outbox.ts";
 * const target = { conversation: "ww1:zhangsan", app: "default", userId: "zhangsan", jobId: "j1" };
 * const notice = planNotice(target, "Working on it…", "working");
 * const recall = planRecall(target, notice.id);
 * console.assert(recall.id > notice.id);
 * ```
 */
export function planRecall(target: OutboxTarget, ofItemId: string, now = Date.now()): OutboxItem {
  return newItem(target, "recall", { msgtype: "recall", ofItem: ofItemId }, now, 0);
}

/**
 * Adds the mutations that store `items` and queue them for delivery to `op`:
 * the item, its queue entry, the conversation's ready marker and a wake-up.
 * Pure mutations (no check), so callers add them to their own atomic commit.
 * Three mutations per item plus one per conversation plus one: an atomic
 * operation holds at most 1000.
 *
 * @example Usage
 * ```ts
 * import { addOutboxItems, planNotice } from "./outbox.ts";
 * const kv = await Deno.openKv(":memory:");
 * const target = { conversation: "ww1:zhangsan", app: "default", userId: "zhangsan", jobId: "" };
 * const result = await addOutboxItems(kv.atomic(), [planNotice(target, "hi", "notice")]).commit();
 * console.assert(result.ok);
 * kv.close();
 * ```
 */
export function addOutboxItems(
  op: Deno.AtomicOperation,
  items: OutboxItem[],
): Deno.AtomicOperation {
  if (items.length === 0) return op;
  const conversations = new Set<string>();
  for (const item of items) {
    op.set(keys.outbox(item.id), item);
    if (item.state === "pending") {
      op.set(keys.outboxQueue(item.conversation, item.id), item.id);
      conversations.add(item.conversation);
    }
  }
  // A lower bound only: the loop reads the head item and writes its real due time.
  const ready: OutboxReady = { notBefore: 0 };
  for (const conversation of conversations) op.set(keys.outboxReady(conversation), ready);
  return op.sum(keys.outboxWake(), 1n);
}

/**
 * What {@linkcode cancelPending} did: `cancelled` (now or before), or why it
 * could not: `sent` (recall it instead), `in_flight` (a send is under way: plan
 * a recall), `dead` (a dead letter), `not_found`.
 */
export type CancelOutcome = "cancelled" | "sent" | "in_flight" | "dead" | "not_found";

/**
 * Cancels an item that was not sent yet: it is marked dead with
 * `lastError: "cancelled"` (not a dead letter), leaves its conversation's
 * queue, and is never sent. A later recall of it does nothing.
 *
 * @example Usage
 * ```ts
 * import { addOutboxItems, cancelPending, planNotice } from "./outbox.ts";
 * const kv = await Deno.openKv(":memory:");
 * const target = { conversation: "ww1:zhangsan", app: "default", userId: "zhangsan", jobId: "j1" };
 * const notice = planNotice(target, "Working on it…", "working", { notBefore: Date.now() + 60_000 });
 * await addOutboxItems(kv.atomic(), [notice]).commit();
 * console.assert(await cancelPending(kv, notice.id) === "cancelled");
 * kv.close();
 * ```
 */
export async function cancelPending(
  kv: Deno.Kv,
  itemId: string,
  now: number = Date.now(),
): Promise<CancelOutcome> {
  for (;;) {
    const entry = await kv.get<OutboxItem>(keys.outbox(itemId));
    const item = entry.value;
    if (item === null) return "not_found";
    if (item.state === "sent") return "sent";
    if (item.state === "dead") return item.lastError === CANCELLED ? "cancelled" : "dead";
    if ((item.inFlightUntil ?? 0) > now) return "in_flight";
    const result = await commit(() => addCancel(kv.atomic().check(entry), item));
    if (result.ok) return "cancelled";
  }
}

/**
 * Adds the mutations that cancel a pending item (see {@linkcode cancelPending});
 * the caller adds the check on the item's versionstamp.
 */
export function addCancel(op: Deno.AtomicOperation, item: OutboxItem): Deno.AtomicOperation {
  const cancelled: OutboxItem = { ...withoutLease(item), state: "dead", lastError: CANCELLED };
  const ready: OutboxReady = { notBefore: 0 };
  return op
    .set(keys.outbox(item.id), cancelled, { expireIn: FINISHED_RETENTION_MS })
    .delete(keys.outboxQueue(item.conversation, item.id))
    // The items behind it may be due now: have the loop look again.
    .set(keys.outboxReady(item.conversation), ready)
    .sum(keys.outboxWake(), 1n);
}

/** A copy of `item` without its in-flight lease. */
export function withoutLease(item: OutboxItem): OutboxItem {
  const copy = { ...item };
  delete copy.inFlightUntil;
  return copy;
}

function newItem(
  target: OutboxTarget,
  purpose: OutboxItem["purpose"],
  message: OutboxItem["message"],
  now: number,
  notBefore: number,
): OutboxItem {
  return {
    id: newId(now),
    conversation: target.conversation,
    app: target.app,
    userId: target.userId,
    jobId: target.jobId,
    purpose,
    message,
    state: "pending",
    attempts: 0,
    notBefore,
    createdAt: now,
  };
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((part) => part !== "");
  return parts.at(-1) ?? path;
}
