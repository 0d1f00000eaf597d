/**
 * The identity of an inbound message for deduplication.
 *
 * WeCom retries a callback that was not answered within 5 s, up to three
 * times. Messages are identified by MsgId (scoped by corp in the KV key, not
 * by app: the callback confirms the app from the signed AgentID, and one
 * message must never become two jobs through two apps); events carry no MsgId and several distinct events can share
 * FromUserName + CreateTime, so they are identified by a hash of the whole
 * decrypted body.
 *
 * @example Usage
 * ```ts
 * import { messageKey } from "./dedupe.ts";
 * const key = await messageKey({ msgId: "4561255354251345929" }, "<xml>…</xml>");
 * console.assert(key === "m:4561255354251345929");
 * ```
 *
 * @module
 */

/** How long a dedupe marker is kept: WeCom's retries end within a minute; keep a day. */
export const DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;

/** Returns `m:<MsgId>` for messages and `e:<sha256 of the body>` for events and id-less bodies. */
export async function messageKey(message: object, plaintext: string): Promise<string> {
  if ("msgId" in message && typeof message.msgId === "string" && message.msgId !== "") {
    return `m:${message.msgId}`;
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(plaintext));
  let hex = "";
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
  return `e:${hex}`;
}
