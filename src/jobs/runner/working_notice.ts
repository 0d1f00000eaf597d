/**
 * The "working on it" notice: one outbox item sent while an agent job runs
 * longer than `config.workingNoticeMs`, committed only while this runner still
 * owns the job. Its id is kept on the run so that the reply can recall it
 * (`config.recallWorkingNotice`, see `./finish.ts`).
 *
 * @example Usage
 * ```ts ignore
 * import { scheduleWorkingNotice } from "./working_notice.ts";
 * const timer = scheduleWorkingNotice(state, run); // undefined when notices are off
 * // … once the agent returned:
 * clearTimeout(timer);
 * ```
 *
 * @module
 */

import { commitWhileOwned } from "../../records/job_store/mod.ts";
import { serial } from "./lease.ts";
import { type Run, type RunnerState, targetOf } from "./state.ts";

/**
 * Sends the notice of `run` after `config.workingNoticeMs` (in the run's
 * chain of KV steps); undefined for a command or when notices are off.
 */
export function scheduleWorkingNotice(
  state: RunnerState,
  run: Run,
): ReturnType<typeof setTimeout> | undefined {
  if (run.command || state.config.workingNoticeMs <= 0) return undefined;
  return setTimeout(
    () => serial(state, run, () => sendWorkingNotice(state, run)),
    state.config.workingNoticeMs,
  );
}

/** Stores the notice of `run` unless it ended or lost its job meanwhile. */
export async function sendWorkingNotice(state: RunnerState, run: Run): Promise<void> {
  if (run.settled || run.outcome) return;
  const { plan } = state.deps;
  const item = plan.notice(targetOf(run.job), state.config.workingNoticeText, "working");
  const sent = await commitWhileOwned(state.kv, run.job, state.runnerId, (op) => {
    plan.add(op, [item]);
  });
  if (sent) run.noticeItemId = item.id;
}
