/**
 * Summaries of latency samples: percentiles by the nearest-rank method.
 *
 * @example Usage
 * ```ts
 * import { summarize } from "./stats.ts";
 * const s = summarize([1, 2, 3, 4, 100]);
 * console.assert(s.p50 === 3 && s.max === 100);
 * ```
 *
 * @module
 */

/** Percentiles of a set of samples (same unit as the samples). */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of ascending `sorted`. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Summarizes `samples` (not modified).
 *
 * @example Usage
 * ```ts
 * import { summarize } from "./stats.ts";
 * console.assert(summarize([5]).p99 === 5);
 * ```
 */
export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}
