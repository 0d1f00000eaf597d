/**
 * WeCom's URL-verification handshake, performed against a callback URL and
 * diagnosed in plain words.
 *
 * When an admin clicks 保存 on an app's "receive messages" settings, WeCom
 * sends `GET <url>?msg_signature&timestamp&nonce&echostr` and saves the URL
 * only if, within 1 second, the answer is HTTP 200 whose body is exactly the
 * decrypted echostr: no quotes, no BOM, no newline. This module sends the same
 * request and says why an answer would fail: not reachable (refused, timeout,
 * DNS), TLS, wrong path (404), token or key mismatch (403), a body that is not
 * the bare plaintext (quotes, newline, BOM, JSON, HTML: another program
 * answered), or too slow.
 *
 * @example Usage
 * ```ts ignore
 * import { importAppCrypto } from "../crypto/mod.ts";
 * import { verifyCallbackUrl } from "./url_verification.ts";
 * const app = await importAppCrypto(aesKey, token, corpId);
 * const report = await verifyCallbackUrl(app, "https://gw.example.com/wecom/callback");
 * console.log(report.ok ? "will save" : report.explanation);
 * ```
 *
 * @module
 */

import type { AppCrypto } from "../crypto/mod.ts";
import { sealVerification } from "../simulator/seal.ts";
import { describeFetchFailure } from "./network_error.ts";

/** WeCom's deadline for the verification answer, ms. */
export const WECOM_VERIFY_DEADLINE_MS = 1000;

/** The outcome, one code per diagnosis. */
export type VerificationOutcome =
  | "ok"
  | "slow"
  | "refused"
  | "dns"
  | "tls"
  | "timeout"
  | "reset"
  | "network"
  | "redirect"
  | "not_found"
  | "forbidden"
  | "bad_request"
  | "method_not_allowed"
  | "server_error"
  | "unexpected_status"
  | "bom"
  | "quotes"
  | "newline"
  | "whitespace"
  | "json"
  | "html"
  | "empty"
  | "still_encrypted"
  | "extra_content"
  | "wrong_body";

/** What the handshake showed. */
export interface VerificationReport {
  ok: boolean;
  outcome: VerificationOutcome;
  /** HTTP status, when an answer came. */
  status?: number;
  /** From sending the request to the end of the body, ms. */
  elapsedMs: number;
  /** The body as received (at most 200 characters), JSON-quoted so escapes show. */
  bodyPreview?: string;
  /** What happened and what to do, in plain words. */
  explanation: string;
}

/** Options of {@linkcode verifyCallbackUrl}. */
export interface VerifyOptions {
  /** Give up after this long, ms (default 5000). */
  timeoutMs?: number;
  /** An answer slower than this fails as WeCom's does, ms (default 1000). */
  deadlineMs?: number;
  /** The gateway's configured callback path, to name it when the answer is 404. */
  configuredPath?: string;
  /** The plaintext to send (default: 19 random digits, as WeCom sends). */
  echo?: string;
  fetch?: typeof fetch;
}

function randomEcho(): string {
  const digits = crypto.getRandomValues(new Uint8Array(19));
  return (1 + (digits[0] % 9)).toString() +
    Array.from(digits.subarray(1), (d) => String(d % 10)).join("");
}

function preview(text: string): string {
  return JSON.stringify(text.length > 200 ? text.slice(0, 200) + "…" : text);
}

function firstLine(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > 200 ? line.slice(0, 200) + "…" : line;
}

