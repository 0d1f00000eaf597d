/**
 * Small text helpers shared by stages: durations as people say them, cutting
 * text to a length, redacting secrets, a URL without its credentials, and
 * describing a failed `fetch` without its URL.
 *
 * @example Usage
 * ```ts
 * import { formatDuration, shorten } from "./format.ts";
 * console.assert(formatDuration(90_000) === "1.5 min");
 * console.assert(shorten("abcdef", 4) === "abc…");
 * ```
 *
 * @module
 */

/**
 * Formats milliseconds the way a person says them: "800 ms", "45 s", "1.5 min", "2 h".
 *
 * @example Usage
 * ```ts
 * import { formatDuration } from "./format.ts";
 * console.assert(formatDuration(1_800_000) === "30 min");
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${round1(ms / 1000)} s`;
  if (ms < 3_600_000) return `${round1(ms / 60_000)} min`;
  return `${round1(ms / 3_600_000)} h`;
}

function round1(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/**
 * Cuts `text` to at most `max` characters (code points), ending with "…" when cut.
 *
 * @example Usage
 * ```ts
 * import { shorten } from "./format.ts";
 * console.assert(shorten("abcdef", 4) === "abc…");
 * ```
 */
export function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}

/**
 * Replaces every occurrence of each secret (of 4 or more characters) in `text`
 * with "[redacted]", for error messages built from what a remote API said.
 *
 * @example Usage
 * ```ts
 * import { redactSecrets } from "./format.ts";
 * console.assert(redactSecrets("bad key sk-123", ["sk-123"]) === "bad key [redacted]");
 * ```
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/**
 * Describes why a `fetch` failed, without the request URL (it may carry a
 * token): Deno's "fetch failed" plus the cause, e.g. "Connection refused".
 *
 * @example Usage
 * ```ts
 * import { describeFetchError } from "./format.ts";
 * const error = new TypeError("fetch failed", {
 *   cause: new Error("error sending request for url (http://h/x?token=1): Connection refused"),
 * });
 * console.assert(describeFetchError(error) === "fetch failed: error sending request: Connection refused");
 * ```
 */
export function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : "";
  const text = cause ? `${error.message}: ${cause}` : error.message;
  return text.replace(/\s*for url \([^)]*\)/g, "").replace(/\bhttps?:\/\/\S+/g, "(url)");
}

/**
 * A URL as it may be shown: origin and path, without user info, query or
 * fragment (they may carry credentials) and without trailing slashes.
 *
 * @example Usage
 * ```ts
 * import { safeUrl } from "./format.ts";
 * console.assert(safeUrl("https://u:p@api.test/v1/?key=k") === "https://api.test/v1");
 * console.assert(safeUrl("nope") === "(not a URL)");
 * ```
 */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, "");
  } catch {
    return "(not a URL)";
  }
}
