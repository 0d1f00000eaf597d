/**
 * Validation of the callback server's connection bounds (`gateway.http`) and
 * of the KV file check (`gateway.kv_check_seconds`).
 *
 * Used by `validateConfig()` in `./validate.ts`; problems go to the reader's
 * list, so they are reported with every other problem at once.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readHttp } from "./validate_http.ts";
 * const read = createReader({ env: { WECOM_GATEWAY_HTTP_IDLE_TIMEOUT_SECONDS: "30" }, dotenv: {}, root: {} });
 * console.assert(readHttp(read).idleTimeoutMs === 30_000);
 * ```
 *
 * @module
 */

import { SETTINGS } from "./keys.ts";
import type { createReader } from "./read.ts";
import type { HttpConfig } from "./types.ts";

type Reader = ReturnType<typeof createReader>;

/** Defaults of the settings read here. */
export const HTTP_DEFAULTS = {
  idleTimeoutSeconds: 60,
  headerTimeoutSeconds: 5,
  maxConnections: 1024,
  front: true,
  kvCheckSeconds: 2,
} as const;

/**
 * The bounds of `gateway.http` when nothing is configured.
 *
 * @example Usage
 * ```ts
 * import { defaultHttpConfig } from "./validate_http.ts";
 * console.assert(defaultHttpConfig().headerTimeoutMs === 5000);
 * ```
 */
export function defaultHttpConfig(): HttpConfig {
  return {
    idleTimeoutMs: HTTP_DEFAULTS.idleTimeoutSeconds * 1000,
    headerTimeoutMs: HTTP_DEFAULTS.headerTimeoutSeconds * 1000,
    maxConnections: HTTP_DEFAULTS.maxConnections,
    front: HTTP_DEFAULTS.front,
  };
}

/**
 * Reads `gateway.http`: the idle and header timeouts (seconds, above 0, at
 * most an hour), the connection cap (at least 8) and the front switch.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readHttp } from "./validate_http.ts";
 * const read = createReader({ env: {}, dotenv: {}, root: {} });
 * console.assert(readHttp(read).maxConnections === 1024);
 * ```
 */
export function readHttp(read: Reader): HttpConfig {
  const seconds = { min: 0, exclusiveMin: true, max: 3600 } as const;
  return {
    idleTimeoutMs: Math.round(
      read.number(SETTINGS.httpIdleTimeoutSeconds, HTTP_DEFAULTS.idleTimeoutSeconds, seconds) *
        1000,
    ),
    headerTimeoutMs: Math.round(
      read.number(SETTINGS.httpHeaderTimeoutSeconds, HTTP_DEFAULTS.headerTimeoutSeconds, seconds) *
        1000,
    ),
    maxConnections: read.integer(SETTINGS.httpMaxConnections, HTTP_DEFAULTS.maxConnections, {
      min: 8,
    }),
    front: read.boolean(SETTINGS.httpFront, HTTP_DEFAULTS.front),
  };
}

/**
 * Reads `gateway.kv_check_seconds` as milliseconds (0 turns the check off).
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readKvCheckMs } from "./validate_http.ts";
 * const read = createReader({ env: { WECOM_GATEWAY_KV_CHECK_SECONDS: "0.5" }, dotenv: {}, root: {} });
 * console.assert(readKvCheckMs(read) === 500);
 * ```
 */
export function readKvCheckMs(read: Reader): number {
  return Math.round(
    read.number(SETTINGS.kvCheckSeconds, HTTP_DEFAULTS.kvCheckSeconds, { min: 0, max: 3600 }) *
      1000,
  );
}
