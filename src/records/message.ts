/**
 * Typed values of the messages and events WeCom delivers to a self-built app.
 *
 * The decrypted XML body becomes one {@linkcode InboundMessage}. `MsgId` is a
 * 64-bit integer in WeCom and is kept as a string. Types WeCom may add later
 * become `{ type: "unknown" }` and are still recorded.
 *
 * @module
 */

/** Fields every decrypted body carries. */
export interface MessageBase {
  /** CorpID (ToUserName). */
  corpId: string;
  /** The member's UserID (FromUserName). */
  userId: string;
  /** CreateTime, seconds since the epoch. */
  createTime: number;
  /** AgentID as a string; empty when the body has none. */
  agentId: string;
}

/** A user message: it has a MsgId. */
export type UserMessage =
  & MessageBase
  & { msgId: string }
  & (
    | { type: "text"; content: string }
    | { type: "image"; picUrl: string; mediaId: string }
    | { type: "voice"; mediaId: string; format: string }
    | { type: "video"; mediaId: string; thumbMediaId: string }
    | {
      type: "location";
      latitude: number;
      longitude: number;
      scale: number;
      label: string;
      /** `AppType`: "wxwork" from the WeCom app; absent (undefined) when sent from WeChat. */
      appType?: string;
    }
    | { type: "link"; title: string; description: string; url: string; picUrl: string }
  );

/** An event (`MsgType=event`); `event` is WeCom's `Event` value as sent. */
export type EventMessage = MessageBase & {
  type: "event";
  event: string;
  /** EventKey, empty when absent. */
  eventKey: string;
  /** Every other top-level field of the body, as text (nested elements flattened with "."). */
  fields: Record<string, string>;
};

/** A message type this gateway does not know; acknowledged and recorded. */
export type UnknownMessage = MessageBase & {
  type: "unknown";
  msgType: string;
  msgId: string;
  fields: Record<string, string>;
};

/** Any decrypted callback body. */
export type InboundMessage = UserMessage | EventMessage | UnknownMessage;
