/**
 * The job store: job records in Deno KV, claimed with leases through atomic checks.
 *
 * Works with atomic operations alone (no `listenQueue`), so it behaves the same
 * on a local SQLite file, over KV Connect and on Deno Deploy, with any number of
 * processes sharing the store.
 *
 * One file a concept, re-exported here (import from `mod.ts`): `values.ts`
 * (lock, running entry, cancel request, states), `enqueue.ts`, `claim.ts` and
 * `claim_lanes.ts`, `lease.ts` (heartbeat), `complete.ts`, `sweep.ts`,
 * `cancel.ts`, `queries.ts`, `purge.ts`; `_util.ts` is private.
 *
 * Keys (all from `keys` in `../../store/keys.ts`):
 * - `job(id)`: the {@linkcode JobRecord}; the source of truth for state and lease.
 * - `conversationQueue(conversation, id)`: queued and running agent jobs of a
 *   conversation. Its first entry (lowest id) is the conversation's head: only
 *   the head may run, so one job runs at a time per conversation, in id order.
 * - `ready(id)` → conversation: a hint that the conversation may have a runnable
 *   job. Written (without any read) for every new job, and when a job ends
 *   while its conversation may have more work: jobs left in its queue, or a
 *   hint dropped meanwhile (see the lock's `waiting`). The claimer consumes each
 *   hint it visits: it claims the head, or drops the hint when the conversation
 *   is busy (marking the lock `waiting`, so the running job writes a new hint
 *   when it ends) or empty. The hint index therefore stays about as small as the
 *   number of conversations with waiting work, a scan stays bounded, and a job
 *   of a user with nothing else queued leaves no hint behind to clean up.
 *   {@linkcode claimJobs} claims several jobs from one listing of the index,
 *   concurrently (one claim at a time per conversation); each claim is still
 *   its own atomic commit, so concurrent claimers across processes are safe.
 * - `commandReady(id)` → conversation: queued command jobs (`/stop`, `/status`,
 *   …). They are not in the conversation queue and ignore its lock, so they are
 *   answered while an agent job of the same conversation runs.
 * - `conversationLock(conversation)` → `{ jobId, until, waiting? }`: held while
 *   the head runs; mirrors the lease so a claim can `check()` it. `waiting` is
 *   set by a claimer that dropped a hint of the busy conversation; the end of
 *   the job checks the lock, so it either sees the mark or fails and reads
 *   again: a dropped hint is never lost.
 * - `running(id)` → `{ conversation, until }`: what the sweeper scans.
 * - `jobsByState(state, id)` → id: listings and counts.
 * - `jobCancel(id)` → `{ at, expiresAt }`: `/stop` asking the owner to cancel.
 * - `wake()`: set by every job end, `/stop` and job recorded outside intake;
 *   every runner watches it. `intakeWake()`: set by every job intake records;
 *   runners in other processes than the callback server's watch it.
 *
 * @example Usage
 * ```ts
 * import { claimNext, completeJob, enqueueJob } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * const job: JobRecord = {
 *   id: "0001", conversation: "ww1:u1", app: "default", corpId: "ww1", agentId: "1",
 *   userId: "u1", receivedAt: now, state: "queued", attempts: 0, updatedAt: now,
 *   message: { type: "text", content: "hi", msgId: "1", corpId: "ww1", userId: "u1",
 *     createTime: 0, agentId: "1" },
 * };
 * await enqueueJob(kv.atomic(), job).commit();
 * const claimed = await claimNext(kv, "runner-1", now, 60_000);
 * console.assert(claimed?.state === "running");
 * console.assert(await completeJob(kv, claimed!, "runner-1", { state: "done", now }));
 * kv.close();
 * ```
 *
 * @module
 */

export {
  CANCELLED_ERROR,
  type CancelRequest,
  type ConversationLock,
  FINISHED_STATES,
  JOB_STATES,
  type RunningEntry,
} from "./values.ts";
export { enqueueJob, type EnqueueOptions, isCommandJob } from "./enqueue.ts";
export { claimJobs, type ClaimJobsOptions, claimNext, type ClaimOptions } from "./claim.ts";
export type { Admission } from "./claim_lanes.ts";
export { commitWhileOwned, heartbeat, type HeartbeatResult } from "./lease.ts";
export { completeJob, type CompleteOptions, releaseJob } from "./complete.ts";
export { sweepExpired, type SweepOptions, type SweepResult } from "./sweep.ts";
export { cancelConversation, cancelRequested, type CancelResult } from "./cancel.ts";
export {
  conversationJobs,
  countJobs,
  getJob,
  hasOpenJobs,
  listJobs,
  type ListJobsOptions,
} from "./queries.ts";
export { purgeJobs, type PurgeOptions } from "./purge.ts";
