/**
 * Ending a claimed job: done, failed, dead or requeued (`completeJob`), or given back (`releaseJob`).
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { type Commit, directCommit } from "../../store/group_commit.ts";
import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import type { JobRecord, JobState } from "../job.ts";
import { CONFLICT_RETRIES, idOf, owns, withoutLease } from "./_util.ts";
import { isCommandJob } from "./enqueue.ts";
import type { ConversationLock } from "./values.ts";

/**
 * Adds the mutations that end `job` (as stored, read at `jobEntry`'s versionstamp) in `state`.
 * When the job held its conversation (running), the lock is released and a
 * fresh hint lets the next job of the conversation run. `moreQueued: false`
 * (the caller read the conversation queue and found nothing after the job)
 * leaves the hint out, unless the lock is not the job's own or carries
 * `waiting`: the lock read is then checked, so a claimer that drops a hint of
 * the conversation meanwhile makes the commit fail instead of stranding a job.
 */
export function finishMutations(
  op: Deno.AtomicOperation,
  jobEntry: Deno.KvEntry<JobRecord>,
  lockEntry: Deno.KvEntryMaybe<ConversationLock>,
  state: JobState,
  now: number,
  error: string | undefined,
  moreQueued = true,
): void {
  const job = jobEntry.value;
  const finished: JobRecord = { ...withoutLease(job), state, updatedAt: now };
  if (error) finished.error = error;
  else delete finished.error;
  op.check(jobEntry)
    .set(keys.job(job.id), finished)
    .delete(keys.running(job.id))
    .delete(keys.jobsByState(job.state, job.id))
    .set(keys.jobsByState(state, job.id), job.id)
    .delete(keys.jobCancel(job.id));
  if (isCommandJob(job)) {
    op.delete(keys.commandReady(job.id));
    return;
  }
  op.delete(keys.conversationQueue(job.conversation, job.id)).delete(keys.ready(job.id));
  if (job.state === "running") {
    const lock = lockEntry.value;
    const ours = lock?.jobId === job.id;
    if (ours) op.check(lockEntry).delete(keys.conversationLock(job.conversation));
    if (moreQueued || !ours || lock?.waiting) {
      op.set(keys.ready(job.id), job.conversation).set(keys.wake(), job.id);
    }
  }
}

export function requeueMutations(
  op: Deno.AtomicOperation,
  jobEntry: Deno.KvEntry<JobRecord>,
  lockEntry: Deno.KvEntryMaybe<ConversationLock>,
  attempts: number,
  now: number,
): void {
  const job = jobEntry.value;
  op.check(jobEntry)
    .set(keys.job(job.id), { ...withoutLease(job), state: "queued", attempts, updatedAt: now })
    .delete(keys.running(job.id))
    .delete(keys.jobsByState("running", job.id))
    .set(keys.jobsByState("queued", job.id), job.id);
  if (isCommandJob(job)) {
    op.set(keys.commandReady(job.id), job.conversation);
  } else {
    if (lockEntry.value?.jobId === job.id) {
      op.check(lockEntry).delete(keys.conversationLock(job.conversation));
    }
    op.set(keys.ready(job.id), job.conversation);
  }
  op.set(keys.wake(), job.id);
}

/** How {@linkcode completeJob} ends a job. */
export interface CompleteOptions {
  state: "done" | "failed" | "dead";
  /** Why it failed (never message bodies). */
  error?: string;
  /** Epoch ms of the change (default `Date.now()`). */
  now?: number;
  /** Adds mutations (e.g. outbox items) to the same commit. Called again if the commit is retried. */
  extra?: (op: Deno.AtomicOperation) => void;
  /** Commits the end of the job (default: a commit of its own). */
  commit?: Commit;
  /**
   * The versionstamp of the commit that last wrote `job` as given (its claim,
   * from `claimJobs`' `onClaim`), when nothing of this runner wrote the job
   * since (a heartbeat does). The first attempt then commits on what that
   * commit wrote (the job and, for an agent job, its conversation lock)
   * instead of reading them; any change since fails its check, and the next
   * attempt reads them as usual.
   */
  versionstamp?: string;
}

