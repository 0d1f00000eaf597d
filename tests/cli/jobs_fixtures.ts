/**
 * Shared setup of the `jobs` command tests: job records with ids made at a
 * given time, jobs ended as a runner ends them, and the command run in-process.
 *
 * @example Usage
 * ```ts ignore
 * import { jobsCli, storeJob, textJob } from "./jobs_fixtures.ts";
 * const kv = await Deno.openKv(path);
 * await storeJob(kv, textJob("zhangsan", "hi", Date.now()), { state: "failed", error: "x" });
 * kv.close();
 * const { code, stdout } = await jobsCli(["list"], { WECOM_GATEWAY_KV: path }, dir);
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { captureContext } from "../../src/cli/context.ts";
import { createJobsCommand } from "../../src/cli/jobs.ts";
import { claimNext, completeJob, enqueueJob, getJob } from "../../src/records/job_store/mod.ts";
import type { JobRecord } from "../../src/records/job.ts";

/** The corp of every fixture job. */
export const CORP = "wwjobs000000000001";

let counter = 0;
/**
 * An id of the store's format created at `at` (`newId()` never goes back in
 * time within a process, and purging relies on ids carrying their creation time).
 */
export function idAt(at: number): string {
  const random = crypto.randomUUID().slice(0, 8);
  return at.toString(16).padStart(12, "0") + (counter++).toString(16).padStart(4, "0") + random;
}

/** A queued text job of `user` received at `at`. */
export function textJob(user: string, content: string, at: number): JobRecord {
  return {
    id: idAt(at),
    conversation: `${CORP}:${user}`,
    app: "default",
    corpId: CORP,
    agentId: "1000002",
    userId: user,
    message: {
      type: "text",
      content,
      msgId: crypto.randomUUID(),
      corpId: CORP,
      userId: user,
      createTime: Math.floor(at / 1000),
      agentId: "1000002",
    },
    receivedAt: at,
    state: "queued",
    attempts: 0,
    updatedAt: at,
  };
}

/** Enqueues `record`, then (if asked) claims and ends it in `end.state` a second later, as a runner would. */
export async function storeJob(
  kv: Deno.Kv,
  record: JobRecord,
  end?: { state: "done" | "failed" | "dead"; error?: string },
): Promise<JobRecord> {
  assert.ok((await enqueueJob(kv.atomic(), record).commit()).ok);
  if (!end) return record;
  const claimed = await claimNext(kv, "test-runner", record.receivedAt, 60_000);
  assert.equal(claimed?.id, record.id);
  assert.ok(
    await completeJob(kv, claimed!, "test-runner", { ...end, now: record.receivedAt + 1000 }),
  );
  return (await getJob(kv, record.id))!;
}

/** Runs `wecom-gateway jobs …args` in this process with `env` and `cwd`. */
export async function jobsCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { context, stdout, stderr } = captureContext({ env, cwd });
  const code = await createJobsCommand({ context }).run(args);
  return { code, stdout: stdout(), stderr: stderr() };
}
