/**
 * Exactly-once sends through WeCom's duplicate check, without swallowing a
 * reply that is legitimately the same as an earlier one.
 *
 * WeCom's `message/send` takes `enable_duplicate_check: 1` and
 * `duplicate_check_interval` (seconds, at most 4 hours): "在一定时间间隔内，同样内容
 * （请求json）的消息，不会重复收到" — within the interval, a message with the same
 * content (request JSON) is not received twice (api-facts §6a). So:
 *
 * - Every send of an item carries the check with the same interval, from the
 *   first attempt on: a resend after a crash mid-send (or a timeout) is the
 *   very same request JSON as the copy that may have landed, and WeCom drops
 *   it. A first send without the check would differ from the resend and not
 *   count as its original.
 * - Two different items with the same text to the same member (a repeated
 *   "好的", the working notice of two jobs) would be the same request JSON too,
 *   and WeCom would drop the second. Delivery therefore counts identical texts
 *   per member and app (`keys.duplicateCheck`, by a hash of the message): the
 *   n-th identical one within the interval gets variant n, an invisible
 *   suffix of zero-width characters (the binary digits of n as U+200B and
 *   U+200C) that makes its request JSON, and its content, differ. The variant
 *   is stored on the item at its first attempt, so that its own resends stay
 *   identical.
 * - A variant that does not fit WeCom's 2048-byte limit (a full-size chunk
 *   repeated within the interval) is sent without the check: it arrives, and
 *   only a crash during that very send could double it.
 *
 * @example Usage
 * ```ts
 * import { nextVariant, withVariant } from "./duplicate_check.ts";
 * const { variant } = nextVariant({ next: 1, until: 10_000 }, undefined, 5000, 60_000);
 * const message = withVariant({ msgtype: "text", content: "好的" }, variant);
 * console.assert(message !== null && message.msgtype === "text" && message.content !== "好的");
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { keys } from "../store/keys.ts";
import type { OutboundMessage } from "../wecom/types.ts";
import { WECOM_MAX_MESSAGE_BYTES } from "../text/split.ts";
import type { OutboxItem } from "../records/outbox_item.ts";

/** The value at `keys.duplicateCheck(…)`: the next variant, while `until` (epoch ms) is ahead. */
export interface DuplicateRecord {
  next: number;
  until: number;
}

/** The zero-width characters of a variant's binary digits: U+200B for 0, U+200C for 1. */
const DIGITS = ["\u200b", "\u200c"] as const;

/**
 * The KV key counting texts identical to `item`'s for its member and app, or
 * null for items that cannot collide (media is uploaded afresh per item, so its
 * media id differs).
 *
 * @example Usage
 * ```ts ignore
 * import { duplicateRecordKey } from "./duplicate_check.ts";
 * const key = await duplicateRecordKey(app, item); // ["dup_check", corp, agent, user, hash]
 * ```
 */
export async function duplicateRecordKey(
  app: AppConfig,
  item: Pick<OutboxItem, "userId" | "message">,
): Promise<Deno.KvKey | null> {
  const message = item.message;
  if (message.msgtype !== "text" && message.msgtype !== "markdown") return null;
  const data = new TextEncoder().encode(`${message.msgtype}\n${message.content}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return keys.duplicateCheck(app.corpId, app.agentId, item.userId, digest);
}

/**
 * The variant of an item sent at `now` (its own `variant` when it has one, else
 * the next free one), and the record to store in the same commit: it keeps
 * every variant that may still be remembered by WeCom taken for `holdMs` (the
 * duplicate-check interval plus the retry window) after this send, so that an
 * item sent again later (a dead letter retried with its variant) is never
 * matched by a newer identical text.
 *
 * @example Usage
 * ```ts
 * import { nextVariant } from "./duplicate_check.ts";
 * console.assert(nextVariant(null, undefined, 0, 1000).variant === 0);
 * console.assert(nextVariant({ next: 3, until: 500 }, undefined, 0, 1000).variant === 3);
 * console.assert(nextVariant({ next: 3, until: 500 }, undefined, 600, 1000).variant === 0);
 * console.assert(nextVariant(null, 5, 600, 1000).record.next === 6);
 * ```
 */
export function nextVariant(
  record: DuplicateRecord | null,
  own: number | undefined,
  now: number,
  holdMs: number,
): { variant: number; record: DuplicateRecord } {
  const live = record !== null && record.until > now ? record : null;
  const variant = own ?? live?.next ?? 0;
  return {
    variant,
    record: {
      next: Math.max(live?.next ?? 0, variant + 1),
      until: Math.max(live?.until ?? 0, now + holdMs),
    },
  };
}

/**
 * The message of variant `variant`: unchanged for 0, else text or markdown with
 * the variant's invisible suffix; null when the suffix does not fit in 2048
 * UTF-8 bytes (send it without the duplicate check). Media is never changed.
 *
 * @example Usage
 * ```ts
 * import { withVariant } from "./duplicate_check.ts";
 * const two = withVariant({ msgtype: "text", content: "ok" }, 2);
 * console.assert(two?.msgtype === "text" && two.content === "ok\u200c\u200b");
 * ```
 */
export function withVariant(message: OutboundMessage, variant: number): OutboundMessage | null {
  if (variant === 0 || (message.msgtype !== "text" && message.msgtype !== "markdown")) {
    return message;
  }
  const suffix = [...variant.toString(2)].map((digit) => DIGITS[Number(digit)]).join("");
  const content = message.content + suffix;
  if (new TextEncoder().encode(content).length > WECOM_MAX_MESSAGE_BYTES) return null;
  return { ...message, content };
}

/**
 * The text a member sees: `content` without a variant's invisible suffix.
 *
 * @example Usage
 * ```ts
 * import { visibleText } from "./duplicate_check.ts";
 * console.assert(visibleText("好的\u200c\u200b") === "好的");
 * ```
 */
export function visibleText(content: string): string {
  return content.replace(/[\u200b\u200c]+$/, "");
}
