/**
 * The job record: one inbound message on its way to the agent and back.
 *
 * Written by intake in the same atomic commit as the dedupe key; from then on
 * owned by the job store (`./store.ts`).
 *
 * @module
 */

import type { InboundMessage } from "./message.ts";

/** Lifecycle: queued → running (lease + heartbeat) → done | failed | dead. */
export type JobState = "queued" | "running" | "done" | "failed" | "dead";

/** A lease held by one runner. */
export interface JobLease {
  /** Runner id: unique per process start. */
  owner: string;
  /** Epoch ms after which the lease is stale and the sweeper may take the job back. */
  until: number;
}

/** One job, as stored at `keys.job(id)`. */
export interface JobRecord {
  /** Time-ordered, unique (see `newJobId()` in `./id.ts`); ordering of ids is arrival order. */
  id: string;
  /** `corp_id:user_id`: one job at a time per conversation, in id order. */
  conversation: string;
  /** Name of the app that received the message; replies go out through this app. */
  app: string;
  corpId: string;
  agentId: string;
  userId: string;
  message: InboundMessage;
  /** Epoch ms when the callback was acknowledged. */
  receivedAt: number;
  state: JobState;
  /** Runs started so far (a lost lease counts). */
  attempts: number;
  lease?: JobLease;
  /** Epoch ms of the last state change. */
  updatedAt: number;
  /** Why the job failed or died; shown by `jobs` and in logs (never message bodies). */
  error?: string;
}
