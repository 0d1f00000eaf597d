/**
 * `demo --agent hermes|openai --agent-url URL`: the simulated WeCom in front
 * of a real agent, so a user sees their own Hermes (or any OpenAI-compatible
 * server) answer through WeCom's message path before they touch the WeCom
 * admin console.
 *
 * Turns the flags into the gateway's environment variables on top of the
 * demo's own (`WECOM_GATEWAY_AGENT`, `WECOM_GATEWAY_HERMES_URL` or
 * `WECOM_GATEWAY_OPENAI_BASE_URL` / `_MODEL`), passing the key from the real
 * environment (`API_SERVER_KEY` for Hermes, `OPENAI_API_KEY` for openai, or
 * the variable `--key-env` names).
 *
 * @example Usage
 * ```ts
 * import { demoAgentEnv } from "./demo_agent.ts";
 * const env = demoAgentEnv(
 *   { agent: "hermes", url: "http://127.0.0.1:8642/v1" },
 *   { API_SERVER_KEY: "k-1" },
 * );
 * console.assert(typeof env !== "string" && env.WECOM_GATEWAY_AGENT === "hermes");
 * ```
 *
 * @module
 */

import { listJobs } from "../records/job_store/mod.ts";
import { DEMO_ENV, type DemoEnvironment } from "../simulator/demo.ts";
import { say } from "./demo_interactive.ts";
import { CONSOLE, type DemoOutput } from "./demo_output.ts";

/** The agent flags of `demo`. */
export interface DemoAgentFlags {
  agent: "hermes" | "openai";
  /** Base URL of the agent's API (…/v1). */
  url?: string;
  /** Model name (openai: required; hermes: default hermes-agent, or API_SERVER_MODEL_NAME). */
  model?: string;
  /** The variable holding the key (default API_SERVER_KEY / OPENAI_API_KEY). */
  keyEnv?: string;
}

/**
 * The demo's environment with the agent of `flags`, or a message saying what
 * is missing.
 *
 * @example Usage
 * ```ts
 * import { demoAgentEnv } from "./demo_agent.ts";
 * const problem = demoAgentEnv({ agent: "openai", url: "http://127.0.0.1:11434/v1" }, {});
 * console.assert(typeof problem === "string" && problem.includes("--model"));
 * ```
 */
export function demoAgentEnv(
  flags: DemoAgentFlags,
  realEnv: Record<string, string>,
): Record<string, string> | string {
  const keyEnv = flags.keyEnv ?? (flags.agent === "hermes" ? "API_SERVER_KEY" : "OPENAI_API_KEY");
  const key = realEnv[keyEnv] ?? "";
  const env: Record<string, string> = { ...DEMO_ENV, WECOM_GATEWAY_AGENT: flags.agent };
  if (flags.agent === "hermes") {
    if (!key) {
      return `Cannot run the demo with Hermes as ${keyEnv} is not set: put Hermes' ` +
        `API_SERVER_KEY (from $HERMES_HOME/.env) in ${keyEnv}, e.g. ` +
        `${keyEnv}=… deno task demo --agent hermes`;
    }
    if (flags.url) env.WECOM_GATEWAY_HERMES_URL = flags.url;
    if (flags.model) env.WECOM_GATEWAY_HERMES_MODEL = flags.model;
    env.API_SERVER_KEY = key; // the variable agent.hermes.api_key_env names by default
    return env;
  }
  if (!flags.url) {
    return "Cannot run the demo with an openai agent without --agent-url: give the server's " +
      "base URL, e.g. --agent-url http://127.0.0.1:11434/v1";
  }
  if (!flags.model) {
    return "Cannot run the demo with an openai agent without --model: give a model the " +
      "server lists at /v1/models, e.g. --model qwen2.5";
  }
  env.WECOM_GATEWAY_OPENAI_BASE_URL = flags.url;
  env.WECOM_GATEWAY_OPENAI_MODEL = flags.model;
  if (key) env.OPENAI_API_KEY = key; // the variable agent.openai.api_key_env names by default
  return env;
}

/** What `demo --agent` sends when no `--say` is given. */
export const DEFAULT_AGENT_GREETING =
  "你好！请用一句话介绍你自己。(Hello! Introduce yourself in one sentence.)";

/**
 * Sends `text` once to the configured agent through the simulated WeCom and
 * prints what the member got; 0 when the agent answered, 1 when its job
 * failed (the operator's reason is printed) or nothing arrived.
 *
 * @example Usage
 * ```ts ignore
 * import { askAgentOnce } from "./demo_agent.ts";
 * const code = await askAgentOnce(demo, "hello");
 * ```
 */
export async function askAgentOnce(
  demo: DemoEnvironment,
  text: string,
  output: DemoOutput = CONSOLE,
): Promise<number> {
  output.out("");
  output.out(`Asking your ${demo.config.agent.kind} agent through the simulated WeCom…`);
  if (!await say(demo, text, output)) return 1;
  const [failed] = await listJobs(demo.gateway.kv, { state: "failed", limit: 1 });
  if (failed) {
    output.err(`  ✗ the agent failed; the member got the apology. Reason: ${failed.error}`);
    output.err("    Run 'wecom-gateway check --online' with the same settings for the fix.");
    return 1;
  }
  output.out(
    "  ✓ your agent answered through the simulated WeCom. Next: the README's setup steps.",
  );
  return 0;
}
