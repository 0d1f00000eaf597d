/**
 * Two end-to-end measurements the load benchmark (bench/load.ts) leaves out,
 * in one run: how long a user waits for a reply, and whether agents at work
 * slow down the acknowledgement WeCom waits for.
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
 *    token per app over both passes.
 * 2. **Acknowledgement while agents are busy.** Two gateways side by side:
 *    (a) an idle one in role `edge` (no agents at all) and (b) one in role
 *    `all` with `gateway.jobs.concurrency: 8` whose command agent sleeps
 *    `--agent-sleep` (60) seconds before echoing, measured once 8 messages
 *    from 8 users have started 8 agent runs (`wecom_agent_workers{state="busy"}
 *    8` on `/metrics` and 8 agent processes started). After `--warmup` (300)
 *    callbacks each, `--rounds` (3) rounds of `--acks` (3,000) callbacks at
 *    `--ack-concurrency` (32), closed loop; each round sends the same
 *    callbacks to both, alternating which goes first (ABBA), so that load from
 *    other processes on the machine weighs on both alike. Reported per round
 *    and pooled, with the ratio busy / idle. The busy gateway is then stopped gracefully
 *    (SIGTERM): it must end the sleeping agents itself; any agent process still
 *    alive afterwards is killed here (SIGKILL to its process group) and fails
 *    the run.
 *
 * 3. **End-to-end capacity** (`--capacity`, default 5,000; 0 skips it): after
 *    the two passes, that many callbacks from as many new members go to the
 *    same echo gateway as fast as they are acknowledged (64 connections); every
 *    reply is counted once. Reported: replies/s, the gateway's CPU µs per
 *    delivered reply (whole pass, and by thread) next to its CPU µs per
 *    acknowledgement (the idle `edge` rounds of part 2).
 * 4. **Memory** of the echo gateway (started through bench/lib/memory_gateway.ts):
 *    RSS idle and after each pass, split into private memory and mapped files,
 *    and the main thread's V8 heap. `--v8-flags` overrides the V8 flags it runs
 *    with (default: those of `deno task start`).
 *
 * The latency distribution of the two passes is drawn as an SVG into `--plots`
 * (default `bench-results/plots/`), and its path printed.
 *
 * Loopback only; temp files are removed. Exits 1 when a reply is lost,
 * doubled or wrong, a callback is not acknowledged 200, gettoken is not
 * called exactly once per app, the agents never all start, or an agent
 * process outlives the gateway.
 *
 * Run: `deno task bench:reply [--users 1000] [--rate 100] [--high-rate 300]
 * [--acks 3000] [--warmup 300] [--ack-concurrency 32] [--rounds 3] [--agent-sleep 60]
 * [--jobs-concurrency N] [--capacity 5000] [--v8-flags F] [--plots DIR] [--json results.json]` (`--jobs-concurrency` sets
 * `gateway.jobs.concurrency` of the reply-latency gateway; default: the
 * gateway's own default).
 *
 * @module
 */

import type { AppConfig } from "../src/config/types.ts";
import { importAppCrypto } from "../src/crypto/mod.ts";
import { sealCallback, textMessage } from "../src/simulator/seal.ts";
import { type FakeWeComApi, startFakeWeComApi } from "../src/simulator/wecom_api.ts";
import { flag, integerFlag } from "./lib/args.ts";
import { appsConfigFile, benchApps, type BenchCallback, sealCallbacks } from "./lib/callbacks.ts";
import { createPool, drive, type DriveResult } from "./lib/drive.ts";
import {
  describeMachine,
  machineCpuSeconds,
  procCpuSeconds,
  type ServerProcess,
  startGateway,
  stopAll,
  threadCpuSeconds,
} from "./lib/server_process.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { errorsText, fmt, probeKvCommit } from "./lib/report.ts";
import { cdfPoints, lineChart, writePlot } from "./lib/svg.ts";
import { lastProbe, type MemoryProbe } from "./lib/memory_gateway.ts";

