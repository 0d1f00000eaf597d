/**
 * The gateway's memory after a load of distinct members, for several
 * settings in the same run: each target is a fresh echo gateway in role
 * `all` (KV in a temp file, through bench/lib/memory_gateway.ts) that gets
 * `--members` (10,000) text callbacks, each from its own member, sent as fast
 * as they are acknowledged (64 connections); its RSS is read idle (2 s after
 * start), once every reply has reached the simulated WeCom API, and again
 * `--settle` seconds later (70: past the default `agent.worker_idle_seconds`
 * of 60). Also shown: private memory and mapped files, the main thread's V8
 * heap and the KV file's size.
 *
 * Targets (`--targets`, default `kept,retired`): `kept` sets
 * `agent.worker_idle_seconds: 0` (agent workers kept after use, as before
 * that setting existed); `retired` leaves the default. Targets run one after
 * the other, in rotated order over `--rounds` (1); medians are shown.
 *
 * Run: `deno task bench:memory [--members 10000] [--settle 70] [--rounds 1]
 * [--targets kept,retired]`
 *
 * @example Usage
 * ```sh
 * deno task bench:memory --members 2000 --settle 70
 * ```
 *
 * @module
 */

import { flag, integerFlag } from "./lib/args.ts";
import {
  appsConfigFile,
  benchApps,
  type BenchCallback,
  sealCallbacks,
  startBenchApi,
} from "./lib/callbacks.ts";
import { drive } from "./lib/drive.ts";
import { lastProbe } from "./lib/memory_gateway.ts";
import { fmt } from "./lib/report.ts";
import { median, rotation } from "./lib/rounds.ts";
import { type ServerProcess, startGateway, stopAll } from "./lib/server_process.ts";

/** What `agent:` and `gateway:` each target adds to the config. */
const TARGETS: Record<string, { agent: Record<string, unknown>; what: string }> = {
  kept: { agent: { worker_idle_seconds: 0 }, what: "agent workers kept after use (as before)" },
  retired: { agent: {}, what: "default: idle agent workers retired after 60 s" },
};

/** RSS and its parts at one moment, MiB. */
interface Snapshot {
  rss: number;
  anon: number;
  file: number;
  heapUsed: number;
  heapTotal: number;
  kv: number;
}

interface Row {
  idle: Snapshot;
  loaded: Snapshot;
  settled: Snapshot;
  /** Messages the simulated API received (a reply sent twice counts twice). */
  replies: number;
  /** Distinct members that got a reply. */
  members: number;
  seconds: number;
}

const MIB = 2 ** 20;

async function fileMiB(path: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    total += await Deno.stat(path + suffix).then((s) => s.size, () => 0);
  }
  return total / MIB;
}

async function snapshot(server: ServerProcess, kvPath: string): Promise<Snapshot> {
  await new Promise((resolve) => setTimeout(resolve, 1100)); // a fresh probe line
  const probe = lastProbe(server.stderrTail());
  return {
    rss: (await server.rssKiB()) / 1024,
    anon: (await server.statusKiB("RssAnon")) / 1024,
    file: (await server.statusKiB("RssFile")) / 1024,
    heapUsed: (probe?.heapUsed ?? NaN) / MIB,
    heapTotal: (probe?.heapTotal ?? NaN) / MIB,
    kv: await fileMiB(kvPath),
  };
}

