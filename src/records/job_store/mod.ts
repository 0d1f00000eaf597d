/**
 * The job store: job records in Deno KV, claimed with leases through atomic checks.
 *
 * Works with atomic operations alone (no `listenQueue`), so it behaves the same
 * on a local SQLite file, over KV Connect and on Deno Deploy, with any number of
 * processes sharing the store.
 *
 * Keys (all from `keys` in `../store/keys.ts`):
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
 * - `wake()`: set by every new job and every job end; runners watch it.
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

import { keys } from "../../store/keys.ts";
import { commit } from "../../store/kv.ts";
import { parseCommand } from "../command.ts";
import type { JobRecord, JobState } from "../job.ts";

/** Value of `keys.conversationLock(conversation)`. */
export interface ConversationLock {
  jobId: string;
  /** Mirrors the lease of the job: after this epoch ms the lock is stale. */
  until: number;
  /**
   * A claimer dropped a hint of this conversation while the lock was held: the
   * end of the job must write a fresh hint even if it saw no other queued job.
   */
  waiting?: boolean;
}

/** Value of `keys.running(id)`. */
export interface RunningEntry {
  conversation: string;
  /** Mirrors the lease of the job. */
  until: number;
}

/** Value of `keys.jobCancel(id)`. */
export interface CancelRequest {
  at: number;
  expiresAt: number;
}

/**
 * Commits the atomic operation `build` fills in: by default `commit` of
 * `../store/kv.ts` over `kv.atomic()`; a runner passes a group commit
 * (`createGroupCommit` of `../intake/group_commit.ts`) so that the claims and
 * completions of concurrent jobs share one durable KV commit. Each operation
 * keeps its own checks, and gets the result it would get alone.
 */
export type Committer = (
  build: (op: Deno.AtomicOperation) => Deno.AtomicOperation,
) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;

/** The default {@linkcode Committer}: one commit of its own, lock errors retried. */
function direct(kv: Deno.Kv): Committer {
  return (build) => commit(() => build(kv.atomic()));
}

/** Every job state, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = ["queued", "running", "done", "failed", "dead"];

/** States a job never leaves. */
export const FINISHED_STATES: readonly JobState[] = ["done", "failed", "dead"];

/** The error recorded on jobs cancelled by `/stop`. */
export const CANCELLED_ERROR = "cancelled by /stop";

const CONFLICT_RETRIES = 5;
const CANCEL_FLAG_TTL_MS = 24 * 60 * 60 * 1000;

function idOf(key: Deno.KvKey): string {
  return String(key[key.length - 1]);
}

/** True when the job carries a command (`/stop`, …) rather than a request for the agent. */
export function isCommandJob(job: Pick<JobRecord, "message">): boolean {
  return parseCommand(job.message) !== null;
}

function owns(record: JobRecord | null, runnerId: string, attempts: number): record is JobRecord {
  return record !== null && record.state === "running" && record.lease?.owner === runnerId &&
    record.attempts === attempts;
}

function withoutLease(job: JobRecord): JobRecord {
  const { lease: _lease, ...rest } = job;
  return rest;
}