/** Agent runs started in the busy phase (= `gateway.jobs.concurrency` there). */
const BUSY_AGENTS = 8;
/** Most callbacks in flight during an open-loop pass. */
const OPEN_LOOP_CONCURRENCY = 64;

interface Options {
  users: number;
  rate: number;
  /** Second pass; 0 = none. */
  highRate: number;
  acks: number;
  warmup: number;
  ackConcurrency: number;
  /** Measured phases per gateway in part 2, alternating idle and busy. */
  rounds: number;
  agentSleepSeconds: number;
  /** `gateway.jobs.concurrency` of the reply-latency gateway; undefined = the gateway's default. */
  jobsConcurrency?: number;
  /** Callbacks from distinct members sent as fast as acknowledged (end-to-end capacity); 0 = none. */
  capacity: number;
  /** Where the plots go. */
  plots: string;
  /** `--v8-flags` of the echo gateway (part 1), to measure a V8 setting's effect on memory. */
  v8Flags?: string;
  json?: string;
}

function integer(args: string[], name: string, fallback: number, min = 1): number {
  return integerFlag(args, name, fallback, { script: "the round-trip benchmark", min });
}

function parseOptions(args: string[]): Options {
  return {
    users: integer(args, "users", 1000),
    rate: integer(args, "rate", 100),
    highRate: integer(args, "high-rate", 300, 0),
    acks: integer(args, "acks", 3000),
    warmup: integer(args, "warmup", 300, 0),
    ackConcurrency: integer(args, "ack-concurrency", 32),
    rounds: integer(args, "rounds", 3),
    agentSleepSeconds: integer(args, "agent-sleep", 60),
    jobsConcurrency: flag(args, "jobs-concurrency") === undefined
      ? undefined
      : integer(args, "jobs-concurrency", 4),
    capacity: integer(args, "capacity", 5000, 0),
    v8Flags: flag(args, "v8-flags"),
    plots: flag(args, "plots") ?? new URL("../bench-results/plots", import.meta.url).pathname,
    json: flag(args, "json"),
  };
}

/** Writes a config file with the apps pointing at `apiBase` and `extra` sections on top. */
async function writeConfig(
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

async function startNamedGateway(
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

/** One message per user: what is sent, and the reply it must bring back. */
interface UserMessage {
  callback: BenchCallback;
  agentId: string;
  userId: string;
  content: string;
}

/** Seals one text callback for each of `count` users `<prefix><i>`, cycling through `apps`. */
async function sealUsers(apps: AppConfig[], prefix: string, count: number): Promise<UserMessage[]> {
  const cryptos = await Promise.all(
    apps.map((app) => importAppCrypto(app.encodingAesKey, app.token, app.corpId)),
  );
  const createTime = Math.floor(Date.now() / 1000);
  const base = 5_000_000_000_000_000_000n +
    BigInt(crypto.getRandomValues(new Uint32Array(1))[0]) * 1_000_000_000n;
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const app = apps[i % apps.length];
    const userId = `${prefix}${i}`;
    const content = `round trip ${i} 往返 ${prefix}`;
    const msgId = String(base + BigInt(i));
    const xml = textMessage({
      corpId: app.corpId,
      agentId: app.agentId,
      userId,
      createTime,
      content,
      msgId,
    });
    const { query, body } = await sealCallback(cryptos[i % apps.length], xml, {
      corpId: app.corpId,
      agentId: app.agentId,
      timestamp: String(createTime),
    });
    return {
      callback: { app: app.name, size: "short", msgId, query, body },
      agentId: app.agentId,
      userId,
      content,
    };
  }));
}

/** Deliveries seen so far, by `agentId:userId`, read incrementally from the fake. */
function deliveryIndex(api: FakeWeComApi) {
  const byUser = new Map<string, { at: number; content: unknown }[]>();
  let seen = 0;
  return {
    update(): void {
      const all = api.state.delivered;
      for (; seen < all.length; seen++) {
        const message = all[seen];
        const key = `${message.agentId}:${message.touser}`;
        const list = byUser.get(key) ?? [];
        list.push({ at: message.at, content: message.payload.content });
        byUser.set(key, list);
      }
    },
    of(agentId: string, userId: string) {
      return byUser.get(`${agentId}:${userId}`) ?? [];
    },
  };
}

