/**
 * The soak test: `deno task soak`. Loopback only; stops by itself.
 *
 * The whole gateway runs as a subprocess (`main.ts serve --role all`, KV in a
 * file, the echo agent, three apps whose `api_base` is a simulated WeCom API
 * running in this process). For `--minutes` (default 10) this process sends
 * `--rate` (default 100) distinct text callbacks a second, sealed as WeCom
 * seals them, round-robin over the three apps and `--users` members per app
 * (so no member comes near WeCom's 30 messages a minute), on an open loop:
 * request `i` is due at `i / rate` s and its latency counts from then. A
 * callback not answered 200 is sent again after a second, up to three times,
 * as WeCom retries.
 *
 * Every echo reply delivered to the simulated API is matched to its callback
 * by its unique content. One row per minute: callbacks sent and acknowledged,
 * errors, acknowledgement latency p50/p99, callback → reply latency p50/p99
 * of that minute's callbacks, replies delivered, the gateway's RSS (VmRSS),
 * peak RSS (VmHWM) and CPU.
 *
 * Exits 1 when a callback was never acknowledged, an acknowledged callback
 * got no reply within `--drain-seconds` (default 60) after the load stops
 * (loss), a callback got two replies (duplicate), a reply went to the wrong
 * member, a member got more than 30 replies in a minute (WeCom would have
 * dropped the excess), the gateway did not stop cleanly, or its RSS grew by
 * more than `--max-rss-growth-mib` (default 64 MiB) from the end of the first
 * minute to the end of the last one.
 *
 * The default rate is a moderate load: every callback becomes a job, an agent
 * run and a delivery, about five durable KV commits, and a 2-core machine
 * answers about 120 such round trips a second end to end (the intake alone
 * takes thousands: `deno task bench:load`). Above that the replies fall
 * behind and the run measures a backlog rather than stability.
 *
 * Also reported: the gateway's RSS before the first callback (idle), its RSS
 * every 5 s drawn as an SVG into `--plots` (default `bench-results/plots/`,
 * path printed), the least-squares RSS slope per hour after `--warmup-minutes`
 * (default 1), and per minute its private RSS and the main thread's V8 heap
 * (the gateway runs through bench/lib/memory_gateway.ts).
 *
 * Usage: deno task soak [--minutes 10] [--rate 100] [--users 600]
 *                       [--max-rss-growth-mib 64] [--drain-seconds 60]
 *                       [--warmup-minutes 1] [--plots DIR] [--json FILE]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type AppCrypto, importAppCrypto } from "../src/crypto/mod.ts";
import { sealCallback, textMessage } from "../src/simulator/seal.ts";
import type { FakeWeComApi } from "../src/simulator/wecom_api.ts";
import { appsConfigFile, benchApps, startBenchApi } from "./lib/callbacks.ts";
import {
  describeMachine,
  exitOnInterrupt,
  procCpuSeconds,
  readProc,
  type ServerProcess,
  startGateway,
} from "./lib/server_process.ts";
import { slope, summarize, type Summary } from "./lib/stats.ts";
import { errorsText, fmt } from "./lib/report.ts";
import { lineChart, writePlot } from "./lib/svg.ts";
import { lastProbe } from "./lib/memory_gateway.ts";

/** WeCom's per-member limit: more replies in 60 s would be dropped silently. */
const PER_MINUTE = 30;
/** Callbacks in flight at most; beyond, sending waits (and the wait counts as latency). */
const MAX_IN_FLIGHT = 256;

interface Options {
  minutes: number;
  rate: number;
  users: number;
  maxRssGrowthMiB: number;
  drainSeconds: number;
  /** Minutes excluded from the RSS slope (warm-up). */
  warmupMinutes: number;
  /** Where the RSS plot goes. */
  plots: string;
  json?: string;
}

function positive(name: string, text: string | undefined, integer = true): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot run the soak test as '--${name}' must be a positive ${
        integer ? "integer" : "number"
      }: current value is '${text}'`,
    );
  }
  return value;
}

function nonNegative(name: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot run the soak test as '--${name}' must be a number of at least 0: current value is '${text}'`,
    );
  }
  return value;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: "string", default: "10" },
      rate: { type: "string", default: "100" },
      users: { type: "string", default: "600" },
      "max-rss-growth-mib": { type: "string", default: "64" },
      "drain-seconds": { type: "string", default: "60" },
      "warmup-minutes": { type: "string", default: "1" },
      plots: { type: "string" },
      json: { type: "string" },
    },
  });
  return {
    minutes: positive("minutes", values.minutes, false),
    rate: positive("rate", values.rate, false),
    users: positive("users", values.users),
    maxRssGrowthMiB: positive("max-rss-growth-mib", values["max-rss-growth-mib"], false),
    drainSeconds: positive("drain-seconds", values["drain-seconds"], false),
    warmupMinutes: nonNegative("warmup-minutes", values["warmup-minutes"]),
    plots: values.plots ?? new URL("../bench-results/plots", import.meta.url).pathname,
    json: values.json,
  };
}

