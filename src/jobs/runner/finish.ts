/**
 * Ending a run: the reply (or the command's answer, or the member's apology)
 * goes into the outbox in the same atomic commit that marks the job done or
 * failed, so it is stored exactly once. A lost lease leaves the job to its new
 * owner; a `/stop` ends it cancelled; a closing agent pool releases it for
 * another process. Errors reach the job (for the operator), never the member.
 *
 * @example Usage
 * ```ts ignore
 * import { finishRun } from "./finish.ts";
 * await finishRun(state, run, { kind: "reply", reply: { text: "hi", attachments: [] } });
 * ```
 *
 * @module
 */

import { AgentError } from "../../records/agent_error.ts";
import { shorten } from "../../text/format.ts";
import type { AgentReply } from "../../records/agent.ts";
import type { FailureText } from "../../config/types.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import { isTransientKvError } from "../../store/kv.ts";
import { apologyFor } from "../apology.ts";
import { CANCELLED_ERROR, completeJob, releaseJob } from "../../records/job_store/mod.ts";
import type { JobRecord } from "../../records/job.ts";
import { admitWaiting } from "./admission.ts";
import { jobFields, type Run, type RunnerState, targetOf } from "./state.ts";

/** What the agent (or the command) of a run returned. */
export type RunResult =
  | { kind: "reply"; reply: AgentReply }
  | { kind: "command"; text: string }
  | { kind: "error"; error: unknown };

/** Ends `run` in the store with `result`, counting the end in `state.counters`. */
export async function finishRun(state: RunnerState, run: Run, result: RunResult): Promise<void> {
  const { kv, runnerId, now, log, counters, config } = state;
  const { plan } = state.deps;
  const { job } = run;
  const target = targetOf(job);
  if (run.outcome === "lost") {
    counters.lost++;
    log("warn", "job lease lost; leaving the job to its new owner", jobFields(state, job));
    return;
  }
  if (run.outcome === "released") return; // stop() released it
  if (run.outcome === "cancelled") {
    if (
      await persist(state, () =>
        completeJob(kv, job, runnerId, {
          state: "failed",
          error: CANCELLED_ERROR,
          now: now(),
          commit: state.commit,
          versionstamp: run.stamp,
        }))
    ) {
      counters.cancelled++;
      log("info", "job cancelled by /stop", jobFields(state, job));
    }
    return;
  }
  if (
    result.kind === "error" && result.error instanceof AgentError &&
    result.error.kind === "closed"
  ) {
    // The agent pool is shutting down: someone else (or the next start) runs it.
    if (!state.agentsClosed) {
      log("warn", "agent pool closed; no more agent jobs taken here", jobFields(state, job));
    }
    state.agentsClosed = true;
    admitWaiting(state);
    run.outcome = "released";
    if (await releaseJob(kv, job, runnerId, now())) counters.released++;
    return;
  }
  let end: "done" | "failed" = "done";
  let error: string | undefined;
  const items: OutboxItem[] = [];
  if (result.kind === "error") {
    end = "failed";
    const failure = describeFailure(
      result.error,
      job,
      run.command !== null,
      state.deps.failureText,
    );
    error = failure.error;
    items.push(plan.notice(target, failure.notice, "error"));
    log("warn", "job failed", jobFields(state, job, { error }));
  } else if (result.kind === "command") {
    items.push(plan.notice(target, result.text, "reply"));
  } else {
    if (run.noticeItemId && config.recallWorkingNotice) {
      items.push(plan.recall(target, run.noticeItemId));
    }
    items.push(...plan.reply(job, result.reply, { markdown: state.deps.markdown, now: now() }));
  }
  const completed = await persist(state, () =>
    completeJob(kv, job, runnerId, {
      state: end,
      error,
      now: now(),
      commit: state.commit,
      versionstamp: run.stamp,
      extra: (op) => {
        if (items.length > 0) plan.add(op, items);
      },
    }));
  if (!completed) {
    counters.lost++;
    log(
      "warn",
      "job lease lost before the reply was stored; its new owner answers",
      jobFields(state, job),
    );
    return;
  }
  counters[end]++;
  if (end === "done") {
    log(
      "info",
      "job done",
      jobFields(state, job, { ms: now() - job.receivedAt, items: items.length }),
    );
  }
}

/**
 * The job's `error` (for the operator: `jobs list`, the log) and the member's
 * notice for a failed run: the apology of `../apology.ts`, never the error.
 */
export function describeFailure(
  error: unknown,
  job: JobRecord,
  command: boolean,
  texts: FailureText | undefined,
): { error: string; notice: string } {
  if (error instanceof AgentError) {
    return { error: `${error.kind}: ${error.message}`, notice: apologyFor(job.message, texts) };
  }
  const message = shorten(error instanceof Error ? error.message : String(error), 300);
  return {
    error: `internal: ${message}`,
    notice: command
      ? "Sorry, that command failed. Please try again."
      : apologyFor(job.message, texts),
  };
}

/**
 * Runs a store step that ends a run (the commit of the reply), retrying
 * transient KV errors ("database is locked": another process holds the
 * SQLite file for a moment) for up to `leaseMs`, so that a passing lock does
 * not throw away a finished agent run and make the job run again once its
 * lease expires. The step's own checks keep it exactly-once: if the job was
 * swept and taken meanwhile, it returns false.
 */
async function persist<T>(state: RunnerState, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + state.config.leaseMs;
  for (let pause = 50;; pause = Math.min(pause * 2, 1000)) {
    try {
      return await step();
    } catch (error) {
      if (!isTransientKvError(error) || state.stopping || Date.now() + pause > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
