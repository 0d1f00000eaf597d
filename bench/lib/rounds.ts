/**
 * Comparisons that survive a noisy machine: targets run side by side in short
 * rounds whose order rotates, and each figure is reported as the median of its
 * per-round ratios to a baseline measured in the same round. A neighbour's
 * burst then weighs on one round (and on both sides of its ratio), not on one
 * target.
 *
 * @example Usage
 * ```ts
 * import { medianRatios, rotation } from "./rounds.ts";
 * console.assert(rotation(["a", "b", "c"], 1).join() === "b,c,a");
 * const ratios = medianRatios(
 *   [{ a: 100, b: 90 }, { a: 50, b: 60 }, { a: 80, b: 80 }],
 *   "a",
 * );
 * console.assert(ratios.b.median === 1);
 * ```
 *
 * @module
 */

/** The order of `targets` in round `round` (0-based): rotated left by `round`. */
export function rotation<T>(targets: readonly T[], round: number): T[] {
  const n = targets.length;
  if (n === 0) return [];
  const k = ((round % n) + n) % n;
  return [...targets.slice(k), ...targets.slice(0, k)];
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** Per-round ratios of one target to the baseline, and their median, min and max. */
export interface RatioSummary {
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

/** Thrown when a round lacks the baseline's figure. */
export class MissingBaselineError extends Error {
  constructor(readonly baseline: string, readonly round: number) {
    super(
      `Cannot compare round ${round + 1} as the baseline '${baseline}' has no figure in it: ` +
        `run the baseline in every round (add it to --targets)`,
    );
    this.name = "MissingBaselineError";
  }
}

/**
 * For each target of `rounds` (one record of figures per round, by target),
 * its ratio to `baseline` in each round and the median of those ratios.
 */
export function medianRatios(
  rounds: ReadonlyArray<Readonly<Record<string, number>>>,
  baseline: string,
): Record<string, RatioSummary> {
  const byTarget: Record<string, number[]> = {};
  rounds.forEach((round, r) => {
    const base = round[baseline];
    if (base === undefined || !Number.isFinite(base) || base === 0) {
      throw new MissingBaselineError(baseline, r);
    }
    for (const [target, value] of Object.entries(round)) {
      (byTarget[target] ??= []).push(value / base);
    }
  });
  const out: Record<string, RatioSummary> = {};
  for (const [target, ratios] of Object.entries(byTarget)) {
    out[target] = {
      ratios,
      median: median(ratios),
      min: Math.min(...ratios),
      max: Math.max(...ratios),
    };
  }
  return out;
}
