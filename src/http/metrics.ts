/**
 * Counters and histograms of one process, rendered as Prometheus text for `GET /metrics`.
 *
 * Callbacks by outcome and status, acknowledgement latency, agent run time,
 * WeCom sends by errcode, token fetches; queued, running and dead jobs and
 * dead letters are read from KV when scraped (finished jobs are not: their
 * count is the week's whole history, see `countJobs`).
 *
 * @example Usage
 * ```ts
 * import { createMetrics } from "./metrics.ts";
 * const metrics = createMetrics();
 * metrics.observeCallback({ method: "POST", status: 200, outcome: "recorded", ms: 1.2 });
 * const text = await metrics.render();
 * console.assert(text.includes('wecom_callbacks_total{method="POST",outcome="recorded",status="200"} 1'));
 * ```
 *
 * @module
 */

import { NO_ERRCODE, redactUrlSecrets } from "../wecom/errors.ts";
import type { WeComClient } from "../wecom/types.ts";
import type { CallbackObservation } from "./callback.ts";

/** Values read from KV and the agent pool at scrape time. */
export interface Gauges {
  jobs?: Record<string, number>;
  deadLetters?: number;
  pool?: { size: number; busy: number; idle: number; queued: number; crashed: number };
  /** The KV group committer's counters (src/store/group_commit.ts), when it is on. */
  commits?: {
    commits: number;
    members: number;
    backgroundMembers: number;
    backgroundAged: number;
    busyMs: number;
  };
  /** The priority gate's counters (src/priority_gate.ts), in role `all`. */
  gate?: { waits: number; trickled: number };
}

/** Cumulative values at one moment, for the operator console's history (see `src/operator/history.ts`). */
export interface MetricsSnapshot {
  /** Epoch ms. */
  at: number;
  /** Callbacks answered (GET and POST). */
  callbacks: number;
  /** POST acknowledgement latency: count, sum (ms), and cumulative counts per bucket of `bucketsMs`. */
  ack: { count: number; sumMs: number; bucketsMs: number[]; counts: number[] };
  /** Agent runs: count and sum (s). */
  agent: { count: number; sumSeconds: number };
  /** Failed send and recall calls by errcode (`network` when WeCom gave none). */
  sendErrors: Record<string, number>;
}

/** One failed send or recall, as WeCom answered it. */
export interface SendFailure {
  /** Epoch ms. */
  at: number;
  api: "send" | "recall";
  app: string;
  /** WeCom's errcode, or `NO_ERRCODE` (-2) when the call got no answer (network, HTTP status). */
  errcode: number;
  /** WeCom's errmsg or the transport failure (URL secrets removed). */
  errmsg: string;
}

/** How many failed calls {@linkcode Metrics.recentFailures} keeps. */
export const RECENT_FAILURES = 50;

/** The metrics of one process. */
export interface Metrics {
  observeCallback(observation: CallbackObservation): void;
  observeAgentRun(seconds: number): void;
  count(name: string, labels?: Record<string, string>): void;
  /** Wraps a client so that every send and recall is counted by errcode. */
  wrapClient<T extends WeComClient>(client: T): T;
  setGauges(read: () => Promise<Gauges>): void;
  /** Reads the gauges set by `setGauges` (empty when none, or when reading fails). */
  gauges(): Promise<Gauges>;
  render(): Promise<string>;
  /** Cumulative counters now. */
  snapshot(): MetricsSnapshot;
  /** The last failed sends and recalls, oldest first. */
  recentFailures(): SendFailure[];
}

const ACK_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000];
const AGENT_BUCKETS_S = [1, 5, 15, 60, 180, 600, 1800, 3600];

interface Histogram {
  buckets: number[];
  counts: number[];
  sum: number;
  count: number;
}

function histogram(buckets: number[]): Histogram {
  return { buckets, counts: buckets.map(() => 0), sum: 0, count: 0 };
}

