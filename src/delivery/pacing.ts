/**
 * Pacing of sends per app and member, so WeCom never drops a message.
 *
 * WeCom accepts at most 30 messages a minute and 1000 an hour from one app to
 * one member and silently drops the excess (no error). The gateway therefore
 * counts its own sends in sliding windows, persisted at `keys.pacing(corpId,
 * agentId, userId)` as the send times of the last hour, and holds a message
 * that would exceed a limit until a slot frees up.
 *
 * A reservation is not written on its own: {@linkcode reserveSlot} returns the
 * mutation (with a check on the pacing key's versionstamp) for the caller to
 * commit together with its "in flight" mark, so two senders cannot both take
 * the last slot.
 *
 * @example Usage
 * ```ts
 * import { reserveSlot } from "./pacing.ts";
 * const kv = await Deno.openKv(":memory:");
 * const app = { corpId: "ww1", agentId: "1000002" };
 * const slot = await reserveSlot(kv, app, "zhangsan", Date.now());
 * if (slot.ok) await slot.commitMutation(kv.atomic()).commit();
 * kv.close();
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { keys } from "../store/keys.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The largest `perHour` accepted: the send times of an hour are stored in one
 * KV value, which must stay under 64 KiB.
 */
export const MAX_PER_HOUR = 5000;

/** Limits per app and member. */
export interface PacingLimits {
  /** Messages in any 60 s window (WeCom: 30). */
  perMinute: number;
  /** Messages in any 3600 s window (WeCom: 1000). */
  perHour: number;
  /**
   * Extra wait after a window frees up, ms, against network latency between
   * us and WeCom (default 1000).
   */
  marginMs?: number;
}

/** WeCom's limits for `message/send` to one member. */
export const WECOM_PACING: PacingLimits = { perMinute: 30, perHour: 1000 };

/** The value at `keys.pacing(…)`. */
export interface PacingState {
  /** Epoch ms of the sends in the last hour, oldest first. */
  sent: number[];
}

/** The answer of {@linkcode reserveSlot}. */
export type SlotReservation =
  | {
    ok: true;
    /** Adds the reservation (check + set of the pacing key) to the caller's atomic operation. */
    commitMutation: (op: Deno.AtomicOperation) => Deno.AtomicOperation;
  }
  | {
    ok: false;
    /** Epoch ms when a slot frees up. */
    retryAt: number;
  };

/** The answer of {@linkcode decideSlot}. */
export type SlotDecision = { ok: true; sent: number[] } | { ok: false; retryAt: number };

/**
 * Throws when `limits` cannot be enforced.
 *
 * @example Usage
 * ```ts
 * import { validatePacingLimits } from "./pacing.ts";
 * validatePacingLimits({ perMinute: 30, perHour: 1000 });
 * ```
 *
 * @throws {RangeError} With the offending setting and what to do.
 */
export function validatePacingLimits(limits: PacingLimits): void {
  for (const name of ["perMinute", "perHour"] as const) {
    const value = limits[name];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot pace deliveries as 'delivery.${name}' must be a positive integer: ` +
          `current value is ${value}`,
      );
    }
  }
  if (limits.perHour > MAX_PER_HOUR) {
    throw new RangeError(
      `Cannot pace deliveries as 'delivery.perHour' must be at most ${MAX_PER_HOUR}: ` +
        `current value is ${limits.perHour}. WeCom allows 1000.`,
    );
  }
}

/**
 * Decides whether a send at `now` fits the limits, given the earlier send
 * times: `{ ok: true, sent }` with the pruned list including `now`, or
 * `{ ok: false, retryAt }`.
 *
 * @example Usage
 * ```ts
 * import { decideSlot } from "./pacing.ts";
 * const full = Array.from({ length: 30 }, () => 1_000);
 * const decision = decideSlot(full, 2_000, { perMinute: 30, perHour: 1000, marginMs: 0 });
 * console.assert(!decision.ok && decision.retryAt === 61_000);
 * ```
 */
export function decideSlot(
  sent: readonly number[],
  now: number,
  limits: PacingLimits,
): SlotDecision {
  const margin = limits.marginMs ?? 1000;
  // The last hour, oldest first (times from other processes may arrive out of order).
  const hour = sent.filter((at) => at > now - HOUR_MS).sort((a, b) => a - b);
  let retryAt = -Infinity;
  // A send at `at` counts against a window until `at + window`.
  const minuteStart = firstAfter(hour, now - MINUTE_MS);
  const inMinute = hour.length - minuteStart;
  if (inMinute >= limits.perMinute) {
    retryAt = Math.max(retryAt, hour[hour.length - limits.perMinute] + MINUTE_MS);
  }
  if (hour.length >= limits.perHour) {
    retryAt = Math.max(retryAt, hour[hour.length - limits.perHour] + HOUR_MS);
  }
  if (retryAt > -Infinity) return { ok: false, retryAt: retryAt + margin };
  hour.push(now);
  const keep = Math.max(limits.perMinute, limits.perHour);
  return { ok: true, sent: hour.length > keep ? hour.slice(-keep) : hour };
}

/**
 * Reserves a slot for one send from `app` to `userId` at `now`. On success the
 * caller must commit `commitMutation(op)` together with its own mutations; the
 * commit fails if another sender took a slot in between (then read again). On
 * failure the message must be held until `retryAt`, never sent: WeCom would
 * drop it silently.
 *
 * @example Usage
 * ```ts
 * import { reserveSlot } from "./pacing.ts";
 * const kv = await Deno.openKv(":memory:");
 * const app = { corpId: "ww1", agentId: "1000002" };
 * const limits = { perMinute: 1, perHour: 10 };
 * const first = await reserveSlot(kv, app, "lisi", 0, limits);
 * if (first.ok) await first.commitMutation(kv.atomic()).commit();
 * const second = await reserveSlot(kv, app, "lisi", 1, limits);
 * console.assert(!second.ok);
 * kv.close();
 * ```
 */
export async function reserveSlot(
  kv: Deno.Kv,
  app: Pick<AppConfig, "corpId" | "agentId">,
  userId: string,
  now: number,
  limits: PacingLimits = WECOM_PACING,
): Promise<SlotReservation> {
  const key = keys.pacing(app.corpId, app.agentId, userId);
  const entry = await kv.get<PacingState>(key);
  const decision = decideSlot(entry.value?.sent ?? [], now, limits);
  if (!decision.ok) return decision;
  const value: PacingState = { sent: decision.sent };
  return {
    ok: true,
    commitMutation: (op) => op.check(entry).set(key, value, { expireIn: HOUR_MS + MINUTE_MS }),
  };
}

/** Index of the first element `> value` in an ascending array. */
function firstAfter(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** One member's pacing record, as {@linkcode listPacing} returns it. */
export interface MemberPacing {
  userId: string;
  state: PacingState;
}

/**
 * The pacing records of one app's members (at most `limit`), for status output.
 *
 * @example Usage
 * ```ts
 * import { listPacing } from "./pacing.ts";
 * const kv = await Deno.openKv(":memory:");
 * console.assert((await listPacing(kv, { corpId: "ww1", agentId: "1" }, 10)).length === 0);
 * kv.close();
 * ```
 */
export async function listPacing(
  kv: Deno.Kv,
  app: Pick<AppConfig, "corpId" | "agentId">,
  limit: number,
): Promise<MemberPacing[]> {
  const members: MemberPacing[] = [];
  const prefix = keys.pacingPrefix(app.corpId, app.agentId);
  for await (const entry of kv.list<PacingState>({ prefix }, { limit })) {
    members.push({ userId: String(entry.key[3]), state: entry.value });
  }
  return members;
}