async function first<T>(iterator: Deno.KvListIterator<T>): Promise<Deno.KvEntry<T> | null> {
  for await (const entry of iterator) return entry;
  return null;
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Cannot use the job store as '${name}' must be a positive number: current value is ${value}`,
    );
  }
}

/**
 * Adds the mutations that record a new job to `op`, without any read: the job
 * record (state `queued`), its place in the conversation queue (or the command
 * index), its hint, its state index entry and the wake-up key. Intake calls it
 * inside its own atomic commit, next to the dedupe key.
 *
 * @example Usage
 * ```ts
 * import { enqueueJob } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * const job: JobRecord = {
 *   id: "j1", conversation: "ww1:u1", app: "default", corpId: "ww1", agentId: "1", userId: "u1",
 *   message: { type: "text", content: "hi", msgId: "1", corpId: "ww1", userId: "u1",
 *     createTime: 0, agentId: "1" },
 *   receivedAt: now, state: "queued", attempts: 0, updatedAt: now,
 * };
 * const dedupe = ["dedupe", "ww1", "1", "m1"];
 * const op = kv.atomic().check({ key: dedupe, versionstamp: null }).set(dedupe, { at: now });
 * console.assert((await enqueueJob(op, job).commit()).ok);
 * kv.close();
 * ```
 */
export function enqueueJob(op: Deno.AtomicOperation, job: JobRecord): Deno.AtomicOperation {
  const record: JobRecord = { ...withoutLease(job), state: "queued" };
  op.set(keys.job(job.id), record).set(keys.jobsByState("queued", job.id), job.id);
  if (isCommandJob(job)) {
    op.set(keys.commandReady(job.id), job.conversation);
  } else {
    op.set(keys.conversationQueue(job.conversation, job.id), job.id)
      .set(keys.ready(job.id), job.conversation);
  }
  return op.set(keys.wake(), job.id);
}

/** Which kinds of job {@linkcode claimNext} may claim. */
export interface ClaimOptions {
  /** Claim command jobs (default true). They are always tried first. */
  commands?: boolean;
  /** Claim agent jobs (default true). */
  jobs?: boolean;
  /** Hints visited per page (default 50; the first page is shorter); at most 20 pages per call. */
  scanLimit?: number;
}

/** How many jobs of each kind {@linkcode claimJobs} may claim. */
export interface ClaimJobsOptions {
  /** Most agent jobs to claim (default 1; 0 claims none), e.g. the free agent slots. */
  jobs?: number;
  /** Most command jobs to claim (default 1; 0 claims none). */
  commands?: number;
  /**
   * Hints listed per page (default 50, and never fewer than the jobs asked
   * for; the first page lists only about twice the jobs asked for); at most 20
   * pages are visited per call.
   */
  scanLimit?: number;
  /**
   * Called with each job as soon as its claim commits, before the call resolves,
   * so the caller can start it without waiting for the other claims.
   */
  onClaim?: (job: JobRecord) => void;
  /** Commits each claim (default: a commit of its own). */
  commit?: Committer;
  /**
   * Conversations being claimed right now by other calls of the same caller:
   * they are skipped, and this call adds the ones it tries while it tries
   * them. Lets a caller run several calls at once without two of them racing
   * for the same job (a race would be safe, only wasted work).
   */
  claiming?: Set<string>;
  /**
   * Bounds the agent jobs the caller holds: `acquire()` is awaited right before
   * each agent-job claim commits (false gives the claim up) and `release()` is
   * called when that claim did not commit. A runner uses it to read candidates
   * for a slot whose job is still ending, and to commit the claim only once that
   * job has ended, so it never holds more jobs than its slots.
   */
  admit?: Admission;
}

/** See {@linkcode ClaimJobsOptions.admit}. */
export interface Admission {
  acquire(): Promise<boolean>;
  release(): void;
}

/** Most pages of hints one call visits, so a call stays bounded. */
const MAX_PAGES = 20;

/**
 * Claims the oldest runnable job for `runnerId`, or returns `null` when none is
 * runnable. An agent job is runnable when it is the head of its conversation
 * queue and the conversation has no live lock; a command job is always
 * runnable. The claim is one atomic commit that checks the job's versionstamp
 * and the lock (absent, or exactly the expired one read), so exactly one runner
 * across all processes wins. The returned record has state `running`,
 * `attempts + 1` and a lease until `now + leaseMs`. To fill several free slots
 * at once, use {@linkcode claimJobs}.
 *
 * @example Usage
 * ```ts
 * import { claimNext } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await claimNext(kv, "runner-1", Date.now(), 60_000) === null);
 * kv.close();
 * ```
 */
export async function claimNext(
  kv: Deno.Kv,
  runnerId: string,
  now: number,
  leaseMs: number,
  options: ClaimOptions = {},
): Promise<JobRecord | null> {
  positive("leaseMs", leaseMs);
  const limit = options.scanLimit ?? 50;
  const claimer: Claimer = {
    kv,
    run: direct(kv),
    runnerId,
    now,
    leaseMs,
    onClaim: () => {},
    claiming: new Set(),
  };
  if (options.commands ?? true) {
    const [command] = await claimCommands(claimer, 1, limit);
    if (command) return command;
  }
  if (!(options.jobs ?? true)) return null;
  const [job] = await claimAgentJobs(claimer, 1, limit);
  return job ?? null;
}

/**
 * Claims up to `options.jobs` agent jobs and up to `options.commands` command
 * jobs for `runnerId` from one pass over the hint indexes, oldest first. The
 * agent-job claims run concurrently, one at a time per conversation; command
 * jobs are claimed one after another in id order. Each claim is the same
 * atomic commit as {@linkcode claimNext}'s (job versionstamp and lock checked),
 * so concurrent calls, in this process or others, never claim a job twice: a
 * claim that loses a race moves on to the next candidate. Returns the claimed
 * records (commands first); fewer than asked means no more were runnable when
 * the index was read.
 *
 * @example Usage
 * ```ts
 * import { claimJobs, enqueueJob } from "./mod.ts";
 * import type { JobRecord } from "../job.ts";
 * const kv = await Deno.openKv(":memory:");
 * const now = Date.now();
 * for (const user of ["u1", "u2", "u3"]) {
 *   const job: JobRecord = {
 *     id: `j-${user}`, conversation: `ww1:${user}`, app: "default", corpId: "ww1",
 *     agentId: "1", userId: user, receivedAt: now, state: "queued", attempts: 0,
 *     updatedAt: now,
 *     message: { type: "text", content: "hi", msgId: user, corpId: "ww1", userId: user,
 *       createTime: 0, agentId: "1" },
 *   };
 *   await enqueueJob(kv.atomic(), job).commit();
 * }
 * const claimed = await claimJobs(kv, "runner-1", now, 60_000, { jobs: 2 });
 * console.assert(claimed.length === 2);
 * kv.close();
 * ```
 *
 * @throws {RangeError} When `leaseMs` is not positive, or `jobs` or `commands`
 * is not a non-negative integer.
 */
export async function claimJobs(
  kv: Deno.Kv,
  runnerId: string,
  now: number,
  leaseMs: number,
  options: ClaimJobsOptions = {},
): Promise<JobRecord[]> {
  positive("leaseMs", leaseMs);
  const jobs = count("jobs", options.jobs ?? 1);
  const commands = count("commands", options.commands ?? 1);
  const limit = Math.max(options.scanLimit ?? 50, jobs, commands, 1);
  const claimer: Claimer = {
    kv,
    run: options.commit ?? direct(kv),
    runnerId,
    now,
    leaseMs,
    onClaim: options.onClaim ?? (() => {}),
    claiming: options.claiming ?? new Set(),
    admit: options.admit,
  };
  const [claimedCommands, claimedJobs] = await Promise.all([
    commands > 0 ? claimCommands(claimer, commands, limit) : [],
    jobs > 0 ? claimAgentJobs(claimer, jobs, limit) : [],
  ]);
  return [...claimedCommands, ...claimedJobs];
}

function count(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot claim jobs as '${name}' must be a non-negative integer: current value is ${value}`,
    );
  }
  return value;
}

