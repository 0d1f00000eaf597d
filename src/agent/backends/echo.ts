/**
 * The echo backend: replies with what the user sent.
 *
 * Text comes back unchanged (byte for byte: CJK, emoji, spaces); any other
 * message comes back as its one-line description from `describeMessage`. No
 * `MEDIA:` parsing: the user's own text must never turn into a file upload.
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
import type { AgentReply, AgentRequest } from "../types.ts";
import { describeMessage } from "../describe.ts";

/**
 * Answers with the request's text (the description for non-text messages).
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
  const text = request.text ?? (request.message ? describeMessage(request.message) : "");
  return Promise.resolve({ text, attachments: [] });
}
