/**
 * A short, bounded label for why an agent run failed, for the
 * `wecom_agent_failures_total{reason}` metric (the full reason is on the job
 * and in the log).
 *
 * @example Usage
 * ```ts
 * import { AgentBackendError } from "../records/agent_error.ts";
 * import { agentFailureReason } from "./failure_reason.ts";
 * const error = new AgentBackendError("j", "Hermes at 127.0.0.1:8642 answered HTTP 502: x");
 * console.assert(agentFailureReason(error) === "http_502");
 * ```
 *
 * @module
 */

import { AgentError } from "../records/agent_error.ts";

/**
 * `timeout`, `cancelled`, `crash`, `closed`, `unreachable`, `http_<status>`,
 * `failed_run`, `content_filter`, `backend` (any other backend error) or
 * `internal` (not an agent error).
 *
 * @example Usage
 * ```ts
 * import { agentFailureReason } from "./failure_reason.ts";
 * console.assert(agentFailureReason(new Error("boom")) === "internal");
 * ```
 */
export function agentFailureReason(error: unknown): string {
  if (!(error instanceof AgentError)) return "internal";
  if (error.kind !== "backend") return error.kind;
  const text = error.message;
  if (/could not reach/.test(text)) return "unreachable";
  if (/reported a failed run/.test(text)) return "failed_run";
  if (/content_filter/.test(text)) return "content_filter";
  const status = /\bHTTP (\d{3})\b/.exec(text);
  return status ? `http_${status[1]}` : "backend";
}