/** What one claim call works with. */
interface Claimer {
  kv: Deno.Kv;
  run: Committer;
  runnerId: string;
  now: number;
  leaseMs: number;
  onClaim: (job: JobRecord) => void;
  /** Conversations being claimed (by this call or the caller's others). */
  claiming: Set<string>;
  admit?: Admission;
}

/** Command jobs, one after another in id order: a user who sends `/status` then `/help` reads the answers in that order. */
async function claimCommands(c: Claimer, max: number, limit: number): Promise<JobRecord[]> {
  const claimed: JobRecord[] = [];
  const hints = c.kv.list<string>({ prefix: keys.commandReadyPrefix() }, {
    limit: Math.min(limit, 2 * max + 2),
  });
  for await (const hint of hints) {
    const job = await claimCommand(c, hint);
    if (job) {
      claimed.push(job);
      c.onClaim(job);
      if (claimed.length >= max) break;
    }
  }
  return claimed;
}

/** Agent jobs: pages of hints, each page's conversations claimed concurrently. */
async function claimAgentJobs(c: Claimer, max: number, limit: number): Promise<JobRecord[]> {
  const claimed: JobRecord[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && claimed.length < max; page++) {
    // The first page is short (most calls find their jobs among the first hints,
    // and each hint listed is a row read); the next ones go on from the last:
    // the hints visited were consumed or are left for a later call.
    const pageLimit = page === 0 ? Math.min(limit, 2 * max + 2) : limit;
    const iterator = c.kv.list<string>({ prefix: keys.readyPrefix() }, {
      limit: pageLimit,
      cursor,
    });
    const byConversation = new Map<string, Deno.KvEntry<string>[]>();
    let listed = 0;
    for await (const hint of iterator) {
      listed++;
      const hints = byConversation.get(hint.value);
      if (hints) hints.push(hint);
      else byConversation.set(hint.value, [hint]);
    }
    if (listed === 0) break;
    cursor = iterator.cursor;
    await claimConversations(c, [...byConversation], max, claimed);
    if (listed < pageLimit) break;
  }
  return claimed;
}

