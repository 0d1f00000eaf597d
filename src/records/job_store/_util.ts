/**
 * Private helpers of the job store (not re-exported by `mod.ts`).
 *
 * @example Usage
 * ```ts
 * import { positive } from "./_util.ts";
 * positive("leaseMs", 60_000); // throws a RangeError on 0 or less
 * ```
 *
 * @module
 */

import type { JobRecord } from "../job.ts";

export const CONFLICT_RETRIES = 5;
export const CANCEL_FLAG_TTL_MS = 24 * 60 * 60 * 1000;

export function idOf(key: Deno.KvKey): string {
  return String(key[key.length - 1]);
}

export function owns(
  record: JobRecord | null,
  runnerId: string,
  attempts: number,
): record is JobRecord {
  return record !== null && record.state === "running" && record.lease?.owner === runnerId &&
    record.attempts === attempts;
}

export function withoutLease(job: JobRecord): JobRecord {
  const { lease: _lease, ...rest } = job;
  return rest;
}

export async function first<T>(iterator: Deno.KvListIterator<T>): Promise<Deno.KvEntry<T> | null> {
  for await (const entry of iterator) return entry;
  return null;
}

export function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Cannot use the job store as '${name}' must be a positive number: current value is ${value}`,
    );
  }
}
