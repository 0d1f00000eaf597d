/**
 * Reading job records: one job, listings, counts per state, a conversation's queue.
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import type { JobRecord, JobState } from "../job.ts";
import { idOf } from "./_util.ts";
import { FINISHED_STATES, JOB_STATES } from "./values.ts";

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

/**
 * True when a job of `conversation` is queued or running (agent or command job).
 *
 * @example Usage
 * ```ts
 * import { hasOpenJobs } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(!(await hasOpenJobs(kv, "ww1:u1")));
 * kv.close();
 * ```
 */
export async function hasOpenJobs(kv: Deno.Kv, conversation: string): Promise<boolean> {
  for (const state of ["queued", "running"] as const) {
    const ids: string[] = [];
    for await (const entry of kv.list<string>({ prefix: keys.jobsByStatePrefix(state) })) {
      ids.push(entry.value);
    }
    for (const job of await readJobs(kv, ids)) {
      if (
        job.conversation === conversation && (job.state === "queued" || job.state === "running")
      ) {
        return true;
      }
    }
  }
  return false;
}
