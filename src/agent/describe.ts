/**
 * The text an agent receives for an inbound message.
 *
 * A text message is passed on unchanged. Every other kind becomes one line
 * saying what arrived, with its metadata, so an agent (and the echo backend)
 * can tell the user what it got: `[image] media_id=… url=…`,
 * `[location] 31.2304,121.4737 label="…" scale=15`, `[event click] key=…`.
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

import type { InboundMessage } from "../intake/message.ts";

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
export function describeMessage(message: InboundMessage): string {
  switch (message.type) {
    case "text":
      return message.content;
    case "image":
      return `[image] media_id=${message.mediaId} url=${message.picUrl}`;
    case "voice":
      return `[voice] media_id=${message.mediaId} format=${message.format}`;
    case "video":
      return `[video] media_id=${message.mediaId} thumb_media_id=${message.thumbMediaId}`;
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

function quoteIfNeeded(value: string): string {
  return value === "" || /[\s"]/.test(value) ? JSON.stringify(value) : value;
}
