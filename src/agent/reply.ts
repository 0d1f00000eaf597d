/**
 * Turning an agent's raw answer into an {@linkcode AgentReply}.
 *
 * Shared by the openai, command and http backends (the echo backend repeats
 * the user's text and parses nothing: a user must not be able to make the
 * gateway send a server file by typing `MEDIA:/etc/passwd`).
 *
 * - Reasoning in `<think>…</think>` blocks is removed, as is a leading block
 *   that never closes (the answer was cut off while still thinking) and the
 *   reasoning before a lone `</think>` (servers whose template already opened
 *   the block). Users otherwise see the model's thoughts (peers.md pain #6).
 * - Lines of the form `MEDIA:/path/to/file` (Hermes Agent's convention; the
 *   path may be quoted or in backticks, and `~/` means the home folder) become
 *   `attachments` and leave the text. A `[[audio_as_voice]]` tag marks audio
 *   attachments as voice messages. Lines inside ``` fences are left alone.
 *
 * @example Usage
 * ```ts
 * import { parseReply } from "./reply.ts";
 * const reply = parseReply("<think>hmm</think>Here is the chart.\nMEDIA:/tmp/chart.png");
 * console.assert(reply.text === "Here is the chart.");
 * console.assert(reply.attachments[0].path === "/tmp/chart.png");
 * ```
 *
 * @module
 */

import type { AgentReply, ReplyAttachment } from "./types.ts";

const MEDIA_LINE = /^\s*[`"']?MEDIA:\s*(.*?)\s*$/;
const VOICE_TAG = "[[audio_as_voice]]";
const AUDIO_EXTENSION = /\.(?:amr|ogg|opus|mp3|wav|m4a|flac|silk)$/i;

/**
 * Removes model reasoning from `text`: `<think>…</think>` blocks anywhere, a
 * leading `<think>` block that never closes, and everything before a `</think>`
 * that has no opening tag; then the blank lines and spaces left behind.
 *
 * @example Usage
 * ```ts
 * import { stripThinking } from "./reply.ts";
 * console.assert(stripThinking("<think>\nplan\n</think>\n\nHello") === "Hello");
 * console.assert(stripThinking("plan</think>Hello") === "Hello");
 * console.assert(stripThinking("<think>still thinking…") === "");
 * ```
 */
export function stripThinking(text: string): string {
  let out = text.replace(/<think>[\s\S]*?<\/think>/gi, "");
  const orphanClose = out.toLowerCase().lastIndexOf("</think>");
  if (orphanClose >= 0) out = out.slice(orphanClose + "</think>".length);
  if (/^\s*<think>/i.test(out)) out = "";
  return tidy(out);
}

/**
 * Builds the reply from an agent's raw answer: strips reasoning (unless
 * `options.stripThinking` is false) and moves `MEDIA:` lines into attachments.
 *
 * @example Usage
 * ```ts
 * import { parseReply } from "./reply.ts";
 * const reply = parseReply("[[audio_as_voice]]\nMEDIA: `/tmp/hello.ogg`");
 * console.assert(reply.text === "");
 * console.assert(reply.attachments[0].kind === "voice");
 * ```
 */
export function parseReply(
  text: string,
  options: { stripThinking?: boolean } = {},
): AgentReply {
  const source = options.stripThinking === false ? text : stripThinking(text);
  const asVoice = source.includes(VOICE_TAG);
  const kept: string[] = [];
  const attachments: ReplyAttachment[] = [];
  let inFence = false;
  for (const line of source.split("\n")) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const match = inFence ? null : MEDIA_LINE.exec(line);
    const path = match ? unquote(match[1]) : "";
    if (!path) {
      kept.push(line);
      continue;
    }
    const attachment: ReplyAttachment = { path: expandHome(path) };
    if (asVoice && AUDIO_EXTENSION.test(path)) attachment.kind = "voice";
    attachments.push(attachment);
  }
  let rest = kept.join("\n");
  if (asVoice) rest = rest.split(VOICE_TAG).join("");
  return { text: tidy(rest), attachments };
}

function unquote(value: string): string {
  return value.replace(/^[`"']+/, "").replace(/[`"']+$/, "").trim();
}

function expandHome(path: string): string {
  if (!path.startsWith("~/")) return path;
  let home: string | undefined;
  try {
    home = Deno.env.get("HOME");
  } catch {
    // no env permission: leave the path as written
  }
  return home ? home.replace(/\/$/, "") + path.slice(1) : path;
}

function tidy(text: string): string {
  return text.replace(/\n(?:[ \t]*\n){2,}/g, "\n\n").trim();
}
