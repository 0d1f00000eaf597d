/**
 * The gateway's public HTTP routes: the callback path (shared and per app) and
 * `/health`. `/metrics` only when given (the gateway serves it on the operator
 * listener instead, see `../operator/server.ts`).
 *
 * @example Usage
 * ```ts ignore
 * const handler = createRouter({ path: "/wecom/callback", apps, callback });
 * Deno.serve({ port: 8645 }, handler);
 * ```
 *
 * @module
 */

import type { CallbackApp } from "./callback.ts";

/** What {@linkcode createRouter} needs. */
export interface RouterDeps {
  /** The shared callback path, e.g. `/wecom/callback`. */
  path: string;
  apps: CallbackApp[];
  callback: (request: Request, url: URL, candidates: CallbackApp[]) => Promise<Response>;
  /** Prometheus text for `/metrics`; the route is absent without it (the gateway serves it on the operator listener). */
  metrics?: () => string | Promise<string>;
  /** Told of a URL-verification GET (it has `echostr`) on a path that is not a callback path. */
  onStrayVerification?: (pathname: string) => void;
  /**
   * Why the gateway cannot work any more (its KV file was lost), or undefined.
   * While set, callbacks and `/health` answer 503 with the reason, so WeCom
   * retries elsewhere or later and a supervisor sees the failure.
   */
  unavailable?: () => string | undefined;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** Returns a `Deno.serve` handler. */
export function createRouter(deps: RouterDeps): (request: Request) => Promise<Response> {
  const byPath = new Map<string, CallbackApp[]>();
  byPath.set(deps.path, deps.apps);
  for (const app of deps.apps) byPath.set(`${deps.path}/${app.config.name}`, [app]);

  return async (request) => {
    const url = new URL(request.url);
    let pathname = url.pathname;
    if (pathname.length > 1 && pathname.endsWith("/")) pathname = pathname.slice(0, -1);
    const candidates = byPath.get(pathname);
    const down = deps.unavailable?.();
    if (down !== undefined && (candidates || pathname === "/health")) {
      await request.body?.cancel().catch(() => {});
      return new Response(JSON.stringify({ status: "error", reason: down }), {
        status: 503,
        headers: JSON_HEADERS,
      });
    }
    if (candidates) return await deps.callback(request, url, candidates);
    await request.body?.cancel().catch(() => {});
    if (request.method === "GET" && url.searchParams.has("echostr")) {
      deps.onStrayVerification?.(url.pathname);
    }
    if (pathname === "/health" && (request.method === "GET" || request.method === "HEAD")) {
      return new Response(JSON.stringify({ status: "ok" }), { headers: JSON_HEADERS });
    }
    if (pathname === "/metrics" && deps.metrics && request.method === "GET") {
      return new Response(await deps.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response(
      `Not found. The WeCom callback URL of this gateway is ${deps.path}` +
        (deps.apps.length > 1 ? ` (or ${deps.path}/<app name>)` : "") + ".\n",
      { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  };
}
