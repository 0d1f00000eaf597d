/**
 * The load driver: `concurrency` callers, each on its own keep-alive HTTP/1.1
 * connection (`./http1.ts`: requests encoded before timing, a fraction of
 * `fetch`'s CPU), either closed loop (each caller sends
 * its next callback as soon as the previous one is answered: the capacity) or
 * open loop at a fixed rate (the latency at a given load).
 *
 * @example Usage
 * ```ts ignore
 * import { drive } from "./drive.ts";
 * const result = await drive({ url: "http://127.0.0.1:8645/wecom/callback", callbacks, concurrency: 32 });
 * console.log(result.ok / (result.elapsedMs / 1000), "req/s");
 * ```
 *
 * @module
 */

import type { BenchCallback } from "./callbacks.ts";
import { encodePost, type Http1Connection, openConnection } from "./http1.ts";

/** What {@linkcode drive} needs. */
export interface DriveOptions {
  /** The callback URL, without query (`http://host:port/path`). */
  url: string;
  /** Sent in order, each once. */
  callbacks: BenchCallback[];
  concurrency: number;
  /** Stop starting requests after this many ms (the phase then ends early). */
  maxMs?: number;
  /** Abort requests still running this long after `maxMs` (default 10 s). */
  graceMs?: number;
  /** Connections to use (kept open); by default a pool is made and closed for this call. */
  client?: Pool;
  /**
   * Open loop: start request `i` at `i / rate` seconds (requests per second),
   * still with at most `concurrency` in flight. A request that must wait for a
   * free caller counts its latency from its scheduled time (no coordinated
   * omission). Default: closed loop, each caller sends as soon as it is answered.
   */
  rate?: number;
}

/** The outcome of one phase. */
export interface DriveResult {
  /** Requests sent. */
  requests: number;
  /** Answered 200. */
  ok: number;
  /** Not 200 (or no answer), by status (0 = network error or timeout). */
  errors: Record<number, number>;
  /** Wall time from the first request to the last answer. */
  elapsedMs: number;
  /** Acknowledgement latency of each 200 answer, ms. */
  latencies: Float64Array;
  /** True when `maxMs` ended the phase before every callback was sent. */
  cut: boolean;
}

/** Keep-alive connections for `concurrency` callers, opened on first use and reused. */
export interface Pool {
  /** The connection of caller `slot` to `hostname:port`, opened (again) when needed. */
  connection(slot: number, hostname: string, port: number): Promise<Http1Connection>;
  /** Closes every connection (pending requests fail). */
  close(): void;
}

/** A keep-alive connection pool for `concurrency` callers. */
export function createPool(concurrency: number): Pool {
  const connections: (Http1Connection | undefined)[] = new Array(Math.max(concurrency, 1));
  return {
    async connection(slot, hostname, port) {
      const existing = connections[slot];
      if (existing?.open) return existing;
      return connections[slot] = await openConnection(hostname, port);
    },
    close() {
      for (const connection of connections) connection?.close();
    },
  };
}

/** Sends `callbacks` with `concurrency` callers; resolves when all are answered. */
export async function drive(options: DriveOptions): Promise<DriveResult> {
  const { callbacks, concurrency } = options;
  const url = new URL(options.url);
  const hostname = url.hostname;
  const port = Number(url.port || 80);
  const maxMs = options.maxMs ?? Infinity;
  const pool = options.client ?? createPool(concurrency);
  const latencies = new Float64Array(callbacks.length);
  const errors: Record<number, number> = {};
  // Encoded before any timing: the driver's own work per request is a write and a read.
  const requests = callbacks.map((callback) =>
    encodePost(hostname, port, `${url.pathname}?${callback.query}`, callback.body)
  );
  let next = 0;
  let ok = 0;
  let cut = false;
  const started = performance.now();
  const deadline = started + maxMs;
  const hardStop = Number.isFinite(maxMs)
    ? setTimeout(() => pool.close(), maxMs + (options.graceMs ?? 10_000))
    : undefined;

  const rate = options.rate;
  const caller = async (slot: number) => {
    while (next < callbacks.length) {
      if (performance.now() >= deadline) {
        cut = true;
        return;
      }
      const index = next++;
      let begun = performance.now();
      if (rate !== undefined) {
        const scheduled = started + (index * 1000) / rate;
        if (scheduled > begun) {
          // Early: wait for the slot, and count from the actual send (timer jitter is ours).
          await new Promise((resolve) => setTimeout(resolve, scheduled - begun));
          begun = performance.now();
        } else begun = scheduled; // late: the wait for a free caller counts
      }
      let status = 0;
      try {
        const connection = await pool.connection(slot, hostname, port);
        status = (await connection.send(requests[index])).status;
      } catch {
        status = 0;
      }
      if (status === 200) latencies[ok++] = performance.now() - begun;
      else errors[status] = (errors[status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, slot) => caller(slot)));
  } finally {
    clearTimeout(hardStop);
    if (!options.client) pool.close();
  }
  return {
    requests: next,
    ok,
    errors,
    elapsedMs: performance.now() - started,
    latencies: latencies.subarray(0, ok),
    cut,
  };
}
