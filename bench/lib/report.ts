/**
 * What the benchmark scripts share besides driving load: the environment of a
 * server subprocess, the KV commit floor of the disk, and number formatting.
 *
 * @example Usage
 * ```ts ignore
 * import { fmt, probeKvCommit, serverEnv } from "./report.ts";
 * const floor = await probeKvCommit(await Deno.makeTempDir());
 * console.log(fmt(floor.p50, 2), serverEnv({ LOG_LEVEL: "warn" }).LOG_LEVEL);
 * ```
 *
 * @module
 */

import { summarize, type Summary } from "./stats.ts";

/** The environment of a server: ours, without any WECOM_* or LOG_* of the caller, plus `extra`. */
export function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (!/^(WECOM_|LOG_)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * The floor any durable intake stands on: latency of one-key commits to a
 * fresh KV file in `dir`, one at a time, with nothing else running.
 */
export async function probeKvCommit(dir: string, commits = 300): Promise<Summary> {
  const path = `${dir}/kv-floor.sqlite3`;
  const kv = await Deno.openKv(path);
  const times = new Float64Array(commits);
  try {
    for (let i = 0; i < commits; i++) {
      const begun = performance.now();
      await kv.atomic().check({ key: ["floor", i], versionstamp: null }).set(["floor", i], i)
        .commit();
      times[i] = performance.now() - begun;
    }
  } finally {
    kv.close();
  }
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(path + suffix).catch(() => {});
  return summarize(times);
}

/** A number with `digits` decimals, or "–" when it is not finite. */
export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** Error counts by HTTP status as "3×503 1×net" (status 0 = network error), or "0". */
export function errorsText(errors: Record<string | number, number>): string {
  const parts = Object.entries(errors).map(([status, n]) =>
    `${n}×${status === "0" ? "net" : status}`
  );
  return parts.length ? parts.join(" ") : "0";
}
