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

import type { WeComClient } from "../wecom/types.ts";
import type { CallbackObservation } from "./callback.ts";

/** Values read from KV and the agent pool at scrape time. */
export interface Gauges {
  jobs?: Record<string, number>;
  deadLetters?: number;
  pool?: { size: number; busy: number; idle: number; queued: number; crashed: number };
}

/** The metrics of one process. */
export interface Metrics {
  observeCallback(observation: CallbackObservation): void;
  observeAgentRun(seconds: number): void;
  count(name: string, labels?: Record<string, string>): void;
  /** Wraps a client so that every send and recall is counted by errcode. */
  wrapClient<T extends WeComClient>(client: T): T;
  setGauges(read: () => Promise<Gauges>): void;
  render(): Promise<string>;
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
  wecom_http_connections_closed_total:
    "Connections the HTTP front closed or refused, by reason (timeouts, 408/413, the cap).",
};

/** Creates an empty set of metrics. */
export function createMetrics(): Metrics {
  const counters = new Map<string, Map<string, number>>();
  const ack = histogram(ACK_BUCKETS_MS);
  const agent = histogram(AGENT_BUCKETS_S);
  let readGauges: (() => Promise<Gauges>) | undefined;

  const count = (name: string, labels: Record<string, string> = {}) => {
    let series = counters.get(name);
    if (!series) counters.set(name, series = new Map());
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + 1);
  };

  const countCall = async <R>(api: string, call: () => Promise<R>): Promise<R> => {
    try {
      const result = await call();
      count("wecom_sends_total", { api, errcode: "0" });
      return result;
    } catch (error) {
      const errcode = (error as { errcode?: number }).errcode;
      count("wecom_sends_total", { api, errcode: String(errcode ?? "network") });
      throw error;
    }
  };

  return {
    observeCallback(observation) {
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
          countCall("send", () => client.send(app, userId, message, options)),
        recall: (app, msgId) => countCall("recall", () => client.recall(app, msgId)),
      };
    },
    setGauges(read) {
      readGauges = read;
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
      const gauges = readGauges ? await readGauges().catch(() => ({} as Gauges)) : {};
      if (gauges.jobs) {
        lines.push("# HELP wecom_jobs Jobs by state.", "# TYPE wecom_jobs gauge");
        for (const [state, n] of Object.entries(gauges.jobs)) {
          lines.push(`wecom_jobs{state="${state}"} ${n}`);
        }
      }
      if (gauges.deadLetters !== undefined) {
        lines.push(
          "# HELP wecom_dead_letters Messages that could not be delivered.",
          "# TYPE wecom_dead_letters gauge",
          `wecom_dead_letters ${gauges.deadLetters}`,
        );
      }
      if (gauges.pool) {
        lines.push(
          "# HELP wecom_agent_workers Agent workers by state.",
          "# TYPE wecom_agent_workers gauge",
        );
        lines.push(`wecom_agent_workers{state="busy"} ${gauges.pool.busy}`);
        lines.push(`wecom_agent_workers{state="idle"} ${gauges.pool.idle}`);
        lines.push(`wecom_agent_workers{state="queued"} ${gauges.pool.queued}`);
      }
      return lines.join("\n") + "\n";
    },
  };
}
