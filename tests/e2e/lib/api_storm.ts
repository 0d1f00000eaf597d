/**
 * A proxy in front of the simulated WeCom API that turns `message/send`
 * into a storm for as long as a mode is set: WeCom busy (-1), rate limited
 * (45009), HTTP 503, timeouts (the request is answered only after the
 * gateway gave up, and then WeCom still delivers it, as the real API does),
 * slow answers within the timeout, dropped connections, or a random mix.
 * Every other route is passed through untouched.
 *
 * Point the gateway's `api_base` (`WECOM_CALLBACK_API_BASE`) at `url`.
 *
 * @example Usage
 * ```ts ignore
 * import { startApiStorm } from "./api_storm.ts";
 * const storm = startApiStorm(api.url, { requestTimeoutMs: 1000 });
 * storm.set("busy"); // every send answers errcode -1
 * storm.set("mixed", 0.3); // 30 % of sends fail one way or another
 * storm.set("ok");
 * await storm.close();
 * ```
 *
 * @module
 */

import { createSleeps } from "../../../src/simulator/sleeps.ts";

/** What the proxy does to sends. */
export type StormMode =
  | "ok"
  | "busy"
  | "rate_limited"
  | "unavailable"
  | "timeout"
  | "slow"
  | "drop"
  | "mixed";

/** The failure modes `mixed` draws from. */
export const MIXED_FAILURES: readonly StormMode[] = [
  "busy",
  "rate_limited",
  "unavailable",
  "slow",
  "drop",
];

/** Options of {@linkcode startApiStorm}. */
export interface ApiStormOptions {
  /** The gateway's request timeout, ms: `timeout` answers after it, `slow` within it. */
  requestTimeoutMs: number;
  /** Failure modes of `mixed` (default {@linkcode MIXED_FAILURES}). */
  mix?: readonly StormMode[];
  /** How much later than the timeout a `timeout` send lands, ms (default 100–1000). */
  lateMs?: [number, number];
  random?: () => number;
}

/** A running storm proxy. */
export interface ApiStorm {
  url: string;
  /** Sets the mode for the sends from now on; `failRate` is the share of failures in `mixed`. */
  set(mode: StormMode, failRate?: number): void;
  /** Sends seen per applied mode (`ok` for the ones passed through). */
  counts: Record<string, number>;
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1 (ephemeral port) in mode `ok`.
 *
 * @example Usage
 * ```ts ignore
 * const storm = startApiStorm(api.url, { requestTimeoutMs: 1000 });
 * await storm.close();
 * ```
 */
export function startApiStorm(target: string, options: ApiStormOptions): ApiStorm {
  const random = options.random ?? Math.random;
  const mix = options.mix ?? MIXED_FAILURES;
  const [lateMin, lateMax] = options.lateMs ?? [100, 1000];
  let mode: StormMode = "ok";
  let failRate = 0.3;
  let closing = false;
  const { sleep, wakeAll } = createSleeps();
  const counts: Record<string, number> = {};

  const between = (min: number, max: number) => min + random() * (max - min);

  const forward = async (request: Request, url: URL, body: string | null): Promise<Response> => {
    if (closing) return new Response("storm proxy closing", { status: 503 });
    const answer = await fetch(`${target}${url.pathname}${url.search}`, {
      method: request.method,
      headers: { "content-type": request.headers.get("content-type") ?? "application/json" },
      body,
    });
    return new Response(await answer.arrayBuffer(), {
      status: answer.status,
      headers: { "content-type": answer.headers.get("content-type") ?? "application/json" },
    });
  };

  const errcode = (code: number, message: string) =>
    new Response(JSON.stringify({ errcode: code, errmsg: `${message}, hint: [storm]` }), {
      headers: { "content-type": "application/json; charset=UTF-8" },
    });

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: () => new Response("storm proxy error", { status: 500 }),
  }, async (request) => {
    const url = new URL(request.url);
    const body = request.body ? await request.text() : null;
    if (url.pathname !== "/cgi-bin/message/send") return await forward(request, url, body);
    let applied = mode;
    if (applied === "mixed") {
      applied = random() < failRate ? mix[Math.floor(random() * mix.length)] : "ok";
    }
    counts[applied] = (counts[applied] ?? 0) + 1;
    switch (applied) {
      case "busy":
        return errcode(-1, "system busy");
      case "rate_limited":
        return errcode(45009, "api freq out of limit");
      case "unavailable":
        return new Response("<html><body>503 Service Unavailable</body></html>", {
          status: 503,
          headers: { "content-type": "text/html" },
        });
      case "drop":
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.error(new Error("storm proxy dropped the connection"));
            },
          }),
        );
      case "timeout":
        // The gateway gives up first; WeCom still processes the request afterwards.
        await sleep(options.requestTimeoutMs + between(lateMin, lateMax));
        return await forward(request, url, body);
      case "slow":
        await sleep(between(50, options.requestTimeoutMs * 0.6));
        return await forward(request, url, body);
      default:
        return await forward(request, url, body);
    }
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    counts,
    set(next, rate) {
      mode = next;
      if (rate !== undefined) failRate = rate;
    },
    async close() {
      closing = true;
      wakeAll();
      await server.shutdown();
    },
  };
}
