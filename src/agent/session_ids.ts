/**
 * Opaque ids that tell an agent server which conversation and which member a
 * request belongs to, without telling it the member's corp or user id.
 *
 * - The **session id** names one conversation transcript: HMAC-SHA-256 of
 *   `conversation` and its epoch, keyed by a per-installation secret. `/reset`
 *   bumps the epoch ({@linkcode bumpEpoch}), so the next message starts a new
 *   transcript. Two members never share one, whatever they write.
 * - The **member id** names the member across transcripts (long-term memory,
 *   the OpenAI `user` field): HMAC-SHA-256 of `conversation` alone.
 *
 * The secret is 32 random bytes created once in KV (`keys.sessionSecret()`)
 * with an atomic "only if absent" commit, so every process sharing the store
 * derives the same ids. With `revealIds` the raw `corp_id:user_id` (and epoch)
 * is used instead, for operators who want to read them in the agent's logs.
 * Every id is at most 256 characters and has no CR, LF or NUL (Hermes' limits
 * for `X-Hermes-Session-Id` and `X-Hermes-Session-Key`).
 *
 * @example Usage
 * ```ts
 * import { agentSession } from "./session_ids.ts";
 * const kv = await Deno.openKv(":memory:");
 * const a = await agentSession(kv, "ww1:zhang");
 * const b = await agentSession(kv, "ww1:lisi");
 * console.assert(a.sessionId !== b.sessionId && !a.sessionId.includes("zhang"));
 * kv.close();
 * ```
 *
 * @module
 */

import { keys } from "../store/keys.ts";
import { commit } from "../store/kv.ts";

/** The ids of one request's conversation and member. */
export interface AgentSession {
  /** One transcript: changes after `/reset`. */
  sessionId: string;
  /** The member, stable across transcripts. */
  memberId: string;
}

/** The longest id an agent server is sent (Hermes' header limit). */
export const MAX_SESSION_ID_LENGTH = 256;

const SECRET_BYTES = 32;
const keyCache = new WeakMap<Deno.Kv, Promise<CryptoKey>>();

/**
 * The installation's secret: read from KV, or created there once (atomically,
 * so two processes starting together agree on one).
 *
 * @example Usage
 * ```ts
 * import { installationSecret } from "./session_ids.ts";
 * const kv = await Deno.openKv(":memory:");
 * const first = await installationSecret(kv);
 * console.assert(first.length === 32 && (await installationSecret(kv))[0] === first[0]);
 * kv.close();
 * ```
 */
export async function installationSecret(kv: Deno.Kv): Promise<Uint8Array> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const entry = await kv.get<Uint8Array>(keys.sessionSecret());
    if (entry.value instanceof Uint8Array && entry.value.length === SECRET_BYTES) {
      return entry.value;
    }
    const fresh = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
    const result = await commit(() => kv.atomic().check(entry).set(keys.sessionSecret(), fresh));
    if (result.ok) return fresh;
  }
  throw new Error(
    "Cannot create the installation's session secret in KV: it kept changing under us. " +
      "Another process may be rewriting it; check the KV store.",
  );
}

function hmacKey(kv: Deno.Kv): Promise<CryptoKey> {
  let key = keyCache.get(kv);
  if (!key) {
    key = installationSecret(kv).then((secret) =>
      crypto.subtle.importKey(
        "raw",
        secret as Uint8Array<ArrayBuffer>,
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      )
    );
    key.catch(() => keyCache.delete(kv));
    keyCache.set(kv, key);
  }
  return key;
}

function base64url(bytes: ArrayBuffer): string {
  const binary = String.fromCharCode(...new Uint8Array(bytes));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * `text` made safe as an HTTP header value of an agent server: CR, LF, NUL
 * and other control characters replaced by `_`, cut to 256 characters.
 *
 * @example Usage
 * ```ts
 * import { headerSafe } from "./session_ids.ts";
 * console.assert(headerSafe("a\r\nb") === "a__b");
 * ```
 */
export function headerSafe(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, "_").slice(0, MAX_SESSION_ID_LENGTH);
}

/**
 * The current epoch of `conversation` (0 until the first `/reset`).
 *
 * @example Usage
 * ```ts
 * import { conversationEpoch } from "./session_ids.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert(await conversationEpoch(kv, "ww1:zhang") === 0);
 * kv.close();
 * ```
 */
export async function conversationEpoch(kv: Deno.Kv, conversation: string): Promise<number> {
  const value = (await kv.get<number>(keys.conversationEpoch(conversation))).value;
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/**
 * Adds to `op` the bump of `conversation`'s epoch read at `entry` (checked, so
 * two `/reset`s at once cannot both count as one).
 *
 * @example Usage
 * ```ts
 * import { bumpEpoch, conversationEpoch } from "./session_ids.ts";
 * import { keys } from "../store/keys.ts";
 * const kv = await Deno.openKv(":memory:");
 * const entry = await kv.get<number>(keys.conversationEpoch("ww1:zhang"));
 * await bumpEpoch(kv.atomic(), entry, "ww1:zhang").commit();
 * console.assert(await conversationEpoch(kv, "ww1:zhang") === 1);
 * kv.close();
 * ```
 */
export function bumpEpoch(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntryMaybe<number>,
  conversation: string,
): Deno.AtomicOperation {
  const current = typeof entry.value === "number" && Number.isSafeInteger(entry.value)
    ? entry.value
    : 0;
  return op.check(entry).set(keys.conversationEpoch(conversation), current + 1);
}

/**
 * The session and member ids of `conversation` as it stands (its current epoch).
 *
 * @example Usage
 * ```ts
 * import { agentSession } from "./session_ids.ts";
 * const kv = await Deno.openKv(":memory:");
 * const revealed = await agentSession(kv, "ww1:zhang", { revealIds: true });
 * console.assert(revealed.sessionId === "ww1:zhang#0" && revealed.memberId === "ww1:zhang");
 * kv.close();
 * ```
 */
export async function agentSession(
  kv: Deno.Kv,
  conversation: string,
  options: { revealIds?: boolean } = {},
): Promise<AgentSession> {
  const epoch = await conversationEpoch(kv, conversation);
  if (options.revealIds) {
    return {
      sessionId: headerSafe(`${conversation}#${epoch}`),
      memberId: headerSafe(conversation),
    };
  }
  const key = await hmacKey(kv);
  const encoder = new TextEncoder();
  const [session, member] = await Promise.all([
    crypto.subtle.sign("HMAC", key, encoder.encode(`session\u0000${conversation}\u0000${epoch}`)),
    crypto.subtle.sign("HMAC", key, encoder.encode(`member\u0000${conversation}`)),
  ]);
  return { sessionId: `wecom-${base64url(session)}`, memberId: `wecom-${base64url(member)}` };
}
