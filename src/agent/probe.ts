/**
 * Is the agent backend reachable? One cheap request that runs no agent:
 *
 * - `echo`: always (it runs inside the gateway).
 * - `openai`: `GET <base_url>/models` with the API key; 2xx is reachable,
 *   401/403 means the key is refused, anything else is reported with its status.
 * - `http`: any HTTP answer from `agent.http.url` to a `HEAD` request proves
 *   the webhook's server is reachable (it is not asked to run anything).
 * - `command`: the program exists and is executable (found on PATH or at its
 *   path).
 *
 * Used by `check --online` and the operator console's health view.
 *
 * @example Usage
 * ```ts ignore
 * import { probeAgent } from "./probe.ts";
 * const result = await probeAgent(config.agent);
 * console.log(result.ok ? "reachable" : result.detail);
 * ```
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import type { AgentConfig } from "../config/types.ts";
import { describeFetchError, redactSecrets } from "./errors.ts";

/** The outcome of {@linkcode probeAgent}. */
export interface AgentProbe {
  kind: AgentConfig["kind"];
  ok: boolean;
  /** What was tried and what came back, in plain words (no secret). */
  detail: string;
  /** Time taken, ms. */
  ms: number;
}

async function findProgram(program: string, cwd?: string): Promise<string | undefined> {
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : join(cwd ?? Deno.cwd(), program)]
    : (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Probes `agent` once, within `timeoutMs` (default 5000).
 *
 * @example Usage
 * ```ts
 * import { probeAgent } from "./probe.ts";
 * const result = await probeAgent({ kind: "echo" } as Parameters<typeof probeAgent>[0]);
 * console.assert(result.ok);
 * ```
 */
export async function probeAgent(agent: AgentConfig, timeoutMs = 5000): Promise<AgentProbe> {
  const started = performance.now();
  const done = (ok: boolean, detail: string): AgentProbe => ({
    kind: agent.kind,
    ok,
    detail,
    ms: Math.round(performance.now() - started),
  });
  try {
    switch (agent.kind) {
      case "echo":
        return done(true, "the echo agent runs inside the gateway");
      case "command": {
        const program = agent.command.argv[0];
        if (!program) return done(false, "agent.command.argv is empty: no program to run");
        const found = await findProgram(program, agent.command.cwd);
        return found
          ? done(true, `${program} is found and executable`)
          : done(false, `${program} is not found on PATH or not executable`);
      }
      case "openai": {
        const url = `${agent.openai.baseUrl}/models`;
        const response = await fetch(url, {
          headers: agent.openai.apiKey ? { authorization: `Bearer ${agent.openai.apiKey}` } : {},
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) return done(true, `GET /models answered HTTP ${response.status}`);
        if (response.status === 401 || response.status === 403) {
          return done(false, `the server refused the API key (HTTP ${response.status})`);
        }
        // Some compatible servers have no /models: an answer still proves reachability.
        return done(response.status < 500, `GET /models answered HTTP ${response.status}`);
      }
      case "http": {
        const response = await fetch(agent.http.url, {
          method: "HEAD",
          headers: agent.http.headers,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        return done(
          response.status < 500,
          `the webhook's server answered HTTP ${response.status} to HEAD`,
        );
      }
    }
  } catch (error) {
    const secrets = [agent.openai.apiKey, ...Object.values(agent.http.headers)];
    return done(false, `not reachable: ${redactSecrets(describeFetchError(error), secrets)}`);
  }
}
