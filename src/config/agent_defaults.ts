/**
 * Defaults of the agent settings that agent workers need too (plain
 * constants, no imports, so a worker does not load the config reader).
 *
 * @example Usage
 * ```ts
 * import { HERMES_CONFIG_DEFAULTS } from "./agent_defaults.ts";
 * console.assert(HERMES_CONFIG_DEFAULTS.apiKeyEnv === "API_SERVER_KEY");
 * ```
 *
 * @module
 */

import type { FailureText } from "./types.ts";

/** Defaults of the hermes backend: Hermes' own (API server on 127.0.0.1:8642). */
export const HERMES_CONFIG_DEFAULTS = {
  baseUrl: "http://127.0.0.1:8642/v1",
  apiKeyEnv: "API_SERVER_KEY",
  model: "hermes-agent",
} as const;

/** The default apology (zh for members who write Chinese, en otherwise). */
export const FAILURE_TEXT_DEFAULTS: FailureText = {
  zh: "抱歉，这次没能完成你的请求，请稍后再试。",
  en: "Sorry, your request could not be completed. Please try again later.",
};

/** Default marker after an answer the model cut short. */
export const TRUNCATION_MARKER_DEFAULT = "\n\n[…回答被截断 / answer cut short]";
