/**
 * Cancelling: `/stop` cancels a conversation's queued jobs and asks the runner of its running job to stop.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import type { JobRecord } from "../job.ts";
import { CANCEL_FLAG_TTL_MS, CONFLICT_RETRIES, idOf } from "./_util.ts";
import { finishMutations } from "./complete.ts";
import {
  CANCELLED_ERROR,
  type CancelRequest,
  type ConversationLock,
  FINISHED_STATES,
} from "./values.ts";

/** What {@linkcode cancelConversation} did. */
export interface CancelResult {
  /** Running jobs asked to stop (their runner aborts them) or ended at once when their runner was gone. */
  stopped: JobRecord[];
  /** Queued jobs dropped (now `failed`). */
  dropped: JobRecord[];
}

/**
 * `/stop`: drops the queued agent jobs of `conversation` and asks the runner of
 * its running job to cancel it, by writing `keys.jobCancel(id)` (seen by the
 * owner's heartbeat, or at once by runners woken through `keys.wake()`). A
 * running job whose lease already expired is ended here. Command jobs are not
 * touched.
 *
 * @example Usage
 * ```ts
 * import { cancelConversation } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const { stopped, dropped } = await cancelConversation(kv, "ww1:u1", Date.now());
 * console.assert(stopped.length === 0 && dropped.length === 0);
 * kv.close();
 * ```
 */
export async function cancelConversation(
  kv: Deno.Kv,
  conversation: string,
  now: number,
): Promise<CancelResult> {
  const result: CancelResult = { stopped: [], dropped: [] };
  const entries = await Array.fromAsync(
    kv.list<string>({ prefix: keys.conversationQueuePrefix(conversation) }, { limit: 1000 }),
  );
  for (const queued of entries) {
    const id = idOf(queued.key);
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const [jobEntry, lockEntry] = await kv.getMany<[JobRecord, ConversationLock]>([
        keys.job(id),
        keys.conversationLock(conversation),
      ]);
      const job = jobEntry.value;
      if (!job || FINISHED_STATES.includes(job.state)) {
        await commit(() => kv.atomic().check(jobEntry).delete(queued.key));
        break;
      }
      const held = jobEntry as Deno.KvEntry<JobRecord>;
      if (job.state === "running" && job.lease && job.lease.until >= now) {
        await kv.set(
          keys.jobCancel(id),
          { at: now, expiresAt: now + CANCEL_FLAG_TTL_MS } satisfies CancelRequest,
          { expireIn: CANCEL_FLAG_TTL_MS },
        );
        result.stopped.push(job);
        break;
      }
      const committed = await commit(() => {
        const op = kv.atomic();
        finishMutations(op, held, lockEntry, "failed", now, CANCELLED_ERROR);
        return op;
      });
      if (committed.ok) {
        (job.state === "running" ? result.stopped : result.dropped).push(job);
        break;
      }
    }
  }
  if (result.stopped.length > 0) await kv.set(keys.wake(), `cancel:${conversation}`);
  return result;
}

/**
 * Ids among `ids` that `/stop` asked to cancel (reads `keys.jobCancel`).
 *
 * @example Usage
 * ```ts
 * import { cancelRequested } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await cancelRequested(kv, ["a"])).size === 0);
 * kv.close();
 * ```
 */
export async function cancelRequested(kv: Deno.Kv, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < ids.length; start += 10) {
    const chunk = ids.slice(start, start + 10);
    const entries = await kv.getMany<CancelRequest[]>(chunk.map((id) => keys.jobCancel(id)));
    entries.forEach((entry, index) => {
      if (entry.value) found.add(chunk[index]);
    });
  }
  return found;
}
