/**
 * Explaining why an HTTP request got no answer, in plain words: connection
 * refused, DNS, TLS, timeout, a blocked port. `fetch` reports all of these as
 * "fetch failed" with the real reason in `error.cause`; this reads both.
 *
 * @example Usage
 * ```ts
 * import { describeFetchFailure } from "./network_error.ts";
 * const failure = describeFetchFailure(
 *   new TypeError("fetch failed", { cause: new Error("tcp connect error: Connection refused") }),
 *   "http://127.0.0.1:8645/wecom/callback",
 * );
 * console.assert(failure.kind === "refused");
 * ```
 *
 * @module
 */

/** What went wrong on the way. */
export type FetchFailureKind = "refused" | "dns" | "tls" | "timeout" | "reset" | "other";

/** A classified failure: its kind, a one-line reason and what to check. */
export interface FetchFailure {
  kind: FetchFailureKind;
  /** The underlying error text (no secrets: callers pass URLs without them). */
  detail: string;
  /** What happened, in plain words. */
  summary: string;
  /** What to check next. */
  advice: string;
}

/** The messages of `error` and its causes, joined. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(" ← ");
}

/**
 * Classifies a failed `fetch` of `url` (timeouts come from `AbortSignal.timeout`).
 *
 * @example Usage
 * ```ts
 * import { describeFetchFailure } from "./network_error.ts";
 * const failure = describeFetchFailure(new DOMException("timed out", "TimeoutError"), "https://x.example/");
 * console.assert(failure.kind === "timeout");
 * ```
 */
export function describeFetchFailure(error: unknown, url: string): FetchFailure {
  const detail = errorText(error);
  let where = url;
  let secure = false;
  try {
    const parsed = new URL(url);
    where = parsed.host;
    secure = parsed.protocol === "https:";
  } catch {
    // keep the text as given
  }
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  if (name === "TimeoutError" || /timed? ?out/i.test(detail)) {
    return {
      kind: "timeout",
      detail,
      summary: `No answer from ${where} in time.`,
      advice: "A firewall or security group may drop the packets, the port may be wrong, or the " +
        "server is not reachable from where this runs.",
    };
  }
  if (/connection refused|ECONNREFUSED|os error 111|os error 61/i.test(detail)) {
    return {
      kind: "refused",
      detail,
      summary: `Connection refused by ${where}: nothing listens on that port.`,
      advice:
        "Check that the server runs, that the port is right, and that a firewall or reverse " +
        "proxy forwards it.",
    };
  }
  if (
    /dns error|lookup address|name or service not known|nodename nor servname|ENOTFOUND/i.test(
      detail,
    )
  ) {
    return {
      kind: "dns",
      detail,
      summary: `The host name of ${where} cannot be resolved (DNS).`,
      advice: "Check the spelling of the host and its DNS record, and this machine's DNS " +
        "settings (/etc/resolv.conf).",
    };
  }
  if (
    /certificate|tls|ssl|handshake|InvalidContentType|corrupt message|UnknownIssuer|peer/i.test(
      detail,
    )
  ) {
    return {
      kind: "tls",
      detail,
      summary: `The TLS (HTTPS) connection to ${where} failed.`,
      advice: secure
        ? "The certificate may be self-signed, expired or for another host name, or the port " +
          "speaks plain HTTP (then use http://). WeCom needs a certificate from a public CA."
        : "Check the URL's scheme (http:// or https://) matches what the port speaks.",
    };
  }
  if (/reset|broken pipe|connection closed|unexpected eof|incomplete/i.test(detail)) {
    return {
      kind: "reset",
      detail,
      summary: `${where} closed the connection without an answer.`,
      advice: "A proxy or firewall in between may cut the connection, or the server crashed " +
        "while answering.",
    };
  }
  return {
    kind: "other",
    detail,
    summary: `The request to ${where} failed.`,
    advice: "Check the URL, the network and any HTTP(S)_PROXY setting.",
  };
}
