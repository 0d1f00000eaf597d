/**
 * WeCom's callback XML, outside and inside: the encrypted envelope and the
 * decrypted message body.
 *
 * @example Usage
 * ```ts
 * import { parseMessage } from "./parse.ts";
 * const message = parseMessage(
 *   "<xml><ToUserName>ww1</ToUserName><FromUserName>lisi</FromUserName>" +
 *     "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType>" +
 *     "<Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>",
 * );
 * console.assert(message.type === "text" && message.content === "你好");
 * ```
 *
 * @module
 */

import type { InboundMessage } from "../records/message.ts";
import { readXmlFields, XmlError } from "./xml.ts";

/** A body that is XML but not a WeCom callback: `field` names what is missing or wrong. */
export class CallbackFormatError extends Error {
  /** The element that is missing or malformed. */
  field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = "CallbackFormatError";
    this.field = field;
  }
}

/** The outer document of a POST callback. */
export interface Envelope {
  /** CorpID, when the envelope carries it. */
  toUserName: string;
  /** AgentID, when the envelope carries it. */
  agentId: string;
  /** Base64 ciphertext: what the signature covers. */
  encrypt: string;
}

/**
 * Reads the envelope `<xml><ToUserName/><AgentID/><Encrypt/></xml>` (CDATA or
 * not, any whitespace between elements).
 *
 * @throws {XmlError} for input that is not accepted XML.
 * @throws {CallbackFormatError} when `Encrypt` is missing or empty.
 */
export function parseEnvelope(body: string): Envelope {
  const fields = readXmlFields(body);
  const encrypt = (fields.get("Encrypt") ?? "").trim();
  if (encrypt === "") {
    throw new CallbackFormatError(
      "Encrypt",
      "The callback body has no <Encrypt> element: WeCom always sends one; check that the sender encrypts messages (安全模式).",
    );
  }
  return {
    toUserName: (fields.get("ToUserName") ?? "").trim(),
    agentId: (fields.get("AgentID") ?? fields.get("AgentId") ?? "").trim(),
    encrypt,
  };
}

const KNOWN_USER_TYPES = new Set(["text", "image", "voice", "video", "location", "link"]);

function required(fields: Map<string, string>, name: string): string {
  const value = fields.get(name);
  if (value === undefined || value.trim() === "") {
    throw new CallbackFormatError(name, `The decrypted message has no <${name}> element.`);
  }
  return value.trim();
}

/**
 * Longest `FromUserName` or `MsgId` accepted. WeCom's user ids have at most 64
 * bytes and its MsgIds are 64-bit numbers; both become parts of KV keys, which
 * hold at most 2 KiB, so a longer value could never be recorded.
 */
const MAX_ID_LENGTH = 256;

function identifier(name: string, value: string): string {
  if (value.length > MAX_ID_LENGTH) {
    throw new CallbackFormatError(
      name,
      `The decrypted message's <${name}> has ${value.length} characters; WeCom's have at most 64 bytes and more than ${MAX_ID_LENGTH} are refused.`,
    );
  }
  return value;
}

function number(fields: Map<string, string>, name: string): number {
  const value = Number((fields.get(name) ?? "").trim());
  return Number.isFinite(value) ? value : 0;
}

function rest(fields: Map<string, string>, skip: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of fields) if (!skip.has(name)) out[name] = value;
  return out;
}

const BASE_FIELDS = new Set(["ToUserName", "FromUserName", "CreateTime", "MsgType", "AgentID"]);
const EVENT_FIELDS = new Set([...BASE_FIELDS, "Event", "EventKey"]);
const UNKNOWN_FIELDS = new Set([...BASE_FIELDS, "MsgId"]);

/**
 * Turns a decrypted message body into a typed {@linkcode InboundMessage}.
 * Unknown message types become `{ type: "unknown" }` rather than an error.
 *
 * @throws {XmlError} for input that is not accepted XML.
 * @throws {CallbackFormatError} when a common field is missing, or `FromUserName` or
 * `MsgId` is longer than 256 characters.
 */
export function parseMessage(plaintext: string): InboundMessage {
  const fields = readXmlFields(plaintext);
  const base = {
    corpId: required(fields, "ToUserName"),
    userId: identifier("FromUserName", required(fields, "FromUserName")),
    createTime: number(fields, "CreateTime"),
    agentId: (fields.get("AgentID") ?? "").trim(),
  };
  const msgType = required(fields, "MsgType");
  const text = (name: string) => fields.get(name) ?? "";
  if (msgType === "event") {
    return {
      ...base,
      type: "event",
      event: required(fields, "Event"),
      eventKey: text("EventKey"),
      fields: rest(fields, EVENT_FIELDS),
    };
  }
  if (!KNOWN_USER_TYPES.has(msgType)) {
    return {
      ...base,
      type: "unknown",
      msgType,
      msgId: identifier("MsgId", text("MsgId").trim()),
      fields: rest(fields, UNKNOWN_FIELDS),
    };
  }
  const msgId = identifier("MsgId", required(fields, "MsgId"));
  switch (msgType) {
    case "text":
      return { ...base, msgId, type: "text", content: text("Content") };
    case "image":
      return { ...base, msgId, type: "image", picUrl: text("PicUrl"), mediaId: text("MediaId") };
    case "voice":
      return { ...base, msgId, type: "voice", mediaId: text("MediaId"), format: text("Format") };
    case "video":
      return {
        ...base,
        msgId,
        type: "video",
        mediaId: text("MediaId"),
        thumbMediaId: text("ThumbMediaId"),
      };
    case "location":
      return {
        ...base,
        msgId,
        type: "location",
        latitude: number(fields, "Location_X"),
        longitude: number(fields, "Location_Y"),
        scale: number(fields, "Scale"),
        label: text("Label"),
        ...(fields.has("AppType") ? { appType: text("AppType").trim() } : {}),
      };
    default:
      return {
        ...base,
        msgId,
        type: "link",
        title: text("Title"),
        description: text("Description"),
        url: text("Url"),
        picUrl: text("PicUrl"),
      };
  }
}

export { XmlError };
