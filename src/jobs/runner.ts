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
 * - Woken by `wake()` (intake, same process), by `kv.watch([keys.wake()])`
 *   (other processes) and by a poll every `config.pollMs`. It never uses
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
 * @module
 */

import { keys } from "../store/keys.ts";
import { admitWaiting } from "./runner/admission.ts";
import { checkCancels } from "./runner/cancel.ts";
import { pump, waitIdle } from "./runner/claim_loop.ts";
import type { Runner, RunnerDeps } from "./runner/deps.ts";
import {
  agentRuns,
  createRunnerState,
  jobFields,
  type RunnerState,
  targetOf,
  track,
} from "./runner/state.ts";
import { purgeJobs, releaseJob, sweepExpired } from "./store.ts";

export type {
  NoticeTarget,
  OutboxPlanner,
  Runner,
  RunnerDeps,
  RunnerLog,
  RunnerStats,
} from "./runner/deps.ts";

// ---- the sweeper ----------------------------------------
/** Text sent when a job is given up after losing its runner `maxAttempts` times. */
export const DEAD_NOTICE =
  "Sorry, your request could not be completed: it was interrupted several times. " +
  "Please send it again.";

/**
 * One sweep (and a purge when one is due); `requeued` is called when jobs went
 * back to the queue. One sweep at a time; none once the runner stops.
 */
async function sweep(state: RunnerState, requeued: () => void): Promise<void> {
  const { kv, now, log, config } = state;
  const { plan } = state.deps;
  if (state.stopping || state.sweeping) return;
  state.sweeping = true;
  try {
    const result = await sweepExpired(kv, now(), config.maxAttempts, {
      onDead: (op, job) => {
        plan.add(op, [plan.notice(targetOf(job), DEAD_NOTICE, "error")]);
      },
    });
    for (const id of result.requeued) log("warn", "job lost its runner; queued again", { id });
    for (const id of result.dead) log("error", "job lost its runner too often; dead", { id });
    for (const id of result.cancelled) log("info", "cancelled job ended by sweeper", { id });
    if (now() - state.lastPurge >= state.purgeEveryMs) {
      state.lastPurge = now();
      const purged = await purgeJobs(kv, { olderThan: now() - state.retentionMs });
      if (purged > 0) log("info", "purged finished jobs", { purged });
    }
    if (result.requeued.length > 0) requeued();
  } catch (error) {
    log("warn", "job sweep failed; it runs again shortly", { runner: state.runnerId, error });
  } finally {
    state.sweeping = false;
  }
}

// ---- wake-ups ----------------------------------------
/** The running wake-ups of a runner. */
interface WakeUps {
  /** Stops the poll and the sweeps (at once, without waiting). */
  halt(): void;
  /** Ends the watch and resolves once its reader has stopped. */
  close(): Promise<void>;
}

/** Starts the watch, the poll and the sweeps, and runs a first sweep then a claim round. */
function startWakeUps(state: RunnerState): WakeUps {
  const next = () => void pump(state);
  const reader = state.kv.watch([keys.wake()]).getReader();
  const watching = (async () => {
    try {
      while (!state.stopping) {
        const { done } = await reader.read();
        if (done || state.stopping) break;
        void pump(state);
        void track(state, checkCancels(state));
      }
    } catch (error) {
      if (!state.stopping) {
        state.log("warn", "watching the wake-up key failed; polling only", { error });
      }
    }
  })();
  const pollTimer = setInterval(next, state.config.pollMs);
  const sweepTimer = setInterval(() => void track(state, sweep(state, next)), state.sweepMs);
  void track(state, sweep(state, next).then(() => pump(state)));
  return {
    halt() {
      clearInterval(pollTimer);
      clearInterval(sweepTimer);
    },
    async close() {
      await reader.cancel().catch(() => {});
      await watching;
    },
  };
}

// ---- stop ----------------------------------------
/** Stops the runner of `state` (see the module doc); does not close the KV store. */
function stopRunner(state: RunnerState, wakeUps: WakeUps, graceMs: number): Promise<void> {
  if (state.stopPromise) return state.stopPromise;
  state.stopping = true;
  admitWaiting(state);
  wakeUps.halt();
  state.stopPromise = (async () => {
    await wakeUps.close();
    await Promise.allSettled([...state.background]);
    await settleWithin([...state.runs.values()].map((run) => run.done), graceMs);
    const releasing: Promise<void>[] = [];
    for (const run of state.runs.values()) {
      if (run.settled || run.outcome) continue;
      run.outcome = "released";
      run.controller.abort(new Error("the gateway is shutting down"));
      releasing.push((async () => {
        if (await releaseJob(state.kv, run.job, state.runnerId, state.now())) {
          state.counters.released++;
          state.log("info", "job released at shutdown", jobFields(state, run.job));
        }
      })());
    }
    await Promise.allSettled(releasing);
    // Runs end once their agent honours the abort; do not wait forever for one that does not.
    await settleWithin([...state.runs.values()].map((run) => run.done), 5_000);
    await Promise.allSettled([...state.background]);
  })();
  return state.stopPromise;
}

/** Waits until `promises` settle or `ms` pass, whichever comes first. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(promises), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a runner. Call `stop()` before closing the KV store.
 *
 * @example Usage
 * ```ts
 * import { startRunner } from "./runner.ts";
 * import { addOutboxItems, planNotice, planRecall, planReply } from "../delivery/outbox.ts";
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