async function runTarget(
  name: string,
  dir: string,
  configPath: string,
  callbacks: BenchCallback[],
  delivered: () => number,
  reached: (from: number) => number,
  settleSeconds: number,
): Promise<Row> {
  const kvPath = `${dir}/kv-${name}-${crypto.randomUUID()}.sqlite3`;
  const server = await startGateway({
    name,
    role: "all",
    configPath,
    cwd: dir,
    env: {
      WECOM_GATEWAY_KV: kvPath,
      WECOM_GATEWAY_MEDIA_DIR: `${dir}/media-${name}`,
      LOG_LEVEL: "warn",
    },
    memoryProbe: true,
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = await snapshot(server, kvPath);
    const before = delivered();
    const started = Date.now();
    const result = await drive({
      url: `http://127.0.0.1:${server.port}/wecom/callback`,
      callbacks,
      concurrency: 64,
    });
    if (result.ok !== callbacks.length) {
      throw new Error(
        `Cannot measure '${name}' as ${
          callbacks.length - result.ok
        } callbacks were not acknowledged: ${JSON.stringify(result.errors)}`,
      );
    }
    // Every member answered (a member may get more than one message: the echo of a text over 2,048
    // bytes goes out in parts),
    // or 15 s without a new message.
    let lastCount = -1;
    let lastProgress = Date.now();
    while (reached(before) < callbacks.length && Date.now() - lastProgress < 15_000) {
      if (delivered() !== lastCount) {
        lastCount = delivered();
        lastProgress = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const seconds = (Date.now() - started) / 1000;
    const replies = delivered() - before;
    const members = reached(before);
    const loaded = await snapshot(server, kvPath);
    console.error(
      `${name}: ${replies} replies to ${members}/${callbacks.length} members in ${
        fmt(seconds)
      } s; settling`,
    );
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    const settled = await snapshot(server, kvPath);
    return { idle, loaded, settled, replies, members, seconds };
  } finally {
    await server.stop();
  }
}

function cell(rows: Row[], pick: (row: Row) => number): string {
  return fmt(median(rows.map(pick)));
}

async function main(args: string[]): Promise<number> {
  const script = { script: "the memory-after-load benchmark" };
  const members = integerFlag(args, "members", 10_000, script);
  const settle = integerFlag(args, "settle", 70, { ...script, min: 0 });
  const rounds = integerFlag(args, "rounds", 1, script);
  const names = (flag(args, "targets") ?? "kept,retired").split(",");
  for (const name of names) {
    if (!TARGETS[name]) {
      console.error(
        `Cannot run target '${name}': use one of ${Object.keys(TARGETS).join(", ")}.`,
      );
      return 2;
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "wecom-memory-load-" });
  const apps = benchApps(3);
  const api = startBenchApi(apps);
  const rows = new Map<string, Row[]>(names.map((name) => [name, []]));
  let failed = false;
  try {
    const configs = new Map<string, string>();
    for (const name of names) {
      const path = `${dir}/config-${name}.json`;
      await Deno.writeTextFile(
        path,
        appsConfigFile(apps, {
          apiBase: api.url,
          extra: { replay_window_seconds: 3600 },
          top: {
            gateway: { jobs: { working_notice_seconds: 0 } },
            agent: { kind: "echo", ...TARGETS[name].agent },
          },
        }),
      );
      configs.set(name, path);
    }
    for (let round = 0; round < rounds; round++) {
      for (const name of rotation(names, round)) {
        // Every member distinct, in every run too (the simulated API drops a message
        // identical to one it delivered in the last 30 min, as WeCom's duplicate check).
        const callbacks = await sealCallbacks(apps, members, {
          users: 0,
          userPrefix: `${name}-${round}-member`,
        });
        const row = await runTarget(
          name,
          dir,
          configs.get(name)!,
          callbacks,
          () => api.state.delivered.length,
          (from) =>
            new Set(api.state.delivered.slice(from).map((m) => `${m.agentId}:${m.touser}`)).size,
          settle,
        );
        if (row.members < members) failed = true;
        rows.get(name)!.push(row);
      }
    }
  } finally {
    await stopAll();
    await api.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    `Memory after ${members} messages from ${members} members (echo, role all), ` +
      `median of ${rounds} round(s); settled = ${settle} s after the last reply\n`,
  );
  console.log(
    "| target | members answered (messages) | idle RSS MiB | after load RSS (private / files) | settled RSS (private / files) | main heap used/total settled | KV file MiB |",
  );
  console.log("|---|--:|--:|--:|--:|--:|--:|");
  for (const name of names) {
    const r = rows.get(name)!;
    if (r.length === 0) continue;
    console.log(
      `| \`${name}\` (${TARGETS[name].what}) | ${cell(r, (x) => x.members)} (${
        cell(r, (x) => x.replies)
      }) | ${cell(r, (x) => x.idle.rss)} | ${cell(r, (x) => x.loaded.rss)} (${
        cell(r, (x) => x.loaded.anon)
      } / ${cell(r, (x) => x.loaded.file)}) | ${cell(r, (x) => x.settled.rss)} (${
        cell(r, (x) => x.settled.anon)
      } / ${cell(r, (x) => x.settled.file)}) | ${cell(r, (x) => x.settled.heapUsed)}/${
        cell(r, (x) => x.settled.heapTotal)
      } | ${cell(r, (x) => x.settled.kv)} |`,
    );
  }
  if (failed) console.error("Some members got no reply: see the members column.");
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
