/**
 * What a gateway left in its KV store: jobs by state and outbox items by
 * state, read from the file after the gateway died or stopped (never while a
 * gateway process still has it open).
 *
 * @example Usage
 * ```ts ignore
 * import { readKvState } from "./kv_state.ts";
 * await gateway.kill();
 * const state = await readKvState(h.kvPath);
 * console.log(state.jobs.running, state.outbox.failedPending);
 * ```
 *
 * @module
 */

import { countJobs } from "../../../src/records/job_store/mod.ts";
import type { JobState } from "../../../src/records/job.ts";
import type { OutboxItem } from "../../../src/records/outbox_item.ts";
import { keys } from "../../../src/store/keys.ts";
import { waitFor } from "../../lib/wait.ts";

/** A summary of the store. */
export interface KvState {
  jobs: Record<JobState, number>;
  outbox: {
    pending: number;
    sent: number;
    dead: number;
    /** Pending items that already failed at least once (waiting for their back-off). */
    failedPending: number;
    /** Pending items whose send was in flight (claimed, outcome not recorded). */
    inFlight: number;
  };
  /** Entries under the dead-letter index. */
  deadLetters: number;
  /** The pending items themselves (for messages). */
  pendingItems: OutboxItem[];
}

/**
 * Opens the KV file at `path`, summarises it and closes it.
 *
 * @example Usage
 * ```ts ignore
 * const { jobs, outbox } = await readKvState("/tmp/x/kv.sqlite3");
 * ```
 */
export async function readKvState(path: string, now = Date.now()): Promise<KvState> {
  const kv = await Deno.openKv(path);
  try {
    const jobs = await countJobs(kv);
    const outbox = { pending: 0, sent: 0, dead: 0, failedPending: 0, inFlight: 0 };
    const pendingItems: OutboxItem[] = [];
    for await (const entry of kv.list<OutboxItem>({ prefix: keys.outboxPrefix() })) {
      const item = entry.value;
      outbox[item.state]++;
      if (item.state !== "pending") continue;
      pendingItems.push(item);
      if (item.lastError !== undefined) outbox.failedPending++;
      if ((item.inFlightUntil ?? 0) > now) outbox.inFlight++;
    }
    let deadLetters = 0;
    for await (const _ of kv.list({ prefix: keys.deadLetterPrefix() })) deadLetters++;
    return { jobs, outbox, deadLetters, pendingItems };
  } finally {
    kv.close();
  }
}

/**
 * Polls the KV file (read-only, while a gateway may still run on it) until no
 * job is queued or running and no outbox item is pending; returns the last
 * state read. Throws after `timeoutMs`.
 *
 * @example Usage
 * ```ts ignore
 * await waitForSettledKv(h.kvPath, 20_000); // then stop the gateway
 * ```
 */
export async function waitForSettledKv(path: string, timeoutMs = 20_000): Promise<KvState> {
  let last: KvState | undefined;
  const settled = async () => {
    try {
      last = await readKvState(path);
      const { jobs, outbox } = last;
      return jobs.queued === 0 && jobs.running === 0 && outbox.pending === 0;
    } catch {
      return false; // the gateway held the file for a moment: look again
    }
  };
  await waitFor(
    settled,
    () => `the gateway to settle: ${JSON.stringify(last?.jobs)} ${JSON.stringify(last?.outbox)}`,
    timeoutMs,
    250,
  );
  return last!;
}