/**
 * Tries the hints of each conversation of `groups` (in order), with at most
 * `max - claimed.length` conversations in flight, until `max` jobs are
 * claimed. The hints of one conversation are tried one after another, and a
 * conversation yields at most one job (the rest of its hints stay for a later
 * scan). A conversation in `c.claiming` is skipped; the ones tried here are in
 * it while they are tried.
 */
async function claimConversations(
  c: Claimer,
  groups: [string, Deno.KvEntry<string>[]][],
  max: number,
  claimed: JobRecord[],
): Promise<void> {
  let next = 0;
  let inFlight = 0;
  const worker = async () => {
    while (next < groups.length && claimed.length + inFlight < max) {
      const [conversation, hints] = groups[next++];
      if (c.claiming.has(conversation)) continue;
      c.claiming.add(conversation);
      inFlight++;
      try {
        for (const hint of hints) {
          const job = await claimFromHint(c, hint);
          if (job) {
            claimed.push(job);
            c.onClaim(job);
            break;
          }
        }
      } finally {
        inFlight--;
        c.claiming.delete(conversation);
      }
    }
  };
  const workers = Math.min(max - claimed.length, groups.length);
  await Promise.all(Array.from({ length: workers }, worker));
}

function claimedRecord(c: Claimer, job: JobRecord): JobRecord {
  return {
    ...job,
    state: "running",
    attempts: job.attempts + 1,
    lease: { owner: c.runnerId, until: c.now + c.leaseMs },
    updatedAt: c.now,
  };
}

function claimMutations(op: Deno.AtomicOperation, claimed: JobRecord): Deno.AtomicOperation {
  const until = claimed.lease!.until;
  return op.set(keys.job(claimed.id), claimed)
    .set(
      keys.running(claimed.id),
      { conversation: claimed.conversation, until } satisfies RunningEntry,
    )
    .delete(keys.jobsByState("queued", claimed.id))
    .set(keys.jobsByState("running", claimed.id), claimed.id);
}

async function claimCommand(c: Claimer, hint: Deno.KvEntry<string>): Promise<JobRecord | null> {
  const id = idOf(hint.key);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const entry = await c.kv.get<JobRecord>(keys.job(id));
    const job = entry.value;
    if (!job || job.state !== "queued") {
      await c.run((op) => op.check(entry).delete(hint.key));
      return null;
    }
    const claimed = claimedRecord(c, job);
    const result = await c.run((op) => claimMutations(op.check(entry).delete(hint.key), claimed));
    if (result.ok) return claimed;
  }
  return null;
}

