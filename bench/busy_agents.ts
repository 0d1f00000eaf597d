/**
 * Whether agents at work slow down the acknowledgement WeCom waits for.
 *
 * The simulated WeCom API (src/simulator/wecom_api.ts) runs in this process.
 * Two gateways side by side: (a) an idle one in role `edge` (no agents at
 * all) and (b) one in role `all` with `gateway.jobs.concurrency: 8` whose
 * command agent sleeps `--agent-sleep` (60) seconds before echoing, measured
 * once 8 messages from 8 users have started 8 agent runs
 * (`wecom_agent_workers{state="busy"} 8` on `/metrics` and 8 agent processes
 * started). After `--warmup` (300) callbacks each, `--rounds` (3) rounds of
 * `--acks` (3,000) callbacks at `--ack-concurrency` (32), closed loop; each
 * round sends the same callbacks to both, alternating which goes first
 * (ABBA, bench/lib/rounds.ts), so that load from other processes on the
 * machine weighs on both alike. Reported per round and pooled, with the ratio
 * busy / idle. The busy gateway is then stopped gracefully (SIGTERM): it must
 * end the sleeping agents itself; any agent process still alive afterwards is
 * killed here (SIGKILL to its process group) and fails the run.
 *
 * Loopback only; temp files are removed. Exits 1 when a callback is not
 * acknowledged 200, the agents never all start or stop being busy during the
 * rounds, an agent process outlives the gateway, or a gateway exits non-zero.
 *
 * Run: `deno task bench:busy [--acks 3000] [--warmup 300] [--ack-concurrency 32]
 * [--rounds 3] [--agent-sleep 60] [--json results.json]`
 *
 * @example Short run
 * ```sh
 * deno task bench:busy --acks 300 --warmup 50 --rounds 1 --agent-sleep 8
 * ```
 *
 * @module
 */

import type { FakeWeComApi } from "../src/simulator/wecom_api.ts";
import { flag, integerFlag } from "./lib/args.ts";
import {
  ACK_TABLE_HEADER,
  ackPhase,
  type AckRow,
  ackRow,
  pooled,
  startNamedGateway,
  warm,
  writeConfig,
} from "./lib/ack_phase.ts";
import { benchApps, sealCallbacks, sealUsers, startBenchApi } from "./lib/callbacks.ts";
import {
  describeMachine,
  exitOnInterrupt,
  type ServerProcess,
  stopAll,
} from "./lib/server_process.ts";
import { fmt, probeKvCommit } from "./lib/report.ts";
import { rotation } from "./lib/rounds.ts";

/** Agent runs started in the busy phase (= `gateway.jobs.concurrency` there). */
const BUSY_AGENTS = 8;

interface Options {
  acks: number;
  warmup: number;
  ackConcurrency: number;
  /** Measured phases per gateway, alternating idle and busy. */
  rounds: number;
  agentSleepSeconds: number;
  json?: string;
}

function integer(args: string[], name: string, fallback: number, min = 1): number {
  return integerFlag(args, name, fallback, { script: "the busy-agents benchmark", min });
}

