/**
 * Running one claimed job: the agent (or the command's answer) with its
 * heartbeat and working notice, then its end in the store (`./finish.ts`).
 * Commands of one conversation run one after another, in claim order, so that
 * `/status` then `/help` are answered in that order.
 *
 * @example Usage
 * ```ts ignore
 * import { startRun } from "./run_job.ts";
 * // for each job a claim round committed:
 * startRun(state, job, () => void pump(state));
 * ```
 *
 * @module
 */

import { answerCommand } from "../commands.ts";
import { parseCommand } from "../../records/command.ts";
import type { JobRecord } from "../../records/job.ts";
import { releaseHeld } from "./admission.ts";
import { cancelRun } from "./cancel.ts";
import { finishRun, type RunResult } from "./finish.ts";
import { startHeartbeat } from "./lease.ts";
import { jobFields, type Run, type RunnerState } from "./state.ts";
import { scheduleWorkingNotice } from "./working_notice.ts";

/**
 * Starts running `job` (claimed by this runner) and records it in
 * `state.runs` until it ends; `pump` is called whenever the run frees a slot
 * (the claim loop looks for the next job).
 */
export function startRun(
  state: RunnerState,
  job: JobRecord,
  pump: () => void,
  stamp?: string,
): void {
  const run: Run = {
    job,
    stamp,
    command: parseCommand(job.message),
    controller: new AbortController(),
    chain: Promise.resolve(),
    settled: false,
    outcome: null,
    done: Promise.resolve(),
  };
  state.runs.set(job.id, run);
  const previous = run.command ? state.commandTails.get(job.conversation) : undefined;
  run.done = (previous ? previous.then(() => execute(state, run, pump)) : execute(state, run, pump))
    .catch((error) =>
      state.log("error", "job run failed unexpectedly", jobFields(state, job, { error }))
    )
    .finally(() => {
      state.runs.delete(job.id);
      if (!run.command) releaseHeld(state);
      if (!state.stopping) pump();
    });
  if (run.command) {
    const tail = run.done;
    state.commandTails.set(job.conversation, tail);
    void tail.finally(() => {
      if (state.commandTails.get(job.conversation) === tail) {
        state.commandTails.delete(job.conversation);
      }
    });
  }
}

async function execute(state: RunnerState, run: Run, pump: () => void): Promise<void> {
  if (run.outcome === "released") return; // stop() gave it back while it waited its turn
  const beat = startHeartbeat(state, run);
  const noticeTimer = scheduleWorkingNotice(state, run);
  let result: RunResult;
  try {
    result = await perform(state, run);
  } finally {
    run.settled = true;
    clearInterval(beat);
    clearTimeout(noticeTimer);
  }
  // Look for the next job while this one is ended: its claim commits once this
  // job's end has (see ./admission.ts).
  if (!run.command && !state.stopping) pump();
  await run.chain;
  await finishRun(state, run, result);
}

async function perform(state: RunnerState, run: Run): Promise<RunResult> {
  try {
    if (run.command) {
      const text = await answerCommand(
        {
          kv: state.kv,
          now: state.now(),
          resetHistory: state.deps.resetHistory,
          cancelLocal: (jobId) => {
            const target = state.runs.get(jobId);
            return target ? cancelRun(target) : false;
          },
        },
        run.job,
        run.command,
      );
      return { kind: "command", text };
    }
    return { kind: "reply", reply: await state.deps.runAgent(run.job, run.controller.signal) };
  } catch (error) {
    return { kind: "error", error };
  }
}
