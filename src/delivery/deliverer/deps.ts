/**
 * The public shapes of the delivery loop: what `startDelivery` needs
 * (`DeliveryDeps`) and what it returns (`Delivery`). Re-exported by
 * `../deliverer.ts`, where callers import them.
 *
 * @example Usage
 * ```ts
 * import type { DeliveryLog } from "./deps.ts";
 *
 * const lines: string[] = [];
 * const log: DeliveryLog = (level, message) => lines.push(`${level}: ${message}`);
 * log("info", "delivery started");
 * console.assert(lines[0] === "info: delivery started");
 * ```
 *
 * @module
 */

import type { Commit } from "../../store/group_commit.ts";
import type { AppConfig, DeliveryConfig } from "../../config/types.ts";
import type { LogFields, LogLevel } from "../../log.ts";
import type { WeComClient } from "../../wecom/types.ts";
import type { PrepareMessage } from "../prepare.ts";

/** A log function: level, message, plain fields (never message content). */
export type DeliveryLog = (level: LogLevel, message: string, fields?: LogFields) => void;

/** Dependencies and settings of `startDelivery`. */
export interface DeliveryDeps {
  kv: Deno.Kv;
  /** Configured apps; items naming another app become dead letters. */
  apps: AppConfig[];
  client: WeComClient;
  config: DeliveryConfig;
  /** Clock, epoch ms (default `Date.now`); every due time is judged by it. */
  now?: () => number;
  log?: DeliveryLog;
  /** Conversations delivered at once (default 8; the gateway passes `deliveryConcurrency` of ../deliverer.ts). */
  concurrency?: number;
  /** Interval of the fallback poll, ms (default 500). */
  pollMs?: number;
  /** First retry back-off, ms (default 1000; doubles up to `backoffMaxMs`). */
  backoffBaseMs?: number;
  /** Largest retry back-off, ms (default `config.retryMaxBackoffMs`, else 5 min). */
  backoffMaxMs?: number;
  /** First back-off after 60020 (untrusted IP), ms (default 60 s). */
  ipBackoffBaseMs?: number;
  /** In-flight lease of one send, ms (default `2 × requestTimeoutMs + 5 s`). */
  leaseMs?: number;
  /** In-flight lease of a media item (upload, then send), ms (default `leaseMs` + 4 min). */
  mediaLeaseMs?: number;
  /**
   * Turns a due item into the message sent: uploads media items, sends markdown as
   * text to WeChat-plugin users (`createMessagePreparer` of `./prepare.ts`).
   * Default `passThrough`: media items are explained as not sent.
   */
  prepare?: PrepareMessage;
  /** Extra wait after a pacing window frees up, ms (default 1000). */
  pacingMarginMs?: number;
  /** Random source of the back-off jitter (default `Math.random`). */
  random?: () => number;
  /**
   * Commits the atomic operation `build` fills in. Default: a group commit over
   * `kv` (`createGroupCommit` of src/store/group_commit.ts), so that the
   * commits of conversations delivered in parallel share one durable KV commit
   * (each keeps its own checks and gets its own result). The gateway passes the
   * process's one committer (a commit of its own each when
   * `gateway.group_commit` is off).
   */
  commit?: Commit;
  /**
   * Awaited before each delivery step (the gateway passes its priority gate's
   * `idle`, `src/priority_gate.ts`: callbacks being answered go first). Default: none.
   */
  yieldTo?: () => Promise<void>;
}

/** A running delivery loop. */
export interface Delivery {
  /** Looks for due items now (e.g. right after adding items in this process). */
  wake(): void;
  /** Stops the loop and waits for sends in flight. */
  stop(): Promise<void>;
  /** Resolves once nothing due is pending: no conversation has an item due by `now()`. */
  idle(): Promise<void>;
}
