/**
 * Load generator for the callback intake: durable callbacks per second and
 * acknowledgement latency of the gateway, next to a bare `Deno.serve` that
 * answers 200 (the ceiling of this machine and this client), in one run.
 *
 * Before any timing, `--warmup` + `--requests` distinct callbacks (distinct
 * MsgId, so every one is a durable commit) are sealed exactly as WeCom sends
 * them, for `--apps` apps, cycling short text / 1 KB / 4 KB CJK. Then, for each
 * phase and each target, a fresh server subprocess is started (the gateway in
 * `edge` role with KV in a new temp file, durable as in production), warmed up
 * and sent the callbacks over keep-alive connections:
 *
 * - closed loop at each `--concurrency` (1,8,32,128): each caller sends its
 *   next callback when the previous one is answered, which gives the capacity;
 * - open loop at each `--rate` (2500/s) with at most `--rate-concurrency` (32)
 *   in flight, which gives the latency at that load (a request waiting for a
 *   free connection counts from its scheduled time).
 *
 * Each phase stops by itself (`--max-seconds`). After it, the server is stopped
 * (SIGTERM) and, for the gateway, its KV file is opened and the job records
 * counted: they must equal the callbacks it acknowledged. Reported per phase:
 * throughput, p50/p90/p99/max latency, peak RSS (VmHWM) and CPU of the server,
 * CPU of this client and of everything else on the machine (the machine is
 * shared: read "other CPU" before trusting a row), and the ratio to bare.
 * Exits 1 when the goal (≥ 2500/s at 32 callers; p99 < 10 ms at 2500/s) or
 * the durability check fails.
 *
 * Targets: `bare` (bench/lib/bare_server.ts: reads the body, answers 200),
 * `bare-kv` (the same, answering after the rows the gateway writes for a
 * callback are group-committed to a KV file: the durable floor, no crypto or
 * XML; `--floor-rows no-state|minimal` commits fewer rows, to measure what
 * fewer would bring), `gateway` (group commit on,
 * LOG_LEVEL from `--log-level`, default warn), `gateway-nogroup`
 * (WECOM_GATEWAY_GROUP_COMMIT=0: one KV commit per callback),
 * `gateway-info` (group commit on, LOG_LEVEL=info: one log line per callback
 * to a drained pipe) and `gateway-nofront` (WECOM_GATEWAY_HTTP_FRONT=0:
 * `Deno.serve` alone, without the connection front that bounds idle and
 * header time and the number of connections: what the front costs), and
 * `bare-front` (`bare` behind that front: its cost without KV or crypto).
 *
 * A list value of `0` skips that kind of phase (`--concurrency 0 --rate 1000,2000`).
 *
 * Whole-service targets: `edge` (the same as `gateway`: intake only), `all`
 * (role all: intake, runner, echo agent and delivery in one process, replies
 * flowing to a simulated WeCom API in this process; the replies it delivered
 * during the measured phase are counted), and `edge-v8` / `all-v8` (the same
 * with the V8 flags given by `--v8-flags`, default none, i.e. V8's own heap
 * sizing; every other gateway target runs with the flags of `deno task start`
 * in deno.json: a V8 setting measured against another in the same run). Callbacks come
 * from `--users` distinct members (default 0: each from its own member).
 *
 * Rounds (`--rounds N --round-seconds S`): for each load, N rounds; in each,
 * every target runs one short phase (fresh server and KV file, warm-up, then
 * at most S seconds), in an order rotated by one each round, so that a noisy
 * neighbour weighs on one round rather than on one target. Reported per load:
 * each round's req/s and p99 by target, and per target the median of its
 * per-round ratios to `--baseline` (default `edge`), with min–max; for
 * `all` against `edge` the issue's goal (req/s ≥ 0.9×, p99 ≤ 1.2×). Plots of
 * the medians (req/s and p99 against concurrency, per target) are drawn as
 * SVG into `--plots` (default `bench-results/plots/`) and their paths printed.
 * Rounds mode checks durability and clean exits; its goal line is printed,
 * not enforced.
 *
 * Run: `deno task bench:load [--concurrency 1,8,32,128] [--rate 2500]
 * [--rate-concurrency 32] [--requests 20000] [--warmup 1000] [--max-seconds 15]
 * [--targets bare,bare-kv,gateway,gateway-nogroup] [--floor-rows all] [--apps 3] [--log-level warn]
 * [--rounds 5 --round-seconds 3 --baseline edge] [--users 0] [--plots DIR]
 * [--v8-flags ""] [--json results.json]`
 *
 * @module
 */

