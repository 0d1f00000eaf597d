/**
 * Acknowledgement measurements shared by the reply-latency and busy-agents
 * benchmarks: a gateway subprocess on a temp KV with its config, CPU use over
 * a phase (gateway, this process, the rest of the machine), one closed-loop
 * phase of callbacks acknowledged, rounds pooled into one row, and a table row.
 *
 * @example Usage
 * ```ts ignore
 * import { ackPhase, startNamedGateway, writeConfig } from "./ack_phase.ts";
 * import { benchApps, sealCallbacks } from "./callbacks.ts";
 * const dir = await Deno.makeTempDir();
 * const apps = benchApps(3);
 * await writeConfig(`${dir}/config.json`, apps, "http://127.0.0.1:9", {});
 * const { server } = await startNamedGateway("edge", "edge", dir, `${dir}/config.json`);
 * const url = `http://127.0.0.1:${server.port}/wecom/callback`;
 * const row = await ackPhase("edge", url, server, await sealCallbacks(apps, 500), 32);
 * console.log(row.rps, row.latency.p99);
 * await server.stop();
 * ```
 *
 * @module
 */

import type { AppConfig } from "../../src/config/types.ts";
import { appsConfigFile, type BenchCallback } from "./callbacks.ts";
import { createPool, drive } from "./drive.ts";
import { errorsText, fmt } from "./report.ts";
import {
  machineCpuSeconds,
  procCpuSeconds,
  type ServerProcess,
  startGateway,
} from "./server_process.ts";
import { summarize, type Summary } from "./stats.ts";

/** Writes a config file with the apps pointing at `apiBase` and `extra` sections on top. */
export async function writeConfig(
  path: string,
  apps: AppConfig[],
  apiBase: string,
  extra: { gateway?: Record<string, unknown>; agent?: Record<string, unknown> },
): Promise<void> {
  // Callbacks are sealed before any timing; the replay check still runs on each of them.
  await Deno.writeTextFile(
    path,
    appsConfigFile(apps, { apiBase, extra: { replay_window_seconds: 3600 }, top: extra }),
  );
}

/** Starts gateway `name` in `role` with its KV and media directory in `dir`, logging warnings only. */
export async function startNamedGateway(
  name: string,
  role: "all" | "edge",
  dir: string,
  configPath: string,
  memoryProbe = false,
  v8Flags?: string,
): Promise<{ server: ServerProcess; kvPath: string }> {
  const kvPath = `${dir}/kv-${name}.sqlite3`;
  const server = await startGateway({
    name,
    role,
    configPath,
    cwd: dir,
    env: {
      WECOM_GATEWAY_KV: kvPath,
      WECOM_GATEWAY_MEDIA_DIR: `${dir}/media-${name}`,
      LOG_LEVEL: "warn",
    },
    memoryProbe,
    v8Flags,
  });
  return { server, kvPath };
}

/** CPU use over a phase, in % of one CPU: the gateway, this process, everything else. */
export interface CpuUse {
  /** Wall time measured, s. */
  seconds: number;
  gatewayPct: number;
  benchPct: number;
  otherPct: number;
}

/** Starts measuring CPU use; the returned function ends the measurement. */
export async function cpuMeter(server: ServerProcess): Promise<() => Promise<CpuUse>> {
  const [gateway, bench, machine, started] = [
    await server.cpuSeconds(),
    await procCpuSeconds(Deno.pid),
    await machineCpuSeconds(),
    performance.now(),
  ];
  return async () => {
    const seconds = (performance.now() - started) / 1000;
    const g = (await server.cpuSeconds()) - gateway;
    const b = (await procCpuSeconds(Deno.pid)) - bench;
    const m = (await machineCpuSeconds()) - machine;
    return {
      seconds,
      gatewayPct: (g / seconds) * 100,
      benchPct: (b / seconds) * 100,
      otherPct: Math.max(0, ((m - g - b) / seconds) * 100),
    };
  };
}

/** Gateway CPU µs per event over a measured span. */
export function cpuMicros(cpu: CpuUse, events: number): number {
  return ((cpu.gatewayPct / 100) * cpu.seconds * 1e6) / events;
}

