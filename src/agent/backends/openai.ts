/**
 * The openai backend: one call to an OpenAI-compatible chat completions API.
 *
 * POSTs `{model, messages: [system?, ...history, user]}` (the system prompt
 * followed by the platform hint, `../platform_hint.ts`, when enabled) to
 * `${baseUrl}/chat/completions` (OpenAI, DeepSeek, Qwen/DashScope, Ollama,
 * vLLM, …) and answers with `choices[0].message.content`, reasoning
 * (`<think>` blocks) removed and `MEDIA:` lines parsed (see `../reply.ts`).
 * The conversation history is loaded and saved by `../run.ts`.
 *
 * The request carries the configured extra headers (`agent.openai.headers`)
 * and `user`: the member's opaque id (`../session_ids.ts`). Transient
 * failures are retried within the job's time budget; a failed or filtered
 * run is an error, never an answer; a truncated one is delivered with a
 * marker ({@linkcode completeChat}, shared with the hermes backend).
 *
 * Failures are short, for the operator (members get an apology), and name
 * the HTTP status, the API's own error message and the fix; the API key never
 * appears in them (it is cut out even when the provider echoes it back).
 *
 * @example Usage
 * ```ts ignore
 * import { openaiBackend } from "./openai.ts";
 * const reply = await openaiBackend(request, config, AbortSignal.timeout(60_000));
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../../config/types.ts";
import type { AgentReply, AgentRequest } from "../../records/agent.ts";
import { parseReply } from "../reply.ts";
import { describeFetchError, redactSecrets, shorten } from "../../text/format.ts";
import { BackendFailure, type FailureContext, httpFailure, retryAfterMs } from "./failure.ts";
import { retryWithin } from "./retry.ts";
import { TRUNCATION_MARKER_DEFAULT } from "../../config/agent_defaults.ts";
import { guardedFetch, RedirectRefusedError } from "../../guarded_fetch.ts";

/** One message of a chat completions request. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * Builds the `messages` array: the system prompt (when set), the history
 * oldest first, then the user's text.
 *
 * @example Usage
 * ```ts
 * import { buildChatMessages } from "./openai.ts";
 * const messages = buildChatMessages("Be brief.", [{ role: "user", content: "hi" }], "again");
 * console.assert(messages.length === 3 && messages[0].role === "system");
 * ```
 */
export function buildChatMessages(
  systemPrompt: string,
  history: AgentRequest["history"],
  text: string,
): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt.trim()) messages.push({ role: "system", content: systemPrompt });
  for (const turn of history) messages.push({ role: turn.role, content: turn.content });
  messages.push({ role: "user", content: text });
  return messages;
}

/** One chat completions call, as {@linkcode completeChat} makes it (and retries it). */
export interface ChatCall {
  /** The full URL, `…/chat/completions`. */
  url: string;
  /** Request headers (content type, authorization, session headers, extras). */
  headers: Record<string, string>;
  /** The JSON body. */
  body: Record<string, unknown>;
  /** Cut out of every message (the API key, header values). */
  secrets: string[];
  /** Names for failure messages: the server, the key's variable, the config keys. */
  context: FailureContext;
  /** Appended to an answer the server cut short (`finish_reason: "length"`). */
  truncationMarker: string;
}

/**
 * Asks the model and returns its answer as a reply.
 *
 * @example Usage
 * ```ts ignore
 * import { openaiBackend } from "./openai.ts";
 * const reply = await openaiBackend(request, config, signal);
 * console.log(reply.text);
 * ```
 */
export async function openaiBackend(
  request: AgentRequest,
  config: AgentConfig,
  signal: AbortSignal,
): Promise<AgentReply> {
  const settings = config.openai;
  const apiKey = settings.apiKey ?? "";
  const url = `${(settings.baseUrl ?? "").replace(/\/+$/, "")}/chat/completions`;
  if (!URL.canParse(url)) {
    throw new Error("agent.openai.base_url is not a valid URL: fix it in config.yaml");
  }
  const extra = settings.headers ?? {};
  const headers: Record<string, string> = { ...extra, "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const body: Record<string, unknown> = {
    model: settings.model,
    messages: buildChatMessages(
      [settings.systemPrompt ?? "", request.platformHint ?? ""]
        .filter((part) => part.trim() !== "").join("\n\n"),
      request.history ?? [],
      request.text,
    ),
  };
  if (request.session) body.user = request.session.memberId;
  return await completeChat(
    {
      url,
      headers,
      body,
      secrets: [apiKey, ...headerSecrets(extra)],
      context: {
        server: `the model API at ${hostOf(url)}`,
        keyEnv: apiKey ? (settings.apiKeyEnv ?? "OPENAI_API_KEY") : undefined,
        model: settings.model,
      },
      truncationMarker: config.truncationMarker ?? TRUNCATION_MARKER_DEFAULT,
    },
    signal,
    request.deadlineAt,
  );
}

/**
 * The values of configured headers, and their credential part alone (without
 * "Bearer ", "Basic ", …), for redaction.
 *
 * @example Usage
 * ```ts
 * import { headerSecrets } from "./openai.ts";
 * console.assert(headerSecrets({ authorization: "Bearer abc123" }).includes("abc123"));
 * ```
 */
