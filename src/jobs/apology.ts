/**
 * What a member is told when their request finally fails: a short apology,
 * never the error itself (host names, ports, HTTP excerpts and paths are for
 * the operator: the job's `error`, the log, `jobs list`).
 *
 * The language follows the member's message: Chinese when it contains Han
 * characters, English when it is other text, both when the message has no
 * text (an image, a voice message). `agent.failure_text` replaces the texts.
 *
 * @example Usage
 * ```ts
 * import { apologyFor } from "./apology.ts";
 * const text = apologyFor({ type: "text", content: "你好" } as never);
 * console.assert(text.startsWith("抱歉"));
 * ```
 *
 * @module
 */

import type { FailureText } from "../config/types.ts";
import type { InboundMessage } from "../records/message.ts";
import { FAILURE_TEXT_DEFAULTS } from "../config/agent_defaults.ts";

/**
 * The member's language as far as the message tells: "zh", "en", or undefined (no text).
 *
 * @example Usage
 * ```ts
 * import { messageLanguage } from "./apology.ts";
 * console.assert(messageLanguage({ type: "text", content: "hi" } as never) === "en");
 * ```
 */
export function messageLanguage(message: InboundMessage): "zh" | "en" | undefined {
  const text = message.type === "text" ? message.content : "";
  if (!text.trim()) return undefined;
  return /\p{Script=Han}/u.test(text) ? "zh" : "en";
}

/**
 * The apology for a failed request whose message was `message`.
 *
 * @example Usage
 * ```ts
 * import { apologyFor } from "./apology.ts";
 * const text = apologyFor({ type: "text", content: "hello" } as never, { zh: "对不起", en: "Oops" });
 * console.assert(text === "Oops");
 * ```
 */
export function apologyFor(
  message: InboundMessage,
  texts: FailureText = FAILURE_TEXT_DEFAULTS,
): string {
  const language = messageLanguage(message);
  if (language) return texts[language];
  return texts.zh === texts.en ? texts.zh : `${texts.zh}\n${texts.en}`;
}
