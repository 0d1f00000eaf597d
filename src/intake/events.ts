/**
 * What intake does with events besides acknowledging them, inside the same
 * atomic commit as the dedupe marker (so WeCom's retries change nothing):
 *
 * - Welcome: `subscribe` (the member joined the app's visible range) and, when
 *   `welcome_on_enter` is on, `enter_agent` (the member opened the app) queue
 *   the configured welcome text in the outbox, at most once per member per
 *   `welcome_seconds` (`keys.welcome`, checked atomically), without running
 *   the agent.
 * - Client detection for the markdown fallback: a location message or
 *   `LOCATION` event with `AppType` comes from the WeCom app, one without it
 *   from the WeChat plugin (`keys.clientKind`, remembered 30 days).
 *
 * Only KV reads and writes: nothing slow happens before WeCom's 200.
 *
 * @example Usage
 * ```ts ignore
 * import { planWelcome } from "./events.ts";
 * const welcome = await planWelcome(kv, app, message, config.welcome, Date.now());
 * if (welcome) welcome.add(op);
 * ```
 *
 * @module
 */

import type { AppConfig, WelcomeConfig } from "../config/types.ts";
import { addOutboxItems, planNotice } from "../records/outbox.ts";
import { keys } from "../store/keys.ts";
import type { InboundMessage } from "../records/message.ts";

/** The value at `keys.welcome(corpId, userId)`. */
export interface WelcomeRecord {
  at: number;
  expiresAt: number;
}

/** A welcome to add to an atomic operation. */
export interface PlannedWelcome {
  /** Adds the check of the welcome key, its new value and the outbox item to `op`. */
  add(op: Deno.AtomicOperation): Deno.AtomicOperation;
}

/**
 * Whether `message` is an event that earns a welcome under `welcome`.
 *
 * @example Usage
 * ```ts
 * import { isWelcomeEvent } from "./events.ts";
 * const base = { corpId: "ww1", userId: "u1", createTime: 0, agentId: "1", eventKey: "", fields: {} };
 * const welcome = { text: "Hi", periodSeconds: 86400, onEnter: false };
 * console.assert(isWelcomeEvent({ ...base, type: "event", event: "subscribe" }, welcome));
 * console.assert(!isWelcomeEvent({ ...base, type: "event", event: "enter_agent" }, welcome));
 * ```
 */
export function isWelcomeEvent(message: InboundMessage, welcome: WelcomeConfig): boolean {
  if (message.type !== "event" || welcome.text.trim() === "") return false;
  return message.event === "subscribe" || (welcome.onEnter && message.event === "enter_agent");
}

/**
 * Reads the member's last welcome and returns the mutations of a new one, or
 * null when none is due (not a welcome event, no text, or welcomed within the
 * period).
 *
 * @example Usage
 * ```ts ignore
 * import { planWelcome } from "./events.ts";
 * const welcome = await planWelcome(kv, app, message, config.welcome, Date.now());
 * const op = kv.atomic();
 * welcome?.add(op);
 * await op.commit();
 * ```
 */
export async function planWelcome(
  kv: Deno.Kv,
  app: AppConfig,
  message: InboundMessage,
  welcome: WelcomeConfig,
  at: number,
): Promise<PlannedWelcome | null> {
  if (!isWelcomeEvent(message, welcome)) return null;
  const key = keys.welcome(message.corpId, message.userId);
  const last = await kv.get<WelcomeRecord>(key);
  if (last.value && last.value.expiresAt > at) return null;
  const periodMs = welcome.periodSeconds * 1000;
  const record: WelcomeRecord = { at, expiresAt: at + periodMs };
  const item = planNotice(
    {
      conversation: `${message.corpId}:${message.userId}`,
      app: app.name,
      userId: message.userId,
      jobId: "",
    },
    welcome.text,
    "notice",
    { now: at },
  );
  return {
    add: (op) =>
      addOutboxItems(
        op.check(last).set(key, record, { expireIn: Math.max(periodMs, 60_000) }),
        [item],
      ),
  };
}
