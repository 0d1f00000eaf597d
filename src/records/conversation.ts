/**
 * Questions about one conversation that span its jobs and its outbox.
 *
 * @example Usage
 * ```ts
 * import { isConversationSettled } from "./conversation.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await isConversationSettled(kv, "ww1:u1"));
 * kv.close();
 * ```
 *
 * @module
 */

import { hasOpenJobs } from "./job_store/mod.ts";
import { hasPendingOutbox } from "./outbox_queries.ts";

/**
 * True when nothing is queued or running for `conversation` and no outbox
 * item for it is pending: every reply it will get has been sent.
 *
 * @example Usage
 * ```ts
 * import { isConversationSettled } from "./conversation.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await isConversationSettled(kv, "ww1:u1"));
 * kv.close();
 * ```
 */
export async function isConversationSettled(kv: Deno.Kv, conversation: string): Promise<boolean> {
  // Jobs first, then the outbox: a job ends in the same commit that queues its
  // reply, so once no job is left, every reply still to come is in the outbox.
  if (await hasOpenJobs(kv, conversation)) return false;
  return !(await hasPendingOutbox(kv, conversation));
}