/** CPU use as "120 / 80 / 5 %" (gateway / bench / other). */
export function cpuText(cpu: CpuUse): string {
  return `${fmt(cpu.gatewayPct, 0)} / ${fmt(cpu.benchPct, 0)} / ${fmt(cpu.otherPct, 0)} %`;
}

/** One measured closed-loop phase of acknowledgements. */
export interface AckRow {
  label: string;
  ok: number;
  requests: number;
  errors: Record<number, number>;
  seconds: number;
  rps: number;
  latency: Summary;
  latencies: Float64Array;
  cpu: CpuUse;
  /** Busy agents on /metrics after the phase (busy phase only). */
  busyAfter?: number;
}

/** Sends `callbacks` closed loop at `concurrency` (nothing is measured: a warm-up). */
export async function warm(
  url: string,
  callbacks: BenchCallback[],
  concurrency: number,
): Promise<void> {
  if (callbacks.length > 0) await drive({ url, callbacks, concurrency, maxMs: 30_000 });
}

/** Sends `callbacks` closed loop at `concurrency` and measures their acknowledgement. */
export async function ackPhase(
  label: string,
  url: string,
  server: ServerProcess,
  callbacks: BenchCallback[],
  concurrency: number,
): Promise<AckRow> {
  const pool = createPool(concurrency);
  try {
    const meter = await cpuMeter(server);
    const result = await drive({ url, callbacks, concurrency, client: pool, maxMs: 30_000 });
    const seconds = result.elapsedMs / 1000;
    return {
      label,
      ok: result.ok,
      requests: result.requests,
      errors: result.errors,
      seconds,
      rps: result.ok / seconds,
      latency: summarize(result.latencies),
      latencies: result.latencies,
      cpu: await meter(),
    };
  } finally {
    pool.close();
  }
}

/** All rounds of one gateway as one row: latencies pooled, req/s over the summed time. */
export function pooled(label: string, rows: AckRow[]): AckRow {
  const latencies = new Float64Array(rows.reduce((n, r) => n + r.latencies.length, 0));
  let offset = 0;
  for (const r of rows) {
    latencies.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  const seconds = rows.reduce((sum, r) => sum + r.seconds, 0);
  const ok = rows.reduce((sum, r) => sum + r.ok, 0);
  const errors: Record<number, number> = {};
  for (const r of rows) {
    for (const [status, n] of Object.entries(r.errors)) {
      errors[Number(status)] = (errors[Number(status)] ?? 0) + n;
    }
  }
  const mean = (pick: (cpu: CpuUse) => number) =>
    rows.reduce((sum, r) => sum + pick(r.cpu), 0) / rows.length;
  return {
    label,
    ok,
    requests: rows.reduce((sum, r) => sum + r.requests, 0),
    errors,
    seconds,
    rps: ok / seconds,
    latency: summarize(latencies),
    latencies,
    cpu: {
      seconds,
      gatewayPct: mean((c) => c.gatewayPct),
      benchPct: mean((c) => c.benchPct),
      otherPct: mean((c) => c.otherPct),
    },
  };
}

/** Gateway CPU µs per acknowledgement over `rows` (whole phases, summed). */
export function ackCpuMicros(rows: AckRow[]): number {
  const cpu = rows.reduce((sum, r) => sum + (r.cpu.gatewayPct / 100) * r.cpu.seconds, 0);
  return (cpu * 1e6) / rows.reduce((sum, r) => sum + r.ok, 0);
}

/** Header of the table {@linkcode ackRow} writes rows of. */
export const ACK_TABLE_HEADER = [
  `| gateway | callbacks | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU gateway / bench / other |`,
  "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
];

/** A row as a Markdown table line (label in bold when `bold`). */
export function ackRow(r: AckRow, bold = false): string {
  const label = bold ? `**${r.label}**` : r.label;
  return `| ${label} | ${r.ok} / ${r.requests} | ${errorsText(r.errors)} | ${fmt(r.rps, 0)} | ${
    fmt(r.latency.p50, 2)
  } | ${fmt(r.latency.p90, 2)} | ${fmt(r.latency.p99, 2)} | ${fmt(r.latency.max, 1)} | ${
    cpuText(r.cpu)
  } |`;
}
