/**
 * The text an agent receives for an inbound message.
 *
 * A text message is passed on unchanged. Every other kind becomes one line
 * saying what arrived, with its metadata, so an agent (and the echo backend)
 * can tell the user what it got: `[image] media_id=… url=…`,
 * `[location] 31.2304,121.4737 label="…" scale=15`, `[event click] key=…`.
 * When the message's file was downloaded, the line goes on with
 * `file=… size=… type=…` (and `transcript="…"` for transcribed voice): the
 * full path for agents, the file name only for users (the echo backend), so
 * no server path reaches a chat.
 *
 * @example Usage
 * ```ts
 * import { describeMessage } from "./describe.ts";
 * const base = { corpId: "ww1", userId: "zhang", createTime: 1, agentId: "1000002", msgId: "1" };
 * console.assert(describeMessage({ ...base, type: "text", content: "你好" }) === "你好");
 * console.assert(
 *   describeMessage({ ...base, type: "voice", mediaId: "m1", format: "amr" }) ===
 *     "[voice] media_id=m1 format=amr",
 * );
 * ```
 *
 * @module
 */

import type { InboundMessage } from "./message.ts";
import type { InboundAttachment } from "./agent.ts";

/** What became of the message's file (see `src/media/inbound.ts`). */
export interface MediaFacts {
  /** The saved file(s). */
  attachments?: readonly InboundAttachment[];
  /** Why the file could not be fetched or transcribed; shown only when `errors` is on. */
  errors?: readonly string[];
}

/** Options of {@linkcode describeMessage}. */
export interface DescribeOptions {
  /** Show each file's full path (for agents); default: its file name only (for users). */
  paths?: boolean;
  /** Add the reasons files are missing (for agents; default false). */
  errors?: boolean;
}

/** Fields of an event listed at most, so a strange event cannot make a huge line. */
const MAX_EVENT_FIELDS = 12;

/**
 * Returns the text of a text message unchanged, and a one-line description of
 * any other message or event.
 *
 * @example Usage
 * ```ts
 * import { describeMessage } from "./describe.ts";
 * const text = describeMessage({
 *   corpId: "ww1", userId: "zhang", createTime: 1, agentId: "1000002",
 *   type: "event", event: "click", eventKey: "menu_1", fields: {},
 * });
 * console.assert(text === "[event click] key=menu_1");
 * ```
 */
export function describeMessage(
  message: InboundMessage,
  media: MediaFacts = {},
  options: DescribeOptions = {},
): string {
  const files = () => describeFiles(media, options);
  switch (message.type) {
    case "text":
      return message.content;
    case "image":
      return `[image] media_id=${message.mediaId} url=${message.picUrl}${files()}`;
    case "voice":
      return `[voice] media_id=${message.mediaId} format=${message.format}${files()}`;
    case "video":
      return `[video] media_id=${message.mediaId} thumb_media_id=${message.thumbMediaId}${files()}`;
    case "location":
      return `[location] ${message.latitude},${message.longitude} label=${
        JSON.stringify(message.label)
      } scale=${message.scale}`;
    case "link": {
      const description = message.description ? ` — ${message.description}` : "";
      return `[link] ${JSON.stringify(message.title)}${description} <${message.url}>`;
    }
    case "event": {
      const parts = [`[event ${message.event}]`];
      if (message.eventKey) parts.push(`key=${message.eventKey}`);
      const names = Object.keys(message.fields).sort().slice(0, MAX_EVENT_FIELDS);
      for (const name of names) parts.push(`${name}=${quoteIfNeeded(message.fields[name])}`);
      return parts.join(" ");
    }
    case "unknown":
      return `[unknown message type ${message.msgType}]`;
    default:
      return `[unknown message type ${(message as { type?: unknown }).type}]`;
  }
}

/**
 * The text an agent receives: a text message's content, a menu click's key
 * (so a menu can send the agent a question), and for anything else the
 * description with full file paths and the reasons files are missing.
 *
 * @example Usage
 * ```ts
 * import { agentText } from "./describe.ts";
 * const click = agentText({
 *   corpId: "ww1", userId: "zhang", createTime: 1, agentId: "1000002",
 *   type: "event", event: "click", eventKey: "今天的天气", fields: {},
 * });
 * console.assert(click === "今天的天气");
 * ```
 */
export function agentText(message: InboundMessage, media: MediaFacts = {}): string {
  if (message.type === "event" && message.event === "click" && message.eventKey.trim() !== "") {
    return message.eventKey;
  }
  return describeMessage(message, media, { paths: true, errors: true });
}

function describeFiles(media: MediaFacts, options: DescribeOptions): string {
  const parts: string[] = [];
  for (const file of media.attachments ?? []) {
    parts.push(
      `file=${quoteIfNeeded(options.paths ? file.path : file.filename)}`,
      `size=${file.size}`,
      `type=${quoteIfNeeded(file.contentType)}`,
    );
    if (file.transcript !== undefined) parts.push(`transcript=${JSON.stringify(file.transcript)}`);
  }
  if (options.errors) { for (const error of media.errors ?? []) parts.push(`(${error})`); }
  return parts.length > 0 ? ` ${parts.join(" ")}` : "";
}

function quoteIfNeeded(value: string): string {
  return value === "" || /[\s"]/.test(value) ? JSON.stringify(value) : value;
}
