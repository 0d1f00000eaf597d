/**
 * The values the job store keeps next to job records (conversation lock, running entry, cancel request) and its state constants.
 *
 * @example Usage
 * ```ts
 * import { FINISHED_STATES } from "./values.ts";
 * console.assert(FINISHED_STATES.includes("done"));
 * ```
 *
 * @module
 */

import type { JobState } from "../job.ts";

/** Value of `keys.conversationLock(conversation)`. */
export interface ConversationLock {
  jobId: string;
  /** Mirrors the lease of the job: after this epoch ms the lock is stale. */
  until: number;
  /**
   * A claimer dropped a hint of this conversation while the lock was held: the
   * end of the job must write a fresh hint even if it saw no other queued job.
   */
  waiting?: boolean;
}

/** Value of `keys.running(id)`. */
export interface RunningEntry {
  conversation: string;
  /** Mirrors the lease of the job. */
  until: number;
}

/** Value of `keys.jobCancel(id)`. */
export interface CancelRequest {
  at: number;
  expiresAt: number;
}

/** Every job state, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = ["queued", "running", "done", "failed", "dead"];

/** States a job never leaves. */
export const FINISHED_STATES: readonly JobState[] = ["done", "failed", "dead"];

/** The error recorded on jobs cancelled by `/stop`. */
export const CANCELLED_ERROR = "cancelled by /stop";
