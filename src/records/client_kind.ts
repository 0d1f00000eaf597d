/**
 * The client kind record: which client (WeChat plugin or the WeCom app) a
 * member was last seen using, at `keys.clientKind(corpId, userId)`, kept 30
 * days. Intake writes it ({@linkcode addClientKind}, inside its commit);
 * delivery reads it ({@linkcode readClientKind}) to send plain text instead of
 * markdown to WeChat users. Its keys and access live here only.
 *
 * @example Usage
 * ```ts
 * import { addClientKind, readClientKind } from "./client_kind.ts";
 * const kv = await Deno.openKv(":memory:");
 * const base = { corpId: "ww1", userId: "u1", createTime: 0, agentId: "1", msgId: "9" };
 * const location = { ...base, type: "location" as const, latitude: 1, longitude: 2, scale: 15, label: "" };
 * await addClientKind(kv.atomic(), location, Date.now()).commit();
 * console.assert((await readClientKind(kv, "ww1", "u1"))?.client === "wechat");
 * kv.close();
 * ```
 *
 * @module
 */

import type { InboundMessage } from "./message.ts";
import { keys } from "../store/keys.ts";

/** The value at `keys.clientKind(corpId, userId)`. */
export interface ClientKindRecord {
  client: "wechat" | "wxwork";
  at: number;
  expiresAt: number;
}

/** How long a member's detected client is remembered, ms. */
export const CLIENT_KIND_TTL_MS = 30 * 24 * 3_600_000;

/**
 * The client a message shows its sender uses, or null when it does not tell:
 * location messages and `LOCATION` events carry `AppType` ("wxwork") when sent
 * from the WeCom app and none from WeChat.
 *
 * @example Usage
 * ```ts
 * import { clientKindOf } from "./client_kind.ts";
 * const base = { corpId: "ww1", userId: "u1", createTime: 0, agentId: "1", msgId: "9" };
 * const location = { ...base, type: "location" as const, latitude: 1, longitude: 2, scale: 15, label: "" };
 * console.assert(clientKindOf(location) === "wechat");
 * console.assert(clientKindOf({ ...location, appType: "wxwork" }) === "wxwork");
 * ```
 */
export function clientKindOf(message: InboundMessage): ClientKindRecord["client"] | null {
  if (message.type === "location") return message.appType ? "wxwork" : "wechat";
  if (message.type === "event" && message.event === "LOCATION") {
    return message.fields.AppType ? "wxwork" : "wechat";
  }
  return null;
}

/**
 * Adds the record of the sender's client to `op` when the message tells it.
 *
 * @example Usage
 * ```ts ignore
 * import { addClientKind } from "./client_kind.ts";
 * addClientKind(kv.atomic(), message, Date.now());
 * ```
 */
export function addClientKind(
  op: Deno.AtomicOperation,
  message: InboundMessage,
  at: number,
): Deno.AtomicOperation {
  const client = clientKindOf(message);
  if (client === null) return op;
  const record: ClientKindRecord = { client, at, expiresAt: at + CLIENT_KIND_TTL_MS };
  return op.set(keys.clientKind(message.corpId, message.userId), record, {
    expireIn: CLIENT_KIND_TTL_MS,
  });
}

/**
 * The member's last detected client record, or null when none is stored.
 *
 * @example Usage
 * ```ts ignore
 * import { readClientKind } from "./client_kind.ts";
 * const seen = await readClientKind(kv, "ww1", "zhangsan");
 * ```
 */
export async function readClientKind(
  kv: Deno.Kv,
  corpId: string,
  userId: string,
): Promise<ClientKindRecord | null> {
  return (await kv.get<ClientKindRecord>(keys.clientKind(corpId, userId))).value;
}
