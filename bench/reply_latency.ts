/**
 * How long a user waits for a reply, what a reply costs, and how much memory
 * the gateway holds: the end-to-end measurements the load benchmark
 * (bench/load.ts) leaves out.
 *
 * 1. **Reply latency.** The simulated WeCom API (src/simulator/wecom_api.ts)
 *    runs in this process; a gateway subprocess in role `all` (KV in a temp
 *    file, echo agent, 3 apps pointing at the fake through `api_base`) gets
 *    one text message from each of `--users` distinct users (1,000), sent
 *    open loop at `--rate` (100/s), then a second pass with new users at
 *    `--high-rate` (300/s; 0 skips it). A message's latency is the fake's
 *    delivery time of its reply minus the time its callback was due to be sent
 *    by the open-loop schedule (both `Date.now()` here; a callback sent late
 *    counts from its slot). Checked: every user gets exactly one reply, with
 *    the text sent (the echo), and the gateway fetched exactly one access
 *    token per app over all passes.
 * 2. **End-to-end capacity** (`--capacity`, default 5,000; 0 skips it): after
 *    the two passes, that many callbacks from as many new members go to the
 *    same echo gateway as fast as they are acknowledged (64 connections); every
 *    reply is counted once. Reported: replies/s, the gateway's CPU µs per
 *    delivered reply (whole pass, and by thread) next to its CPU µs per
 *    acknowledgement, measured in the same run on a gateway in role `edge`
 *    (no agents) running beside it: `--baseline-acks` (2,000) callbacks,
 *    closed loop at 32 connections, half right before and half right after the
 *    capacity pass, so that what else runs on the machine weighs on both.
 * 3. **Memory** of the echo gateway (started through bench/lib/memory_gateway.ts):
 *    RSS idle and after each pass, split into private memory and mapped files,
 *    and the main thread's V8 heap. `--v8-flags` overrides the V8 flags it runs
 *    with (default: those of `deno task start`).
 *
 * The latency distribution of the timed passes is drawn as an SVG into
 * `--plots` (default `bench-results/plots/`), and its path printed.
 * Acknowledgement while agents are busy is bench/busy_agents.ts.
 *
 * Loopback only; temp files are removed. Exits 1 when a reply is lost,
 * doubled or wrong, a callback is not acknowledged 200, gettoken is not
 * called exactly once per app, or a gateway exits non-zero.
 *
 * Run: `deno task bench:reply [--users 1000] [--rate 100] [--high-rate 300]
 * [--jobs-concurrency N] [--capacity 5000] [--baseline-acks 2000] [--v8-flags F]
 * [--plots DIR] [--json results.json]` (`--jobs-concurrency` sets
 * `gateway.jobs.concurrency` of the echo gateway; default: the gateway's own).
 *
 * @example Short run
 * ```sh
 * deno task bench:reply --users 200 --rate 100 --high-rate 0 --capacity 500
 * ```
 *
 * @module
 */

import type { FakeWeComApi } from "../src/simulator/wecom_api.ts";
import { flag, integerFlag } from "./lib/args.ts";
import {
  ACK_TABLE_HEADER,
  ackCpuMicros,
  ackPhase,
  type AckRow,
  ackRow,
  cpuMicros,
  cpuText,
  pooled,
  startNamedGateway,
  warm,
  writeConfig,
} from "./lib/ack_phase.ts";
import { benchApps, sealCallbacks, sealUsers, startBenchApi } from "./lib/callbacks.ts";
import { describeMachine, exitOnInterrupt, stopAll } from "./lib/server_process.ts";
import { errorsText, fmt, probeKvCommit } from "./lib/report.ts";
import { cdfPoints, lineChart, writePlot } from "./lib/svg.ts";
import { lastProbe, type MemoryProbe, probeText, rssSplit } from "./lib/memory_gateway.ts";
import { deliveryIndex, OPEN_LOOP_CONCURRENCY, type PassRow, runPass } from "./lib/reply_pass.ts";