async function claimFromHint(c: Claimer, hint: Deno.KvEntry<string>): Promise<JobRecord | null> {
  const { kv, now } = c;
  const conversation = hint.value;
  const hinted = idOf(hint.key);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    // The hint of a new job names that job, usually the head: read it and the
    // lock while listing the head, and read again only when the head is another.
    const [head, hintedEntries] = await Promise.all([
      first(kv.list<string>({ prefix: keys.conversationQueuePrefix(conversation) }, { limit: 1 })),
      kv.getMany<[JobRecord, ConversationLock]>([
        keys.job(hinted),
        keys.conversationLock(conversation),
      ]),
    ]);
    if (!head) {
      // Nothing waits: a later job writes its own hint.
      await c.run((op) => op.check(hint).delete(hint.key));
      return null;
    }
    const headId = idOf(head.key);
    const [jobEntry, lockEntry] = headId === hinted
      ? hintedEntries
      : await kv.getMany<[JobRecord, ConversationLock]>([
        keys.job(headId),
        keys.conversationLock(conversation),
      ]);
    const job = jobEntry.value;
    if (!job || FINISHED_STATES.includes(job.state)) {
      // A stale queue entry (should not happen): remove it and look again.
      await c.run((op) => op.check(jobEntry).delete(head.key));
      continue;
    }
    const lock = lockEntry.value;
    if (job.state !== "queued" || (lock && lock.until > now)) {
      // Busy: drop the hint and mark the lock, so that the running job writes a
      // fresh hint when it ends (or the sweeper does). The end of the job checks
      // the lock: it sees the mark, or this commit comes after it and finds the
      // conversation free on the next attempt.
      const dropped = await c.run((op) => {
        op.check(lockEntry).delete(hint.key);
        if (lock && !lock.waiting) {
          op.set(lockEntry.key, { ...lock, waiting: true } satisfies ConversationLock);
        }
        return op;
      });
      if (dropped.ok) return null;
      continue;
    }
    const claimed = claimedRecord(c, job);
    const lockValue: ConversationLock = { jobId: headId, until: claimed.lease!.until };
    if (c.admit && !await c.admit.acquire()) return null;
    let result: Deno.KvCommitResult | Deno.KvCommitError | undefined;
    try {
      result = await c.run((op) =>
        claimMutations(
          op.check(jobEntry).check(lockEntry).delete(hint.key).delete(keys.ready(headId)),
          claimed,
        ).set(keys.conversationLock(conversation), lockValue)
      );
    } finally {
      if (!result?.ok) c.admit?.release();
    }
    if (result.ok) return claimed;
  }
  return null;
}

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

/**
 * Adds the mutations that end `job` (as stored, read at `jobEntry`'s versionstamp) in `state`.
 * When the job held its conversation (running), the lock is released and a
 * fresh hint lets the next job of the conversation run. `moreQueued: false`
 * (the caller read the conversation queue and found nothing after the job)
 * leaves the hint out, unless the lock is not the job's own or carries
 * `waiting`: the lock read is then checked, so a claimer that drops a hint of
 * the conversation meanwhile makes the commit fail instead of stranding a job.
 */
