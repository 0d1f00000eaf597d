/**
 * The messages between the agent pool (`./pool.ts`) and its workers (`./worker.ts`).
 *
 * Plain, structured-clone friendly data. A run is identified by a pool-made
 * `id` (not the job id: one job may be run again after a failure).
 *
 * @example Usage
 * ```ts
 * import type { ToWorker } from "./protocol.ts";
 * const cancel: ToWorker = { type: "cancel", id: "run-1" };
 * console.assert(cancel.type === "cancel");
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../config/types.ts";
import type { AgentReply, AgentRequest } from "../records/agent.ts";

/** From the pool to a worker. */
export type ToWorker =
  /** Start a run; the worker answers `reply` or `error` with the same id. */
  | { type: "run"; id: string; request: AgentRequest; config: AgentConfig }
  /** Abort that run's signal; the worker still answers (usually `error`). */
  | { type: "cancel"; id: string }
  /** Liveness check; the worker answers `pong` at once. */
  | { type: "ping" };

/** From a worker to the pool. */
export type FromWorker =
  | { type: "reply"; id: string; reply: AgentReply }
  | { type: "error"; id: string; message: string }
  | { type: "pong" };
