/**
 * The claim loop: {@linkcode pump} claims jobs for the free slots (at most
 * `config.concurrency` agent jobs and `commandConcurrency` command jobs) from
 * one scan of the store (`claimJobs`: the claims run concurrently, each an
 * atomic commit), and each job starts as soon as its claim commits. A slot is
 * free when it neither runs a job nor is reserved by a claim round in flight,
 * so a slot that frees up is claimed for at once, and the slots reserved plus
 * the jobs running never exceed the bounds.
 *
 * @example Usage
 * ```ts ignore
 * import { pump, waitIdle } from "./claim_loop.ts";
 * void pump(state); // at a wake-up
 * await waitIdle(state); // nothing runs and nothing is claimable
 * ```
 *
 * @module
 */

import { parseCommand } from "../../records/command.ts";
import { claimJobs, releaseJob } from "../../records/job_store/mod.ts";
import type { JobRecord } from "../../records/job.ts";
import { admissionOf, releaseHeld } from "./admission.ts";
import { startRun } from "./run_job.ts";
import { agentRuns, busyAgentSlots, type RunnerState, track } from "./state.ts";

/** Starts a claim round for the free slots, if any; resolves when it ends. */
export function pump(state: RunnerState): Promise<void> {
  if (state.stopping) return Promise.resolve();
  const agents = agentRuns(state);
  const jobs = state.agentsClosed
    ? 0
    : Math.max(0, state.config.concurrency - busyAgentSlots(state) - state.reservedJobs);
  const commands = Math.max(
    0,
    state.commandConcurrency - (state.runs.size - agents) - state.reservedCommands,
  );
  if (jobs === 0 && commands === 0) {
    // Every free slot is being claimed for: look again once those rounds end,
    // as they may have listed the index before the work that woke us.
    if (state.rounds.size > 0) state.pumpWanted = true;
    return Promise.resolve();
  }
  state.pumpWanted = false; // this round lists the index after whatever woke us
  const round = track(state, claimRound(state, jobs, commands));
  state.rounds.add(round);
  void round.finally(() => state.rounds.delete(round));
  return round;
}

/** Resolves once nothing runs here and no job is claimable by this runner. */
export async function waitIdle(state: RunnerState): Promise<void> {
  while (true) {
    if (state.rounds.size > 0) {
      // Let the rounds in flight end first (they may start runs, or more rounds).
      await Promise.all(state.rounds);
      continue;
    }
    await pump(state);
    const pending = [...state.runs.values()].map((run) => run.done);
    if (pending.length === 0) {
      if (state.rounds.size === 0) return;
      continue;
    }
    await Promise.race(pending);
  }
}

/** One claim round for `jobs` agent slots and `commands` command slots, reserved meanwhile. */
async function claimRound(state: RunnerState, jobs: number, commands: number): Promise<void> {
  const { kv, runnerId, now, counters } = state;
  const next = () => void pump(state);
  state.reservedJobs += jobs;
  state.reservedCommands += commands;
  let agentsClaimed = 0;
  let commandsClaimed = 0;
  const giveBack: JobRecord[] = [];
  let failed = false;
  try {
    if (state.yieldTo) await state.yieldTo();
    if (state.stopping) return;
    await claimJobs(kv, runnerId, now(), state.config.leaseMs, {
      jobs,
      commands,
      commit: state.commit,
      claiming: state.claiming,
      admit: admissionOf(state),
      // Each job starts as soon as its claim commits, not after the whole round.
      onClaim: (job, versionstamp) => {
        const command = parseCommand(job.message) !== null;
        if (command) {
          commandsClaimed++;
          state.reservedCommands--;
        } else {
          agentsClaimed++;
          state.reservedJobs--;
        }
        if (state.stopping || (state.agentsClosed && !command)) {
          // Claimed while this runner stopped taking such jobs: give it back untouched.
          giveBack.push(job);
          return;
        }
        counters.claimed++;
        startRun(state, job, next, versionstamp);
      },
    });
  } catch (error) {
    failed = true;
    state.log("error", "job runner could not claim jobs; retrying at the next wake-up", {
      runner: runnerId,
      error,
    });
  } finally {
    state.reservedJobs -= jobs - agentsClaimed;
    state.reservedCommands -= commands - commandsClaimed;
  }
  await Promise.all(giveBack.map(async (job) => {
    await releaseJob(kv, job, runnerId, now()).catch(() => {});
    if (parseCommand(job.message) === null) releaseHeld(state);
  }));
  if (failed || state.stopping) return;
  // A kind that got all it asked for may have more waiting; fewer means the
  // index had no more when it was read, and only new work needs a new look.
  const more = (jobs > 0 && agentsClaimed === jobs) ||
    (commands > 0 && commandsClaimed === commands);
  if (more || state.pumpWanted) void pump(state);
}