export function headerSecrets(headers: Record<string, string>): string[] {
  return Object.values(headers).flatMap((value) => [value, value.replace(/^\S+\s+/, "")]);
}

/**
 * Makes one chat completions call, retrying transient failures (connection
 * refused, 429, 5xx) with back-off until `deadlineAt` (see `./retry.ts`), and
 * returns the answer. A run the server reports as failed (`finish_reason`
 * `error`, Hermes' `X-Hermes-Completed: false`) or filtered (`content_filter`)
 * is a failure, never an answer; one cut short (`length`) is delivered with
 * `call.truncationMarker` after it.
 *
 * @example Usage
 * ```ts ignore
 * import { completeChat } from "./openai.ts";
 * const reply = await completeChat(call, signal, Date.now() + 60_000);
 * ```
 */
export async function completeChat(
  call: ChatCall,
  signal: AbortSignal,
  deadlineAt?: number,
): Promise<AgentReply> {
  return await retryWithin(() => attemptChat(call, signal), { signal, deadlineAt });
}

async function attemptChat(call: ChatCall, signal: AbortSignal): Promise<AgentReply> {
  const { url, headers, context } = call;
  const scrub = (text: string) => redactSecrets(text, call.secrets);
  const body = JSON.stringify(call.body);
  let response: Response;
  let raw: string;
  try {
    response = await guardedFetch(url, { method: "POST", headers, body, signal });
    raw = await response.text();
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    if (error instanceof RedirectRefusedError) {
      // Following it would send the member's message and the key to another host.
      throw new BackendFailure(
        scrub(
          `${context.server} (${
            context.urlKey ?? "agent.openai.base_url"
          }) failed: ${error.message}`,
        ),
        { transient: false },
      );
    }
    throw new BackendFailure(
      scrub(`could not reach ${context.server}: ${describeFetchError(error)}`),
      { transient: true },
    );
  }
  if (!response.ok) {
    const failure = httpFailure(
      response.status,
      shorten(apiErrorMessage(raw), 200),
      context,
      retryAfterMs(response.headers.get("retry-after")),
    );
    throw new BackendFailure(scrub(failure.message), failure);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BackendFailure(
      `${context.server} did not answer with JSON: check that the base URL is its /v1 endpoint`,
      { transient: false },
    );
  }
  const finish = finishReason(parsed);
  const hermes =
    (parsed as { hermes?: { completed?: unknown; error?: unknown; error_code?: unknown } })
      ?.hermes;
  const truncated = finish === "length" || hermes?.error_code === "output_truncated";
  const incomplete = response.headers.get("x-hermes-completed")?.trim().toLowerCase() === "false" ||
    hermes?.completed === false;
  const content = contentOf(parsed);
  if (finish === "error" || (incomplete && !truncated)) {
    const why = response.headers.get("x-hermes-error") ??
      (typeof hermes?.error === "string" ? hermes.error : "");
    throw new BackendFailure(
      scrub(
        `${context.server} reported a failed run (finish_reason ${finish ?? "missing"}, ` +
          `completed false)${why ? `: ${shorten(why, 200)}` : ""}; its text was not delivered`,
      ),
      { transient: false },
    );
  }
  if (finish === "content_filter") {
    throw new BackendFailure(
      `${context.server} withheld the answer (finish_reason content_filter)`,
      { transient: false },
    );
  }
  if (content === undefined) {
    const reason = apiErrorMessage(raw, false);
    throw new BackendFailure(
      scrub(
        reason
          ? `${context.server} returned an error: ${shorten(reason, 200)}`
          : `${context.server} answered without choices[0].message.content`,
      ),
      { transient: false },
    );
  }
  const reply = parseReply(content);
  if (!reply.text && reply.attachments.length === 0) {
    throw new BackendFailure(
      truncated
        ? "the model was cut off before it wrote any answer; raise its output limit"
        : content.trim()
        ? "the model returned only its reasoning and no answer; try again or raise its output limit"
        : "the model returned an empty answer",
      { transient: false },
    );
  }
  if (truncated && reply.text) reply.text += call.truncationMarker;
  return reply;
}

/** `choices[0].finish_reason`, when it is a string. */
function finishReason(value: unknown): string | undefined {
  const choices = (value as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const reason = (choices[0] as { finish_reason?: unknown })?.finish_reason;
  return typeof reason === "string" ? reason : undefined;
}

/** `choices[0].message.content` as text: a string, or text parts joined. */
function contentOf(value: unknown): string | undefined {
  const choices = (value as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const content = (choices[0] as { message?: { content?: unknown } })?.message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part?.text === "string" ? part.text : ""))
      .join("");
  }
  if (content === null) return "";
  return undefined;
}

/**
 * The API's own error text (`{error: {message}}`, `{error: "…"}`, `{message}`);
 * else the start of the body when `orBody`, else "".
 */
function apiErrorMessage(raw: string, orBody = true): string {
  try {
    const value = JSON.parse(raw) as { error?: unknown; message?: unknown };
    const error = value?.error;
    if (typeof error === "string") return error;
    const nested = (error as { message?: unknown })?.message;
    if (typeof nested === "string") return nested;
    if (typeof value?.message === "string") return value.message;
  } catch {
    // not JSON: fall through to the text
  }
  return orBody ? raw.replace(/\s+/g, " ").trim().slice(0, 200) : "";
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid base URL)";
  }
}