import { flag, integerFlag, parseInteger } from "./lib/args.ts";
import {
  appsConfigFile,
  benchApps,
  type BenchCallback,
  sealCallbacks,
  startBenchApi,
} from "./lib/callbacks.ts";
import { createPool, drive } from "./lib/drive.ts";
import {
  describeMachine,
  exitOnInterrupt,
  machineCpuSeconds,
  procCpuSeconds,
  type ServerProcess,
  startGateway,
  startServer,
  stopAll,
} from "./lib/server_process.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { errorsText, fmt, probeKvCommit, serverEnv } from "./lib/report.ts";
import { median, medianRatios, rotation } from "./lib/rounds.ts";
import { lineChart, writePlot } from "./lib/svg.ts";
import type { FakeWeComApi } from "../src/simulator/wecom_api.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TARGETS = [
  "bare",
  "bare-kv",
  "gateway",
  "edge",
  "all",
  "edge-v8",
  "all-v8",
  "gateway-nogroup",
  "gateway-info",
  "gateway-nofront",
  "bare-front",
] as const;
type Target = typeof TARGETS[number];

interface Options {
  concurrency: number[];
  /** Open-loop phases: offered requests per second. */
  rates: number[];
  rateConcurrency: number;
  requests: number;
  warmup: number;
  maxSeconds: number;
  targets: Target[];
  apps: number;
  logLevel: string;
  /** Rows `bare-kv` commits per request: all (as the gateway), no-state or minimal. */
  floorRows: string;
  /** Rounds of short phases with the target order rotated; 0 = one phase per target (sequential). */
  rounds: number;
  roundSeconds: number;
  /** The target every other one is compared with, round by round. */
  baseline: Target;
  /** Distinct users the callbacks come from; 0 = each callback from its own user. */
  users: number;
  /** Where the plots go. */
  plots: string;
  /** `--v8-flags` of the `edge-v8` and `all-v8` targets ("" = V8's defaults). */
  v8Flags: string;
  json?: string;
}

const SCRIPT = { script: "the load test" };
const positiveInt = (name: string, text: string) => parseInteger(name, text, SCRIPT);

function parseOptions(args: string[]): Options {
  const targets = (flag(args, "targets") ?? "bare,bare-kv,gateway,gateway-nogroup").split(",");
  for (const target of targets) {
    if (!(TARGETS as readonly string[]).includes(target)) {
      throw new RangeError(
        `Cannot run the load test as target '${target}' is unknown: use ${TARGETS.join(", ")}`,
      );
    }
  }
  const floorRows = flag(args, "floor-rows") ?? "all";
  if (!["all", "no-state", "minimal"].includes(floorRows)) {
    throw new RangeError(
      `Cannot run the load test as '--floor-rows' must be all, no-state or minimal: current value is '${floorRows}'`,
    );
  }
  const rounds = integerFlag(args, "rounds", 0, { ...SCRIPT, min: 0 });
  const baseline = (flag(args, "baseline") ??
    (targets.includes("edge") ? "edge" : targets.includes("bare") ? "bare" : targets[0])) as Target;
  if (!targets.includes(baseline)) {
    throw new RangeError(
      `Cannot run the load test as the baseline '${baseline}' is not among the targets: ` +
        `add it to --targets (${targets.join(",")})`,
    );
  }
  return {
    rounds,
    roundSeconds: integerFlag(args, "round-seconds", 3, SCRIPT),
    baseline,
    users: integerFlag(args, "users", 0, { ...SCRIPT, min: 0 }),
    plots: flag(args, "plots") ?? `${ROOT}bench-results/plots`,
    v8Flags: flag(args, "v8-flags") ?? "",
    concurrency: (flag(args, "concurrency") ?? "1,8,32,128").split(",")
      .filter((c) => c !== "0" && c !== "").map((c) => positiveInt("concurrency", c)),
    rates: (flag(args, "rate") ?? "2500").split(",").filter((r) => r !== "0" && r !== "")
      .map((r) => positiveInt("rate", r)),
    rateConcurrency: integerFlag(args, "rate-concurrency", 32, SCRIPT),
    requests: integerFlag(args, "requests", 20000, SCRIPT),
    warmup: integerFlag(args, "warmup", 1000, SCRIPT),
    maxSeconds: integerFlag(args, "max-seconds", 15, SCRIPT),
    targets: targets as Target[],
    apps: integerFlag(args, "apps", 3, SCRIPT),
    logLevel: flag(args, "log-level") ?? "warn",
    floorRows,
    json: flag(args, "json"),
  };
}

