/**
 * The http backend: hands the message to a webhook of yours.
 *
 * POSTs JSON `{job_id, conversation, app, corp_id, agent_id, user_id, text,
 * message}` to `agent.http.url` with the configured headers (e.g.
 * Authorization), plus `attachments` (the message's downloaded files: `kind`,
 * `path`, `filename`, `size`, `content_type`, `transcript`) when there are any
 * and `platform_hint` when enabled. The reply is the `reply` (or else `text`)
 * string of a JSON answer, with its `attachments` list (paths, `{path, kind}`,
 * or `{filename, data_base64}` for a webhook on another machine), or the whole
 * body of any other answer (text/plain). `MEDIA:` lines and `<think>` blocks
 * are handled as for every backend (`../reply.ts`). A non-2xx answer is an
 * error naming the status. A redirect to another origin is never followed (it
 * would carry the message and the headers there): it is an error naming both
 * origins (`../../guarded_fetch.ts`).
 *
 * The webhook may take as long as the job timeout allows; it is told to stop
 * by the connection closing (the pool aborts the request).
 *
 * @example Usage
 * ```ts ignore
 * import { httpBackend } from "./http.ts";
 * const reply = await httpBackend(request, config, signal);
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../../config/types.ts";
import type { AgentReply, AgentRequest } from "../../records/agent.ts";
import { parseReply, structuredAttachments } from "../reply.ts";
import { describeFetchError, redactSecrets, shorten } from "../../text/format.ts";
import { guardedFetch, RedirectRefusedError } from "../../guarded_fetch.ts";

/** The JSON body the webhook receives. */
export interface WebhookPayload {
  job_id: string;
  conversation: string;
  app: string;
  corp_id: string;
  agent_id: string;
  user_id: string;
  /** The message as text (a description for non-text messages). */
  text: string;
  /** The whole typed message (see `src/records/message.ts`). */
  message: AgentRequest["message"];
  /** The message's downloaded files (only when there are any). */
  attachments?: WebhookAttachment[];
  /** What WeCom shows and what can be sent (only when `agent.platform_hint` is on). */
  platform_hint?: string;
}

/** One downloaded file of the message, as the webhook receives it. */
export interface WebhookAttachment {
  kind: string;
  /** Path on the gateway's machine. */
  path: string;
  filename: string;
  size: number;
  content_type: string;
  transcript?: string;
}

/**
 * Builds the webhook's JSON body from a request.
 *
 * @example Usage
 * ```ts
 * import { webhookPayload } from "./http.ts";
 * const payload = webhookPayload({
 *   jobId: "j1", conversation: "ww1:zhang", app: "default", corpId: "ww1", agentId: "1000002",
 *   userId: "zhang", text: "hi", history: [],
 *   message: { type: "text", content: "hi", corpId: "ww1", userId: "zhang", createTime: 1,
 *     agentId: "1000002", msgId: "1" },
 * });
 * console.assert(payload.job_id === "j1" && payload.user_id === "zhang");
 * ```
 */
export function webhookPayload(request: AgentRequest): WebhookPayload {
  const payload: WebhookPayload = {
    job_id: request.jobId,
    conversation: request.conversation,
    app: request.app,
    corp_id: request.corpId,
    agent_id: request.agentId,
    user_id: request.userId,
    text: request.text,
    message: request.message,
  };
  if (request.attachments && request.attachments.length > 0) {
    payload.attachments = request.attachments.map((file) => {
      const entry: WebhookAttachment = {
        kind: file.kind,
        path: file.path,
        filename: file.filename,
        size: file.size,
        content_type: file.contentType,
      };
      if (file.transcript !== undefined) entry.transcript = file.transcript;
      return entry;
    });
  }
  if (request.platformHint) payload.platform_hint = request.platformHint;
  return payload;
}

/**
 * Posts the request to the webhook and returns its answer as a reply.
 *
 * @example Usage
 * ```ts ignore
 * import { httpBackend } from "./http.ts";
 * const reply = await httpBackend(request, config, AbortSignal.timeout(60_000));
 * ```
 */
export async function httpBackend(
  request: AgentRequest,
  config: AgentConfig,
  signal: AbortSignal,
): Promise<AgentReply> {
  const { url, headers = {} } = config.http;
  if (!url) {
    throw new Error("no webhook URL is configured: set agent.http.url in config.yaml");
  }
  // Header values, and their credential part alone (without "Bearer ", "Basic ", …).
  const secrets = Object.values(headers).flatMap((value) => [value, value.replace(/^\S+\s+/, "")]);
  const scrub = (text: string) => redactSecrets(text, secrets);
  if (!URL.canParse(url)) {
    throw new Error("agent.http.url is not a valid URL: fix it in config.yaml");
  }
  const host = hostOf(url);
  let requestHeaders: Headers;
  try {
    requestHeaders = new Headers(headers);
  } catch {
    throw new Error(
      "agent.http.headers holds an invalid header name or value: fix it in config.yaml",
    );
  }
  requestHeaders.set("content-type", "application/json");
  let response: Response;
  try {
    response = await guardedFetch(url, {
      method: "POST",
      headers: requestHeaders,
      body: JSON.stringify(webhookPayload(request)),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    if (error instanceof RedirectRefusedError) {
      throw new Error(scrub(`the agent webhook (agent.http.url) failed: ${error.message}`));
    }
    throw new Error(
      scrub(`could not reach the agent webhook at ${host}: ${describeFetchError(error)}`),
    );
  }
  const body = await response.text();
  if (!response.ok) {
    const excerpt = body.replace(/\s+/g, " ").trim();
    throw new Error(
      scrub(
        `the agent webhook at ${host} answered HTTP ${response.status}${
          excerpt ? `: ${shorten(excerpt, 200)}` : ""
        }`,
      ),
    );
  }
  const type = response.headers.get("content-type") ?? "";
  if (!/[/+]json\b/i.test(type)) return parseReply(body);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error(`the agent webhook at ${host} sent invalid JSON (content-type ${type})`);
  }
  const fields = value as
    | { reply?: unknown; text?: unknown; attachments?: unknown; media?: unknown }
    | null;
  const text = typeof fields?.reply === "string"
    ? fields.reply
    : typeof fields?.text === "string"
    ? fields.text
    : undefined;
  const list = fields?.attachments ?? fields?.media;
  if (text === undefined && list === undefined) {
    throw new Error(
      `the agent webhook at ${host} answered JSON without a "reply" or "text" string`,
    );
  }
  const reply = parseReply(text ?? "");
  if (list !== undefined) reply.attachments.push(...structuredAttachments(list));
  return reply;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid URL)";
  }
}