function finishMutations(
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

function requeueMutations(
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
  commit?: Committer;
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
  const run = options.commit ?? direct(kv);
  const command = isCommandJob(job);
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const [[jobEntry, lockEntry], queue] = await Promise.all([
      kv.getMany<[JobRecord, ConversationLock]>([
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

/** Options of {@linkcode sweepExpired}. */
export interface SweepOptions {
  /** Adds mutations (the user notice) to the commit that makes a job dead. */
  onDead?: (op: Deno.AtomicOperation, job: JobRecord) => void;
}

/** What one sweep did: ids of the jobs it moved. */
export interface SweepResult {
  requeued: string[];
  dead: string[];
  cancelled: string[];
}

/**
 * Takes back running jobs whose lease expired before `now` (their runner died
 * or hung): back to `queued` with the same id, so they stay at the head of
 * their conversation, attempts kept; once `attempts >= maxAttempts` the job
 * becomes `dead` instead and `onDead` adds the user notice to that commit. A
 * job `/stop` cancelled becomes `failed`. Every move is an atomic commit with
 * checks, so all processes may sweep at once.
 *
 * @example Usage
 * ```ts
 * import { sweepExpired } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const result = await sweepExpired(kv, Date.now(), 3);
 * console.assert(result.requeued.length === 0);
 * kv.close();
 * ```
 */
export async function sweepExpired(
  kv: Deno.Kv,
  now: number,
  maxAttempts: number,
  options: SweepOptions = {},
): Promise<SweepResult> {
  positive("maxAttempts", maxAttempts);
  const result: SweepResult = { requeued: [], dead: [], cancelled: [] };
  for await (const running of kv.list<RunningEntry>({ prefix: keys.runningPrefix() })) {
    if (running.value.until >= now) continue;
    const id = idOf(running.key);
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const [jobEntry, lockEntry, cancelEntry] = await kv.getMany<
        [JobRecord, ConversationLock, CancelRequest]
      >([keys.job(id), keys.conversationLock(running.value.conversation), keys.jobCancel(id)]);
      const job = jobEntry.value;
      if (!job || job.state !== "running") {
        // Stale index entry (should not happen): drop it.
        await commit(() => kv.atomic().check(jobEntry).check(running).delete(running.key));
        break;
      }
      if (job.lease && job.lease.until >= now) break; // renewed meanwhile
      const held = jobEntry as Deno.KvEntry<JobRecord>;
      const moved: keyof SweepResult = cancelEntry.value
        ? "cancelled"
        : job.attempts >= maxAttempts
        ? "dead"
        : "requeued";
      const committed = await commit(() => {
        const op = kv.atomic();
        if (moved === "cancelled") {
          finishMutations(op, held, lockEntry, "failed", now, CANCELLED_ERROR);
        } else if (moved === "dead") {
          const error = `lost its runner ${job.attempts} time(s) (lease expired); gave up`;
          finishMutations(op, held, lockEntry, "dead", now, error);
          options.onDead?.(op, job);
        } else {
          requeueMutations(op, held, lockEntry, job.attempts, now);
        }
        return op;
      });
      if (committed.ok) {
        result[moved].push(id);
        break;
      }
    }
  }
  return result;
}

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

/**
 * Reads one job record.
 *
 * @example Usage
 * ```ts
 * import { getJob } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await getJob(kv, "nope") === null);
 * kv.close();
 * ```
 */
export async function getJob(kv: Deno.Kv, id: string): Promise<JobRecord | null> {
  return (await kv.get<JobRecord>(keys.job(id))).value;
}

async function readJobs(kv: Deno.Kv, ids: string[]): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  for (let start = 0; start < ids.length; start += 10) {
    const entries = await kv.getMany<JobRecord[]>(
      ids.slice(start, start + 10).map((id) => keys.job(id)),
    );
    for (const entry of entries) if (entry.value) jobs.push(entry.value);
  }
  return jobs;
}

/** Options of {@linkcode listJobs}. */
export interface ListJobsOptions {
  /** Only jobs in this state (default: all). */
  state?: JobState;
  /** At most this many (default 50). */
  limit?: number;
  /** Oldest first instead of newest first. */
  oldestFirst?: boolean;
}

/**
 * Lists job records, newest first, for status pages and the CLI.
 *
 * @example Usage
 * ```ts
 * import { listJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await listJobs(kv, { state: "dead", limit: 10 })).length === 0);
 * kv.close();
 * ```
 */
export async function listJobs(kv: Deno.Kv, options: ListJobsOptions = {}): Promise<JobRecord[]> {
  const limit = options.limit ?? 50;
  const reverse = !options.oldestFirst;
  if (options.state) {
    const index = kv.list<string>({ prefix: keys.jobsByStatePrefix(options.state) }, {
      limit,
      reverse,
    });
    const ids: string[] = [];
    for await (const entry of index) ids.push(idOf(entry.key));
    return await readJobs(kv, ids);
  }
  const jobs: JobRecord[] = [];
  for await (const entry of kv.list<JobRecord>({ prefix: keys.jobPrefix() }, { limit, reverse })) {
    jobs.push(entry.value);
  }
  return jobs;
}

/**
 * Counts jobs per state, listing the state index of each of `states` (all by
 * default; the others are absent from the result). Finished jobs stay until
 * they are purged (a week by default), so counting `done` lists every job of
 * that week: fine on demand (`jobs stats`), not on every metrics scrape.
 *
 * @example Usage
 * ```ts
 * import { countJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await countJobs(kv)).queued === 0);
 * console.assert(!("done" in await countJobs(kv, ["queued", "running"])));
 * kv.close();
 * ```
 */
export function countJobs(kv: Deno.Kv): Promise<Record<JobState, number>>;
export function countJobs<S extends JobState>(
  kv: Deno.Kv,
  states: readonly S[],
): Promise<Record<S, number>>;
export async function countJobs(
  kv: Deno.Kv,
  states: readonly JobState[] = JOB_STATES,
): Promise<Partial<Record<JobState, number>>> {
  const counts: Partial<Record<JobState, number>> = {};
  for (const state of states) {
    let count = 0;
    for await (const _ of kv.list({ prefix: keys.jobsByStatePrefix(state) })) count++;
    counts[state] = count;
  }
  return counts;
}

/**
 * The running and queued agent jobs of a conversation, in order (for `/status`).
 *
 * @example Usage
 * ```ts
 * import { conversationJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await conversationJobs(kv, "ww1:u1")).length === 0);
 * kv.close();
 * ```
 */
export async function conversationJobs(
  kv: Deno.Kv,
  conversation: string,
  limit = 100,
): Promise<JobRecord[]> {
  const ids: string[] = [];
  const queue = kv.list<string>({ prefix: keys.conversationQueuePrefix(conversation) }, { limit });
  for await (const entry of queue) ids.push(idOf(entry.key));
  return (await readJobs(kv, ids)).filter((job) => !FINISHED_STATES.includes(job.state));
}

/** Options of {@linkcode purgeJobs}. */
export interface PurgeOptions {
  /** States to purge (default done, failed, dead); only finished states are allowed. */
  states?: JobState[];
  /** Purge jobs whose last change is before this epoch ms. */
  olderThan: number;
  /** At most this many per call (default 500), so a sweep stays short. */
  limit?: number;
}

/**
 * Deletes finished job records whose last change is older than `olderThan`,
 * with their index entries. Returns how many were deleted.
 *
 * @example Usage
 * ```ts
 * import { purgeJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const week = 7 * 24 * 3600_000;
 * console.assert(await purgeJobs(kv, { olderThan: Date.now() - week }) === 0);
 * kv.close();
 * ```
 */
export async function purgeJobs(kv: Deno.Kv, options: PurgeOptions): Promise<number> {
  const states = options.states ?? [...FINISHED_STATES];
  for (const state of states) {
    if (!FINISHED_STATES.includes(state)) {
      throw new RangeError(
        `Cannot purge jobs in state '${state}' as only finished jobs may be purged: ` +
          `use one of ${FINISHED_STATES.join(", ")}`,
      );
    }
  }
  let budget = options.limit ?? 500;
  let purged = 0;
  // Ids start with 12 hex digits of their creation time: a job created after
  // `olderThan` cannot have changed before it, so the scan ends there.
  const floor = Math.max(0, Math.floor(options.olderThan)).toString(16).padStart(12, "0");
  for (const state of states) {
    const index = kv.list<string>({
      start: keys.jobsByStatePrefix(state),
      end: keys.jobsByState(state, floor),
    });
    for await (const entry of index) {
      if (budget-- <= 0) return purged;
      const id = idOf(entry.key);
      const jobEntry = await kv.get<JobRecord>(keys.job(id));
      const job = jobEntry.value;
      if (job && (job.state !== state || job.updatedAt >= options.olderThan)) continue;
      const result = await commit(() =>
        kv.atomic().check(jobEntry).delete(keys.job(id)).delete(entry.key)
      );
      if (result.ok && job) purged++;
    }
  }
  return purged;
}
