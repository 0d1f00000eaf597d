/**
 * Holding a claimed job: extending its lease (`heartbeat`) and committing only while the runner still owns it.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import type { JobRecord } from "../job.ts";
import { CONFLICT_RETRIES, owns, positive } from "./_util.ts";
import type { CancelRequest, ConversationLock, RunningEntry } from "./values.ts";

/** Outcome of {@linkcode heartbeat}. */
export type HeartbeatResult =
  | { ok: true; until: number }
  | { ok: false; reason: "lost" | "cancelled" };

/**
 * Extends the lease of a job `runnerId` runs to `now + leaseMs`. Returns
 * `{ ok: false, reason: "lost" }` when the job is no longer ours (swept, or
 * claimed again): the caller must abort the run and not complete it; and
 * `reason: "cancelled"` when `/stop` asked for it: the caller aborts the run
 * and completes it as failed.
 *
 * @example Usage
 * ```ts
 * import { claimNext, enqueueJob, heartbeat } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * const job: JobRecord = {
 *   id: "j1", conversation: "ww1:u1", app: "default", corpId: "ww1", agentId: "1", userId: "u1",
 *   message: { type: "text", content: "hi", msgId: "1", corpId: "ww1", userId: "u1",
 *     createTime: 0, agentId: "1" },
 *   receivedAt: now, state: "queued", attempts: 0, updatedAt: now,
 * };
 * await enqueueJob(kv.atomic(), job).commit();
 * const claimed = (await claimNext(kv, "runner-1", now, 60_000))!;
 * const beat = await heartbeat(kv, claimed, "runner-1", now + 20_000, 60_000);
 * console.assert(beat.ok); // on `{ ok: false }`, abort the agent
 * kv.close();
 * ```
 */
export async function heartbeat(
  kv: Deno.Kv,
  job: JobRecord,
  runnerId: string,
  now: number,
  leaseMs: number,
): Promise<HeartbeatResult> {
  positive("leaseMs", leaseMs);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const [jobEntry, lockEntry, cancelEntry] = await kv.getMany<
      [JobRecord, ConversationLock, CancelRequest]
    >([keys.job(job.id), keys.conversationLock(job.conversation), keys.jobCancel(job.id)]);
    const current = jobEntry.value;
    if (!owns(current, runnerId, job.attempts)) return { ok: false, reason: "lost" };
    if (cancelEntry.value) return { ok: false, reason: "cancelled" };
    const until = now + leaseMs;
    const result = await commit(() => {
      const op = kv.atomic().check(jobEntry)
        .set(keys.job(job.id), { ...current, lease: { owner: runnerId, until } })
        .set(
          keys.running(job.id),
          { conversation: job.conversation, until } satisfies RunningEntry,
        );
      if (lockEntry.value?.jobId === job.id) {
        op.check(lockEntry).set(
          keys.conversationLock(job.conversation),
          { ...lockEntry.value, until } satisfies ConversationLock,
        );
      }
      return op;
    });
    if (result.ok) return { ok: true, until };
  }
  return { ok: false, reason: "lost" };
}

/**
 * Commits the mutations `mutate` adds only while `runnerId` still holds the
 * job (same attempt). Returns false, committing nothing, when it does not. Used
 * for the "working on it" notice.
 *
 * @example Usage
 * ```ts
 * import { claimNext, enqueueJob, commitWhileOwned } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * const job: JobRecord = {
 *   id: "j1", conversation: "ww1:u1", app: "default", corpId: "ww1", agentId: "1", userId: "u1",
 *   message: { type: "text", content: "hi", msgId: "1", corpId: "ww1", userId: "u1",
 *     createTime: 0, agentId: "1" },
 *   receivedAt: now, state: "queued", attempts: 0, updatedAt: now,
 * };
 * await enqueueJob(kv.atomic(), job).commit();
 * const claimed = (await claimNext(kv, "runner-1", now, 60_000))!;
 * console.assert(await commitWhileOwned(kv, claimed, "runner-1", (op) => op.set(["note"], 1)));
 * kv.close();
 * ```
 */
export async function commitWhileOwned(
  kv: Deno.Kv,
  job: JobRecord,
  runnerId: string,
  mutate: (op: Deno.AtomicOperation) => void,
): Promise<boolean> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const entry = await kv.get<JobRecord>(keys.job(job.id));
    if (!owns(entry.value, runnerId, job.attempts)) return false;
    const result = await commit(() => {
      const op = kv.atomic().check(entry);
      mutate(op);
      return op;
    });
    if (result.ok) return true;
  }
  return false;
}