/** CPU use over a phase, in % of one CPU: the gateway, this process, everything else. */
interface CpuUse {
  /** Wall time measured, s. */
  seconds: number;
  gatewayPct: number;
  benchPct: number;
  otherPct: number;
}

/** Starts measuring CPU use; the returned function ends the measurement. */
async function cpuMeter(server: ServerProcess): Promise<() => Promise<CpuUse>> {
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

interface PassRow {
  /** Offered callbacks/s; Infinity for the capacity pass (as fast as they are acknowledged). */
  rate: number;
  users: number;
  /** Callbacks acknowledged 200. */
  acked: number;
  ackErrors: Record<number, number>;
  ack: Summary;
  /** Users with at least one reply. */
  delivered: number;
  /** Users with more than one reply (at the end of the run). */
  duplicates: number;
  /** Replies whose text is not the text sent. */
  wrong: number;
  latency: Summary;
  /** Last callback due → last reply delivered, s. */
  drainSeconds: number;
  /** Replies delivered per second, first callback due → last reply. */
  repliesPerSecond: number;
  /** Most jobs queued and running seen on `/metrics` (sampled every 500 ms). */
  peakQueued: number;
  peakRunning: number;
  cpu: CpuUse;
  /** Gateway CPU seconds during the pass by thread name (threads that ended are missing). */
  threadCpu: Map<string, number>;
  /** Gateway VmRSS once every reply of the pass was delivered, MiB. */
  rssAfterMiB: number;
  messages: UserMessage[];
  sentAt: number[];
  /** When the last callback was answered (Date.now()). */
  sentAtEnd: number;
  /** Callback → reply latency of each delivered reply, ms. */
  latencies: number[];
}

async function runPass(
  url: string,
  server: ServerProcess,
  index: ReturnType<typeof deliveryIndex>,
  messages: UserMessage[],
  rate: number,
): Promise<PassRow> {
  const pool = createPool(OPEN_LOOP_CONCURRENCY);
  const meter = await cpuMeter(server);
  const threadsBefore = await threadCpuSeconds(server.pid);
  let peakQueued = 0;
  let peakRunning = 0;
  let sampling: Promise<void> = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sampling.then(async () => {
      const jobs = await jobGauges(server.operatorPort!);
      peakQueued = Math.max(peakQueued, jobs.queued);
      peakRunning = Math.max(peakRunning, jobs.running);
    });
  }, 500);
  const wallStart = Date.now();
  let result: DriveResult;
  const sentAt = messages.map((_, i) =>
    wallStart + (Number.isFinite(rate) ? (i * 1000) / rate : 0)
  );
  const lastDue = sentAt[sentAt.length - 1];
  let delivered = 0;
  let sentAtEnd = NaN;
  try {
    try {
      result = await drive({
        url,
        callbacks: messages.map((m) => m.callback),
        concurrency: OPEN_LOOP_CONCURRENCY,
        rate: Number.isFinite(rate) ? rate : undefined,
        client: pool,
      });
    } finally {
      pool.close();
    }
    sentAtEnd = Date.now();
    // Wait for every reply: at most 120 s after the last callback, 5 s without any progress.
    let lastProgress = Date.now();
    while (true) {
      index.update();
      const now = messages.filter((m) => index.of(m.agentId, m.userId).length > 0).length;
      if (now > delivered) {
        delivered = now;
        lastProgress = Date.now();
      }
      if (delivered === messages.length) break;
      if (
        Date.now() - Math.max(lastDue, sentAtEnd) > 120_000 ||
        Date.now() - lastProgress > 5_000
      ) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    clearInterval(sampler);
    await sampling;
  }
  const cpu = await meter();
  const threadCpu = new Map<string, number>();
  for (const [name, seconds] of await threadCpuSeconds(server.pid)) {
    threadCpu.set(name, seconds - (threadsBefore.get(name) ?? 0));
  }
  const rssAfterMiB = (await server.rssKiB()) / 1024;
  const latencies: number[] = [];
  let lastReply = 0;
  let wrong = 0;
  messages.forEach((m, i) => {
    const replies = index.of(m.agentId, m.userId);
    if (replies.length === 0) return;
    latencies.push(replies[0].at - sentAt[i]);
    lastReply = Math.max(lastReply, replies[0].at);
    if (replies.some((r) => r.content !== m.content)) wrong++;
  });
  return {
    rate,
    users: messages.length,
    acked: result.ok,
    ackErrors: result.errors,
    ack: summarize(result.latencies),
    delivered,
    duplicates: 0, // counted at the end of the run, when late doubles had their chance
    wrong,
    latency: summarize(latencies),
    drainSeconds: (lastReply - lastDue) / 1000,
    repliesPerSecond: delivered / ((lastReply - wallStart) / 1000),
    peakQueued,
    peakRunning,
    cpu,
    threadCpu,
    rssAfterMiB,
    messages,
    sentAt,
    sentAtEnd,
    latencies,
  };
}