/** One minute of the run (by the time callbacks were due). */
interface Minute {
  minute: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  ackMs: number[];
  replyMs: number[];
  /** Gateway VmRSS and VmHWM at the end of the minute, MiB. */
  rssMiB: number;
  peakRssMiB: number;
  /** Gateway CPU during the minute, % of one core. */
  cpuPct: number;
  /** Main thread's V8 heap (used / total) and the process's private RSS at the end of the minute, MiB. */
  heapUsedMiB: number;
  heapTotalMiB: number;
  anonMiB: number;
}

/** A minute as reported. */
interface Row {
  minute: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  ack: Summary;
  replies: number;
  reply: Summary;
  rssMiB: number;
  peakRssMiB: number;
  cpuPct: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  anonMiB: number;
}

async function statusMiB(pid: number, field: string): Promise<number> {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      await readProc(`/proc/${pid}/status`),
    );
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function table(rows: Row[]): string {
  const lines = [
    "| minute | sent | acked | errors | ack p50 ms | ack p99 ms | replies | reply p50 ms | reply p99 ms | RSS MiB | private MiB | main heap used / total MiB | peak RSS MiB | gateway CPU |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.minute} | ${r.sent} | ${r.acked} | ${errorsText(r.errors)} | ${fmt(r.ack.p50, 2)} | ${
        fmt(r.ack.p99, 2)
      } | ${r.replies} | ${fmt(r.reply.p50, 0)} | ${fmt(r.reply.p99, 0)} | ${fmt(r.rssMiB)} | ${
        fmt(r.anonMiB)
      } | ${fmt(r.heapUsedMiB)} / ${fmt(r.heapTotalMiB)} | ${fmt(r.peakRssMiB)} | ${
        fmt(r.cpuPct, 0)
      } % |`,
    );
  }
  return lines.join("\n");
}

function configFile(apps: ReturnType<typeof benchApps>, apiBase: string): string {
  // Host, port, allowlist, KV and agent come from the environment.
  return appsConfigFile(apps, {
    apiBase,
    top: {
      agent: { kind: "echo", workers: 4 },
      gateway: {
        jobs: { concurrency: 16, working_notice_seconds: 0, poll_ms: 200 },
        delivery: { request_timeout_seconds: 5 },
      },
    },
  });
}

async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  const dir = await Deno.makeTempDir({ prefix: "wecom-soak-" });
  const apps = benchApps(3);
  const api: FakeWeComApi = startBenchApi(apps);
  let server: ServerProcess | undefined;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 64 });
  const stopInterrupt = exitOnInterrupt(() =>
    (server?.stop(2000) ?? Promise.resolve(0))
      .finally(() => api.close())
      .finally(() => Deno.remove(dir, { recursive: true }).catch(() => {}))
  );
  try {
    const configPath = `${dir}/config.yaml`;
    await Deno.writeTextFile(configPath, configFile(apps, api.url));
    server = await startGateway({
      name: "gateway",
      role: "all",
      configPath,
      cwd: dir,
      env: {
        WECOM_GATEWAY_KV: `${dir}/kv.sqlite3`,
        WECOM_GATEWAY_AGENT: "echo",
        LOG_LEVEL: "warn",
      },
      memoryProbe: true,
    });
    const gateway = server;
    const url = `http://127.0.0.1:${gateway.port}/wecom/callback`;
    // Idle: started, nothing received yet (after 2 s, once start-up work has settled).
    await sleep(2000);
    const idleRss = await statusMiB(gateway.pid, "VmRSS");
    // RSS every 5 s over the whole run, for the plot and the slope.
    const rssSeries: [number, number][] = [[0, idleRss]];
    const seriesStart = performance.now();
    const rssSampler = setInterval(() => {
      statusMiB(gateway.pid, "VmRSS").then((mib) => {
        rssSeries.push([(performance.now() - seriesStart) / 60_000, mib]);
      });
    }, 5000);
    const cryptos: AppCrypto[] = await Promise.all(
      apps.map((app) => importAppCrypto(app.encodingAesKey, app.token, app.corpId)),
    );
    console.error(
      `soak: ${options.minutes} min at ${options.rate} callbacks/s over ${apps.length} apps × ${options.users} members; ` +
        `gateway pid ${gateway.pid} on port ${gateway.port}; ${await describeMachine()}`,
    );

    const tag = crypto.randomUUID().slice(0, 8);
    const total = Math.floor(options.minutes * 60 * options.rate);
    const dueWall = new Float64Array(total);
    const duePerf = new Float64Array(total);
    const acked = new Uint8Array(total);
    const replies = new Uint8Array(total);
    const minutes: Minute[] = [];
    const minuteOf = (seq: number) => Math.floor(seq / (options.rate * 60));
    const rowFor = (m: number): Minute =>
      minutes[m] ??= {
        minute: m + 1,
        sent: 0,
        acked: 0,
        errors: {},
        ackMs: [],
        replyMs: [],
        rssMiB: NaN,
        peakRssMiB: NaN,
        cpuPct: NaN,
        heapUsedMiB: NaN,
        heapTotalMiB: NaN,
        anonMiB: NaN,
      };
    const msgBase = 1_000_000_000_000_000_000n +
      BigInt(crypto.getRandomValues(new Uint32Array(1))[0]) * 1_000_000_000n;
    const recipient = (seq: number) => ({
      app: seq % apps.length,
      user: `soak${Math.floor(seq / apps.length) % options.users}`,
    });

    // Replies: matched by content, checked for duplicates, wrong members and per-member pace.
    let duplicates = 0;
    let misrouted = 0;
    let paceViolations = 0;
    let foreign = 0;
    const recent = new Map<string, number[]>(); // app:user → delivery times in the last minute
    const pattern = new RegExp(`^soak ${tag} #(\\d+)$`);
    let seen = 0;
    let dropped = 0;
    let suppressed = 0;
    const collect = () => {
      const delivered = api.state.delivered;
      for (; seen < delivered.length; seen++) {
        const message = delivered[seen];
        const content = (message.payload as { content?: unknown }).content;
        const match = typeof content === "string" ? pattern.exec(content) : null;
        if (!match) {
          foreign++;
          continue;
        }
        const seq = Number(match[1]);
        const expected = recipient(seq);
        if (message.touser !== expected.user || message.agentId !== apps[expected.app].agentId) {
          misrouted++;
        }
        if (replies[seq]++ > 0) {
          duplicates++;
          continue;
        }
        rowFor(minuteOf(seq)).replyMs.push(message.at - dueWall[seq]);
        const key = `${message.agentId}:${message.touser}`;
        const times = (recent.get(key) ?? []).filter((t) => t > message.at - 60_000);
        times.push(message.at);
        if (times.length > PER_MINUTE) paceViolations++;
        recent.set(key, times);
      }
      // Keep the simulated API's memory and per-send scans flat over a long run: it needs
      // the last minute of deliveries (per-member limit, duplicate check), not all of them.
      const cutoff = Date.now() - 61_000;
      let old = 0;
      while (old < delivered.length && delivered[old].at < cutoff) old++;
      delivered.splice(0, old);
      seen -= old;
      dropped += api.state.dropped.length;
      api.state.dropped.length = 0;
      suppressed += api.state.duplicatesSuppressed.length;
      api.state.duplicatesSuppressed.length = 0;
      api.received.length = 0;
    };
    const collector = setInterval(collect, 250);

    // Gateway resources per minute.
    let cpuMark = await gateway.cpuSeconds();
    let cpuMarkAt = performance.now();
    const sample = async (m: number) => {
      const row = rowFor(m);
      row.rssMiB = await statusMiB(gateway.pid, "VmRSS");
      row.peakRssMiB = await statusMiB(gateway.pid, "VmHWM");
      row.anonMiB = await statusMiB(gateway.pid, "RssAnon");
      const probe = lastProbe(gateway.stderrTail());
      row.heapUsedMiB = (probe?.heapUsed ?? NaN) / 2 ** 20;
      row.heapTotalMiB = (probe?.heapTotal ?? NaN) / 2 ** 20;
      const cpu = await gateway.cpuSeconds();
      const now = performance.now();
      row.cpuPct = ((cpu - cpuMark) / ((now - cpuMarkAt) / 1000)) * 100;
      cpuMark = cpu;
      cpuMarkAt = now;
      console.error(
        `minute ${row.minute}: sent ${row.sent}, acked ${row.acked}, errors ${
          errorsText(row.errors)
        }, ack p50 ${fmt(summarize(row.ackMs).p50, 2)} ms p99 ${
          fmt(summarize(row.ackMs).p99, 2)
        } ms, replies so far ${row.replyMs.length}, RSS ${fmt(row.rssMiB)} MiB (peak ${
          fmt(row.peakRssMiB)
        }), CPU ${fmt(row.cpuPct, 0)} %`,
      );
    };

    // The load: open loop at `rate`.
    let inFlight = 0;
    let neverAcked = 0;
    const post = async (seq: number) => {
      const { app, user } = recipient(seq);
      const config = apps[app];
      const xml = textMessage({
        corpId: config.corpId,
        agentId: config.agentId,
        userId: user,
        content: `soak ${tag} #${seq}`,
        msgId: String(msgBase + BigInt(seq)),
      });
      const sealed = await sealCallback(cryptos[app], xml, {
        corpId: config.corpId,
        agentId: config.agentId,
      });
      const row = rowFor(minuteOf(seq));
      row.sent++;
      for (let attempt = 0; attempt < 4; attempt++) {
        let status = 0;
        try {
          const response = await fetch(`${url}?${sealed.query}`, {
            method: "POST",
            body: sealed.body,
            headers: { "content-type": "text/xml" },
            client,
            signal: AbortSignal.timeout(5000),
          });
          await response.arrayBuffer();
          status = response.status;
        } catch {
          status = 0;
        }
        if (status === 200) {
          acked[seq] = 1;
          row.acked++;
          row.ackMs.push(performance.now() - duePerf[seq]);
          return;
        }
        row.errors[status] = (row.errors[status] ?? 0) + 1;
        await sleep(1000);
      }
      neverAcked++;
    };
    const startedWall = Date.now();
    const started = performance.now();
    let lastMinute = 0;
    const pending = new Set<Promise<void>>();
    const samples: Promise<void>[] = [];
    for (let seq = 0; seq < total; seq++) {
      const dueMs = (seq * 1000) / options.rate;
      const wait = started + dueMs - performance.now();
      if (wait > 1) await sleep(wait);
      while (inFlight >= MAX_IN_FLIGHT) await sleep(1);
      dueWall[seq] = startedWall + dueMs;
      duePerf[seq] = started + dueMs;
      const m = minuteOf(seq);
      if (m > lastMinute) {
        samples.push(sample(lastMinute));
        lastMinute = m;
      }
      inFlight++;
      const task = post(seq).finally(() => {
        inFlight--;
        pending.delete(task);
      });
      pending.add(task);
    }
    await Promise.all(pending);
    await Promise.all(samples);
    await sample(lastMinute);

    // Drain: wait for the replies of every acknowledged callback.
    const ackedCount = acked.reduce((sum, a) => sum + a, 0);
    const drainStart = performance.now();
    const delivered = () => {
      let n = 0;
      for (let seq = 0; seq < total; seq++) if (acked[seq] && replies[seq]) n++;
      return n;
    };
    while (
      delivered() < ackedCount && performance.now() - drainStart < options.drainSeconds * 1000
    ) {
      await sleep(250);
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    await sleep(1000); // a late duplicate would land now
    collect();
    clearInterval(collector);
    clearInterval(rssSampler);
    const finalRss = await statusMiB(gateway.pid, "VmRSS");
    const finalPeak = await statusMiB(gateway.pid, "VmHWM");
    const cpuTotal = await procCpuSeconds(gateway.pid);
    const exitCode = await gateway.stop(15_000);
    server = undefined;

    let lost = 0;
    for (let seq = 0; seq < total; seq++) if (acked[seq] && !replies[seq]) lost++;
    const rows: Row[] = minutes.map((m) => ({
      minute: m.minute,
      sent: m.sent,
      acked: m.acked,
      errors: m.errors,
      ack: summarize(m.ackMs),
      replies: m.replyMs.length,
      reply: summarize(m.replyMs),
      rssMiB: m.rssMiB,
      peakRssMiB: m.peakRssMiB,
      cpuPct: m.cpuPct,
      heapUsedMiB: m.heapUsedMiB,
      heapTotalMiB: m.heapTotalMiB,
      anonMiB: m.anonMiB,
    }));
    const first = rows[0];
    const last = rows[rows.length - 1];
    const growth = last.rssMiB - first.rssMiB;
    const elapsed = (performance.now() - started) / 1000;
    const loadMinutes = options.minutes;
    const steady = rssSeries.filter(([m]) => m >= options.warmupMinutes && m <= loadMinutes);
    const slopePerHour = slope(steady) * 60;
    const plot = await writePlot(
      options.plots,
      "soak_rss.svg",
      lineChart({
        title: `Gateway RSS over the soak (${options.rate} callbacks/s, role all, echo agent)`,
        xLabel: "minutes since start (load from 0 to " + `${loadMinutes}, then drain)`,
        yLabel: "RSS, MiB",
        series: [{ name: "VmRSS", points: rssSeries }],
      }),
    );

    console.log(
      `Soak: ${options.minutes} min at ${options.rate} callbacks/s offered, 3 apps × ${options.users} members, ` +
        `gateway role all (KV file, echo agent) against the simulated WeCom API; ${await describeMachine()}\n`,
    );
    console.log(table(rows));
    const totalReplies = rows.reduce((sum, r) => sum + r.replies, 0);
    console.log(
      `\nCallbacks: ${total} sent, ${ackedCount} acknowledged, ${neverAcked} never acknowledged.` +
        `\nReplies: ${totalReplies} delivered for ${ackedCount} acknowledged callbacks; ` +
        `lost ${lost}, duplicates ${duplicates}, to the wrong member ${misrouted}, ` +
        `over ${PER_MINUTE}/min for a member ${paceViolations} (dropped by the simulated API ${dropped}), ` +
        `suppressed by WeCom's duplicate check ${suppressed}, unrelated ${foreign}; ` +
        `all were in ${fmt(drainSeconds)} s after the last acknowledgement.` +
        `\nGateway RSS: ${fmt(first.rssMiB)} MiB after minute 1, ${
          fmt(last.rssMiB)
        } MiB after minute ${last.minute} ` +
        `(growth ${fmt(growth)} MiB, threshold ${options.maxRssGrowthMiB} MiB), ${
          fmt(finalRss)
        } MiB after the drain; ` +
        `peak ${fmt(finalPeak)} MiB; CPU ${fmt(cpuTotal, 0)} s over ${
          fmt(elapsed, 0)
        } s; exit code ${exitCode}.` +
        `\nIdle RSS (started, before any callback): ${fmt(idleRss)} MiB. RSS slope after ` +
        `${options.warmupMinutes} min of warm-up (least squares over ${steady.length} samples ` +
        `5 s apart): ${fmt(slopePerHour, 1)} MiB/hour.` +
        `\nPlot: ${plot}` +
        `\nStart vs end: ack p50/p99 ${fmt(first.ack.p50, 2)}/${fmt(first.ack.p99, 2)} ms → ${
          fmt(last.ack.p50, 2)
        }/${fmt(last.ack.p99, 2)} ms; callback → reply p50/p99 ${fmt(first.reply.p50, 0)}/${
          fmt(first.reply.p99, 0)
        } ms → ${fmt(last.reply.p50, 0)}/${fmt(last.reply.p99, 0)} ms.`,
    );
    const problems: string[] = [];
    if (neverAcked > 0) problems.push(`${neverAcked} callbacks never acknowledged`);
    if (lost > 0) problems.push(`${lost} acknowledged callbacks got no reply`);
    if (duplicates > 0) problems.push(`${duplicates} duplicate replies`);
    if (misrouted > 0) problems.push(`${misrouted} replies to the wrong member`);
    if (paceViolations + dropped > 0) {
      problems.push(`${paceViolations + dropped} replies over WeCom's per-member pace`);
    }
    if (!(growth <= options.maxRssGrowthMiB)) {
      problems.push(`RSS grew ${fmt(growth)} MiB (threshold ${options.maxRssGrowthMiB} MiB)`);
    }
    if (exitCode !== 0) problems.push(`the gateway exited with code ${exitCode}`);
    console.log(problems.length ? `FAILED: ${problems.join("; ")}.` : "Result: passed.");
    if (options.json) {
      await Deno.writeTextFile(
        options.json,
        JSON.stringify(
          {
            machine: await describeMachine(),
            options,
            rows,
            total,
            acked: ackedCount,
            lost,
            duplicates,
            misrouted,
            paceViolations,
            rssGrowthMiB: growth,
            idleRssMiB: idleRss,
            rssSlopeMiBPerHour: slopePerHour,
            rssSeries,
            exitCode,
            problems,
          },
          null,
          2,
        ),
      );
    }
    return problems.length ? 1 : 0;
  } finally {
    stopInterrupt();
    client.close();
    await server?.stop(2000);
    await api.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
