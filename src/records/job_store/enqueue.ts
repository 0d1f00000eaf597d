/**
 * Recording a new job: the mutations intake adds to its own atomic commit, and the lane a job takes (command or agent).
 *
 * See the examples of each function below; callers import them from `./mod.ts`.
 *
 * @module
 */

import { keys } from "../../store/keys.ts";
import { parseCommand } from "../command.ts";
import type { JobRecord } from "../job.ts";
import { withoutLease } from "./_util.ts";

/** True when the job carries a command (`/stop`, …) rather than a request for the agent. */
export function isCommandJob(job: Pick<JobRecord, "message">): boolean {
  return parseCommand(job.message) !== null;
}

/** Options of {@linkcode enqueueJob}. */
export interface EnqueueOptions {
  /**
   * Who records the job: `"intake"` (the callback server) bumps
   * `keys.intakeWake()`, which the runner beside it does not watch (the
   * intake wakes it directly); `"other"` (default: `jobs rerun`, tests) bumps
   * `keys.wake()`, which every runner watches.
   */
  by?: "intake" | "other";
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
export function enqueueJob(
  op: Deno.AtomicOperation,
  job: JobRecord,
  options: EnqueueOptions = {},
): Deno.AtomicOperation {
  const record: JobRecord = { ...withoutLease(job), state: "queued" };
  op.set(keys.job(job.id), record).set(keys.jobsByState("queued", job.id), job.id);
  if (isCommandJob(job)) {
    op.set(keys.commandReady(job.id), job.conversation);
  } else {
    op.set(keys.conversationQueue(job.conversation, job.id), job.id)
      .set(keys.ready(job.id), job.conversation);
  }
  return op.set(options.by === "intake" ? keys.intakeWake() : keys.wake(), job.id);
}