/** Diagnoses a 200 answer whose body is not exactly `echo`. */
function diagnoseBody(
  bytes: Uint8Array,
  echo: string,
  encrypted: string,
  contentType: string,
): { outcome: VerificationOutcome; explanation: string } {
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  const anotherApp = "Another program answered instead of the gateway (a reverse proxy's default " +
    "page, a web framework's UI, or another service on this path): route this URL to the " +
    "gateway's callback path.";
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return {
      outcome: "bom",
      explanation: "The body starts with a UTF-8 byte-order mark (BOM) before the plaintext. " +
        "WeCom requires the bare plaintext without a BOM: the program answering adds one " +
        "(often a source file or template saved 'UTF-8 with BOM').",
    };
  }
  const trimmed = text.trim();
  if (trimmed === echo) {
    return /[\r\n]/.test(text)
      ? {
        outcome: "newline",
        explanation: "The body is the plaintext followed (or preceded) by a newline. WeCom " +
          "requires the bare plaintext without a newline: the program answering adds one " +
          "(e.g. println, echo, or a template's trailing line).",
      }
      : {
        outcome: "whitespace",
        explanation: "The body is the plaintext with spaces around it. WeCom requires exactly " +
          "the plaintext, nothing around it.",
      };
  }
  if (trimmed === `"${echo}"` || trimmed === `'${echo}'`) {
    return {
      outcome: "quotes",
      explanation: "The body is the plaintext in quotes. WeCom requires it without quotes: the " +
        "program answering serialises the string as JSON (e.g. returns a string from a JSON " +
        "API framework); answer text/plain with the bare value.",
    };
  }
  if (/^[{[]/.test(trimmed) || contentType.includes("json")) {
    return {
      outcome: "json",
      explanation: "The body is JSON" +
        (text.includes(echo) ? " that contains the plaintext" : "") +
        ". WeCom requires the bare plaintext. " +
        (text.includes(echo)
          ? "The program answering wraps it in JSON; answer text/plain with the bare value."
          : anotherApp),
    };
  }
  if (/<(!doctype|html|head|body|title)\b/i.test(trimmed) || contentType.includes("html")) {
    return { outcome: "html", explanation: `The body is an HTML page. ${anotherApp}` };
  }
  if (text === "") {
    return {
      outcome: "empty",
      explanation: "The answer is HTTP 200 with an empty body. WeCom requires the decrypted " +
        "echostr as the body. " + anotherApp,
    };
  }
  if (trimmed === encrypted || trimmed === encodeURIComponent(encrypted)) {
    return {
      outcome: "still_encrypted",
      explanation: "The body is the echostr exactly as sent, still encrypted. WeCom requires " +
        "it decrypted: the program answering echoes the parameter without decrypting it.",
    };
  }
  if (text.includes(echo)) {
    return {
      outcome: "extra_content",
      explanation: "The body contains the plaintext with other text around it. WeCom requires " +
        "exactly the plaintext, nothing else.",
    };
  }
  return {
    outcome: "wrong_body",
    explanation: "The body is not the decrypted echostr. Either another program answered, or " +
      "the server decrypted with another EncodingAESKey than this configuration's. " + anotherApp,
  };
}

function statusExplanation(
  status: number,
  body: string,
  url: URL,
  configuredPath: string | undefined,
  location: string | null,
): { outcome: VerificationOutcome; explanation: string } {
  const said = body.trim() ? ` The server said: ${preview(firstLine(body))}.` : "";
  const ours = body.startsWith("Not found. The WeCom callback URL of this gateway is");
  if (status >= 300 && status < 400) {
    return {
      outcome: "redirect",
      explanation: `The URL redirects (HTTP ${status}) to ${location ?? "another address"}. ` +
        "WeCom does not follow redirects: enter the final URL in the admin console (e.g. " +
        "https:// instead of http://, or with/without a trailing slash).",
    };
  }
  if (status === 404) {
    const path = configuredPath
      ? `The gateway's callback path is ${configuredPath} (and ${configuredPath}/<app name> ` +
        "per app)"
      : "The gateway's default callback path is /wecom/callback";
    return {
      outcome: "not_found",
      explanation: `Nothing answers at the path ${url.pathname} (HTTP 404). ${path}: use it in ` +
        "the URL" +
        (ours
          ? ". The gateway itself answered, so host and port are right."
          : ", and check that a reverse proxy in front forwards that path to the gateway.") +
        said,
    };
  }
  if (status === 403) {
    return {
      outcome: "forbidden",
      explanation: "The server refused the signature or could not decrypt the echostr (HTTP " +
        "403): the Token and EncodingAESKey (and CorpID) it runs with differ from this " +
        "configuration's. The admin console (应用管理 → the app → 接收消息 → 设置API接收) " +
        "must hold exactly the gateway's token and encoding_aes_key; restart the gateway after " +
        "changing its configuration, and check the server's clock if it mentions the " +
        `timestamp.${said}`,
    };
  }
  if (status === 400) {
    return {
      outcome: "bad_request",
      explanation: "The server rejected the request as malformed (HTTP 400). A proxy in front " +
        "may drop or rewrite the query string (msg_signature, timestamp, nonce, echostr), or " +
        `another program answered.${said}`,
    };
  }
  if (status === 405) {
    return {
      outcome: "method_not_allowed",
      explanation: "The server does not accept GET on this URL (HTTP 405): another program " +
        `answered, or a proxy allows POST only. WeCom verifies with GET.${said}`,
    };
  }
  if (status >= 500) {
    return {
      outcome: "server_error",
      explanation: `The server failed (HTTP ${status}). From a reverse proxy, 502/503/504 ` +
        "usually mean the gateway behind it is not running or not reachable from the proxy " +
        `(wrong upstream port).${said}`,
    };
  }
  return {
    outcome: "unexpected_status",
    explanation: `The server answered HTTP ${status}; WeCom requires 200 with the plaintext.` +
      said,
  };
}

/**
 * Performs WeCom's URL verification against `url` with `app`'s Token and
 * EncodingAESKey and diagnoses the answer.
 *
 * @example Usage
 * ```ts ignore
 * import { verifyCallbackUrl } from "./url_verification.ts";
 * const report = await verifyCallbackUrl(app, "http://127.0.0.1:8645/wecom/callback", {
 *   configuredPath: "/wecom/callback",
 * });
 * console.log(report.outcome, report.explanation);
 * ```
 */
export async function verifyCallbackUrl(
  app: AppCrypto,
  url: string,
  options: VerifyOptions = {},
): Promise<VerificationReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadlineMs = options.deadlineMs ?? WECOM_VERIFY_DEADLINE_MS;
  const echo = options.echo ?? randomEcho();
  const query = await sealVerification(app, echo);
  const encrypted = decodeURIComponent(/(?:^|&)echostr=([^&]*)/.exec(query)![1]);
  const target = new URL(url);
  const full = `${target.origin}${target.pathname}?${
    target.search ? target.search.slice(1) + "&" : ""
  }${query}`;
  const doFetch = options.fetch ?? fetch;

  const started = performance.now();
  let response: Response;
  let bytes: Uint8Array;
  try {
    response = await doFetch(full, {
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    const elapsedMs = Math.round(performance.now() - started);
    const failure = describeFetchFailure(error, url);
    const kind = failure.kind === "other" ? "network" : failure.kind;
    const summary = kind === "timeout"
      ? failure.summary.replace(/\.$/, ` (waited ${timeoutMs} ms; WeCom waits 1 s).`)
      : failure.summary;
    return {
      ok: false,
      outcome: kind,
      elapsedMs,
      explanation: `${summary} ${failure.advice} WeCom must reach this URL from ` +
        "the internet: open the port in the firewall or security group, or put the gateway " +
        `behind a reverse proxy with a public address. (${failure.detail})`,
    };
  }
  const elapsedMs = Math.round(performance.now() - started);
  const status = response.status;
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  const bodyPreview = preview(text);

  if (status !== 200) {
    const { outcome, explanation } = statusExplanation(
      status,
      text,
      target,
      options.configuredPath,
      response.headers.get("location"),
    );
    return { ok: false, outcome, status, elapsedMs, bodyPreview, explanation };
  }
  if (text !== echo || bytes[0] === 0xef) {
    const { outcome, explanation } = diagnoseBody(
      bytes,
      echo,
      encrypted,
      response.headers.get("content-type") ?? "",
    );
    return { ok: false, outcome, status, elapsedMs, bodyPreview, explanation };
  }
  if (elapsedMs > deadlineMs) {
    return {
      ok: false,
      outcome: "slow",
      status,
      elapsedMs,
      bodyPreview,
      explanation: `The answer is right but took ${elapsedMs} ms; WeCom gives up after ` +
        `${deadlineMs} ms and refuses to save the URL. Make the path to the gateway faster ` +
        "(a slow proxy or tunnel, a server far away, a cold start) and try again.",
    };
  }
  return {
    ok: true,
    outcome: "ok",
    status,
    elapsedMs,
    bodyPreview,
    explanation: `The URL answers WeCom's verification correctly in ${elapsedMs} ms (limit ` +
      `${deadlineMs} ms): saving it in the admin console will work, provided WeCom can reach ` +
      "this address from the internet.",
  };
}
