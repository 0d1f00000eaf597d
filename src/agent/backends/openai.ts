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
 * Failures are short and name the HTTP status and the API's own error
 * message; the API key never appears in them (it is cut out even when the
 * provider echoes it back).
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
import type { AgentReply, AgentRequest } from "../types.ts";
import { parseReply } from "../reply.ts";
import { describeFetchError, redactSecrets, shorten } from "../errors.ts";
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
  const scrub = (text: string) => redactSecrets(text, [apiKey]);
  const url = `${(settings.baseUrl ?? "").replace(/\/+$/, "")}/chat/completions`;
  if (!URL.canParse(url)) {
    throw new Error("agent.openai.base_url is not a valid URL: fix it in config.yaml");
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const body = JSON.stringify({
    model: settings.model,
    messages: buildChatMessages(
      [settings.systemPrompt ?? "", request.platformHint ?? ""]
        .filter((part) => part.trim() !== "").join("\n\n"),
      request.history ?? [],
      request.text,
    ),
  });

  let response: Response;
  try {
    response = await guardedFetch(url, { method: "POST", headers, body, signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    if (error instanceof RedirectRefusedError) {
      throw new Error(scrub(`the model API (agent.openai.base_url) failed: ${error.message}`));
    }
    throw new Error(
      scrub(`could not reach the model API at ${hostOf(url)}: ${describeFetchError(error)}`),
    );
  }
  const raw = await response.text();
  if (!response.ok) {
    const reason = apiErrorMessage(raw);
    throw new Error(
      scrub(
        `the model API answered HTTP ${response.status}${
          reason ? `: ${shorten(reason, 200)}` : ""
        }`,
      ),
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`the model API at ${hostOf(url)} did not answer with JSON`);
  }
  const content = contentOf(parsed);
  if (content === undefined) {
    const reason = apiErrorMessage(raw, false);
    throw new Error(
      scrub(
        reason
          ? `the model API returned an error: ${shorten(reason, 200)}`
          : "the model API answer has no choices[0].message.content",
      ),
    );
  }
  const reply = parseReply(content);
  if (!reply.text && reply.attachments.length === 0) {
    throw new Error(
      content.trim()
        ? "the model returned only its reasoning and no answer; try again or raise its output limit"
        : "the model returned an empty answer",
    );
  }
  return reply;
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