interface Row {
  target: Target;
  /** Round of a rounds run (0-based); undefined in a sequential run. */
  round?: number;
  /** Role all only: replies the fake WeCom API received during the measured phase. */
  replies?: number;
  concurrency: number;
  /** "closed" loop, or the offered rate of an open-loop phase (req/s). */
  load: "closed" | number;
  requests: number;
  ok: number;
  errors: Record<number, number>;
  seconds: number;
  rps: number;
  latency: Summary;
  peakRssMiB: number;
  serverCpuPct: number;
  clientCpuPct: number;
  /** CPU used by everything else on the machine meanwhile (other processes, kernel threads). */
  otherCpuPct: number;
  cut: boolean;
  /** Gateway only: job records found in KV after the stop, and callbacks acknowledged. */
  jobsInKv?: number;
  acknowledged?: number;
  exitCode: number;
}

async function countJobs(path: string): Promise<number> {
  const kv = await Deno.openKv(path);
  try {
    let count = 0;
    for await (const _ of kv.list({ prefix: ["job"] })) count++;
    return count;
  } finally {
    kv.close();
  }
}

async function startTarget(
  target: Target,
  dir: string,
  configPath: string,
  kvPath: string,
  options: Options,
  allConfigPath?: string,
): Promise<ServerProcess> {
  const { logLevel, floorRows } = options;
  if (target === "bare" || target === "bare-kv" || target === "bare-front") {
    return await startServer({
      name: target,
      args: [
        "run",
        "--config",
        `${ROOT}deno.json`,
        "--unstable-kv",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        `${ROOT}bench/lib/bare_server.ts`,
      ],
      env: serverEnv(
        target === "bare-kv"
          ? { BARE_KV: kvPath, BARE_KV_ROWS: floorRows }
          : target === "bare-front"
          ? { BARE_FRONT: "1" }
          : {},
      ),
      cwd: dir,
      ready: /^listening (\d+)/,
    });
  }
  const v8Flags = target.endsWith("-v8") ? options.v8Flags : undefined;
  if (target === "all" || target === "all-v8") {
    return await startGateway({
      name: target,
      role: "all",
      v8Flags,
      configPath: allConfigPath!,
      cwd: dir,
      env: {
        WECOM_GATEWAY_KV: kvPath,
        WECOM_GATEWAY_MEDIA_DIR: `${dir}/media`,
        LOG_LEVEL: options.logLevel,
      },
    });
  }
  return await startGateway({
    name: target,
    role: "edge",
    v8Flags,
    configPath,
    cwd: dir,
    env: {
      WECOM_GATEWAY_KV: kvPath,
      WECOM_GATEWAY_GROUP_COMMIT: target === "gateway-nogroup" ? "0" : "1",
      LOG_LEVEL: target === "gateway-info" ? "info" : logLevel,
      // Without the bounded connection front: Deno.serve alone, as before it.
      WECOM_GATEWAY_HTTP_FRONT: target === "gateway-nofront" ? "0" : "1",
    },
  });
}

