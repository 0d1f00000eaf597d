/**
 * The agent settings beyond each backend's basics: the hermes backend
 * (`agent.hermes.*`), the member's apology (`agent.failure_text`) and the
 * truncation marker (`agent.truncation_marker`).
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readAgentExtras } from "./validate_agent.ts";
 * const read = createReader({
 *   env: { API_SERVER_KEY: "k-123456" },
 *   dotenv: {},
 *   root: { agent: { kind: "hermes" } },
 * });
 * const extras = readAgentExtras(read, "hermes");
 * console.assert(extras.hermes.baseUrl === "http://127.0.0.1:8642/v1" && read.problems.length === 0);
 * ```
 *
 * @module
 */

import { SETTINGS } from "./keys.ts";
import { fromEnv } from "./layers.ts";
import { type Reader, where } from "./read.ts";
import type { AgentKind, FailureText, HermesConfig } from "./types.ts";
import {
  FAILURE_TEXT_DEFAULTS,
  HERMES_CONFIG_DEFAULTS,
  TRUNCATION_MARKER_DEFAULT,
} from "./agent_defaults.ts";

export { FAILURE_TEXT_DEFAULTS, HERMES_CONFIG_DEFAULTS, TRUNCATION_MARKER_DEFAULT };

type Spec = (typeof SETTINGS)[keyof typeof SETTINGS];

/**
 * A headers mapping whose names are valid HTTP; a bad name is reported.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { SETTINGS } from "./keys.ts";
 * import { validHeaders } from "./validate_agent.ts";
 * const read = createReader({ env: {}, dotenv: {}, root: { agent: { http: { headers: { "a b": "x" } } } } });
 * validHeaders(read, SETTINGS.httpHeaders);
 * console.assert(read.problems.length === 1);
 * ```
 */
export function validHeaders(read: Reader, spec: Spec): Record<string, string> {
  const headers = read.stringMap(spec);
  for (const name of Object.keys(headers)) {
    try {
      new Headers([[name, "x"]]);
    } catch {
      read.report(
        spec,
        read.raw(spec),
        `has a header name that is not valid HTTP (${JSON.stringify(name.slice(0, 40))}).`,
        "Use header names made of letters, digits and -, e.g. Authorization.",
      );
    }
  }
  return headers;
}

function failureText(read: Reader): FailureText {
  const raw = read.raw(SETTINGS.agentFailureText);
  if (raw === undefined) return { ...FAILURE_TEXT_DEFAULTS };
  if (typeof raw.value === "string") {
    const text = raw.value.trim();
    if (text) return { zh: text, en: text };
  } else if (raw.value && typeof raw.value === "object" && !Array.isArray(raw.value)) {
    const map = read.stringMap(SETTINGS.agentFailureText);
    const unknown = Object.keys(map).filter((key) => key !== "zh" && key !== "en");
    if (unknown.length === 0) {
      return {
        zh: map.zh?.trim() || FAILURE_TEXT_DEFAULTS.zh,
        en: map.en?.trim() || FAILURE_TEXT_DEFAULTS.en,
      };
    }
  }
  read.report(
    SETTINGS.agentFailureText,
    raw,
    "is neither a short text nor a mapping of zh and en texts.",
    `Set ${where(SETTINGS.agentFailureText, raw)} to one text for everyone, or to ` +
      '{zh: "抱歉…", en: "Sorry…"}; remove it for the defaults.',
  );
  return { ...FAILURE_TEXT_DEFAULTS };
}

function hermes(read: Reader, kind: AgentKind): HermesConfig {
  const baseUrl = read.url(SETTINGS.hermesBaseUrl, HERMES_CONFIG_DEFAULTS.baseUrl);
  const apiKeyEnvRaw = read.raw(SETTINGS.hermesApiKeyEnv);
  let apiKeyEnv = read.text(SETTINGS.hermesApiKeyEnv, HERMES_CONFIG_DEFAULTS.apiKeyEnv).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv)) {
    read.report(
      SETTINGS.hermesApiKeyEnv,
      apiKeyEnvRaw,
      "is not the name of an environment variable (it names the variable that holds the key, not the key itself).",
      "Set agent.hermes.api_key_env to a variable name such as API_SERVER_KEY, and put Hermes' API_SERVER_KEY in it.",
    );
    apiKeyEnv = HERMES_CONFIG_DEFAULTS.apiKeyEnv;
  }
  const apiKey = kind === "hermes" ? String(fromEnv(read.layers, apiKeyEnv)?.value ?? "") : "";
  if (kind === "hermes" && apiKey === "") {
    read.report(
      SETTINGS.hermesApiKeyEnv,
      apiKeyEnvRaw,
      `names ${apiKeyEnv}, which is not set; Hermes refuses session headers (403) without a key, ` +
        "and without them members would share Hermes sessions.",
      `Set API_SERVER_KEY in Hermes' $HERMES_HOME/.env, and the same value in ${apiKeyEnv} ` +
        "(environment or this gateway's .env).",
    );
  }
  const model = read.text(SETTINGS.hermesModel, HERMES_CONFIG_DEFAULTS.model).trim() ||
    HERMES_CONFIG_DEFAULTS.model;
  return {
    baseUrl,
    apiKey,
    apiKeyEnv,
    model,
    systemPrompt: read.text(SETTINGS.hermesSystemPrompt, ""),
    headers: validHeaders(read, SETTINGS.hermesHeaders),
    revealIds: read.boolean(SETTINGS.hermesRevealIds, false),
  };
}

/**
 * Reads `agent.hermes`, `agent.failure_text` and `agent.truncation_marker`,
 * reporting problems on `read`.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readAgentExtras } from "./validate_agent.ts";
 * const read = createReader({ env: {}, dotenv: {}, root: { agent: { failure_text: "Oops" } } });
 * console.assert(readAgentExtras(read, "echo").failureText.zh === "Oops");
 * ```
 */
export function readAgentExtras(
  read: Reader,
  kind: AgentKind,
): { hermes: HermesConfig; failureText: FailureText; truncationMarker: string } {
  return {
    hermes: hermes(read, kind),
    failureText: failureText(read),
    truncationMarker: read.text(SETTINGS.agentTruncationMarker, TRUNCATION_MARKER_DEFAULT),
  };
}
