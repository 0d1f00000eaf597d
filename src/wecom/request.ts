/**
 * One WeCom API call: send the request with a timeout, read the JSON answer,
 * and turn every kind of failure into a {@linkcode WeComApiError}.
 *
 * Shared by `gettoken`, `message/send`, `message/recall` and `media/upload`
 * (a multipart `form`) so that request, parse and classify are written once.
 * `media/get` answers binary and has its own reader in `./media.ts`, which
 * classifies HTTP and network failures with {@linkcode httpStatusError} and
 * {@linkcode transportError} from here.
 *
 * Redirects: WeCom's API answers in place. A redirect to another origin (a
 * captive portal, an `http://` api_base sent on to `https://`) is never
 * followed, since the URL carries the access token: it is an error of kind
 * `retry` naming both origins ({@linkcode redirectError}).
 *
 * Proxies: Deno's `fetch` honours `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
 * natively, so an egress proxy with a trusted fixed IP (for 60020) needs only
 * those environment variables; nothing here reimplements it.
 *
 * @module
 */

import { NO_ERRCODE, redactUrlSecrets, WeComApiError } from "./errors.ts";
import { guardedFetch, RedirectRefusedError } from "../guarded_fetch.ts";

/** Options of {@linkcode wecomFetchJson}. */
export interface WeComFetchInit {
  /** API name for errors and logs, e.g. `message/send`. */
  api: string;
  /** Defaults to GET without a body, POST with one. */
  method?: "GET" | "POST";
  /** JSON body (serialised here). */
  body?: unknown;
  /** A multipart body instead of JSON (`media/upload`). */
  form?: FormData;
  /** Per-call timeout in milliseconds, covering the answer's body too (default 10 000). */
  timeoutMs?: number;
  /** The fetch to use (tests); defaults to the global one. */
  fetch?: typeof fetch;
}

/** A successful WeCom answer (`errcode` 0 or absent). */
export type WeComAnswer = Record<string, unknown>;

/**
 * Calls a WeCom API and returns its JSON answer when `errcode` is 0.
 *
 * Throws {@linkcode WeComApiError}:
 * - WeCom errcode ≠ 0 → kind from `classifyErrcode`;
 * - HTTP 5xx, 408, 429 → kind `retry`; other non-2xx → `permanent`;
 * - an answer that is not JSON → kind `retry`;
 * - connection failure, dropped connection, timeout → kind `network`.
 *
 * Error messages never contain the access token or secret of the URL.
 *
 * @example Usage
 * ```ts ignore
 * import { wecomFetchJson } from "./request.ts";
 * const answer = await wecomFetchJson(
 *   "https://qyapi.weixin.qq.com/cgi-bin/message/recall?access_token=TOKEN",
 *   { api: "message/recall", body: { msgid: "m1" }, timeoutMs: 5000 },
 * );
 * ```
 */
export async function wecomFetchJson(url: string, init: WeComFetchInit): Promise<WeComAnswer> {
  const { api } = init;
  const timeoutMs = init.timeoutMs ?? 10_000;
  const hasBody = init.body !== undefined;
  let status = 0;
  let text: string;
  try {
    const response = await guardedFetch(url, {
      method: init.method ?? (hasBody || init.form ? "POST" : "GET"),
      headers: hasBody ? { "content-type": "application/json; charset=utf-8" } : undefined,
      body: init.form ?? (hasBody ? JSON.stringify(init.body) : undefined),
      signal: AbortSignal.timeout(timeoutMs),
    }, init);
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (error instanceof RedirectRefusedError) throw redirectError(api, error);
    throw transportError(api, url, error, timeoutMs, status);
  }

  if (status < 200 || status > 299) throw httpStatusError(api, url, status);

  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
    throw new WeComApiError({
      api,
      errcode: NO_ERRCODE,
      errmsg: "answer is not a JSON object",
      httpStatus: status,
      kind: "retry",
      message: `WeCom ${api} answered something that is not a JSON object ` +
        `(${text.length} bytes, HTTP ${status}). A proxy or captive portal may be in the way of ` +
        `${originOf(url)}; the call is retried later.`,
    });
  }
  const record = answer as WeComAnswer;
  const errcode = Number(record.errcode ?? 0);
  if (errcode !== 0) {
    throw new WeComApiError({
      api,
      errcode: Number.isFinite(errcode) ? errcode : NO_ERRCODE,
      errmsg: String(record.errmsg ?? ""),
      httpStatus: status,
    });
  }
  return record;
}