/** Where the phases run: temp dir, configs, and the fake WeCom API of role `all`. */
interface Setup {
  dir: string;
  configPath: string;
  allConfigPath?: string;
  api?: FakeWeComApi;
}

async function runPhase(
  target: Target,
  concurrency: number,
  rate: number | undefined,
  warmup: BenchCallback[],
  measured: BenchCallback[],
  options: Options,
  setup: Setup,
  round?: number,
): Promise<Row> {
  const { dir, configPath } = setup;
  const maxSeconds = round === undefined ? options.maxSeconds : options.roundSeconds;
  const kvPath = `${dir}/kv-${target}-${concurrency}-${rate ?? "closed"}-${round ?? 0}.sqlite3`;
  const server = await startTarget(
    target,
    dir,
    configPath,
    kvPath,
    options,
    setup.allConfigPath,
  );
  const url = `http://127.0.0.1:${server.port}/wecom/callback`;
  const pool = createPool(concurrency);
  let row: Row;
  let exitCode = -1;
  try {
    const warm = await drive({
      url,
      callbacks: warmup,
      concurrency,
      maxMs: maxSeconds * 1000,
      client: pool,
    });
    const cpuBefore = await server.cpuSeconds();
    const selfBefore = await procCpuSeconds(Deno.pid);
    const machineBefore = await machineCpuSeconds();
    const repliesBefore = setup.api?.state.delivered.length ?? 0;
    const result = await drive({
      url,
      callbacks: measured,
      concurrency,
      maxMs: maxSeconds * 1000,
      client: pool,
      rate,
    });
    const replies = target.startsWith("all")
      ? setup.api!.state.delivered.length - repliesBefore
      : undefined;
    const seconds = result.elapsedMs / 1000;
    const serverCpu = (await server.cpuSeconds()) - cpuBefore;
    const selfCpu = (await procCpuSeconds(Deno.pid)) - selfBefore;
    const machineCpu = (await machineCpuSeconds()) - machineBefore;
    row = {
      target,
      round,
      replies,
      concurrency,
      load: rate ?? "closed",
      requests: result.requests,
      ok: result.ok,
      errors: result.errors,
      seconds,
      rps: result.ok / seconds,
      latency: summarize(result.latencies),
      peakRssMiB: (await server.peakRssKiB()) / 1024,
      serverCpuPct: (serverCpu / seconds) * 100,
      clientCpuPct: (selfCpu / seconds) * 100,
      otherCpuPct: Math.max(0, ((machineCpu - serverCpu - selfCpu) / seconds) * 100),
      cut: result.cut,
      acknowledged: target === "bare" || target === "bare-front" ? undefined : warm.ok + result.ok,
      exitCode,
    };
  } finally {
    pool.close();
    exitCode = await server.stop();
  }
  row.exitCode = exitCode;
  if (setup.api) {
    // The fake keeps every request and delivery: start each phase from empty.
    setup.api.state.delivered.length = 0;
    setup.api.received.length = 0;
  }
  if (target !== "bare" && target !== "bare-front") {
    row.jobsInKv = await countJobs(kvPath);
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(kvPath + suffix).catch(() => {});
  }
  return row;
}

