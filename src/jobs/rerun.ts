/**
 * Running failed agent jobs again (`wecom-gateway jobs rerun`).
 *
 * A failed agent job (the agent was down, refused a key, timed out) goes back
 * to `queued` under its own id, so it keeps its place among its
 * conversation's jobs: several jobs of one member run again in the order they
 * were sent, and one conversation still runs one job at a time. Its error is
 * cleared and its attempts start again at 0. One atomic commit per job,
 * checked against the record read, so a job that changed meanwhile (or runs
 * again already) is left alone. Command jobs and jobs that are not `failed`
 * are refused, as are jobs `/stop` cancelled unless named one by one.
 *
 * @example Usage
 * ```ts
 * import { rerunJob } from "./rerun.ts";
 * const kv = await Deno.openKv(":memory:");
 * const outcome = await rerunJob(kv, "no-such-job", Date.now());
 * console.assert(!outcome.ok && outcome.reason.includes("no job"));
 * kv.close();
 * ```
 *
 * @module
 */

import { keys } from "../store/keys.ts";
import { commit } from "../store/kv.ts";
import { CANCELLED_ERROR, enqueueJob, isCommandJob, listJobs } from "../records/job_store/mod.ts";
import type { JobRecord } from "../records/job.ts";

/** What {@linkcode rerunJob} did. */
export type RerunOutcome =
  | { ok: true; job: JobRecord }
  | { ok: false; reason: string };

/**
 * Queues the failed agent job `id` again. Returns why not when it cannot.
 *
 * @example Usage
 * ```ts
 * import { rerunJob } from "./rerun.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(!(await rerunJob(kv, "x", Date.now())).ok);
 * kv.close();
 * ```
 */
export async function rerunJob(kv: Deno.Kv, id: string, now: number): Promise<RerunOutcome> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get<JobRecord>(keys.job(id));
    const job = entry.value;
    if (!job) {
      return { ok: false, reason: "there is no job with this id (see 'wecom-gateway jobs list')" };
    }
    if (job.state !== "failed") {
      return {
        ok: false,
        reason: `the job is ${job.state}, not failed: only failed jobs can be run again`,
      };
    }
    if (isCommandJob(job)) {
      return { ok: false, reason: "the job is a command (/stop, /status, …): send it again" };
    }
    const { error: _error, lease: _lease, ...rest } = job;
    const queued: JobRecord = { ...rest, state: "queued", attempts: 0, updatedAt: now };
    const result = await commit(() =>
      enqueueJob(
        kv.atomic().check(entry).delete(keys.jobsByState("failed", id)),
        queued,
      )
    );
    if (result.ok) return { ok: true, job: queued };
  }
  return { ok: false, reason: "the job kept changing while we tried; try again" };
}

/**
 * The failed agent jobs `--all` runs again, oldest first: every failed job
 * that is not a command and was not cancelled by `/stop`.
 *
 * @example Usage
 * ```ts
 * import { failedAgentJobs } from "./rerun.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await failedAgentJobs(kv)).length === 0);
 * kv.close();
 * ```
 */
export async function failedAgentJobs(kv: Deno.Kv, limit = 10_000): Promise<JobRecord[]> {
  const failed = await listJobs(kv, { state: "failed", limit, oldestFirst: true });
  return failed.filter((job) => !isCommandJob(job) && job.error !== CANCELLED_ERROR);
}
