/**
 * Dead letters and outbox listings, for the operator (CLI and status).
 *
 * A dead letter is an outbox item that could not be delivered (a permanent
 * WeCom error, a retry window that ran out, an app no longer configured). It
 * keeps its `lastError` and why it was given up (`deadReason`: cause, errcode
 * and its meaning, attempts, first and last attempt) and stays until it is
 * retried or purged.
 *
 * @example Usage
 * ```ts
 * import { listDeadLetters, retryDeadLetter } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * for (const item of await listDeadLetters(kv, { limit: 10 })) {
 *   await retryDeadLetter(kv, item.id);
 * }
 * kv.close();
 * ```
 *
 * @module
 */

import { commit } from "../store/kv.ts";
import { newId } from "../store/id.ts";
import { keys } from "../store/keys.ts";
import { addOutboxItems, withoutLease } from "./outbox.ts";
import type { OutboxItem, OutboxState } from "./outbox_item.ts";

/** Options of {@linkcode listDeadLetters}. */
export interface ListDeadLettersOptions {
  /** At most this many, oldest first (default 100). */
  limit?: number;
}

/**
 * Lists dead letters, oldest first.
 *
 * @example Usage
 * ```ts
 * import { listDeadLetters } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await listDeadLetters(kv)).length === 0);
 * kv.close();
 * ```
 */
export async function listDeadLetters(
  kv: Deno.Kv,
  options: ListDeadLettersOptions = {},
): Promise<OutboxItem[]> {
  const ids: string[] = [];
  for await (
    const entry of kv.list<string>({ prefix: keys.deadLetterPrefix() }, {
      limit: options.limit ?? 100,
    })
  ) {
    ids.push(entry.value);
  }
  return await getItems(kv, ids);
}

/**
 * Sends a dead letter again: it becomes a new pending item (new id, attempts
 * reset) at the end of its conversation's queue, and the delivery loop is
 * woken. The old item and its dead-letter entry are removed.
 *
 * @example Usage
 * ```ts ignore
 * import { retryDeadLetter } from "./outbox_queries.ts";
 * const item = await retryDeadLetter(kv, "0190…");
 * console.log(`queued again as ${item.id}`);
 * ```
 *
 * @returns The new pending item.
 * @throws {Error} When `id` is not a dead letter.
 */
export async function retryDeadLetter(
  kv: Deno.Kv,
  id: string,
  now: number = Date.now(),
): Promise<OutboxItem> {
  for (;;) {
    const [marker, entry] = await kv.getMany<[string, OutboxItem]>([
      keys.deadLetter(id),
      keys.outbox(id),
    ]);
    const item = entry.value;
    if (marker.versionstamp === null || item === null || item.state !== "dead") {
      throw new Error(
        `Cannot retry dead letter '${id}' as there is no dead letter with that id: ` +
          "list the dead letters to see their ids.",
      );
    }
    const fresh: OutboxItem = {
      ...withoutLease(item),
      id: newId(now),
      state: "pending",
      attempts: 0,
      notBefore: 0,
      createdAt: now,
    };
    delete fresh.lastError;
    delete fresh.msgId;
    delete fresh.deadReason;
    // A new retry window; the variant stays, so that a copy that may have landed
    // before (a timeout) still counts as this one at WeCom's duplicate check.
    delete fresh.firstAttemptAt;
    delete fresh.lastAttemptAt;
    const result = await commit(() =>
      addOutboxItems(
        kv.atomic()
          .check(marker)
          .check(entry)
          .delete(marker.key)
          .delete(entry.key)
          .delete(keys.outboxQueue(item.conversation, item.id)),
        [fresh],
      )
    );
    if (result.ok) return fresh;
  }
}

/** Options of {@linkcode purgeDeadLetters}. */
export interface PurgeDeadLettersOptions {
  /** Only dead letters created before this time, epoch ms (default: all). */
  olderThan?: number;
}

/**
 * Deletes dead letters (and their items).
 *
 * @example Usage
 * ```ts
 * import { purgeDeadLetters } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * const purged = await purgeDeadLetters(kv, { olderThan: Date.now() - 7 * 86_400_000 });
 * console.assert(purged === 0);
 * kv.close();
 * ```
 *
 * @returns How many were deleted.
 */