/** The results as a markdown table. */
function table(rows: Row[]): string {
  const phase = (r: Row) => `${r.concurrency}/${r.load}`;
  const bare = new Map(rows.filter((r) => r.target === "bare").map((r) => [phase(r), r]));
  const lines = [
    "| target | load | conc. | requests | errors | req/s | vs bare | p50 ms | p90 ms | p99 ms | max ms | peak RSS MiB | server CPU | CPU µs/req | client CPU | other CPU | jobs in KV / acked |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const r of rows) {
    const base = bare.get(phase(r));
    const ratio = base && r.target !== "bare" ? `${fmt((r.rps / base.rps) * 100, 0)} %` : "";
    const durable = r.jobsInKv === undefined
      ? ""
      : `${r.jobsInKv} / ${r.acknowledged}${r.jobsInKv === r.acknowledged ? " ✓" : " ✗"}`;
    lines.push(
      `| ${r.target} | ${
        r.load === "closed" ? "closed" : `${r.load}/s`
      } | ${r.concurrency} | ${r.requests}${r.cut ? " (time cap)" : ""} | ${
        errorsText(r.errors)
      } | ${fmt(r.rps, 0)} | ${ratio} | ${fmt(r.latency.p50, 2)} | ${fmt(r.latency.p90, 2)} | ${
        fmt(r.latency.p99, 2)
      } | ${fmt(r.latency.max, 1)} | ${fmt(r.peakRssMiB, 0)} | ${fmt(r.serverCpuPct, 0)} % | ${
        fmt((r.serverCpuPct * 1e4) / r.rps, 0)
      } | ${fmt(r.clientCpuPct, 0)} % | ${fmt(r.otherCpuPct, 0)} % | ${durable} |`,
    );
  }
  return lines.join("\n");
}

/** Phases of a rounds run grouped by load: "32/closed" → rows. */
function byPhase(rows: Row[]): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.concurrency}/${r.load}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return groups;
}

/**
 * Per load: each round's req/s and p99 by target, and per target the median
 * of its per-round ratios to the baseline (min–max beside it).
 */