/** Connections and warm-up callbacks of the acknowledgement baseline. */
const BASELINE_CONCURRENCY = 32;
const BASELINE_WARMUP = 200;

interface Options {
  users: number;
  rate: number;
  /** Second pass; 0 = none. */
  highRate: number;
  /** `gateway.jobs.concurrency` of the echo gateway; undefined = the gateway's default. */
  jobsConcurrency?: number;
  /** Callbacks from distinct members sent as fast as acknowledged (end-to-end capacity); 0 = none. */
  capacity: number;
  /** Callbacks the `edge` baseline acknowledges, half before and half after the capacity pass. */
  baselineAcks: number;
  /** Where the plots go. */
  plots: string;
  /** `--v8-flags` of the echo gateway, to measure a V8 setting's effect on memory. */
  v8Flags?: string;
  json?: string;
}

function integer(args: string[], name: string, fallback: number, min = 1): number {
  return integerFlag(args, name, fallback, { script: "the reply-latency benchmark", min });
}

function parseOptions(args: string[]): Options {
  return {
    users: integer(args, "users", 1000),
    rate: integer(args, "rate", 100),
    highRate: integer(args, "high-rate", 300, 0),
    jobsConcurrency: flag(args, "jobs-concurrency") === undefined
      ? undefined
      : integer(args, "jobs-concurrency", 4),
    capacity: integer(args, "capacity", 5000, 0),
    baselineAcks: integer(args, "baseline-acks", 2000, 2),
    v8Flags: flag(args, "v8-flags"),
    plots: flag(args, "plots") ?? new URL("../bench-results/plots", import.meta.url).pathname,
    json: flag(args, "json"),
  };
}

/** CPU by thread as "main 1200, sw-0 800, …" in µs per event, largest first (≥ 10 µs). */
function threadText(threads: Map<string, number>, events: number): string {
  return [...threads].map(([name, seconds]) => [name, (seconds * 1e6) / events] as const)
    .filter(([, micros]) => micros >= 10).sort((a, b) => b[1] - a[1])
    .map(([name, micros]) => `${name} ${fmt(micros, 0)}`).join(", ");
}

/**
 * The KV committer during a pass: how much of the pass a commit was in flight
 * (near 100 %: the store's one writer bounds the pipeline), and its commits and
 * operations per delivered reply.
 */
function committerText(row: PassRow): string {
  const c = row.committer;
  if (!Number.isFinite(c.busySeconds)) return "KV committer: not reported (group commit off?).";
  return `KV committer (one SQLite writer): a commit in flight **${
    fmt((100 * c.busySeconds) / c.seconds, 0)
  } %** of the pass; ${fmt(c.commits / row.delivered, 2)} commits and ${
    fmt(c.operations / row.delivered, 1)
  } operations per delivered reply (acknowledgement included), ${
    fmt((1000 * c.busySeconds) / Math.max(1, c.commits), 2)
  } ms per commit.`;
}

/** An offered rate as text: "100/s", or "capacity" for the as-fast-as-acknowledged pass. */
function rateText(rate: number): string {
  return Number.isFinite(rate) ? `${rate}/s` : "capacity (closed loop)";
}