export async function purgeDeadLetters(
  kv: Deno.Kv,
  options: PurgeDeadLettersOptions = {},
): Promise<number> {
  const ids: string[] = [];
  for await (const entry of kv.list<string>({ prefix: keys.deadLetterPrefix() })) {
    ids.push(entry.value);
  }
  let purged = 0;
  for (let i = 0; i < ids.length; i += 10) {
    const batch = ids.slice(i, i + 10);
    const entries = await kv.getMany<OutboxItem[]>(batch.map((id) => keys.outbox(id)));
    const stale: string[] = [];
    const doomed: Deno.KvEntryMaybe<OutboxItem>[] = [];
    entries.forEach((entry, index) => {
      const item = entry.value;
      if (options.olderThan !== undefined && item !== null && item.createdAt >= options.olderThan) {
        return;
      }
      // Only a dead item goes; a marker whose item is not dead any more is stale.
      if (item !== null && item.state !== "dead") stale.push(batch[index]);
      else doomed.push(entry);
    });
    const result = await commit(() => {
      const op = kv.atomic();
      for (const id of stale) op.delete(keys.deadLetter(id));
      for (const entry of doomed) {
        const id = entry.key[entry.key.length - 1] as string;
        op.check(entry).delete(keys.deadLetter(id)).delete(entry.key);
      }
      return op;
    });
    const count = doomed.length;
    if (result.ok) purged += count;
  }
  return purged;
}

/** Options of {@linkcode listOutbox}. */
export interface ListOutboxOptions {
  /** Only items in this state. */
  state?: OutboxState;
  /** At most this many (default 100). */
  limit?: number;
  /** Newest first (default oldest first). */
  reverse?: boolean;
}

/**
 * Lists outbox items (pending, recently sent, dead) for status output.
 *
 * @example Usage
 * ```ts
 * import { listOutbox } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * const pending = await listOutbox(kv, { state: "pending" });
 * console.assert(pending.length === 0);
 * kv.close();
 * ```
 */
export async function listOutbox(
  kv: Deno.Kv,
  options: ListOutboxOptions = {},
): Promise<OutboxItem[]> {
  const limit = options.limit ?? 100;
  const items: OutboxItem[] = [];
  for await (
    const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() }, {
      reverse: options.reverse ?? false,
    })
  ) {
    if (options.state !== undefined && entry.value.state !== options.state) continue;
    items.push(entry.value);
    if (items.length >= limit) break;
  }
  return items;
}

async function getItems(kv: Deno.Kv, ids: string[]): Promise<OutboxItem[]> {
  const items: OutboxItem[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const entries = await kv.getMany<OutboxItem[]>(
      ids.slice(i, i + 10).map((id) => keys.outbox(id)),
    );
    for (const entry of entries) if (entry.value !== null) items.push(entry.value);
  }
  return items;
}

/**
 * Counts outbox items by state.
 *
 * @example Usage
 * ```ts
 * import { countOutbox } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await countOutbox(kv)).pending === 0);
 * kv.close();
 * ```
 */
export async function countOutbox(kv: Deno.Kv): Promise<Record<OutboxState, number>> {
  const counts: Record<OutboxState, number> = { pending: 0, sent: 0, dead: 0 };
  for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() })) {
    counts[entry.value.state] = (counts[entry.value.state] ?? 0) + 1;
  }
  return counts;
}

/**
 * Counts dead letters, reading at most `limit` index entries (a metrics scrape
 * stays bounded however many there are).
 *
 * @example Usage
 * ```ts
 * import { countDeadLetters } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await countDeadLetters(kv) === 0);
 * kv.close();
 * ```
 */
export async function countDeadLetters(kv: Deno.Kv, limit?: number): Promise<number> {
  let count = 0;
  for await (const _ of kv.list({ prefix: keys.deadLetterPrefix() }, { limit })) count++;
  return count;
}

/**
 * Reads one outbox item, or null when there is none with this id.
 *
 * @example Usage
 * ```ts
 * import { getOutboxItem } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await getOutboxItem(kv, "nope") === null);
 * kv.close();
 * ```
 */
export async function getOutboxItem(kv: Deno.Kv, id: string): Promise<OutboxItem | null> {
  return (await kv.get<OutboxItem>(keys.outbox(id))).value;
}

/**
 * Every outbox item whose id was made at `since` (epoch ms) or later, in id
 * order (item ids start with their creation time, see `newId`).
 *
 * @example Usage
 * ```ts
 * import { outboxItemsSince } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * for await (const item of outboxItemsSince(kv, Date.now() - 60_000)) console.log(item.id);
 * kv.close();
 * ```
 */
export async function* outboxItemsSince(kv: Deno.Kv, since: number): AsyncGenerator<OutboxItem> {
  const start = keys.outbox(Math.max(0, since).toString(16).padStart(12, "0"));
  for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix(), start })) {
    yield entry.value;
  }
}

/**
 * True when the conversation has an outbox item still to deliver.
 *
 * @example Usage
 * ```ts
 * import { hasPendingOutbox } from "./outbox_queries.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(!(await hasPendingOutbox(kv, "ww1:u1")));
 * kv.close();
 * ```
 */
export async function hasPendingOutbox(kv: Deno.Kv, conversation: string): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.outboxQueuePrefix(conversation) }, { limit: 1 })) {
    return true;
  }
  return false;
}
