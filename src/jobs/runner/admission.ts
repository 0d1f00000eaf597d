/**
 * Agent-slot admission: the agent jobs a runner holds in the store (claimed,
 * not yet ended) stay at most `config.concurrency`. A claim round may read
 * candidates for a slot whose job is still being ended, but its claim commits
 * only once a slot is held free here ({@linkcode admissionOf}`.acquire()`), so
 * the bound holds in the store too. The count lives in
 * {@linkcode RunnerState} (`held`, `waiting`).
 *
 * @example Usage
 * ```ts
 * import { admissionOf, releaseHeld } from "./admission.ts";
 * import { createRunnerState } from "./state.ts";
 * import { addOutboxItems, planNotice, planRecall, planReply } from "../../records/outbox.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const state = createRunnerState({
 *   kv,
 *   runAgent: async () => ({ text: "hi", attachments: [] }),
 *   resetHistory: async () => {},
 *   plan: { reply: planReply, notice: planNotice, recall: planRecall, add: addOutboxItems },
 *   config: {
 *     concurrency: 1, leaseMs: 60_000, maxAttempts: 3, workingNoticeMs: 0,
 *     workingNoticeText: "…", recallWorkingNotice: true, pollMs: 1000,
 *   },
 *   markdown: false,
 * });
 * const admission = admissionOf(state);
 * console.assert(await admission.acquire()); // the one slot
 * const second = admission.acquire(); // waits for it
 * releaseHeld(state);
 * console.assert(await second);
 * kv.close();
 * ```
 *
 * @module
 */

import type { Admission } from "../../records/job_store/mod.ts";
import type { RunnerState } from "./state.ts";

/** The {@linkcode Admission} a claim round of `state` passes to `claimJobs`. */
export function admissionOf(state: RunnerState): Admission {
  return {
    acquire() {
      if (state.stopping || state.agentsClosed) return Promise.resolve(false);
      if (state.held < state.config.concurrency && state.waiting.length === 0) {
        state.held++;
        return Promise.resolve(true);
      }
      const admitted = new Promise<boolean>((resolve) => state.waiting.push(resolve));
      admitWaiting(state);
      return admitted;
    },
    release: () => releaseHeld(state),
  };
}

/** Gives back one held agent slot (its job ended, or its claim did not commit). */
export function releaseHeld(state: RunnerState): void {
  state.held--;
  admitWaiting(state);
}

/**
 * Answers the waiting claims: admitted while a slot is free, refused once the
 * runner stops or the agent pool closed.
 */
export function admitWaiting(state: RunnerState): void {
  while (state.waiting.length > 0) {
    if (state.stopping || state.agentsClosed) {
      state.waiting.shift()!(false);
    } else if (state.held < state.config.concurrency) {
      state.held++;
      state.waiting.shift()!(true);
    } else {
      return;
    }
  }
}
