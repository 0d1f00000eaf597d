/**
 * A summary of the store for operators: jobs per state, outbox items per
 * state, dead letters, each app's delivery status and paused gettoken calls.
 * Shared by `jobs stats` and the operator console, so both say the same.
 *
 * @example Usage
 * ```ts
 * import { readStoreStats } from "./stats.ts";
 * const kv = await Deno.openKv(":memory:");
 * const stats = await readStoreStats(kv, []);
 * console.assert(stats.jobs.queued === 0 && stats.deadLetters === 0);
 * kv.close();
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { type AppDeliveryStatus, listAppStatuses } from "./app_status.ts";
import type { OutboxState } from "./outbox_item.ts";
import { countDeadLetters, countOutbox } from "./outbox_queries.ts";
import { type CredentialFailure, readCredentialFailure } from "../wecom/token.ts";
import { countJobs } from "./job_store/mod.ts";
import type { JobState } from "./job.ts";

/** A gettoken pause after WeCom refused an app's credentials. */
export type PausedGettoken = CredentialFailure & { app: string };

/** What {@linkcode readStoreStats} finds. */
export interface StoreStats {
  jobs: Record<JobState, number>;
  outbox: Record<OutboxState, number>;
  deadLetters: number;
  /** Every app's delivery status recorded in KV. */
  apps: AppDeliveryStatus[];
  /** Apps of `apps` whose gettoken is paused now. */
  gettokenPaused: PausedGettoken[];
}

/** Reads the summary; `apps` are the configured apps (for their gettoken pauses). */
export async function readStoreStats(
  kv: Deno.Kv,
  apps: readonly AppConfig[],
  now: number = Date.now(),
): Promise<StoreStats> {
  const jobs = await countJobs(kv);
  const outbox = await countOutbox(kv);
  const deadLetters = await countDeadLetters(kv);
  const statuses = await listAppStatuses(kv);
  const gettokenPaused: PausedGettoken[] = [];
  for (const app of apps) {
    const failure = await readCredentialFailure(kv, app);
    if (failure && failure.expiresAt > now) gettokenPaused.push({ ...failure, app: app.name });
  }
  return { jobs, outbox, deadLetters, apps: statuses, gettokenPaused };
}
