/**
 * Outbound `fetch` that never follows a redirect to another origin.
 *
 * Every request the gateway sends on its own (agent webhook, model API, WeCom
 * API, media download and upload, transcription) carries something that must
 * stay where the operator configured it: a secret header (`X-Api-Key`,
 * `Authorization`), an access token, the member's message. `fetch` follows
 * redirects by default and re-sends the method, body and headers of a 307/308
 * to wherever `Location` points; a redirect is therefore handled here instead
 * (`redirect: "manual"`):
 *
 * - a redirect (301, 302, 303, 307, 308 with a `Location`) to **another
 *   origin** (scheme, host or port differs) is never followed: it is a
 *   {@linkcode RedirectRefusedError} naming the status and both origins (never
 *   the full URLs, whose query may carry a token);
 * - a redirect within the **same origin** (e.g. a trailing-slash fix) is
 *   followed, at most {@linkcode MAX_SAME_ORIGIN_REDIRECTS} times, with fetch's
 *   own method rules: 303, and 301/302 after a POST, continue as a GET without
 *   the body; 307/308 repeat the method and body (a stream body cannot be sent
 *   twice and is refused);
 * - any other answer, including a 3xx without `Location`, is returned as is.
 *
 * @example Usage
 * ```ts ignore
 * import { guardedFetch, RedirectRefusedError } from "./guarded_fetch.ts";
 * try {
 *   const response = await guardedFetch("https://agent.example/hook", { method: "POST", body: "{}" });
 * } catch (error) {
 *   if (error instanceof RedirectRefusedError) console.error(error.message);
 * }
 * ```
 *
 * @module
 */

/** Most redirects within the same origin followed for one request. */
export const MAX_SAME_ORIGIN_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Why a redirect was not followed. */
export type RedirectRefusal = "cross_origin" | "too_many" | "stream_body" | "bad_location";

/** A redirect that {@linkcode guardedFetch} did not follow. */
export class RedirectRefusedError extends Error {
  /** The redirect's HTTP status (301, 302, 303, 307 or 308). */
  readonly status: number;
  /** Origin of the URL that answered with the redirect. */
  readonly fromOrigin: string;
  /** Origin the `Location` header points to (`(invalid)` when it is not a URL). */
  readonly toOrigin: string;
  /** Why it was not followed. */
  readonly reason: RedirectRefusal;

  /**
   * Creates the error; the message names the status and both origins only.
   *
   * @example Usage
   * ```ts
   * import { RedirectRefusedError } from "./guarded_fetch.ts";
   * const error = new RedirectRefusedError(307, "http://a.test", "http://b.test", "cross_origin");
   * console.assert(error.message.includes("HTTP 307") && error.message.includes("http://b.test"));
   * ```
   */
  constructor(status: number, fromOrigin: string, toOrigin: string, reason: RedirectRefusal) {
    const why = {
      cross_origin: "a request is never sent on to another origin, " +
        "where its credentials and content would go",
      too_many: `more than ${MAX_SAME_ORIGIN_REDIRECTS} redirects in a row`,
      stream_body: "the request body cannot be sent a second time",
      bad_location: "its Location is not a valid http(s) URL",
    }[reason];
    super(
      `${fromOrigin} answered HTTP ${status}, a redirect to ${toOrigin}, which is not followed: ` +
        `${why}. Configure the final address instead`,
    );
    this.name = "RedirectRefusedError";
    this.status = status;
    this.fromOrigin = fromOrigin;
    this.toOrigin = toOrigin;
    this.reason = reason;
  }
}

/** Options of {@linkcode guardedFetch}. */
export interface GuardedFetchOptions {
  /** The fetch to use (tests); defaults to the global one. */
  fetch?: typeof fetch;
}

/**
 * Sends `init` to `url` like `fetch`, but follows only same-origin redirects
 * (at most {@linkcode MAX_SAME_ORIGIN_REDIRECTS}); throws
 * {@linkcode RedirectRefusedError} for any other redirect.
 *
 * @example Usage
 * ```ts ignore
 * import { guardedFetch } from "./guarded_fetch.ts";
 * const response = await guardedFetch("https://api.example/v1/models", { headers: { authorization: "Bearer k" } });
 * ```
 */
export async function guardedFetch(
  url: string,
  init: RequestInit = {},
  options: GuardedFetchOptions = {},
): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  let target = url;
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers);
  for (let hop = 0;; hop++) {
    const response = await doFetch(target, { ...init, method, headers, body, redirect: "manual" });
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
    await response.body?.cancel().catch(() => {});
    const status = response.status;
    const from = new URL(target);
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw new RedirectRefusedError(status, from.origin, "(invalid)", "bad_location");
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new RedirectRefusedError(status, from.origin, next.protocol, "bad_location");
    }
    if (next.origin !== from.origin) {
      throw new RedirectRefusedError(status, from.origin, next.origin, "cross_origin");
    }
    if (hop >= MAX_SAME_ORIGIN_REDIRECTS) {
      throw new RedirectRefusedError(status, from.origin, next.origin, "too_many");
    }
    if (
      (status === 303 && method !== "HEAD") ||
      ((status === 301 || status === 302) && method === "POST")
    ) {
      method = "GET";
      body = undefined;
      for (
        const name of ["content-type", "content-length", "content-encoding", "content-language"]
      ) {
        headers.delete(name);
      }
    } else if (body instanceof ReadableStream) {
      throw new RedirectRefusedError(status, from.origin, next.origin, "stream_body");
    }
    target = next.href;
  }
}
