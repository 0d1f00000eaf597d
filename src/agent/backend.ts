/**
 * The backend contract and the choice of backend by `agent.kind`.
 *
 * A backend answers one {@linkcode AgentRequest}. It runs inside a pool
 * worker (`./worker.ts`), gets its settings per run, and must stop promptly
 * when `signal` aborts (the pool sends that on timeout, cancel and close).
 * Errors it throws are recorded on the failed job and logged (members get an
 * apology instead), so they must be short, name the fix and never contain
 * secrets.
 *
 * @example Usage
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * const backend = selectBackend("echo");
 * console.assert(typeof backend === "function");
 * ```
 *
 * @module
 */

import type { AgentConfig, AgentKind } from "../config/types.ts";
import type { AgentReply, AgentRequest } from "../records/agent.ts";
import { echoBackend } from "./backends/echo.ts";
import { openaiBackend } from "./backends/openai.ts";
import { commandBackend } from "./backends/command.ts";
import { httpBackend } from "./backends/http.ts";
import { hermesBackend } from "./backends/hermes.ts";

/** One agent backend: answers `request` with the settings in `config`, stops when `signal` aborts. */
export type AgentBackend = (
  request: AgentRequest,
  config: AgentConfig,
  signal: AbortSignal,
) => Promise<AgentReply>;

const BACKENDS: Record<AgentKind, AgentBackend> = {
  echo: echoBackend,
  openai: openaiBackend,
  command: commandBackend,
  http: httpBackend,
  hermes: hermesBackend,
};

/**
 * Returns the backend for `kind`, or throws when there is none.
 *
 * @example Usage
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * try {
 *   selectBackend("telepathy" as never);
 * } catch (error) {
 *   console.assert((error as Error).message.includes("echo, openai, hermes, command or http"));
 * }
 * ```
 */
export function selectBackend(kind: AgentKind): AgentBackend {
  const backend = Object.hasOwn(BACKENDS, kind) ? BACKENDS[kind] : undefined;
  if (!backend) {
    throw new Error(
      `Cannot run agent kind '${kind}': expected echo, openai, hermes, command or http. ` +
        "Set agent.kind in config.yaml or WECOM_GATEWAY_AGENT.",
    );
  }
  return backend;
}
