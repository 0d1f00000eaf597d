/**
 * One pass of the reply-latency benchmark: messages from distinct users sent
 * open loop at a rate (or as fast as acknowledged), then every reply awaited
 * on the simulated WeCom API and matched to its user. Measures reply latency
 * from each callback's scheduled send time, drain time, replies/s, peak jobs
 * on `/metrics`, CPU use (whole pass and by gateway thread) and RSS after.
 *
 * @example Usage
 * ```ts ignore
 * import { deliveryIndex, runPass } from "./reply_pass.ts";
 * const index = deliveryIndex(api); // api: a FakeWeComApi the gateway sends to
 * const row = await runPass(url, server, index, await sealUsers(apps, "u", 100), 50);
 * console.log(row.delivered, row.latency.p99);
 * ```
 *
 * @module
 */

import type { FakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { cpuMeter, type CpuUse } from "./ack_phase.ts";
import type { UserMessage } from "./callbacks.ts";
import { createPool, drive, type DriveResult } from "./drive.ts";
import { type ServerProcess, threadCpuSeconds } from "./server_process.ts";
import { summarize, type Summary } from "./stats.ts";

/** Most callbacks in flight during a pass. */
export const OPEN_LOOP_CONCURRENCY = 64;

/** Deliveries seen so far, by `agentId:userId`, read incrementally from the fake. */
export interface DeliveryIndex {
  update(): void;
  of(agentId: string, userId: string): { at: number; content: unknown }[];
}

/** A {@linkcode DeliveryIndex} over the messages `api` was sent. */
export function deliveryIndex(api: FakeWeComApi): DeliveryIndex {
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

/** Samples of a gateway's `/metrics` this benchmark reads (NaN when missing or unreadable). */
export interface GatewaySamples {
  /** `wecom_jobs{state="queued"|"running"}`. */
  queued: number;
  running: number;
  /** The KV committer: `wecom_kv_commits_total`, operations of both lanes, busy seconds. */
  commits: number;
  operations: number;
  commitBusySeconds: number;
}

/** Reads {@linkcode GatewaySamples} from the gateway's operator listener on `port`. */
export async function gatewaySamples(port: number): Promise<GatewaySamples> {
  let text = "";
  try {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    // every sample NaN
  }
  const sample = (series: string) => {
    const escaped = series.replace(/[{}]/g, "\\$&");
    return Number(new RegExp(`^${escaped} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  };
  return {
    queued: sample('wecom_jobs{state="queued"}'),
    running: sample('wecom_jobs{state="running"}'),
    commits: sample("wecom_kv_commits_total"),
    operations: sample('wecom_kv_commit_operations_total{lane="intake"}') +
      sample('wecom_kv_commit_operations_total{lane="pipeline"}'),
    commitBusySeconds: sample("wecom_kv_commit_busy_seconds_total"),
  };
}

/** What one pass measured. */
export interface PassRow {
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
  /** The KV committer during the pass: commits, operations, and seconds with a commit in flight. */
  committer: { commits: number; operations: number; busySeconds: number; seconds: number };
  /** Gateway VmRSS once every reply of the pass was delivered, MiB. */
  rssAfterMiB: number;
  messages: UserMessage[];
  sentAt: number[];
  /** When the last callback was answered (Date.now()). */
  sentAtEnd: number;
  /** Callback → reply latency of each delivered reply, ms. */
  latencies: number[];
}

/** Sends `messages` at `rate` (Infinity: as fast as acknowledged) and awaits every reply. */
export async function runPass(
  url: string,
  server: ServerProcess,
  index: DeliveryIndex,
  messages: UserMessage[],
  rate: number,
): Promise<PassRow> {
  const pool = createPool(OPEN_LOOP_CONCURRENCY);
  const meter = await cpuMeter(server);
  const threadsBefore = await threadCpuSeconds(server.pid);
  const samplesBefore = await gatewaySamples(server.operatorPort!);
  const startedAt = performance.now();
  let peakQueued = 0;
  let peakRunning = 0;
  let sampling: Promise<void> = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sampling.then(async () => {
      const jobs = await gatewaySamples(server.operatorPort!);
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
  const samplesAfter = await gatewaySamples(server.operatorPort!);
  const committer = {
    commits: samplesAfter.commits - samplesBefore.commits,
    operations: samplesAfter.operations - samplesBefore.operations,
    busySeconds: samplesAfter.commitBusySeconds - samplesBefore.commitBusySeconds,
    seconds: (performance.now() - startedAt) / 1000,
  };
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
    committer,
    rssAfterMiB,
    messages,
    sentAt,
    sentAtEnd,
    latencies,
  };
}
