/**
 * The job runner: claims jobs from the store, runs the agent with a lease kept
 * alive by heartbeats, and commits the reply into the outbox in the same atomic
 * commit that marks the job done.
 *
 * - Bounded: at most `config.concurrency` agent jobs at once, plus a few
 *   command jobs (`/stop`, `/status`, …), which are answered at once even when
 *   every agent slot is busy (the commands of one conversation in the order
 *   sent).
 * - Claims fill every free slot from one scan of the store (`claimJobs`: the
 *   claims run concurrently, each an atomic commit), and each job starts as
 *   soon as its claim commits.
 * - Woken by `wake()` (intake, same process), by a watch on `keys.wake()`
 *   (job ends, `/stop`, `jobs rerun`) and `keys.intakeWake()` (the intake of
 *   another process; not watched beside the callback server) and by a poll
 *   every `config.pollMs`. It never uses
 *   `listenQueue`, so it works on a local file, over KV Connect and on Deploy.
 * - Sweeps expired leases every `leaseMs / 2` (all processes may), and purges
 *   finished jobs older than the retention now and then.
 * - Per job: heartbeat every `leaseMs / 3` (a lost lease aborts the agent and
 *   the job is left to its new owner); one "working on it" notice after
 *   `config.workingNoticeMs`, recalled before the reply when
 *   `config.recallWorkingNotice`; agent errors and timeouts end the job
 *   `failed` with the error on the job (for the operator) and a short
 *   apology to the member (`./apology.ts`), never the error itself.
 * - `stop()` waits for running jobs up to `graceMs`, then aborts them and
 *   releases their leases, so another process (or the next start) takes them
 *   at once.
 *
 * This file wires the parts of `./runner/` together: one `RunnerState`
 * (`./runner/state.ts`) shared explicitly by the claim loop
 * (`claim_loop.ts`, with `admission.ts`), the run of one job (`run_job.ts`,
 * with `lease.ts`, `working_notice.ts`, `cancel.ts` and `finish.ts`), the
 * sweeper (`sweep.ts`), the wake-ups (`wake_ups.ts`) and `stop.ts`.
 *
 * @module
 */

import { pump, waitIdle } from "./runner/claim_loop.ts";
import type { Runner, RunnerDeps } from "./runner/deps.ts";
import { agentRuns, createRunnerState } from "./runner/state.ts";
import { stopRunner } from "./runner/stop.ts";
import { startWakeUps } from "./runner/wake_ups.ts";

export type {
  NoticeTarget,
  OutboxPlanner,
  Runner,
  RunnerDeps,
  RunnerLog,
  RunnerStats,
} from "./runner/deps.ts";
export { DEAD_NOTICE } from "./runner/sweep.ts";

/**
 * Starts a runner. Call `stop()` before closing the KV store.
 *
 * @example Usage
 * ```ts
 * import { startRunner } from "./runner.ts";
 * import { addOutboxItems, planNotice, planRecall, planReply } from "../records/outbox.ts";
 * import { resetHistory } from "../agent/run.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const runner = startRunner({
 *   kv,
 *   runAgent: async (job) => ({ text: `echo ${job.id}`, attachments: [] }),
 *   resetHistory,
 *   plan: { reply: planReply, notice: planNotice, recall: planRecall, add: addOutboxItems },
 *   config: {
 *     concurrency: 4, leaseMs: 60_000, maxAttempts: 3, workingNoticeMs: 60_000,
 *     workingNoticeText: "Working on it…", recallWorkingNotice: true, pollMs: 1000,
 *   },
 *   markdown: false,
 * });
 * await runner.stop();
 * kv.close();
 * ```
 */
export function startRunner(deps: RunnerDeps): Runner {
  const state = createRunnerState(deps);
  const wakeUps = startWakeUps(state);
  return {
    runnerId: state.runnerId,
    wake: () => void pump(state),
    stats: () => {
      const agents = agentRuns(state);
      return {
        runnerId: state.runnerId,
        running: agents,
        commands: state.runs.size - agents,
        ...state.counters,
      };
    },
    idle: () => waitIdle(state),
    stop: (options = {}) => stopRunner(state, wakeUps, options.graceMs ?? 30_000),
  };
}
