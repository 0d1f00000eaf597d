/**
 * Validation of the operator listener (`gateway.operator`): where `/metrics`
 * and the operator console listen, apart from the public callback listener.
 *
 * Default 127.0.0.1:8646. Port 0 turns the listener off. A host that is not a
 * loopback address needs a bearer token (at least 16 characters): without one
 * the configuration is refused, so metrics and the console's actions are
 * never open to the network by mistake.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readOperator } from "./validate_operator.ts";
 * const read = createReader({ env: {}, dotenv: {}, root: {} });
 * const operator = readOperator(read);
 * console.assert(operator?.host === "127.0.0.1" && operator.port === 8646);
 * ```
 *
 * @module
 */

import { SETTINGS } from "./keys.ts";
import { createReader, where } from "./read.ts";
import type { OperatorConfig } from "./types.ts";

type Reader = ReturnType<typeof createReader>;

/** Defaults of the operator listener. */
export const OPERATOR_DEFAULTS = { host: "127.0.0.1", port: 8646 } as const;

/** Shortest bearer token accepted. */
export const MIN_OPERATOR_TOKEN_LENGTH = 16;

/**
 * Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost).
 *
 * @example Usage
 * ```ts
 * import { isLoopbackHost } from "./validate_operator.ts";
 * console.assert(isLoopbackHost("127.0.0.1") && isLoopbackHost("[::1]"));
 * console.assert(!isLoopbackHost("0.0.0.0"));
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Reads `gateway.operator`; undefined when the port is 0 (off). Problems go to `read`. */
export function readOperator(read: Reader): OperatorConfig | undefined {
  let host = read.text(SETTINGS.operatorHost, OPERATOR_DEFAULTS.host).trim();
  if (host === "" || /\s/.test(host)) {
    const raw = read.raw(SETTINGS.operatorHost);
    read.report(
      SETTINGS.operatorHost,
      raw,
      "is not a host name or address.",
      `Set ${where(SETTINGS.operatorHost, raw)} to an address such as 127.0.0.1.`,
    );
    host = OPERATOR_DEFAULTS.host;
  }
  const port = read.integer(SETTINGS.operatorPort, OPERATOR_DEFAULTS.port, { min: 0, max: 65535 });
  const token = read.text(SETTINGS.operatorToken, "").trim();
  const tokenRaw = read.raw(SETTINGS.operatorToken);
  if (token !== "" && token.length < MIN_OPERATOR_TOKEN_LENGTH) {
    read.report(
      SETTINGS.operatorToken,
      tokenRaw,
      `is ${token.length} characters long; a bearer token needs at least ` +
        `${MIN_OPERATOR_TOKEN_LENGTH}.`,
      `Set ${where(SETTINGS.operatorToken, tokenRaw)} to a long random string, e.g. the ` +
        "output of `openssl rand -hex 24`.",
    );
  }
  if (port === 0) return undefined;
  if (token === "" && !isLoopbackHost(host)) {
    read.report(
      SETTINGS.operatorHost,
      read.raw(SETTINGS.operatorHost),
      `is ${host}, not a loopback address, and no bearer token is set: anyone who reaches it ` +
        "could read the metrics and act in the operator console.",
      `Set ${where(SETTINGS.operatorToken, tokenRaw)} to a long random string (at least ` +
        `${MIN_OPERATOR_TOKEN_LENGTH} characters), or keep gateway.operator.host at 127.0.0.1.`,
    );
  }
  return { host, port, token };
}
