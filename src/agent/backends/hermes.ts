/**
 * The hermes backend: Hermes Agent's API server (`hermes gateway run` with
 * `API_SERVER_ENABLED=true`) as the brain of the WeCom app.
 *
 * It POSTs to `${agent.hermes.base_url}/chat/completions` (OpenAI's shape,
 * through {@linkcode completeChat} of `./openai.ts`, so failures, retries and
 * truncation are handled the same way) with:
 *
 * - `X-Hermes-Session-Id`: an opaque id of the member's conversation and its
 *   epoch (`../session_ids.ts`). Hermes keeps the transcript under that id,
 *   so two members never share a session whatever they write, and `/reset`
 *   (a new epoch) starts a new one. Without the header Hermes would derive
 *   the session from the system prompt and the first user message.
 * - `X-Hermes-Session-Key`: the member's opaque id, stable across transcripts
 *   (Hermes' long-term memory scope); also the body's `user`.
 * - only the new message (with `agent.hermes.system_prompt` and the platform
 *   hint as a system message when set): Hermes holds the history, the gateway
 *   keeps none for this kind.
 * - `Authorization: Bearer <API_SERVER_KEY>`: Hermes refuses the session
 *   headers without a key (403).
 *
 * Chat completions rather than the runs API: the session semantics are
 * documented there and one request is one turn. `/stop` aborts the request
 * (the gateway stops waiting at once); there is no Hermes run id to stop,
 * so Hermes may finish that turn in its session.
 *
 * @example Usage
 * ```ts ignore
 * import { hermesBackend } from "./hermes.ts";
 * const reply = await hermesBackend(request, config, AbortSignal.timeout(60_000));
 * ```
 *
 * @module
 */

import type { AgentConfig, HermesConfig } from "../../config/types.ts";
import type { AgentReply, AgentRequest } from "../../records/agent.ts";
import { headerSafe } from "../session_ids.ts";
import { buildChatMessages, completeChat, headerSecrets } from "./openai.ts";
import { HERMES_CONFIG_DEFAULTS, TRUNCATION_MARKER_DEFAULT } from "../../config/agent_defaults.ts";

/** Settings used when `agent.hermes` is absent: Hermes' own defaults. */
export const HERMES_DEFAULTS: HermesConfig = {
  ...HERMES_CONFIG_DEFAULTS,
  apiKey: "",
  systemPrompt: "",
  headers: {},
  revealIds: false,
};

/**
 * The headers of one Hermes request: extras, content type, key, session.
 *
 * @example Usage
 * ```ts
 * import { hermesHeaders, HERMES_DEFAULTS } from "./hermes.ts";
 * const headers = hermesHeaders({ ...HERMES_DEFAULTS, apiKey: "k-123" }, {
 *   sessionId: "wecom-abc", memberId: "wecom-def",
 * });
 * console.assert(headers["X-Hermes-Session-Id"] === "wecom-abc");
 * ```
 */
export function hermesHeaders(
  settings: HermesConfig,
  session: AgentRequest["session"],
): Record<string, string> {
  const headers: Record<string, string> = {
    ...settings.headers,
    "content-type": "application/json",
  };
  if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`;
  if (session) {
    headers["X-Hermes-Session-Id"] = headerSafe(session.sessionId);
    headers["X-Hermes-Session-Key"] = headerSafe(session.memberId);
  }
  return headers;
}

/**
 * Asks Hermes and returns its answer as a reply.
 *
 * @example Usage
 * ```ts ignore
 * import { hermesBackend } from "./hermes.ts";
 * const reply = await hermesBackend(request, config, signal);
 * ```
 */
export async function hermesBackend(
  request: AgentRequest,
  config: AgentConfig,
  signal: AbortSignal,
): Promise<AgentReply> {
  const settings = { ...HERMES_DEFAULTS, ...config.hermes };
  const url = `${settings.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  if (!URL.canParse(url)) {
    throw new Error("agent.hermes.base_url is not a valid URL: fix it in config.yaml");
  }
  if (!request.session) {
    throw new Error(
      "the hermes agent got no session id for this conversation (a gateway bug): " +
        "Hermes would mix members' sessions, so the message was not sent",
    );
  }
  const body: Record<string, unknown> = {
    model: settings.model,
    messages: buildChatMessages(
      [settings.systemPrompt, request.platformHint ?? ""]
        .filter((part) => part.trim() !== "").join("\n\n"),
      [],
      request.text,
    ),
    user: request.session.memberId,
  };
  const host = new URL(url).host;
  return await completeChat(
    {
      url,
      headers: hermesHeaders(settings, request.session),
      body,
      secrets: [settings.apiKey, ...headerSecrets(settings.headers)],
      context: {
        server: `Hermes at ${host}`,
        keyEnv: settings.apiKey ? settings.apiKeyEnv : undefined,
        urlKey: "agent.hermes.base_url",
        modelKey: "agent.hermes.model",
        model: settings.model,
      },
      truncationMarker: config.truncationMarker ?? TRUNCATION_MARKER_DEFAULT,
    },
    signal,
    request.deadlineAt,
  );
}
