/**
 * The state one delivery loop shares between its parts: the settings resolved
 * from {@linkcode DeliveryDeps} once (leases, retry policy, pacing limits,
 * apps, the committer) and what changes while it runs (conversations in
 * flight, troubled ones, apps with a reported problem, the scan in progress
 * and its timer). Created by {@linkcode createDeliveryState} in
 * `startDelivery` and passed explicitly to every function of `./*.ts` that
 * reads or changes it.
 *
 * @example Usage
 * ```ts
 * import { createDeliveryState } from "./state.ts";
 * import type { WeComClient } from "../../wecom/types.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const client = {} as WeComClient; // never called here
 * const state = createDeliveryState({
 *   kv,
 *   apps: [],
 *   client,
 *   config: { perMinute: 20, perHour: 600, markdown: false, requestTimeoutMs: 10_000 },
 * });
 * console.assert(state.leaseMs === 25_000 && state.active.size === 0);
 * kv.close();
 * ```
 *
 * @module
 */

import type { AppConfig, DeliveryConfig } from "../../config/types.ts";
import { createGroupCommit } from "../../store/group_commit.ts";
import { type LogFields, write as writeLog } from "../../log.ts";
import { DUPLICATE_CHECK_INTERVAL_SECONDS } from "../../wecom/client.ts";
import type { WeComClient } from "../../wecom/types.ts";
import { withoutLease } from "../../records/outbox.ts";
import { type PacingLimits, validatePacingLimits } from "../pacing.ts";
import { passThrough, type PrepareMessage } from "../prepare.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../retry_policy.ts";
import type { OutboxItem } from "../../records/outbox_item.ts";
import type { DeliveryDeps, DeliveryLog } from "./deps.ts";
import type { Commit } from "../../store/group_commit.ts";

/** What to do after one step on a conversation: look at its (new) head again, or stop. */
export type Step = "next" | "done";

/** Everything the parts of one delivery loop share. */
export interface DeliveryState {
  // ---- settings (resolved once) ----
  readonly kv: Deno.Kv;
  readonly client: WeComClient;
  readonly config: DeliveryConfig;
  readonly now: () => number;
  readonly log: DeliveryLog;
  readonly random: () => number;
  /** Conversations delivered at once. */
  readonly concurrency: number;
  readonly pollMs: number;
  /** In-flight lease of one send, ms. */
  readonly leaseMs: number;
  /** In-flight lease of a media item (upload, then send), ms. */
  readonly mediaLeaseMs: number;
  readonly prepare: PrepareMessage;
  readonly policy: RetryPolicy;
  /**
   * How long an identical text's variant is remembered: WeCom's duplicate-check
   * interval from the latest copy that may still reach it (a retry within the
   * window, a late landing within a lease).
   */
  readonly variantHoldMs: number;
  readonly limits: PacingLimits;
  /** Configured apps by name. */
  readonly apps: Map<string, AppConfig>;
  readonly commit: Commit;
  /** Awaited before each delivery step (`deps.yieldTo`). */
  readonly yieldTo?: () => Promise<void>;

  // ---- running ----
  /** `stop()` was called. */
  stopped: boolean;
  /** Conversations being processed, with their promise. */
  readonly active: Map<string, Promise<void>>;
  /** Conversations whose processing threw: skipped until the time given. */
  readonly troubled: Map<string, number>;
  /** Apps whose trusted-IP or credential problem was reported (reported once; cleared on success). */
  readonly reported: Set<string>;
  /** Due conversations the last scan left waiting for a free slot. */
  dueWaiting: number;
  /** The conversation the last scan started: the next scan goes on after it. */
  resumeAfter: string | undefined;
  scanning: Promise<void> | null;
  queuedScan: Promise<void> | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Resolves the defaults of `deps`, checks them and returns a fresh state
 * (nothing started yet).
 *
 * @throws {RangeError} When `deps` has values delivery cannot work with.
 */
export function createDeliveryState(deps: DeliveryDeps): DeliveryState {
  const { kv, client, config } = deps;
  const concurrency = positiveInteger("concurrency", deps.concurrency ?? 8);
  const pollMs = positiveInteger("pollMs", deps.pollMs ?? 500);
  const leaseMs = positiveInteger("leaseMs", deps.leaseMs ?? 2 * config.requestTimeoutMs + 5000);
  const mediaLeaseMs = positiveInteger("mediaLeaseMs", deps.mediaLeaseMs ?? leaseMs + 240_000);
  const policy: RetryPolicy = {
    windowMs: positiveInteger(
      "delivery.retryWindowMs",
      config.retryWindowMs ?? DEFAULT_RETRY_POLICY.windowMs,
    ),
    baseMs: deps.backoffBaseMs ?? DEFAULT_RETRY_POLICY.baseMs,
    maxMs: positiveInteger(
      "delivery.retryMaxBackoffMs",
      deps.backoffMaxMs ?? config.retryMaxBackoffMs ?? DEFAULT_RETRY_POLICY.maxMs,
    ),
    ipBaseMs: deps.ipBackoffBaseMs ?? DEFAULT_RETRY_POLICY.ipBaseMs,
  };
  const limits: PacingLimits = {
    perMinute: config.perMinute,
    perHour: config.perHour,
    marginMs: deps.pacingMarginMs,
  };
  validatePacingLimits(limits);
  return {
    kv,
    client,
    config,
    now: deps.now ?? Date.now,
    log: deps.log ?? writeLog,
    random: deps.random ?? Math.random,
    concurrency,
    pollMs,
    leaseMs,
    mediaLeaseMs,
    prepare: deps.prepare ?? passThrough,
    policy,
    variantHoldMs: DUPLICATE_CHECK_INTERVAL_SECONDS * 1000 + policy.windowMs + mediaLeaseMs,
    limits,
    apps: new Map(deps.apps.map((app) => [app.name, app])),
    commit: deps.commit ?? createGroupCommit(kv),
    yieldTo: deps.yieldTo,
    stopped: false,
    active: new Map(),
    troubled: new Map(),
    reported: new Set(),
    dueWaiting: 0,
    resumeAfter: undefined,
    scanning: null,
    queuedScan: null,
    timer: undefined,
  };
}

/** Log fields of an item: ids and routing, never content. */
export function itemFields(item: OutboxItem): LogFields {
  return {
    item: item.id,
    job: item.jobId,
    app: item.app,
    conversation: item.conversation,
    purpose: item.purpose,
  };
}

/** `item` ended as `state` (its lease dropped), with `lastError` when given. */
export function doneItem(item: OutboxItem, state: "sent" | "dead", lastError?: string): OutboxItem {
  const done: OutboxItem = { ...withoutLease(item), state };
  if (lastError !== undefined) done.lastError = lastError;
  return done;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot start delivery as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}
