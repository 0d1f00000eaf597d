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
 * - Structured output ({@linkcode parseStructuredReply}): a JSON object
 *   `{"reply": "…", "attachments": [...]}` from the command or http backend,
 *   whose attachments are paths, `{path, kind}` or `{filename, data_base64}`.
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

import type { AgentReply, ReplyAttachment } from "../records/agent.ts";

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

/** Keys of a structured reply; an object with any other key is plain text. */
const STRUCTURED_KEYS = new Set(["reply", "text", "attachments", "media"]);

/** Largest attachment returned as base64 data (WeCom sends files up to 20 MB). */
export const MAX_DATA_ATTACHMENT_BYTES = 20 * 1024 * 1024;

/**
 * Reads a structured reply: a JSON object with a `reply` (or `text`) string
 * and/or an `attachments` (or `media`) list, and no other key. Returns null
 * when `raw` is not one (it is then plain text). Attachment entries are a
 * path string, `{path, kind?}`, or `{filename, data_base64, kind?}`.
 *
 * @throws {Error} When the object is structured but an attachment is malformed.
 *
 * @example Usage
 * ```ts
 * import { parseStructuredReply } from "./reply.ts";
 * const reply = parseStructuredReply('{"reply": "Done.", "attachments": [{"path": "/out/a.png", "kind": "image"}]}');
 * console.assert(reply?.text === "Done." && reply.attachments[0].kind === "image");
 * console.assert(parseStructuredReply('{"answer": 42}') === null);
 * ```
 */
export function parseStructuredReply(raw: string): AgentReply | null {
  const trimmed = raw.trim();
  if (!trimmed.startsWith("{") || !trimmed.endsWith("}")) return null;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  if (!Object.keys(fields).every((key) => STRUCTURED_KEYS.has(key))) return null;
  const text = typeof fields.reply === "string"
    ? fields.reply
    : typeof fields.text === "string"
    ? fields.text
    : undefined;
  const list = fields.attachments ?? fields.media;
  if (text === undefined && !Array.isArray(list)) return null;
  const reply = parseReply(text ?? "");
  if (list !== undefined) reply.attachments.push(...structuredAttachments(list));
  return reply;
}

/**
 * The attachments of a structured reply (see {@linkcode parseStructuredReply}).
 *
 * @throws {Error} When an entry is neither a path nor an object with a path or data.
 *
 * @example Usage
 * ```ts
 * import { structuredAttachments } from "./reply.ts";
 * const [file] = structuredAttachments([{ filename: "hi.txt", data_base64: "aGVsbG8gd29ybGQ=" }]);
 * console.assert(file.path === "hi.txt" && file.data?.length === 11);
 * ```
 */
export function structuredAttachments(list: unknown): ReplyAttachment[] {
  if (!Array.isArray(list)) {
    throw new Error(
      "the agent's attachments are not a list: send a JSON array of paths or objects",
    );
  }
  return list.map((entry, index) => {
    if (typeof entry === "string" && entry.trim() !== "") return { path: expandHome(entry.trim()) };
    const item = entry as Record<string, unknown> | null;
    const kind = item?.kind;
    if (kind !== undefined && !["image", "voice", "video", "file"].includes(String(kind))) {
      throw new Error(
        `the agent's attachment ${index + 1} has kind ${
          JSON.stringify(String(kind)).slice(0, 40)
        }: use image, voice, video or file`,
      );
    }
    const typed = kind as ReplyAttachment["kind"];
    if (typeof item?.data_base64 === "string") {
      const name = typeof item.filename === "string" ? item.filename : "";
      const filename = name.split(/[\/]/).pop()?.trim() || `attachment-${index + 1}`;
      const data = decodeBase64(item.data_base64, index);
      return typed ? { path: filename, data, kind: typed } : { path: filename, data };
    }
    if (typeof item?.path === "string" && item.path.trim() !== "") {
      const path = expandHome(item.path.trim());
      return typed ? { path, kind: typed } : { path };
    }
    throw new Error(
      `the agent's attachment ${index + 1} has neither a "path" nor "data_base64"`,
    );
  });
}

function decodeBase64(text: string, index: number): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length * 3 / 4 > MAX_DATA_ATTACHMENT_BYTES + 3) {
    throw new Error(
      `the agent's attachment ${index + 1} is larger than 20 MB, more than WeCom sends`,
    );
  }
  try {
    const binary = atob(clean);
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    throw new Error(`the agent's attachment ${index + 1} has data_base64 that is not base64`);
  }
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
