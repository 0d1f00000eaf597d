/**
 * Why the callback server could not listen, in one line that says what to do.
 *
 * @example Usage
 * ```ts
 * import { ListenError, listenError } from "./listen_error.ts";
 * const error = listenError(new Deno.errors.AddrInUse("Address already in use"), "0.0.0.0", 8645);
 * console.assert(error instanceof ListenError && error.problem === "port_in_use");
 * ```
 *
 * @module
 */

/** What went wrong when binding the callback server. */
export type ListenProblem = "port_in_use" | "address_not_available" | "permission_denied" | "other";

/** The callback server could not listen on `host:port`. */
export class ListenError extends Error {
  readonly host: string;
  readonly port: number;
  readonly problem: ListenProblem;

  constructor(host: string, port: number, problem: ListenProblem, message: string, cause: unknown) {
    super(message, { cause });
    this.name = "ListenError";
    this.host = host;
    this.port = port;
    this.problem = problem;
  }
}

/** Maps an error of `Deno.serve` on `host:port` to a {@linkcode ListenError}. */
export function listenError(error: unknown, host: string, port: number): ListenError {
  const where = `${host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new ListenError(
      host,
      port,
      "port_in_use",
      `Cannot start wecom-gateway as port ${port} is already in use on ${host} (another program, ` +
        `or another gateway, listens there; Hermes Agent's WeCom adapter uses 8645 too). Stop it, ` +
        `or set WECOM_CALLBACK_PORT ('port' in config.yaml) to a free port.`,
      error,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new ListenError(
      host,
      port,
      "address_not_available",
      `Cannot start wecom-gateway as '${host}' is not an address of this machine ` +
        `(WECOM_CALLBACK_HOST, 'host' in config.yaml). Use one of its addresses, or 0.0.0.0 to ` +
        `listen on all of them.`,
      error,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ListenError(
      host,
      port,
      "permission_denied",
      `Cannot start wecom-gateway as it may not listen on ${where}` +
        `${port < 1024 ? " (ports below 1024 need root)" : ""}. Set WECOM_CALLBACK_PORT to a ` +
        `port of 1024 or above (behind a reverse proxy if WeCom must reach 80 or 443).`,
      error,
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ListenError(
    host,
    port,
    "other",
    `Cannot start wecom-gateway as it cannot listen on ${where}: ${detail}. Check ` +
      `WECOM_CALLBACK_HOST and WECOM_CALLBACK_PORT ('host' and 'port' in config.yaml).`,
    error,
  );
}
