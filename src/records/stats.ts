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
import type { AppDeliveryStatus } from "./app_status.ts";
import type { OutboxItem, OutboxState } from "./outbox_item.ts";
import { keys } from "../store/keys.ts";
import type { CredentialFailure } from "../wecom/token.ts";
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

/** Counts outbox items by state. */
export async function countOutbox(kv: Deno.Kv): Promise<Record<OutboxState, number>> {
  const counts: Record<OutboxState, number> = { pending: 0, sent: 0, dead: 0 };
  for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() })) {
    counts[entry.value.state] = (counts[entry.value.state] ?? 0) + 1;
  }
  return counts;
}

/** Reads the summary; `apps` are the configured apps (for their gettoken pauses). */
export async function readStoreStats(
  kv: Deno.Kv,
  apps: readonly AppConfig[],
  now: number = Date.now(),
): Promise<StoreStats> {
  const jobs = await countJobs(kv);
  const outbox = await countOutbox(kv);
  let deadLetters = 0;
  for await (const _ of kv.list({ prefix: keys.deadLetterPrefix() })) deadLetters++;
  const statuses: AppDeliveryStatus[] = [];
  for await (const entry of kv.list<AppDeliveryStatus>({ prefix: keys.appStatusPrefix() })) {
    statuses.push(entry.value);
  }
  const gettokenPaused: PausedGettoken[] = [];
  for (const app of apps) {
    const entry = await kv.get<CredentialFailure>(keys.credentialFailure(app.corpId, app.agentId));
    if (entry.value && entry.value.expiresAt > now) {
      gettokenPaused.push({ ...entry.value, app: app.name });
    }
  }
  return { jobs, outbox, deadLetters, apps: statuses, gettokenPaused };
}