/**
 * Ends a job `runnerId` holds, in one atomic commit that checks the lease is
 * still ours: sets the state, releases the conversation, updates the indexes
 * and runs `extra(op)` so outbox items land in the same commit (no reply
 * without `done`, no `done` without the reply). Returns false, committing
 * nothing, when the job is no longer ours.
 *
 * @example Usage
 * ```ts
 * import { claimNext, enqueueJob, completeJob } from "./mod.ts";
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
 * const ok = await completeJob(kv, claimed, "runner-1", {
 *   state: "done",
 *   extra: (op) => op.set(["example"], "outbox items go here"),
 * });
 * console.assert(ok);
 * kv.close();
 * ```
 */
export async function completeJob(
  kv: Deno.Kv,
  job: JobRecord,
  runnerId: string,
  options: CompleteOptions,
): Promise<boolean> {
  const now = options.now ?? Date.now();
  const run = options.commit ?? directCommit(kv);
  const command = isCommandJob(job);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const known = attempt === 0 && options.versionstamp !== undefined
      ? asClaimed(job, options.versionstamp)
      : undefined;
    const [[jobEntry, lockEntry], queue] = await Promise.all([
      known ?? kv.getMany<[JobRecord, ConversationLock]>([
        keys.job(job.id),
        keys.conversationLock(job.conversation),
      ]),
      // Whether another job waits behind this one: only then is a fresh hint needed.
      command ? [] : Array.fromAsync(
        kv.list<string>({ prefix: keys.conversationQueuePrefix(job.conversation) }, { limit: 2 }),
      ),
    ]);
    if (!owns(jobEntry.value, runnerId, job.attempts)) return false;
    const held = jobEntry as Deno.KvEntry<JobRecord>;
    const moreQueued = queue.some((entry) => idOf(entry.key) !== job.id);
    const result = await run((op) => {
      finishMutations(op, held, lockEntry, options.state, now, options.error, moreQueued);
      options.extra?.(op);
      return op;
    });
    if (result.ok) return true;
  }
  return false;
}

/**
 * The job entry and conversation lock entry as the claim of `job` committed
 * them at `versionstamp` (the lock only for a running agent job).
 */
function asClaimed(
  job: JobRecord,
  versionstamp: string,
): [Deno.KvEntry<JobRecord>, Deno.KvEntryMaybe<ConversationLock>] {
  const lockKey = keys.conversationLock(job.conversation);
  const lock: Deno.KvEntryMaybe<ConversationLock> =
    !isCommandJob(job) && job.state === "running" && job.lease
      ? { key: lockKey, value: { jobId: job.id, until: job.lease.until }, versionstamp }
      : { key: lockKey, value: null, versionstamp: null };
  return [{ key: keys.job(job.id), value: job, versionstamp }, lock];
}

/**
 * Gives a job `runnerId` holds back to the queue at once (shutdown): state
 * `queued`, same id (so it keeps its place), the attempt not counted. Returns
 * false when the job was no longer ours.
 *
 * @example Usage
 * ```ts
 * import { claimNext, enqueueJob, releaseJob } from "./mod.ts";
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
 * console.assert(await releaseJob(kv, claimed, "runner-1", now));
 * kv.close();
 * ```
 */
export async function releaseJob(
  kv: Deno.Kv,
  job: JobRecord,
  runnerId: string,
  now: number,
): Promise<boolean> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const [jobEntry, lockEntry] = await kv.getMany<[JobRecord, ConversationLock]>([
      keys.job(job.id),
      keys.conversationLock(job.conversation),
    ]);
    const current = jobEntry.value;
    if (!owns(current, runnerId, job.attempts)) return false;
    const held = jobEntry as Deno.KvEntry<JobRecord>;
    const attempts = Math.max(0, current.attempts - 1);
    const result = await commit(() => {
      const op = kv.atomic();
      requeueMutations(op, held, lockEntry, attempts, now);
      return op;
    });
    if (result.ok) return true;
  }
  return false;
}
