/**
 * The claim lanes of `claim.ts`: command jobs first, then agent jobs through the hint index, one atomic claim per job.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import type { Commit } from "../../store/group_commit.ts";
import { keys } from "../../store/keys.ts";
import type { JobRecord } from "../job.ts";
import { CONFLICT_RETRIES, first, idOf } from "./_util.ts";
import { type ConversationLock, FINISHED_STATES, type RunningEntry } from "./values.ts";

/** See `ClaimJobsOptions.admit` of `./claim.ts`. */
export interface Admission {
  acquire(): Promise<boolean>;
  release(): void;
}

/** Most pages of hints one call visits, so a call stays bounded. */
export const MAX_PAGES = 20;

/** What one claim call works with. */
export interface Claimer {
  kv: Deno.Kv;
  run: Commit;
  runnerId: string;
  now: number;
  leaseMs: number;
  /** Called with each claimed job and the versionstamp of its claim commit. */
  onClaim: (job: JobRecord, versionstamp: string) => void;
  /** Conversations being claimed (by this call or the caller's others). */
  claiming: Set<string>;
  admit?: Admission;
}

/** Command jobs, one after another in id order: a user who sends `/status` then `/help` reads the answers in that order. */
export async function claimCommands(c: Claimer, max: number, limit: number): Promise<JobRecord[]> {
  const claimed: JobRecord[] = [];
  const hints = c.kv.list<string>({ prefix: keys.commandReadyPrefix() }, {
    limit: Math.min(limit, 2 * max + 2),
  });
  for await (const hint of hints) {
    const claim = await claimCommand(c, hint);
    if (claim) {
      claimed.push(claim.job);
      c.onClaim(claim.job, claim.versionstamp);
      if (claimed.length >= max) break;
    }
  }
  return claimed;
}

/** Agent jobs: pages of hints, each page's conversations claimed concurrently. */
export async function claimAgentJobs(c: Claimer, max: number, limit: number): Promise<JobRecord[]> {
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
          const claim = await claimFromHint(c, hint);
          if (claim) {
            claimed.push(claim.job);
            c.onClaim(claim.job, claim.versionstamp);
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

/** A job as its claim commit wrote it, with that commit's versionstamp. */
interface Claim {
  job: JobRecord;
  versionstamp: string;
}

async function claimCommand(c: Claimer, hint: Deno.KvEntry<string>): Promise<Claim | null> {
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
    if (result.ok) return { job: claimed, versionstamp: result.versionstamp };
  }
  return null;
}

async function claimFromHint(c: Claimer, hint: Deno.KvEntry<string>): Promise<Claim | null> {
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
    if (result.ok) return { job: claimed, versionstamp: result.versionstamp };
  }
  return null;
}