function roundsReport(rows: Row[], options: Options): string {
  const out: string[] = [];
  const base = options.baseline;
  for (const [key, group] of byPhase(rows)) {
    const [concurrency, load] = key.split("/");
    const rounds = [...new Set(group.map((r) => r.round ?? 0))].sort((a, b) => a - b);
    const pick = (f: (r: Row) => number) =>
      rounds.map((round) =>
        Object.fromEntries(group.filter((r) => r.round === round).map((r) => [r.target, f(r)]))
      );
    const rps = medianRatios(pick((r) => r.rps), base);
    const p99 = medianRatios(pick((r) => r.latency.p99), base);
    out.push(
      `### ${
        load === "closed" ? `closed loop, ${concurrency} callers` : `${load}/s offered`
      }: ${rounds.length} rounds of ${options.roundSeconds} s, order rotated; baseline ${base}\n`,
      "| target | req/s per round | median req/s | req/s ÷ baseline: median (min–max) | p99 ms per round | median p99 ms | p99 ÷ baseline: median (min–max) | replies/s (role all) | peak RSS MiB (median) | CPU µs/ack (median) |",
      "|---|---|--:|--:|---|--:|--:|--:|--:|--:|",
    );
    for (const target of options.targets) {
      const mine = group.filter((r) => r.target === target);
      const replyRates = mine.filter((r) => r.replies !== undefined).map((r) =>
        r.replies! / r.seconds
      );
      out.push(
        `| ${target} | ${mine.map((r) => fmt(r.rps, 0)).join(", ")} | ${
          fmt(median(mine.map((r) => r.rps)), 0)
        } | ${fmt(rps[target].median, 2)}× (${fmt(rps[target].min, 2)}–${
          fmt(rps[target].max, 2)
        }) | ${mine.map((r) => fmt(r.latency.p99, 1)).join(", ")} | ${
          fmt(median(mine.map((r) => r.latency.p99)), 2)
        } | ${fmt(p99[target].median, 2)}× (${fmt(p99[target].min, 2)}–${
          fmt(p99[target].max, 2)
        }) | ${replyRates.length ? fmt(median(replyRates), 0) : ""} | ${
          fmt(median(mine.map((r) => r.peakRssMiB)), 0)
        } | ${fmt(median(mine.map((r) => (r.serverCpuPct * 1e4) / r.rps)), 0)} |`,
      );
    }
    if (base === "edge" && rps.all) {
      const met = rps.all.median >= 0.9 && p99.all.median <= 1.2;
      out.push(
        `\nGoal (role all with replies flowing vs role edge: req/s ≥ 0.9×, p99 ≤ 1.2×): ${
          met ? "met" : "NOT met"
        } (${fmt(rps.all.median, 2)}×, ${fmt(p99.all.median, 2)}×)`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/** Throughput and p99 against concurrency per target (medians over rounds), as SVG files. */
async function drawLoadPlots(rows: Row[], options: Options): Promise<string[]> {
  const closed = rows.filter((r) => r.load === "closed");
  if (closed.length === 0) return [];
  const series = (f: (r: Row) => number) =>
    options.targets.map((target) => ({
      name: target,
      points: options.concurrency.map((c) =>
        [c, median(closed.filter((r) => r.target === target && r.concurrency === c).map(f))] as [
          number,
          number,
        ]
      ),
    }));
  const note = `median of ${options.rounds} rotated rounds`;
  return [
    await writePlot(
      options.plots,
      "load_throughput.svg",
      lineChart({
        title: `Acknowledgements per second (closed loop, ${note})`,
        xLabel: "concurrent callers",
        yLabel: "acknowledged callbacks/s",
        logX: true,
        series: series((r) => r.rps),
      }),
    ),
    await writePlot(
      options.plots,
      "load_p99.svg",
      lineChart({
        title: `Acknowledgement p99 (closed loop, ${note})`,
        xLabel: "concurrent callers",
        yLabel: "p99 latency, ms",
        logX: true,
        series: series((r) => r.latency.p99),
      }),
    ),
  ];
}

async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  const dir = await Deno.makeTempDir({ prefix: "wecom-load-" });
  const setup: Setup = { dir, configPath: `${dir}/config.yaml` };
  const stopInterrupt = exitOnInterrupt(() =>
    stopAll().finally(() => Deno.remove(dir, { recursive: true }).catch(() => {}))
  );
  try {
    const apps = benchApps(options.apps);
    const configPath = setup.configPath;
    // Host, port, allowlist and KV come from env. The replay check still runs on every callback;
    // the wider window only lets a long run reuse callbacks sealed at its start.
    await Deno.writeTextFile(
      configPath,
      appsConfigFile(apps, { extra: { replay_window_seconds: 3600 } }),
    );
    const loadBefore = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
    const sealStart = performance.now();
    const callbacks = await sealCallbacks(apps, options.warmup + options.requests, {
      users: options.users,
    });

    if (options.targets.some((t) => t.startsWith("all"))) {
      setup.api = startBenchApi(apps);
      setup.allConfigPath = `${dir}/config-all.yaml`;
      await Deno.writeTextFile(
        setup.allConfigPath,
        appsConfigFile(apps, {
          apiBase: setup.api.url,
          extra: { replay_window_seconds: 3600 },
          top: { agent: { kind: "echo" }, gateway: { jobs: { working_notice_seconds: 0 } } },
        }),
      );
    }
    const warmup = callbacks.slice(0, options.warmup);
    const measured = callbacks.slice(options.warmup);
    const bytes = measured.reduce((sum, c) => sum + c.body.length + c.query.length, 0);
    console.error(
      `sealed ${callbacks.length} callbacks for ${apps.length} apps in ${
        ((performance.now() - sealStart) / 1000).toFixed(1)
      } s (mean request ${(bytes / measured.length).toFixed(0)} B); ${await describeMachine()}`,
    );
    const floor = await probeKvCommit(dir);
    console.error(
      `KV floor (one-key durable commits, one at a time, idle): p50 ${fmt(floor.p50, 2)} ms, ` +
        `p90 ${fmt(floor.p90, 2)} ms, p99 ${fmt(floor.p99, 2)} ms, max ${fmt(floor.max, 2)} ms`,
    );
    const phases: { concurrency: number; rate?: number }[] = [
      ...options.concurrency.map((concurrency) => ({ concurrency })),
      ...options.rates.map((rate) => ({ concurrency: options.rateConcurrency, rate })),
    ];
    const rows: Row[] = [];
    for (const { concurrency, rate } of phases) {
      const rounds = options.rounds || 1;
      for (let round = 0; round < rounds; round++) {
        for (const target of options.rounds ? rotation(options.targets, round) : options.targets) {
          const row = await runPhase(
            target,
            concurrency,
            rate,
            warmup,
            measured,
            options,
            setup,
            options.rounds ? round : undefined,
          );
          rows.push(row);
          console.error(
            `${options.rounds ? `round ${round + 1} ` : ""}` +
              `${target} c=${concurrency} ${rate ? `${rate}/s offered` : "closed loop"}: ` +
              `${row.ok}/${row.requests} ok, ${fmt(row.rps, 0)} req/s, ` +
              `p99 ${fmt(row.latency.p99, 2)} ms, server CPU ${fmt(row.serverCpuPct, 0)} %` +
              (row.replies === undefined ? "" : `, ${row.replies} replies delivered`) +
              (row.jobsInKv === undefined ? "" : `, jobs ${row.jobsInKv}/${row.acknowledged}`),
          );
        }
      }
    }
    console.log(`Machine: ${await describeMachine()}; load average before the run ${loadBefore}\n`);
    console.log(table(rows));
    console.log(
      `\nKV floor on this disk (one-key durable commits, one at a time): p50 ${
        fmt(floor.p50, 2)
      } ms, p99 ${fmt(floor.p99, 2)} ms, max ${fmt(floor.max, 2)} ms`,
    );
    let failed = false;
    if (options.rounds) {
      console.log(`\n${roundsReport(rows, options)}`);
      const paths = await drawLoadPlots(rows, options);
      console.log(`\nPlots: ${paths.join(", ")}`);
    }
    const clean = (r: Row) => Object.keys(r.errors).length === 0 && !r.cut;
    const capacity = !options.rounds &&
      rows.find((r) => r.target === "gateway" && r.load === "closed" && r.concurrency === 32);
    if (capacity) {
      const met = capacity.rps >= 2500 && clean(capacity);
      failed ||= !met;
      console.log(
        `Goal, capacity (gateway, closed loop, 32 callers: ≥ 2500 durable callbacks/s): ${
          met ? "met" : "NOT met"
        } (${fmt(capacity.rps, 0)} req/s)`,
      );
    }
    const latency = !options.rounds &&
      rows.find((r) => r.target === "gateway" && r.load === 2500 && r.concurrency === 32);
    if (latency) {
      const met = latency.rps >= 2500 * 0.98 && latency.latency.p99 < 10 && clean(latency);
      failed ||= !met;
      console.log(
        `Goal, latency (gateway, 2500/s offered over 32 connections: p99 < 10 ms): ${
          met ? "met" : "NOT met"
        } (${fmt(latency.rps, 0)} req/s, p99 ${fmt(latency.latency.p99, 2)} ms)`,
      );
    }
    if (rows.some((r) => r.jobsInKv !== undefined && r.jobsInKv !== r.acknowledged)) {
      failed = true;
      console.log("Durability: FAILED: job records in KV differ from acknowledged callbacks.");
    } else if (rows.some((r) => r.jobsInKv !== undefined)) {
      console.log("Durability: every acknowledged callback has its job record in KV.");
    }
    if (rows.some((r) => r.exitCode !== 0)) {
      failed = true;
      console.log(
        `Exit codes: ${
          rows.filter((r) => r.exitCode !== 0).map((r) => `${r.target} ${r.exitCode}`).join(", ")
        } (a server did not stop cleanly).`,
      );
    }
    if (options.json) {
      await Deno.writeTextFile(
        options.json,
        JSON.stringify({ machine: await describeMachine(), options, floor, rows }, null, 2),
      );
    }
    return failed ? 1 : 0;
  } finally {
    stopInterrupt();
    await stopAll();
    await setup.api?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