interface AckRow {
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
async function warm(url: string, callbacks: BenchCallback[], concurrency: number): Promise<void> {
  if (callbacks.length > 0) await drive({ url, callbacks, concurrency, maxMs: 30_000 });
}

/** One measured closed-loop phase of acknowledgements. */
async function ackPhase(
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
function pooled(label: string, rows: AckRow[]): AckRow {
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

/** `wecom_agent_workers{state="busy"}` of a gateway, or NaN when it cannot be read. */
async function busyWorkers(port: number): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await response.text();
    const match = /^wecom_agent_workers\{state="busy"\} (\d+)$/m.exec(text);
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** `wecom_jobs{state="queued"|"running"}` of a gateway (NaN when it cannot be read). */
async function jobGauges(port: number): Promise<{ queued: number; running: number }> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const gauge = (state: string) =>
      Number(new RegExp(`^wecom_jobs\\{state="${state}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
    return { queued: gauge("queued"), running: gauge("running") };
  } catch {
    return { queued: NaN, running: NaN };
  }
}

/** Process ids the agent script wrote (each is its process group: the gateway detaches agents). */
async function agentGroups(pidFile: string): Promise<number[]> {
  try {
    return (await Deno.readTextFile(pidFile)).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Processes still alive in the process groups `groups`, as `pid pgid args` lines. */
async function survivors(groups: number[]): Promise<string[]> {
  if (groups.length === 0) return [];
  const { stdout } = await new Deno.Command("ps", {
    args: ["-eo", "pid=,pgid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  const wanted = new Set(groups);
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim()).filter((line) => {
    const [, pgid, stat] = line.split(/\s+/);
    return wanted.has(Number(pgid)) && !stat?.startsWith("Z");
  });
}

/** SIGKILL to each group that still has a live process; returns what was alive. */
async function killGroups(groups: number[]): Promise<string[]> {
  const alive = await survivors(groups);
  for (const pgid of new Set(alive.map((line) => Number(line.split(/\s+/)[1])))) {
    try {
      Deno.kill(-pgid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return alive;
}

/** RSS split as "private 20.1 MiB, files 40.2 MiB (mostly the deno executable's pages)". */
async function rssSplit(server: ServerProcess): Promise<string> {
  const anon = (await server.statusKiB("RssAnon")) / 1024;
  const file = (await server.statusKiB("RssFile")) / 1024;
  return `private ${fmt(anon)} MiB, mapped files ${fmt(file)} MiB (mostly the deno executable)`;
}

/** A memory probe as "heap used/total 12.0/20.0 MiB, external 3.0 MiB, RSS 60.0 MiB". */
function probeText(probe: MemoryProbe | undefined): string {
  if (!probe) return "(no probe)";
  const mib = (bytes: number) => fmt(bytes / 2 ** 20);
  return `heap used/total ${mib(probe.heapUsed)}/${mib(probe.heapTotal)} MiB, external ${
    mib(probe.external)
  } MiB, RSS ${mib(probe.rss)} MiB`;
}

/** CPU by thread as "main 1200, sw-0 800, …" in µs per event, largest first (≥ 10 µs). */
function threadText(threads: Map<string, number>, events: number): string {
  return [...threads].map(([name, seconds]) => [name, (seconds * 1e6) / events] as const)
    .filter(([, micros]) => micros >= 10).sort((a, b) => b[1] - a[1])
    .map(([name, micros]) => `${name} ${fmt(micros, 0)}`).join(", ");
}

/** An offered rate as text: "100/s", or "capacity" for the as-fast-as-acknowledged pass. */
function rateText(rate: number): string {
  return Number.isFinite(rate) ? `${rate}/s` : "capacity (closed loop)";
}

/** Gateway CPU µs per event over a measured span. */
function cpuMicros(cpu: CpuUse, events: number): number {
  return ((cpu.gatewayPct / 100) * cpu.seconds * 1e6) / events;
}

function cpuText(cpu: CpuUse): string {
  return `${fmt(cpu.gatewayPct, 0)} / ${fmt(cpu.benchPct, 0)} / ${fmt(cpu.otherPct, 0)} %`;
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

function ackRow(r: AckRow, bold = false): string {
  const label = bold ? `**${r.label}**` : r.label;
  return `| ${label} | ${r.ok} / ${r.requests} | ${errorsText(r.errors)} | ${fmt(r.rps, 0)} | ${
    fmt(r.latency.p50, 2)
  } | ${fmt(r.latency.p90, 2)} | ${fmt(r.latency.p99, 2)} | ${fmt(r.latency.max, 1)} | ${
    cpuText(r.cpu)
  } |`;
}

function ratioText(busy: AckRow, idle: AckRow): string {
  return `req/s ${fmt(busy.rps / idle.rps, 2)}×, p50 ${
    fmt(busy.latency.p50 / idle.latency.p50, 2)
  }×, p99 ${fmt(busy.latency.p99 / idle.latency.p99, 2)}×`;
}

function ackTable(idleRows: AckRow[], busyRows: AckRow[], idle: AckRow, busy: AckRow): string {
  const lines = [
    `| gateway | callbacks | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU gateway / bench / other |`,
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (let r = 0; r < Math.max(idleRows.length, busyRows.length); r++) {
    if (idleRows[r]) lines.push(ackRow(idleRows[r]));
    if (busyRows[r]) lines.push(ackRow(busyRows[r]));
  }
  lines.push(ackRow(idle, true), ackRow(busy, true));
  lines.push(
    `| **busy / idle** | | | ${fmt(busy.rps / idle.rps, 2)}× | ${
      fmt(busy.latency.p50 / idle.latency.p50, 2)
    }× | ${fmt(busy.latency.p90 / idle.latency.p90, 2)}× | ${
      fmt(busy.latency.p99 / idle.latency.p99, 2)
    }× | | |`,
  );
  return lines.join("\n");
}

async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  const dir = await Deno.makeTempDir({ prefix: "wecom-round-trip-" });
  const pidFile = `${dir}/agent-pids`;
  let api: FakeWeComApi | undefined;
  const cleanup = async () => {
    await stopAll();
    await killGroups(await agentGroups(pidFile)).catch(() => []);
    await api?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const onSignal = () => {
    console.error("interrupted: stopping the gateways and any agent process, removing temp files");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const failures: string[] = [];
  const began = performance.now();
  try {
    const apps = benchApps(3);
    api = startFakeWeComApi({
      apps: apps.map((app) => ({
        corpId: app.corpId,
        corpSecret: app.corpSecret,
        agentId: app.agentId,
      })),
    });
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
        sealUsers(
          apps,
          `rt${p + 1}-user`,
          Number.isFinite(rate) ? options.users : options.capacity,
        )
      ),
    );
    const ackCallbacks = await sealCallbacks(apps, options.warmup + options.rounds * options.acks);
    const ackWarmup = ackCallbacks.slice(0, options.warmup);
    const ackRound = (r: number) =>
      ackCallbacks.slice(
        options.warmup + r * options.acks,
        options.warmup + (r + 1) * options.acks,
      );
    const busyMessages = await sealUsers(apps, "busy-user", BUSY_AGENTS);
    const floor = await probeKvCommit(dir);

    // --- 1. Callback → delivered reply, echo agent, role all --------------------------------
    const echoConfig = `${dir}/config-echo.json`;
    await writeConfig(echoConfig, apps, api.url, {
      gateway: {
        jobs: {
          working_notice_seconds: 0,
          ...(options.jobsConcurrency ? { concurrency: options.jobsConcurrency } : {}),
        },
      },
      agent: { kind: "echo" },
    });
    let idleRssMiB = NaN;
    let settledRssMiB = NaN;
    let peakRssMiB = NaN;
    let settledProbe: MemoryProbe | undefined;
    let idleSplit = "";
    let settledSplit = "";
    const echo = await startNamedGateway(
      "all-echo",
      "all",
      dir,
      echoConfig,
      true,
      options.v8Flags,
    );
    const echoUrl = `http://127.0.0.1:${echo.server.port}/wecom/callback`;
    // Idle: started, nothing received yet (after 2 s, once start-up work has settled).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    idleRssMiB = (await echo.server.rssKiB()) / 1024;
    const idleProbe = lastProbe(echo.server.stderrTail());
    idleSplit = await rssSplit(echo.server);
    const index = deliveryIndex(api);
    const passRows: PassRow[] = [];
    let gettoken: number[];
    let echoExit: number;
    try {
      for (let p = 0; p < passes.length; p++) {
        const row = await runPass(echoUrl, echo.server, index, passMessages[p], passes[p]);
        passRows.push(row);
        console.error(
          `reply pass ${rateText(passes[p])}: ${row.delivered}/${row.users} replies, ` +
            `p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms`,
        );
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
      echoExit = await echo.server.stop();
    }
    index.update();
    for (const row of passRows) {
      row.duplicates = row.messages.filter((m) => index.of(m.agentId, m.userId).length > 1).length;
    }

    // --- 2. Acknowledgement latency: idle edge vs all with 8 busy agents ---------------------
    // Both gateways run side by side; measured rounds alternate between them (ABBA order), so
    // that a noisy neighbour on a shared machine weighs on both alike.
    const idleRows: AckRow[] = [];
    const busyRows: AckRow[] = [];
    const script = `${dir}/agent.sh`;
    await Deno.writeTextFile(
      script,
      `#!/bin/sh\necho $$ >> '${pidFile}'\nsleep ${options.agentSleepSeconds}\ncat\n`,
    );
    const busyConfig = `${dir}/config-busy.json`;
    await writeConfig(busyConfig, apps, api.url, {
      gateway: { jobs: { concurrency: BUSY_AGENTS, working_notice_seconds: 0 } },
      agent: { kind: "command", command: { argv: ["sh", script] } },
    });
    let busyReached = false;
    let busyStartSeconds = NaN;
    let stopSeconds = NaN;
    let edgeExit = -1;
    let busyExit = -1;
    let leftAfterStop: string[] = [];
    let agentsStarted = 0;
    const edge = await startNamedGateway("edge-idle", "edge", dir, echoConfig);
    let busy: { server: ServerProcess } | undefined;
    try {
      busy = await startNamedGateway("all-busy", "all", dir, busyConfig);
      const idleUrl = `http://127.0.0.1:${edge.server.port}/wecom/callback`;
      const busyUrl = `http://127.0.0.1:${busy.server.port}/wecom/callback`;
      const startedAt = performance.now();
      for (const m of busyMessages) {
        const response = await fetch(`${busyUrl}?${m.callback.query}`, {
          method: "POST",
          body: m.callback.body,
          headers: { "content-type": "text/xml" },
        });
        await response.arrayBuffer();
        if (response.status !== 200) {
          failures.push(`a busy-phase message was answered ${response.status}`);
        }
      }
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const workers = await busyWorkers(busy.server.operatorPort!);
        const started = (await agentGroups(pidFile)).length;
        if (workers === BUSY_AGENTS && started === BUSY_AGENTS) {
          busyReached = true;
          busyStartSeconds = (performance.now() - startedAt) / 1000;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (!busyReached) {
        failures.push(`${BUSY_AGENTS} agent runs did not all start within 30 s`);
      } else {
        await warm(idleUrl, ackWarmup, options.ackConcurrency);
        await warm(busyUrl, ackWarmup, options.ackConcurrency);
        for (let r = 0; r < options.rounds; r++) {
          const order = r % 2 === 0 ? ["idle", "busy"] : ["busy", "idle"];
          for (const which of order) {
            if (which === "idle") {
              const row = await ackPhase(
                `idle, round ${r + 1}`,
                idleUrl,
                edge.server,
                ackRound(r),
                options.ackConcurrency,
              );
              idleRows.push(row);
              console.error(`idle round ${r + 1}: ${fmt(row.rps, 0)} req/s`);
            } else {
              const row = await ackPhase(
                `busy, round ${r + 1}`,
                busyUrl,
                busy.server,
                ackRound(r),
                options.ackConcurrency,
              );
              row.busyAfter = await busyWorkers(busy.server.operatorPort!);
              busyRows.push(row);
              console.error(
                `busy round ${r + 1}: ${
                  fmt(row.rps, 0)
                } req/s (busy workers after: ${row.busyAfter})`,
              );
              if (row.busyAfter !== BUSY_AGENTS) {
                failures.push(
                  `agents busy after busy round ${
                    r + 1
                  }: ${row.busyAfter}, expected ${BUSY_AGENTS}`,
                );
              }
            }
          }
        }
      }
    } finally {
      edgeExit = await edge.server.stop();
      agentsStarted = (await agentGroups(pidFile)).length;
      if (busy) {
        const stopBegun = performance.now();
        // The runner waits up to 10 s for running jobs, then aborts them: give it 20 s.
        busyExit = await busy.server.stop(20_000);
        stopSeconds = (performance.now() - stopBegun) / 1000;
      }
      leftAfterStop = await killGroups(await agentGroups(pidFile));
    }
    const leftAtEnd = await survivors(await agentGroups(pidFile));

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
    console.log(`\n### Acknowledgement latency, idle vs ${BUSY_AGENTS} busy agents\n`);
    const idleAll = pooled(`idle (role edge, no agents), ${idleRows.length} rounds`, idleRows);
    const busyAll = pooled(
      `${BUSY_AGENTS} agents busy (role all), ${busyRows.length} rounds`,
      busyRows,
    );
    console.log(ackTable(idleRows, busyRows, idleAll, busyAll));
    console.log(
      `\n${options.acks} callbacks per round (the same ones to both gateways), closed loop, ` +
        `${options.ackConcurrency} connections, after ${options.warmup} warm-up callbacks each; ` +
        `rounds alternate idle/busy in ABBA order. Per round, busy / idle: ${
          busyRows.map((b, r) => idleRows[r] ? ratioText(b, idleRows[r]) : "–").join("; ")
        }.`,
    );
    console.log(
      `\nBusy phase: ${BUSY_AGENTS} agent runs (sh: sleep ${options.agentSleepSeconds}; cat) ` +
        `running ${fmt(busyStartSeconds, 2)} s after the first of ${BUSY_AGENTS} messages; ` +
        `agent processes started ${agentsStarted}. Graceful stop took ${fmt(stopSeconds, 1)} s ` +
        `(exit ${busyExit}); agent processes left after it: ${leftAfterStop.length} ` +
        `${
          leftAfterStop.length === 0 ? "PASS" : "FAIL (killed here)"
        }; left at the end: ${leftAtEnd.length}.`,
    );
    console.log(
      `\nKV floor on this disk (one-key durable commits, one at a time, before the run): ` +
        `p50 ${fmt(floor.p50, 2)} ms, p99 ${fmt(floor.p99, 2)} ms.`,
    );
    const messagesTotal = passRows.reduce((sum, r) => sum + r.users, 0);
    console.log(
      `\n### Memory of the echo gateway (role all)\n\nIdle (started, no callback yet): ` +
        `**${
          fmt(idleRssMiB)
        } MiB** RSS (${idleSplit}; goal ≤ 60 MB = 57.2 MiB). After each pass, once its ` +
        `replies were delivered: ${
          passRows.map((r) => `${rateText(r.rate)} ${fmt(r.rssAfterMiB)} MiB`).join(", ")
        }; 2 s after the last pass (${messagesTotal} messages from as many members): ` +
        `**${
          fmt(settledRssMiB)
        } MiB** (${settledSplit}; goal ≤ 100 MB = 95.4 MiB after 10,000); peak ${
          fmt(peakRssMiB)
        } MiB.\n\nMain thread (\`Deno.memoryUsage()\`), idle → after: ${probeText(idleProbe)} → ${
          probeText(settledProbe)
        }. The rest of RSS is the agent workers' isolates, ` +
        `Deno KV (SQLite) and the runtime.`,
    );
    const capacityRow = passRows.find((r) => !Number.isFinite(r.rate));
    const ackCpu = idleRows.reduce((sum, r) => sum + (r.cpu.gatewayPct / 100) * r.cpu.seconds, 0);
    const ackMicros = (ackCpu * 1e6) / idleRows.reduce((sum, r) => sum + r.ok, 0);
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
            fmt(ackMicros, 0)
          } µs per acknowledgement (role edge, the idle rounds of this run).\n\nWhere a ` +
          `reply's CPU goes, µs per delivered reply by gateway thread: ${
            threadText(capacityRow.threadCpu, capacityRow.delivered)
          }.`,
      );
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

    for (const row of passRows) {
      if (row.acked !== row.users) {
        failures.push(
          `${rateText(row.rate)}: ${row.users - row.acked} callbacks not acknowledged 200`,
        );
      }
      if (row.delivered !== row.users) {
        failures.push(`${rateText(row.rate)}: ${row.users - row.delivered} replies lost`);
      }
      if (row.duplicates > 0) {
        failures.push(`${rateText(row.rate)}: ${row.duplicates} users got 2 replies`);
      }
      if (row.wrong > 0) {
        failures.push(`${rateText(row.rate)}: ${row.wrong} replies with the wrong text`);
      }
    }
    if (!tokenOk) failures.push(`gettoken calls per app were ${gettoken.join(", ")}, not 1 each`);
    for (const row of [...idleRows, ...busyRows]) {
      if (row.ok !== options.acks) {
        failures.push(`${row.label}: ${options.acks - row.ok} callbacks not acknowledged 200`);
      }
    }
    if (agentsStarted !== BUSY_AGENTS) {
      failures.push(`${agentsStarted} agent processes started, expected ${BUSY_AGENTS}`);
    }
    if (leftAfterStop.length > 0) {
      failures.push(`agent processes outlived the gateway: ${leftAfterStop.join("; ")}`);
    }
    if (leftAtEnd.length > 0) failures.push(`agent processes still alive: ${leftAtEnd.join("; ")}`);
    for (
      const [name, code] of [["all-echo", echoExit], ["edge", edgeExit], ["all-busy", busyExit]]
    ) {
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
            ) => ({
              ...row,
              threadCpu: Object.fromEntries(threadCpu),
            })),
            gettoken,
            kvFloor: floor,
            acks: [...idleRows, ...busyRows, idleAll, busyAll].map((
              { latencies: _l, ...row },
            ) => row),
            busy: { busyStartSeconds, agentsStarted, stopSeconds, leftAfterStop, busyExit },
            failures,
          },
          null,
          2,
        ),
      );
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
