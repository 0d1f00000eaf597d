/**
 * Typed errors of an agent run.
 *
 * Every failure of {@linkcode AgentPool.run} is an {@linkcode AgentError}
 * carrying the `jobId` and a stable `kind`. The `message` is short and free of
 * secrets and message bodies, because the job runner shows it to the user as
 * "the agent failed: <message>". Anything longer, for the operator's logs, is
 * in `detail`.
 *
 * @example Usage
 * ```ts
 * import { AgentError, AgentTimeoutError } from "./agent_error.ts";
 * const error: unknown = new AgentTimeoutError("job-1", 90_000);
 * if (error instanceof AgentError) {
 *   console.assert(error.kind === "timeout" && error.jobId === "job-1");
 *   console.assert(error.message === "it took longer than 1.5 min and was stopped");
 * }
 * ```
 *
 * @module
 */

import { formatDuration, shorten } from "../text/format.ts";

/**
 * Why a run failed.
 *
 * - `timeout`: no answer within the per-job timeout; the worker was replaced.
 * - `cancelled`: the caller aborted the run (its signal).
 * - `crash`: the worker died (uncaught error, closed itself, stopped answering pings).
 * - `backend`: the backend reported an error (HTTP status, exit code, …).
 * - `closed`: the pool is closing or closed.
 */
export type AgentErrorKind = "timeout" | "cancelled" | "crash" | "backend" | "closed";

/** The longest `message` an agent error carries; longer ones are cut with "…". */
export const MAX_AGENT_ERROR_MESSAGE = 300;

/** Base class of every error an agent run rejects with. */
export class AgentError extends Error {
  /** The job whose run failed. */
  readonly jobId: string;
  /** Stable identifier of the failure. */
  readonly kind: AgentErrorKind;
  /** More about the failure for the operator's logs (no secrets); may be empty. */
  readonly detail: string;

  /**
   * Creates an error; used by the subclasses.
   *
   * @example Usage
   * ```ts
   * import { AgentError } from "./agent_error.ts";
   * const error = new AgentError("job-1", "backend", "the webhook answered HTTP 502");
   * console.assert(error.kind === "backend");
   * ```
   */
  constructor(jobId: string, kind: AgentErrorKind, message: string, detail = "") {
    super(shorten(message, MAX_AGENT_ERROR_MESSAGE));
    this.name = "AgentError";
    this.jobId = jobId;
    this.kind = kind;
    this.detail = detail;
  }
}

/** The run did not finish within its timeout; the worker running it was terminated. */
export class AgentTimeoutError extends AgentError {
  /** The timeout that passed, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * Creates the error for a run stopped after `timeoutMs`.
   *
   * @example Usage
   * ```ts
   * import { AgentTimeoutError } from "./agent_error.ts";
   * console.assert(new AgentTimeoutError("j", 1_800_000).message.includes("30 min"));
   * ```
   */
  constructor(jobId: string, timeoutMs: number) {
    super(jobId, "timeout", `it took longer than ${formatDuration(timeoutMs)} and was stopped`);
    this.name = "AgentTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** The caller aborted the run. */
export class AgentCancelledError extends AgentError {
  /**
   * Creates the error for a cancelled run.
   *
   * @example Usage
   * ```ts
   * import { AgentCancelledError } from "./agent_error.ts";
   * console.assert(new AgentCancelledError("j").kind === "cancelled");
   * ```
   */
  constructor(jobId: string) {
    super(jobId, "cancelled", "the run was cancelled");
    this.name = "AgentCancelledError";
  }
}

/** The worker running the job died or stopped answering; it was replaced. */
export class AgentCrashError extends AgentError {
  /**
   * Creates the error for a crashed worker; `detail` says how (for logs).
   *
   * @example Usage
   * ```ts
   * import { AgentCrashError } from "./agent_error.ts";
   * const error = new AgentCrashError("j", "Uncaught Error: boom");
   * console.assert(error.message === "the agent crashed" && error.detail.includes("boom"));
   * ```
   */
  constructor(jobId: string, detail: string) {
    super(jobId, "crash", "the agent crashed", shorten(detail, 1000));
    this.name = "AgentCrashError";
  }
}

/** The backend reported a failure (its message says which, e.g. an HTTP status or exit code). */
export class AgentBackendError extends AgentError {
  /**
   * Creates the error from the backend's own (already secret-free) message.
   *
   * @example Usage
   * ```ts
   * import { AgentBackendError } from "./agent_error.ts";
   * const error = new AgentBackendError("j", "the model API answered HTTP 500");
   * console.assert(error.message.includes("HTTP 500"));
   * ```
   */
  constructor(jobId: string, message: string) {
    super(jobId, "backend", message || "the agent backend failed without a message");
    this.name = "AgentBackendError";
  }
}

/** The pool was closed before or while the job ran; the job may be retried later. */
export class AgentPoolClosedError extends AgentError {
  /**
   * Creates the error for a run refused or stopped by `close()`.
   *
   * @example Usage
   * ```ts
   * import { AgentPoolClosedError } from "./agent_error.ts";
   * console.assert(new AgentPoolClosedError("j").kind === "closed");
   * ```
   */
  constructor(jobId: string) {
    super(jobId, "closed", "the gateway is shutting down");
    this.name = "AgentPoolClosedError";
  }
}
