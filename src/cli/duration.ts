/**
 * Durations as operators type and read them: `7d`, `12h`, `30m`, `45s`, `500ms`.
 *
 * @example Usage
 * ```ts
 * import { formatAge, parseDuration } from "./duration.ts";
 * console.assert(parseDuration("7d") === 7 * 86_400_000);
 * console.assert(formatAge(90_000) === "1m");
 * ```
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * Parses a duration such as `7d`, `12h`, `30m`, `45s`, `500ms` or `2w` into
 * milliseconds; a bare number is seconds.
 *
 * @throws {RangeError} When `text` is not a duration, naming the accepted forms.
 *
 * @example Usage
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * console.assert(parseDuration("90s") === 90_000 && parseDuration("0") === 0);
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/i.exec(text);
  if (!match) {
    throw new RangeError(
      `Cannot read '${text}' as a duration: write a number and a unit, e.g. 7d, 12h, 30m, 45s.`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[(match[2] ?? "s").toLowerCase()]);
}

/**
 * A short age for tables: `12s`, `5m`, `3h`, `2d` (negative ages count as 0s).
 *
 * @example Usage
 * ```ts
 * import { formatAge } from "./duration.ts";
 * console.assert(formatAge(3 * 3_600_000) === "3h");
 * ```
 */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
