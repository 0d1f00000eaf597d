/**
 * The echo backend: replies with what the user sent.
 *
 * Text comes back unchanged (byte for byte: CJK, emoji, spaces); any other
 * message or event comes back as its one-line description from
 * `describeMessage`: its type and metadata, and for a downloaded image, voice
 * or video the file's name, size and type (never its path on the server) and
 * a voice message's transcript. So every inbound path can be tested end to
 * end. No `MEDIA:` parsing: the user's own text must never turn into a file
 * upload.
 *
 * @example Usage
 * ```ts
 * import { echoBackend } from "./echo.ts";
 * const request = { text: "你好 👋" } as Parameters<typeof echoBackend>[0];
 * const reply = await echoBackend(request, {} as never, new AbortController().signal);
 * console.assert(reply.text === "你好 👋" && reply.attachments.length === 0);
 * ```
 *
 * @module
 */

import type { AgentConfig } from "../../config/types.ts";
import type { AgentReply, AgentRequest } from "../../records/agent.ts";
import { describeMessage } from "../../records/describe.ts";

/**
 * Answers with the request's text, or the description of a non-text message.
 *
 * @example Usage
 * ```ts
 * import { echoBackend } from "./echo.ts";
 * const request = { text: "hello" } as Parameters<typeof echoBackend>[0];
 * console.assert((await echoBackend(request, {} as never, AbortSignal.abort())).text === "hello");
 * ```
 */
export function echoBackend(
  request: AgentRequest,
  _config: AgentConfig,
  _signal: AbortSignal,
): Promise<AgentReply> {
  const message = request.message;
  const text = message && message.type !== "text"
    ? describeMessage(message, { attachments: request.attachments })
    : request.text ?? "";
  return Promise.resolve({ text, attachments: [] });
}
