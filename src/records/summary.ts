/**
 * Summaries of jobs and outbox items without their message content, and where
 * each finished job's answer stands: what `jobs list --json`, `jobs dead` and
 * the operator console show.
 *
 * @example Usage
 * ```ts
 * import { replyStates } from "./summary.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await replyStates(kv, [])).size === 0);
 * kv.close();
 * ```
 *
 * @module
 */

import type { JobRecord } from "./job.ts";
import type { OutboxItem, OutboxState } from "./outbox_item.ts";
import { outboxItemsSince } from "./outbox_queries.ts";

/** What a job carries: the message type, `event:<name>` or `unknown:<MsgType>`. */
export function jobType(job: JobRecord): string {
  const message = job.message;
  if (message.type === "event") return `event:${message.event}`;
  if (message.type === "unknown") return `unknown:${message.msgType}`;
  return message.type;
}

/**
 * Where a finished job's answer to the member stands: `pending` while any of
 * its reply (or error notice) items waits in the outbox, `dead` when one was
 * given up, `sent` once WeCom accepted all of them, `none` when the job
 * produced nothing to send; `-` while the job has not finished.
 */
export type ReplyState = OutboxState | "none" | "-";

/** Allowed clock difference between the process that took a job and the one that finished it. */
const ID_SKEW_MS = 10 * 60_000;

/**
 * The reply state of each of `jobs`. Outbox items are created after their job,
 * so only items with ids from the oldest job's time on are read.
 */
export async function replyStates(
  kv: Deno.Kv,
  jobs: JobRecord[],
): Promise<Map<string, ReplyState>> {
  const states = new Map<string, ReplyState>();
  if (jobs.length === 0) return states;
  const wanted = new Set(jobs.map((job) => job.id));
  const found = new Map<string, OutboxState[]>();
  const oldest = Math.max(0, Math.min(...jobs.map((job) => job.receivedAt)) - ID_SKEW_MS);
  for await (const item of outboxItemsSince(kv, oldest)) {
    if (!wanted.has(item.jobId) || (item.purpose !== "reply" && item.purpose !== "error")) {
      continue;
    }
    found.set(item.jobId, [...(found.get(item.jobId) ?? []), item.state]);
  }
  for (const job of jobs) {
    const items = found.get(job.id) ?? [];
    if (job.state === "queued" || job.state === "running") states.set(job.id, "-");
    else if (items.includes("dead")) states.set(job.id, "dead");
    else if (items.includes("pending")) states.set(job.id, "pending");
    else states.set(job.id, items.length > 0 ? "sent" : "none");
  }
  return states;
}

/** A job without its message content, for `--json` and the operator console. */
export function jobSummary(job: JobRecord, reply?: ReplyState): Record<string, unknown> {
  return {
    id: job.id,
    state: job.state,
    ...(reply === undefined ? {} : { reply }),
    conversation: job.conversation,
    app: job.app,
    corpId: job.corpId,
    agentId: job.agentId,
    userId: job.userId,
    type: jobType(job),
    receivedAt: new Date(job.receivedAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    attempts: job.attempts,
    ...(job.lease ? { leaseUntil: new Date(job.lease.until).toISOString() } : {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

/** An outbox item without its message content, for `--json` and the operator console. */
export function itemSummary(item: OutboxItem): Record<string, unknown> {
  return {
    id: item.id,
    state: item.state,
    conversation: item.conversation,
    app: item.app,
    userId: item.userId,
    jobId: item.jobId,
    purpose: item.purpose,
    msgtype: item.message.msgtype,
    attempts: item.attempts,
    createdAt: new Date(item.createdAt).toISOString(),
    ...(item.lastError ? { lastError: item.lastError } : {}),
  };
}
