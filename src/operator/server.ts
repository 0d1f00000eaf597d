/**
 * The operator listener: `/metrics` (Prometheus text), `/health`, and the
 * operator console (`/` and its JSON under `/api/`), on its own address
 * (`gateway.operator`, default 127.0.0.1:8646), apart from the public callback
 * listener, which serves only the callback paths and `/health`.
 *
 * @example Usage
 * ```ts ignore
 * import { startOperatorServer } from "./server.ts";
 * const operator = await startOperatorServer({
 *   operator: config.operator!, config, kv, metrics, verifications, role: "all",
 * });
 * console.log(`console: http://127.0.0.1:${operator.address.port}/`);
 * await operator.shutdown();
 * ```
 *
 * @module
 */

import type { GatewayConfig, OperatorConfig } from "../config/types.ts";
import { ListenError, listenError } from "../http/listen_error.ts";
import type { Metrics } from "../http/metrics.ts";
import { log } from "../log.ts";
import { createOperatorApi } from "./api.ts";
import { createOperatorAuth } from "./auth.ts";
import { startHistory } from "./history.ts";
import { CONSOLE_PAGE } from "./page.ts";
import type { VerificationLog } from "./verifications.ts";

/** What {@linkcode startOperatorServer} needs. */
export interface OperatorServerDeps {
  operator: OperatorConfig;
  config: GatewayConfig;
  kv: Deno.Kv;
  metrics: Metrics;
  verifications: VerificationLog;
  role: "all" | "edge" | "worker";
  /** The public callback listener's address (absent in the worker role). */
  publicAddress?: Deno.NetAddr;
  /** Interval of the charts' samples, ms (default 10 000). */
  sampleMs?: number;
}

/** A started operator listener. */
export interface OperatorServer {
  address: Deno.NetAddr;
  shutdown(): Promise<void>;
}

/** Thrown when the operator listener cannot bind its address: a {@linkcode ListenError}. */
export class OperatorListenError extends ListenError {
  constructor(host: string, port: number, cause: Error) {
    super(
      host,
      port,
      listenError(cause, host, port).problem,
      `Cannot listen for operators on ${host}:${port}: ${cause.message}. Set ` +
        "gateway.operator.port (WECOM_GATEWAY_OPERATOR_PORT) to a free port, or to 0 to turn the " +
        "operator listener (metrics and console) off.",
      cause,
    );
    this.name = "OperatorListenError";
  }
}

const SECURITY_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'",
};

/** Starts the operator listener. */
export async function startOperatorServer(deps: OperatorServerDeps): Promise<OperatorServer> {
  const { operator, metrics } = deps;
  const history = startHistory(metrics, { sampleMs: deps.sampleMs });
  const auth = createOperatorAuth(operator);
  const api = createOperatorApi({ ...deps, history });

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const get = request.method === "GET" || request.method === "HEAD";
    if (url.pathname === "/health" && get) {
      return new Response(JSON.stringify({ status: "ok" }), {
        headers: { "content-type": "application/json" },
      });
    }
    // The page holds no data: it asks for the token itself when one is configured.
    if (url.pathname === "/" && get && operator.token) {
      return new Response(CONSOLE_PAGE, { headers: SECURITY_HEADERS });
    }
    const refusal = await auth(request);
    if (refusal) {
      await request.body?.cancel().catch(() => {});
      return refusal;
    }
    if (url.pathname === "/" && get) {
      return new Response(CONSOLE_PAGE, { headers: SECURITY_HEADERS });
    }
    if (url.pathname === "/metrics" && get) {
      return new Response(await metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    const answer = await api(request, url);
    if (answer) return answer;
    await request.body?.cancel().catch(() => {});
    return new Response(
      "Not found. The operator listener serves / (console), /metrics, /health and /api/….\n",
      { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  };

  const listening = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: operator.host,
      port: operator.port,
      onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
      onError: (error) => {
        log.error("operator request failed", { error: (error as Error).message });
        return new Response("Internal error.\n", { status: 500 });
      },
    }, handler);
  } catch (error) {
    history.stop();
    throw new OperatorListenError(operator.host, operator.port, error as Error);
  }
  const address = await listening.promise;
  return {
    address,
    async shutdown() {
      history.stop();
      await server.shutdown();
    },
  };
}