function observe(h: Histogram, value: number): void {
  h.sum += value;
  h.count++;
  for (let i = 0; i < h.buckets.length; i++) if (value <= h.buckets[i]) h.counts[i]++;
}

function labelText(labels: Record<string, string>): string {
  // Code-unit order (label names are ASCII): no locale lookup on the per-callback path.
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return "";
  return "{" + entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`).join(",") + "}";
}

function renderHistogram(name: string, help: string, h: Histogram, unit: number): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  h.buckets.forEach((bound, i) =>
    lines.push(`${name}_bucket{le="${bound / unit}"} ${h.counts[i]}`)
  );
  lines.push(`${name}_bucket{le="+Inf"} ${h.count}`);
  lines.push(`${name}_sum ${h.sum / unit}`, `${name}_count ${h.count}`);
  return lines;
}

const HELP: Record<string, string> = {
  wecom_callbacks_total: "Callbacks answered, by method, outcome and HTTP status.",
  wecom_sends_total: "WeCom message/send and recall calls, by api and errcode (0 = ok).",
  wecom_token_fetches_total: "gettoken calls made by this process.",
  wecom_agent_failures_total:
    "Agent runs that failed, by reason (timeout, unreachable, http_<status>, failed_run, …).",
  wecom_http_connections_closed_total:
    "Connections the HTTP front closed or refused, by reason (timeouts, 408/413, the cap).",
};

/** Creates an empty set of metrics. */
export function createMetrics(): Metrics {
  const counters = new Map<string, Map<string, number>>();
  const ack = histogram(ACK_BUCKETS_MS);
  const agent = histogram(AGENT_BUCKETS_S);
  let readGauges: (() => Promise<Gauges>) | undefined;
  let callbacks = 0;
  const failures: SendFailure[] = [];

  const count = (name: string, labels: Record<string, string> = {}) => {
    let series = counters.get(name);
    if (!series) counters.set(name, series = new Map());
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + 1);
  };

  const gauges = async (): Promise<Gauges> =>
    readGauges ? await readGauges().catch(() => ({} as Gauges)) : {};

  const countCall = async <R>(
    api: "send" | "recall",
    app: string,
    call: () => Promise<R>,
  ): Promise<R> => {
    try {
      const result = await call();
      count("wecom_sends_total", { api, errcode: "0" });
      return result;
    } catch (error) {
      const { errcode, errmsg, message } = error as {
        errcode?: number;
        errmsg?: string;
        message?: string;
      };
      count("wecom_sends_total", { api, errcode: String(errcode ?? "network") });
      failures.push({
        at: Date.now(),
        api,
        app,
        errcode: errcode ?? NO_ERRCODE,
        errmsg: redactUrlSecrets(String(errmsg ?? message ?? error)).slice(0, 300),
      });
      if (failures.length > RECENT_FAILURES) failures.shift();
      throw error;
    }
  };

  return {
    observeCallback(observation) {
      callbacks++;
      count("wecom_callbacks_total", {
        method: observation.method,
        outcome: observation.outcome,
        status: String(observation.status),
      });
      if (observation.method === "POST") observe(ack, observation.ms);
    },
    observeAgentRun(seconds) {
      observe(agent, seconds);
    },
    count,
    wrapClient(client) {
      return {
        ...client,
        send: (app, userId, message, options) =>
          countCall("send", app.name, () => client.send(app, userId, message, options)),
        recall: (app, msgId) => countCall("recall", app.name, () => client.recall(app, msgId)),
      };
    },
    setGauges(read) {
      readGauges = read;
    },
    gauges,
    snapshot() {
      const sendErrors: Record<string, number> = {};
      for (const [labels, value] of counters.get("wecom_sends_total") ?? []) {
        const errcode = /errcode="([^"]*)"/.exec(labels)?.[1] ?? "network";
        if (errcode !== "0") sendErrors[errcode] = (sendErrors[errcode] ?? 0) + value;
      }
      return {
        at: Date.now(),
        callbacks,
        ack: { count: ack.count, sumMs: ack.sum, bucketsMs: ack.buckets, counts: [...ack.counts] },
        agent: { count: agent.count, sumSeconds: agent.sum },
        sendErrors,
      };
    },
    recentFailures() {
      return failures.slice();
    },
    async render() {
      const lines: string[] = [];
      for (const [name, series] of counters) {
        lines.push(`# HELP ${name} ${HELP[name] ?? name}`, `# TYPE ${name} counter`);
        for (const [labels, value] of series) lines.push(`${name}${labels} ${value}`);
      }
      lines.push(
        ...renderHistogram(
          "wecom_callback_ack_seconds",
          "Time from a POST callback's arrival to its answer.",
          ack,
          1000,
        ),
        ...renderHistogram("wecom_agent_run_seconds", "Duration of agent runs.", agent, 1),
      );
      const values = await gauges();
      if (values.jobs) {
        lines.push("# HELP wecom_jobs Jobs by state.", "# TYPE wecom_jobs gauge");
        for (const [state, n] of Object.entries(values.jobs)) {
          lines.push(`wecom_jobs{state="${state}"} ${n}`);
        }
      }
      if (values.deadLetters !== undefined) {
        lines.push(
          "# HELP wecom_dead_letters Messages that could not be delivered.",
          "# TYPE wecom_dead_letters gauge",
          `wecom_dead_letters ${values.deadLetters}`,
        );
      }
      if (values.pool) {
        lines.push(
          "# HELP wecom_agent_workers Agent workers by state.",
          "# TYPE wecom_agent_workers gauge",
        );
        lines.push(`wecom_agent_workers{state="busy"} ${values.pool.busy}`);
        lines.push(`wecom_agent_workers{state="idle"} ${values.pool.idle}`);
        lines.push(`wecom_agent_workers{state="queued"} ${values.pool.queued}`);
      }
      if (values.commits) {
        const c = values.commits;
        lines.push(
          "# HELP wecom_kv_commits_total Durable KV commits (one holds the operations of many callers).",
          "# TYPE wecom_kv_commits_total counter",
          `wecom_kv_commits_total ${c.commits}`,
          "# HELP wecom_kv_commit_operations_total Operations committed, by lane (intake first; " +
            "the job pipeline's wait while callbacks' are queued).",
          "# TYPE wecom_kv_commit_operations_total counter",
          `wecom_kv_commit_operations_total{lane="intake"} ${c.members - c.backgroundMembers}`,
          `wecom_kv_commit_operations_total{lane="pipeline"} ${c.backgroundMembers}`,
          "# HELP wecom_kv_commit_pipeline_aged_total Pipeline operations committed only because " +
            "they had waited their longest behind callbacks.",
          "# TYPE wecom_kv_commit_pipeline_aged_total counter",
          `wecom_kv_commit_pipeline_aged_total ${c.backgroundAged}`,
          "# HELP wecom_kv_commit_busy_seconds_total Time with a KV commit in flight: near 1 " +
            "per second, the store is what bounds the gateway.",
          "# TYPE wecom_kv_commit_busy_seconds_total counter",
          `wecom_kv_commit_busy_seconds_total ${(c.busyMs / 1000).toFixed(3)}`,
        );
      }
      if (values.gate) {
        lines.push(
          "# HELP wecom_pipeline_waits_total Claim rounds and delivery steps that waited for " +
            "callbacks being answered.",
          "# TYPE wecom_pipeline_waits_total counter",
          `wecom_pipeline_waits_total ${values.gate.waits}`,
          "# HELP wecom_pipeline_trickled_total Of those, the ones let through one per 20 ms " +
            "because callbacks kept coming without a pause (replies slowed by a flood).",
          "# TYPE wecom_pipeline_trickled_total counter",
          `wecom_pipeline_trickled_total ${values.gate.trickled}`,
        );
      }
      return lines.join("\n") + "\n";
    },
  };
}