function passTable(rows: PassRow[]): string {
  const lines = [
    "| offered | users | acked 200 | replies delivered | duplicates | wrong text | p50 ms | p90 ms | p99 ms | max ms | drain s | replies/s | peak jobs queued / running | ack p99 ms | CPU gateway / bench / other |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${rateText(r.rate)} | ${r.users} | ${r.acked}${
        Object.keys(r.ackErrors).length ? ` (errors ${errorsText(r.ackErrors)})` : ""
      } | ${r.delivered} / ${r.users} | ${r.duplicates} | ${r.wrong} | ${fmt(r.latency.p50)} | ${
        fmt(r.latency.p90)
      } | ${fmt(r.latency.p99)} | ${fmt(r.latency.max)} | ${fmt(r.drainSeconds, 2)} | ${
        fmt(r.repliesPerSecond, 0)
      } | ${r.peakQueued} / ${r.peakRunning} | ${fmt(r.ack.p99, 2)} | ${cpuText(r.cpu)} |`,
    );
  }
  return lines.join("\n");
}

/** Failures of the passes: callbacks not acknowledged, replies lost, doubled or wrong. */
function passFailures(rows: PassRow[]): string[] {
  const failures: string[] = [];
  for (const row of rows) {
    const what = rateText(row.rate);
    const missing = row.users - row.acked;
    if (missing) failures.push(`${what}: ${missing} callbacks not acknowledged 200`);
    const lost = row.users - row.delivered;
    if (lost) failures.push(`${what}: ${lost} replies lost`);
    if (row.duplicates) failures.push(`${what}: ${row.duplicates} users got 2 replies`);
    if (row.wrong) failures.push(`${what}: ${row.wrong} replies with the wrong text`);
  }
  return failures;
}

async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  const dir = await Deno.makeTempDir({ prefix: "wecom-reply-latency-" });
  let api: FakeWeComApi | undefined;
  const cleanup = async () => {
    await stopAll();
    await api?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const stopInterrupt = exitOnInterrupt(
    cleanup,
    "interrupted: stopping the gateways, removing temp files",
  );
  const failures: string[] = [];
  const began = performance.now();
  try {
    const apps = benchApps(3);
    api = startBenchApi(apps);
    const machineText = await describeMachine();
    const loadBefore = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");

    // Everything sealed before any timing.
    const passes = [
      options.rate,
      ...(options.highRate > 0 ? [options.highRate] : []),
      ...(options.capacity > 0 ? [Infinity] : []),
    ];
    const passMessages = await Promise.all(
      passes.map((rate, p) =>
        sealUsers(apps, `rt${p + 1}-user`, Number.isFinite(rate) ? options.users : options.capacity)
      ),
    );
    const half = Math.floor(options.baselineAcks / 2);
    const baselineCallbacks = options.capacity > 0
      ? await sealCallbacks(apps, BASELINE_WARMUP + 2 * half)
      : [];
    const floor = await probeKvCommit(dir);

    const config = `${dir}/config-echo.json`;
    await writeConfig(config, apps, api.url, {
      gateway: {
        jobs: {
          working_notice_seconds: 0,
          ...(options.jobsConcurrency ? { concurrency: options.jobsConcurrency } : {}),
        },
      },
      agent: { kind: "echo" },
    });
    const echo = await startNamedGateway("all-echo", "all", dir, config, true, options.v8Flags);
    const echoUrl = `http://127.0.0.1:${echo.server.port}/wecom/callback`;
    // The acknowledgement baseline: role edge, no agents, beside the echo gateway.
    const edge = options.capacity > 0
      ? await startNamedGateway("edge-baseline", "edge", dir, config)
      : undefined;
    const edgeUrl = edge && `http://127.0.0.1:${edge.server.port}/wecom/callback`;
    // Idle: started, nothing received yet (after 2 s, once start-up work has settled).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleRssMiB = (await echo.server.rssKiB()) / 1024;
    const idleProbe = lastProbe(echo.server.stderrTail());
    const idleSplit = await rssSplit(echo.server);
    const index = deliveryIndex(api);
    const passRows: PassRow[] = [];
    const baselineRows: AckRow[] = [];
    const baseline = async (part: number) => {
      const row = await ackPhase(
        `edge baseline, part ${part + 1}`,
        edgeUrl!,
        edge!.server,
        baselineCallbacks.slice(BASELINE_WARMUP + part * half, BASELINE_WARMUP + (part + 1) * half),
        BASELINE_CONCURRENCY,
      );
      baselineRows.push(row);
      console.error(`edge baseline part ${part + 1}: ${fmt(row.rps, 0)} req/s`);
    };
    let gettoken: number[];
    let echoExit: number;
    let edgeExit = 0;
    let settledRssMiB: number, peakRssMiB: number;
    let settledProbe: MemoryProbe | undefined;
    let settledSplit: string;
    try {
      if (edge) await warm(edgeUrl!, baselineCallbacks.slice(0, BASELINE_WARMUP), 32);
      for (let p = 0; p < passes.length; p++) {
        const capacityPass = !Number.isFinite(passes[p]);
        if (capacityPass) await baseline(0);
        const row = await runPass(echoUrl, echo.server, index, passMessages[p], passes[p]);
        passRows.push(row);
        console.error(
          `reply pass ${rateText(passes[p])}: ${row.delivered}/${row.users} replies, ` +
            `p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms`,
        );
        if (capacityPass) await baseline(1);
      }
      // Late doubles (a retried send, a job run twice) get 2 s more to show up.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      settledRssMiB = (await echo.server.rssKiB()) / 1024;
      peakRssMiB = (await echo.server.peakRssKiB()) / 1024;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      settledProbe = lastProbe(echo.server.stderrTail());
      settledSplit = await rssSplit(echo.server);
      gettoken = apps.map((app) => api!.gettokenCalls(app.agentId));
    } finally {
      if (edge) edgeExit = await edge.server.stop();
      echoExit = await echo.server.stop();
    }
    index.update();
    for (const row of passRows) {
      row.duplicates = row.messages.filter((m) => index.of(m.agentId, m.userId).length > 1).length;
    }

    // --- Report ------------------------------------------------------------------------------
    const totalSeconds = (performance.now() - began) / 1000;
    console.log(`Machine: ${machineText}; load average before the run ${loadBefore}\n`);
    console.log(
      `### Callback → delivered reply (echo agent, role all, gateway.jobs.concurrency ${
        options.jobsConcurrency ?? "default"
      }, ` +
        `${apps.length} apps, one message per distinct user, open loop)\n`,
    );
    console.log(passTable(passRows));
    console.log(
      `\nLatency = the simulated API's delivery time − the callback's scheduled send time. ` +
        `drain = last reply − last callback due; ` +
        `replies/s = replies ÷ (last reply − first callback due). CPU in % of one CPU ` +
        `(${navigator.hardwareConcurrency} on this machine); bench = this process (driver and ` +
        `simulated API); other = everything else on the machine. Peak jobs: ` +
        `wecom_jobs{state} on /metrics, sampled every 500 ms.`,
    );
    const tokenOk = gettoken.every((n) => n === 1);
    console.log(
      `\ngettoken calls per app: ${
        apps.map((app, i) => `${app.name} ${gettoken[i]}`).join(", ")
      } — ${tokenOk ? "PASS" : "FAIL"} (expected exactly 1 per app)`,
    );
    console.log(
      `\nKV floor on this disk (one-key durable commits, one at a time, before the run): ` +
        `p50 ${fmt(floor.p50, 2)} ms, p99 ${fmt(floor.p99, 2)} ms.`,
    );
    const messagesTotal = passRows.reduce((sum, r) => sum + r.users, 0);
    console.log(
      `\n### Memory of the echo gateway (role all)\n\nIdle (started, no callback yet): ` +
        `**${fmt(idleRssMiB)} MiB** RSS (${idleSplit}; goal ≤ 60 MB = 57.2 MiB). After each ` +
        `pass, once its replies were delivered: ${
          passRows.map((r) => `${rateText(r.rate)} ${fmt(r.rssAfterMiB)} MiB`).join(", ")
        }; 2 s after the last pass (${messagesTotal} messages from as many members): ` +
        `**${fmt(settledRssMiB)} MiB** (${settledSplit}; goal ≤ 100 MB = 95.4 MiB after ` +
        `10,000); peak ${fmt(peakRssMiB)} MiB.\n\nMain thread (\`Deno.memoryUsage()\`), idle → ` +
        `after: ${probeText(idleProbe)} → ${probeText(settledProbe)}. The rest of RSS is the ` +
        `agent workers' isolates, Deno KV (SQLite) and the runtime.`,
    );
    const capacityRow = passRows.find((r) => !Number.isFinite(r.rate));
    const baselineAll = pooled(`edge baseline, ${baselineRows.length} parts`, baselineRows);
    if (capacityRow) {
      console.log(
        `\n### End-to-end capacity\n\n${capacityRow.delivered} replies for ${capacityRow.users} ` +
          `callbacks from as many distinct members, sent as fast as acknowledged ` +
          `(${OPEN_LOOP_CONCURRENCY} connections): **${
            fmt(capacityRow.repliesPerSecond, 0)
          } replies/s** (goal ≥ 1,500/s), acknowledged at ${
            fmt(capacityRow.acked / ((capacityRow.sentAtEnd - capacityRow.sentAt[0]) / 1000), 0)
          }/s. Gateway CPU per delivered reply ${
            fmt(cpuMicros(capacityRow.cpu, capacityRow.delivered), 0)
          } µs (acknowledgement, agent run, delivery; whole pass) vs ${
            fmt(ackCpuMicros(baselineRows), 0)
          } µs per acknowledgement (role edge, no agents, ${baselineAll.ok} callbacks ` +
          `acknowledged right before and after the pass in this run).\n\nWhere a ` +
          `reply's CPU goes, µs per delivered reply by gateway thread: ${
            threadText(capacityRow.threadCpu, capacityRow.delivered)
          }.\n\n${
            committerText(capacityRow)
          }\n\nAcknowledgement baseline (${BASELINE_CONCURRENCY} connections, closed loop, ` +
          `after ${BASELINE_WARMUP} warm-up callbacks):\n`,
      );
      console.log([...ACK_TABLE_HEADER, ...baselineRows.map((r) => ackRow(r))].join("\n"));
    }
    const timed = passRows.filter((r) => Number.isFinite(r.rate) && r.latencies.length > 0);
    if (timed.length > 0) {
      const path = await writePlot(
        options.plots,
        "reply_latency.svg",
        lineChart({
          title: "Callback → reply latency (echo agent, role all, distinct members)",
          xLabel: "callback → reply latency, ms (log scale)",
          yLabel: "percentile",
          logX: true,
          series: timed.map((r) => ({
            name: `${r.rate}/s offered`,
            points: cdfPoints(r.latencies),
          })),
          goal: { y: 99, label: "p99" },
        }),
      );
      console.log(`\nPlot: ${path}`);
    }
    console.log(`\nWhole run: ${fmt(totalSeconds, 0)} s.`);

    failures.push(...passFailures(passRows));
    if (!tokenOk) failures.push(`gettoken calls per app were ${gettoken.join(", ")}, not 1 each`);
    for (const row of baselineRows) {
      if (row.ok !== half) {
        failures.push(`${row.label}: ${half - row.ok} callbacks not acknowledged 200`);
      }
    }
    for (const [name, code] of [["all-echo", echoExit], ["edge", edgeExit]] as const) {
      if (code !== 0) failures.push(`gateway ${name} exited with code ${code}`);
    }
    console.log(
      failures.length === 0 ? "\nResult: PASS" : `\nResult: FAIL\n- ${failures.join("\n- ")}`,
    );

    if (options.json) {
      await Deno.writeTextFile(
        options.json,
        JSON.stringify(
          {
            machine: machineText,
            options,
            passes: passRows.map((
              { messages: _m, sentAt: _s, latencies: _l, threadCpu, ...row },
            ) => ({ ...row, threadCpu: Object.fromEntries(threadCpu) })),
            gettoken,
            kvFloor: floor,
            ackBaseline: [...baselineRows, baselineAll].map(({ latencies: _l, ...row }) => row),
            failures,
          },
          null,
          2,
        ),
      );
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    stopInterrupt();
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