/**
 * The error for a WeCom answer with a non-2xx HTTP status: HTTP 5xx, 408 and
 * 429 are of kind `retry`, any other `permanent`.
 *
 * @example Usage
 * ```ts
 * import { httpStatusError } from "./request.ts";
 * const error = httpStatusError("media/get", "https://qyapi.weixin.qq.com/cgi-bin/media/get", 503);
 * console.assert(error.kind === "retry" && error.httpStatus === 503);
 * ```
 */
export function httpStatusError(api: string, url: string, status: number): WeComApiError {
  const retry = status >= 500 || status === 408 || status === 429;
  return new WeComApiError({
    api,
    errcode: NO_ERRCODE,
    errmsg: `HTTP ${status}`,
    httpStatus: status,
    kind: retry ? "retry" : "permanent",
    message: `WeCom ${api} answered HTTP ${status} instead of a result. ` +
      (retry
        ? "WeCom (or a proxy on the way) is having trouble; the call is retried later."
        : `Check api_base (${originOf(url)}) and any proxy in between.`),
  });
}

/**
 * The error (kind `network`) for a WeCom call that got no usable answer: the
 * connection failed or dropped, or `timeoutMs` passed. `status` is the HTTP
 * status when the failure came while reading the answer, else 0. The message
 * never contains the access token or secret of `url`.
 *
 * @example Usage
 * ```ts
 * import { transportError } from "./request.ts";
 * const timeout = new DOMException("Signal timed out.", "TimeoutError");
 * const error = transportError("media/get", "https://qyapi.weixin.qq.com/x", timeout, 5000, 0);
 * console.assert(error.kind === "network" && error.errmsg === "timeout");
 * ```
 */
export function transportError(
  api: string,
  url: string,
  error: unknown,
  timeoutMs: number,
  status: number,
): WeComApiError {
  const name = error instanceof Error ? error.name : "";
  const detail = redactUrlSecrets(error instanceof Error ? error.message : String(error));
  const during = status ? `while reading its answer (HTTP ${status})` : "before it answered";
  const message = name === "TimeoutError"
    ? `WeCom ${api} timed out after ${timeoutMs} ms ${during}. The call is retried later; ` +
      `a send that timed out may still have been delivered.`
    : `WeCom ${api} failed: no usable answer from ${originOf(url)} ${during} (${detail}). ` +
      "Check the network, DNS and HTTPS_PROXY; the call is retried later.";
  return new WeComApiError({
    api,
    errcode: NO_ERRCODE,
    errmsg: name === "TimeoutError" ? "timeout" : detail,
    httpStatus: status || undefined,
    kind: "network",
    message,
  });
}

/**
 * The error (kind `retry`) for a WeCom call answered with a redirect that was
 * not followed (`../guarded_fetch.ts`): it names the status and both origins,
 * never the URL with its token.
 *
 * @example Usage
 * ```ts
 * import { redirectError } from "./request.ts";
 * import { RedirectRefusedError } from "../guarded_fetch.ts";
 * const refused = new RedirectRefusedError(302, "https://qyapi.weixin.qq.com", "http://portal.test", "cross_origin");
 * const error = redirectError("message/send", refused);
 * console.assert(error.kind === "retry" && error.httpStatus === 302);
 * ```
 */
export function redirectError(api: string, error: RedirectRefusedError): WeComApiError {
  return new WeComApiError({
    api,
    errcode: NO_ERRCODE,
    errmsg: `HTTP ${error.status} redirect to ${error.toOrigin}`,
    httpStatus: error.status,
    kind: "retry",
    message: `WeCom ${api} failed: ${error.message} (check api_base and any proxy in between; ` +
      "the call is retried later).",
  });
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the configured api_base";
  }
}
