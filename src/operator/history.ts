/**
 * The last hour of this process's metrics, sampled in memory for the operator
 * console's charts (no external database; Prometheus stays the long-term
 * store): acknowledgement latency, callbacks per second, queue depth, failed
 * sends by errcode and agent run time.
 *
 * Every `sampleMs` the cumulative counters of {@linkcode Metrics.snapshot} are
 * compared with the previous sample; the difference becomes one point.
 *
 * @example Usage
 * ```ts
 * import { createMetrics } from "../http/metrics.ts";
 * import { startHistory } from "./history.ts";
 * const metrics = createMetrics();
 * const history = startHistory(metrics, { sampleMs: 10_000 });
 * history.sample();
 * console.assert(history.points().length === 0); // the first sample is the baseline
 * history.stop();
 * ```
 *
 * @module
 */

import type { Metrics, MetricsSnapshot } from "../http/metrics.ts";

/** One interval of the history. */
export interface HistoryPoint {
  /** End of the interval, epoch ms. */
  at: number;
  /** Callbacks answered per second. */
  callbacksPerSecond: number;
  /** Mean POST acknowledgement time, ms (null: no POST in the interval). */
  ackMeanMs: number | null;
  /** 95th percentile of it, as the upper bound of its histogram bucket, ms. */
  ackP95Ms: number | null;
  /** Queued and running jobs at the end of the interval (null: not readable). */
  queued: number | null;
  running: number | null;
  /** Mean agent run time of runs that ended in the interval, s. */
  agentMeanSeconds: number | null;
  /** Failed sends and recalls in the interval by errcode. */
  sendErrors: Record<string, number>;
}

/** Options of {@linkcode startHistory}. */
export interface HistoryOptions {
  /** Interval between samples, ms (default 10 000). */
  sampleMs?: number;
  /** Span kept, ms (default one hour). */
  spanMs?: number;
}

/** A running sampler. */
export interface History {
  /** Points of the kept span, oldest first. */
  points(): HistoryPoint[];
  /** Takes a sample now (the timer calls it; tests may too). */
  sample(): Promise<void>;
  /** Interval between samples, ms. */
  readonly sampleMs: number;
  stop(): void;
}

function p95(previous: MetricsSnapshot["ack"], current: MetricsSnapshot["ack"]): number | null {
  const total = current.count - previous.count;
  if (total <= 0) return null;
  for (let i = 0; i < current.bucketsMs.length; i++) {
    if (current.counts[i] - previous.counts[i] >= 0.95 * total) return current.bucketsMs[i];
  }
  return current.bucketsMs.at(-1)!;
}

/** Starts sampling `metrics` every `sampleMs`. */
export function startHistory(metrics: Metrics, options: HistoryOptions = {}): History {
  const sampleMs = options.sampleMs ?? 10_000;
  const keep = Math.max(1, Math.ceil((options.spanMs ?? 3600_000) / sampleMs));
  const points: HistoryPoint[] = [];
  let previous: MetricsSnapshot | undefined;
  let busy = false;

  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const gauges = await metrics.gauges();
      const current = metrics.snapshot();
      const before = previous;
      previous = current;
      if (!before) return;
      const seconds = Math.max(0.001, (current.at - before.at) / 1000);
      const acks = current.ack.count - before.ack.count;
      const runs = current.agent.count - before.agent.count;
      const sendErrors: Record<string, number> = {};
      for (const [errcode, n] of Object.entries(current.sendErrors)) {
        const delta = n - (before.sendErrors[errcode] ?? 0);
        if (delta > 0) sendErrors[errcode] = delta;
      }
      points.push({
        at: current.at,
        callbacksPerSecond: (current.callbacks - before.callbacks) / seconds,
        ackMeanMs: acks > 0 ? (current.ack.sumMs - before.ack.sumMs) / acks : null,
        ackP95Ms: p95(before.ack, current.ack),
        queued: gauges.jobs?.queued ?? null,
        running: gauges.jobs?.running ?? null,
        agentMeanSeconds: runs > 0
          ? (current.agent.sumSeconds - before.agent.sumSeconds) / runs
          : null,
        sendErrors,
      });
      if (points.length > keep) points.splice(0, points.length - keep);
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(() => void sample(), sampleMs);
  void sample();
  return {
    points: () => points.slice(),
    sample,
    sampleMs,
    stop: () => clearInterval(timer),
  };
}
