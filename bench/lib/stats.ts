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

/**
 * Least-squares slope of `points` ([x, y]) in y per unit of x; NaN with fewer
 * than 2 points or a single x (e.g. RSS growth per minute over a soak).
 *
 * @example Usage
 * ```ts
 * import { slope } from "./stats.ts";
 * console.assert(slope([[0, 1], [1, 3], [2, 5]]) === 2);
 * ```
 */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