function parseOptions(args: string[]): Options {
  return {
    acks: integer(args, "acks", 3000),
    warmup: integer(args, "warmup", 300, 0),
    ackConcurrency: integer(args, "ack-concurrency", 32),
    rounds: integer(args, "rounds", 3),
    agentSleepSeconds: integer(args, "agent-sleep", 60),
    json: flag(args, "json"),
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

function ratioText(busy: AckRow, idle: AckRow): string {
  return `req/s ${fmt(busy.rps / idle.rps, 2)}×, p50 ${
    fmt(busy.latency.p50 / idle.latency.p50, 2)
  }×, p99 ${fmt(busy.latency.p99 / idle.latency.p99, 2)}×`;
}

function ackTable(idleRows: AckRow[], busyRows: AckRow[], idle: AckRow, busy: AckRow): string {
  const lines = [...ACK_TABLE_HEADER];
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
  const dir = await Deno.makeTempDir({ prefix: "wecom-busy-agents-" });
  const pidFile = `${dir}/agent-pids`;
  let api: FakeWeComApi | undefined;
  const cleanup = async () => {
    await stopAll();
    await killGroups(await agentGroups(pidFile)).catch(() => []);
    await api?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const stopInterrupt = exitOnInterrupt(
    cleanup,
    "interrupted: stopping the gateways and any agent process, removing temp files",
  );
  const failures: string[] = [];
  const began = performance.now();
  try {
    const apps = benchApps(3);
    api = startBenchApi(apps);
    const machineText = await describeMachine();
    const loadBefore = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");

    // Everything sealed before any timing.
    const ackCallbacks = await sealCallbacks(apps, options.warmup + options.rounds * options.acks);
    const ackWarmup = ackCallbacks.slice(0, options.warmup);
    const ackRound = (r: number) =>
      ackCallbacks.slice(
        options.warmup + r * options.acks,
        options.warmup + (r + 1) * options.acks,
      );
    const busyMessages = await sealUsers(apps, "busy-user", BUSY_AGENTS);
    const floor = await probeKvCommit(dir);

    // Both gateways run side by side; measured rounds alternate between them (ABBA order), so
    // that a noisy neighbour on a shared machine weighs on both alike.
    const idleConfig = `${dir}/config-idle.json`;
    await writeConfig(idleConfig, apps, api.url, { agent: { kind: "echo" } });
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
    const idleRows: AckRow[] = [];
    const busyRows: AckRow[] = [];
    let busyReached = false;
    let busyStartSeconds = NaN;
    let stopSeconds = NaN;
    let edgeExit = -1;
    let busyExit = -1;
    let leftAfterStop: string[] = [];
    let agentsStarted = 0;
    const edge = await startNamedGateway("edge-idle", "edge", dir, idleConfig);
    let busy: { server: ServerProcess } | undefined;
    try {
      busy = await startNamedGateway("all-busy", "all", dir, busyConfig);
      const targets = {
        idle: { url: `http://127.0.0.1:${edge.server.port}/wecom/callback`, server: edge.server },
        busy: { url: `http://127.0.0.1:${busy.server.port}/wecom/callback`, server: busy.server },
      };
      const startedAt = performance.now();
      for (const m of busyMessages) {
        const response = await fetch(`${targets.busy.url}?${m.callback.query}`, {
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
        await warm(targets.idle.url, ackWarmup, options.ackConcurrency);
        await warm(targets.busy.url, ackWarmup, options.ackConcurrency);
        for (let r = 0; r < options.rounds; r++) {
          for (const which of rotation(["idle", "busy"] as const, r)) {
            const { url, server } = targets[which];
            const row = await ackPhase(
              `${which}, round ${r + 1}`,
              url,
              server,
              ackRound(r),
              options.ackConcurrency,
            );
            if (which === "idle") {
              idleRows.push(row);
              console.error(`idle round ${r + 1}: ${fmt(row.rps, 0)} req/s`);
              continue;
            }
            row.busyAfter = await busyWorkers(busy.server.operatorPort!);
            busyRows.push(row);
            console.error(
              `busy round ${r + 1}: ${
                fmt(row.rps, 0)
              } req/s (busy workers after: ${row.busyAfter})`,
            );
            if (row.busyAfter !== BUSY_AGENTS) {
              failures.push(
                `agents busy after busy round ${r + 1}: ${row.busyAfter}, expected ${BUSY_AGENTS}`,
              );
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
    console.log(`### Acknowledgement latency, idle vs ${BUSY_AGENTS} busy agents\n`);
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
    console.log(`\nWhole run: ${fmt(totalSeconds, 0)} s.`);

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
    for (const [name, code] of [["edge", edgeExit], ["all-busy", busyExit]] as const) {
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
    stopInterrupt();
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
