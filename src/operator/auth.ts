/**
 * Who may use the operator listener.
 *
 * - With a token (`gateway.operator.token`): every request but `GET /health`
 *   and the console's static page must carry `Authorization: Bearer <token>`,
 *   compared in constant time (SHA-256 of both, then a byte-wise comparison
 *   that visits every byte). Browsers never send that header across sites,
 *   so it is also the CSRF defence.
 * - Without a token (loopback only, enforced by the config): the `Host`
 *   header must name a loopback address or the configured host (a DNS
 *   rebinding page on another name is refused), and state-changing requests
 *   (POST) must carry `X-Operator-Console: 1`, which a cross-site form cannot
 *   send and a cross-site script cannot send without a CORS permission this
 *   listener never gives; an `Origin` header, when present, must be this
 *   listener's own.
 *
 * @example Usage
 * ```ts
 * import { createOperatorAuth } from "./auth.ts";
 * const auth = createOperatorAuth({ host: "127.0.0.1", port: 8646, token: "" });
 * const refusal = await auth(new Request("http://127.0.0.1:8646/metrics"));
 * console.assert(refusal === undefined);
 * ```
 *
 * @module
 */

import type { OperatorConfig } from "../config/types.ts";
import { isLoopbackHost } from "../config/validate_operator.ts";
import { timingSafeEqual } from "../crypto/constant_time.ts";

/** The header a state-changing request must carry (the console's script sends it). */
export const CONSOLE_HEADER = "x-operator-console";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function refuse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: message }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * Returns a check for requests: undefined when allowed, else the refusal to send.
 *
 * @example Usage
 * ```ts
 * import { createOperatorAuth } from "./auth.ts";
 * const auth = createOperatorAuth({ host: "0.0.0.0", port: 8646, token: "a-long-operator-token" });
 * const refusal = await auth(new Request("http://10.0.0.5:8646/metrics"));
 * console.assert(refusal?.status === 401);
 * ```
 */
export function createOperatorAuth(
  config: OperatorConfig,
): (request: Request) => Promise<Response | undefined> {
  const expected = config.token ? digest(config.token) : undefined;
  return async (request) => {
    if (expected) {
      const header = request.headers.get("authorization") ?? "";
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const given = await digest(match?.[1] ?? "");
      if (!match || !timingSafeEqual(given, await expected)) {
        return refuse(
          401,
          "This operator listener needs 'Authorization: Bearer <gateway.operator.token>'.",
          { "www-authenticate": 'Bearer realm="wecom-gateway operator"' },
        );
      }
      return undefined;
    }
    const host = request.headers.get("host") ?? "";
    const hostname = host.replace(/:\d+$/, "");
    if (!isLoopbackHost(hostname) && hostname !== config.host) {
      return refuse(
        403,
        `Host '${hostname.slice(0, 100)}' is not this operator listener's address: open it ` +
          "as http://127.0.0.1:<port>/ (or set gateway.operator.token to reach it by another name).",
      );
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      const origin = request.headers.get("origin");
      if (origin !== null && origin !== `http://${host}`) {
        return refuse(403, "Cross-origin requests are refused.");
      }
      if (request.headers.get(CONSOLE_HEADER) !== "1") {
        return refuse(
          403,
          `A ${request.method} to the operator listener must carry the header ` +
            `'X-Operator-Console: 1' (the console sends it).`,
        );
      }
    }
    return undefined;
  };
}
