/**
 * Servers for the redirect tests: a recording server on 127.0.0.1:0, and a
 * pair of them where the configured one (`api`) redirects every request to
 * another origin (`other`), which must never be reached.
 *
 * @example Usage
 * ```ts ignore
 * import { crossOriginRedirect } from "./redirect.ts";
 * const pair = crossOriginRedirect(307, () => Response.json({ text: "not for you" }));
 * // … point the client at pair.api.origin …
 * assert.deepEqual(pair.other.hits, []);
 * await pair.close();
 * ```
 *
 * @module
 */

/** One request a {@linkcode recordingServer} got. */
export interface Hit {
  method: string;
  /** Path and query. */
  path: string;
  headers: Headers;
  body: string;
}

/** A server on 127.0.0.1:0 (its own origin). */
export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every request, in order. */
  hits: Hit[];
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1:0 that records every request and answers with `answer`.
 *
 * @example Usage
 * ```ts ignore
 * const server = recordingServer(() => new Response("ok"));
 * await fetch(`${server.origin}/a`);
 * console.log(server.hits[0].path); // "/a"
 * await server.close();
 * ```
 */
export function recordingServer(
  answer: (request: Request, url: URL) => Response | Promise<Response>,
): RecordingServer {
  const hits: Hit[] = [];
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    hits.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
      body: await req.text(),
    });
    return await answer(req, url);
  });
  const origin = `http://127.0.0.1:${(http.addr as Deno.NetAddr).port}`;
  return { origin, hits, close: () => http.shutdown() };
}

/**
 * Two recording servers: `api` answers every request with `status` and a
 * `Location` on `other` (the same path and query, or `path` when given);
 * `other` answers with `otherAnswer`.
 *
 * @example Usage
 * ```ts ignore
 * const pair = crossOriginRedirect(302, () => Response.json({ errcode: 0 }));
 * console.log(pair.api.origin, pair.other.origin);
 * await pair.close();
 * ```
 */
export function crossOriginRedirect(
  status: number,
  otherAnswer: () => Response,
  path?: string,
): { api: RecordingServer; other: RecordingServer; close(): Promise<void> } {
  const other = recordingServer(otherAnswer);
  const api = recordingServer((_request, url) =>
    new Response(null, {
      status,
      headers: { location: `${other.origin}${path ?? url.pathname + url.search}` },
    })
  );
  return {
    api,
    other,
    close: async () => {
      await api.close();
      await other.close();
    },
  };
}
