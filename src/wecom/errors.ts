/**
 * WeCom API errors: one error class, a classification of errcodes into what the
 * caller should do, and plain-language explanations for the operator.
 *
 * WeCom's `errmsg` carries hints and links that change over time, so decisions
 * are made on the numeric `errcode` only (api-facts §7). The one exception is
 * informational: for 60020 the `from ip: …` part of `errmsg` is quoted because
 * it tells the operator which egress IP WeCom saw.
 *
 * @example Usage
 * ```ts
 * import { classifyErrcode, explainErrcode, WeComApiError } from "./errors.ts";
 * console.assert(classifyErrcode(42001) === "token_invalid");
 * const error = new WeComApiError({ api: "message/send", errcode: 60020, errmsg: "not allow" });
 * console.assert(error.kind === "ip_not_trusted");
 * console.assert(explainErrcode(60020).includes("企业可信IP"));
 * ```
 *
 * @module
 */

/**
 * What a caller should do about a failed call.
 *
 * - `token_invalid`: the access token was revoked or expired; refetch it and retry once.
 * - `retry`: WeCom is busy or rate limiting (-1, 45009, 45033) or answered HTTP 5xx/429; retry later.
 * - `credentials`: corp id or secret is wrong (gettoken refuses); fix the configuration.
 * - `ip_not_trusted`: 60020, the server's egress IP is not in the app's trusted IPs.
 * - `permanent`: the request itself is wrong (bad user, bad agent id, too long, …); retrying won't help.
 * - `network`: no answer from WeCom (connection failed, dropped, timed out). For `message/send`
 *   the message may still have been delivered: retry with the duplicate check on.
 */
export type WeComErrorKind =
  | "token_invalid"
  | "retry"
  | "credentials"
  | "ip_not_trusted"
  | "permanent"
  | "network";

/**
 * The `errcode` of a failure that did not come from WeCom: the network, a
 * timeout, an HTTP status, an unreadable answer, or a request refused before
 * it was sent. Not a WeCom errcode.
 */
export const NO_ERRCODE = -2;

/** Errcodes meaning the access token is no longer usable: refetch and retry once. */
export const TOKEN_INVALID_ERRCODES: ReadonlySet<number> = new Set([40014, 42001, 41001]);

/** Errcodes meaning WeCom is busy or rate limiting: retry later with back-off. */
export const RETRY_ERRCODES: ReadonlySet<number> = new Set([-1, 45009, 45033]);

/**
 * Errcodes of `gettoken` meaning the configured corp id or secret is wrong.
 * Repeating such calls gets the server's IP banned for an hour, so the token
 * cache stops calling `gettoken` after one of these.
 */
export const CREDENTIAL_ERRCODES: ReadonlySet<number> = new Set([
  40001,
  40013,
  40091,
  41002,
  41004,
]);

/** The trusted-IP errcode. */
export const IP_NOT_TRUSTED_ERRCODE = 60020;

/**
 * Classifies a non-zero WeCom errcode by what the caller should do.
 *
 * @example Usage
 * ```ts
 * import { classifyErrcode } from "./errors.ts";
 * console.assert(classifyErrcode(-1) === "retry");
 * console.assert(classifyErrcode(40001) === "credentials");
 * console.assert(classifyErrcode(81013) === "permanent");
 * ```
 */
export function classifyErrcode(errcode: number): WeComErrorKind {
  if (TOKEN_INVALID_ERRCODES.has(errcode)) return "token_invalid";
  if (RETRY_ERRCODES.has(errcode)) return "retry";
  if (CREDENTIAL_ERRCODES.has(errcode)) return "credentials";
  if (errcode === IP_NOT_TRUSTED_ERRCODE) return "ip_not_trusted";
  return "permanent";
}

const EXPLANATIONS: Record<number, string> = {
  [-1]: "WeCom is busy (系统繁忙). The call is retried later with back-off.",
  40001:
    "WeCom refused the app's secret (corp_secret): it is wrong, was reset in the admin console, " +
    "or the app is disabled. Copy the current Secret from 应用管理 → the app → Secret into corp_secret " +
    "(and check that the app is enabled). gettoken is not called again until the secret changes or " +
    "an hour passes, because repeated wrong secrets get this server's IP banned by WeCom for an hour.",
  40013: "WeCom does not know this corp_id. Copy the CorpID (企业ID, starts with ww or wx) from " +
    "我的企业 → 企业信息 in the admin console into corp_id. gettoken is not called again until the " +
    "configuration changes or an hour passes.",
  40091:
    "WeCom says the secret is malformed. Copy the app's Secret again into corp_secret, without " +
    "spaces or quotes.",
  41002: "The corp_id is empty. Set corp_id (WECOM_CALLBACK_CORP_ID) to your CorpID.",
  41004:
    "The corp_secret is empty. Set corp_secret (WECOM_CALLBACK_CORP_SECRET) to the app's Secret.",
  40014:
    "WeCom rejected the access token (revoked early). It is refetched once and the call retried.",
  42001: "The access token expired. It is refetched once and the call retried.",
  41001:
    "The access token was missing from the request. It is refetched once and the call retried.",
  40056:
    "WeCom does not accept this agent_id. Copy the AgentId of the app (应用管理 → the app) into " +
    "agent_id.",
  301002:
    "The access token belongs to another app than agent_id: corp_secret and agent_id must come " +
    "from the same app. Check both in 应用管理 → the app.",
  60020:
    "WeCom refused the call because it came from an IP address that is not trusted: add this " +
    "server's egress IP to the app's 企业可信IP (trusted IPs) in the admin console (应用管理 → the " +
    "app → 企业可信IP); it takes about a minute to apply.",
  60011:
    "The member is outside the app's visible range (可见范围), or the app lacks permission for " +
    "them. Add the member (or their department) to the app's visible range.",
  81013:
    "No valid recipient: the user id is unknown or outside the app's visible range. Check the " +
    "user id and the app's visible range (可见范围).",
  40003: "WeCom does not know this user id. Check the user id and the app's visible range.",
  45009: "WeCom's call-frequency limit was hit. The call is retried later with back-off.",
  45033: "Too many concurrent calls to WeCom. The call is retried later with back-off.",
  44004: "The text message was empty. WeCom does not send empty text messages.",
  45002: "The message is longer than WeCom allows (text and markdown: 2048 UTF-8 bytes). Split it.",
  48002:
    "The app has no permission for this API (for example, the app is not allowed to send to this " +
    "target). Check the app's permissions in the admin console.",
  40058: "WeCom rejected a parameter: malformed request, a value out of range, or a recall of a " +
    "message sent by another app or older than 24 hours.",
  40004: "WeCom refused the media type: images must be JPG or PNG, voice AMR, video MP4; " +
    "anything else must be uploaded as a file.",
  40006: "WeCom refused the file's size (voice at most 2 MB, files at most 20 MB, all more than " +
    "5 bytes).",
  40007: "The media_id is unknown or expired (media ids live 3 days): upload the file again.",
  40009: "WeCom refused the image's size: images must be at most 10 MB.",
  40011: "WeCom refused the video's size: videos must be at most 10 MB.",
  44001: "The uploaded media file was empty (WeCom needs more than 5 bytes).",
  45001: "The media file is larger than WeCom allows (image 10 MB, voice 2 MB, video 10 MB, " +
    "file 20 MB).",
  830002: "The media file is too large for one media/get call: it is downloaded in Range parts.",
};

/**
 * Explains an errcode in plain language: what happened and what to do next.
 *
 * @example Usage
 * ```ts
 * import { explainErrcode } from "./errors.ts";
 * console.assert(explainErrcode(40001).includes("corp_secret"));
 * ```
 */
export function explainErrcode(errcode: number): string {
  return EXPLANATIONS[errcode] ??
    `WeCom answered errcode ${errcode}. Look it up at ` +
      `https://open.work.weixin.qq.com/devtool/query?e=${errcode}.`;
}

/**
 * Removes access tokens and secrets from a text that may contain a request URL
 * (fetch errors quote the URL they failed on).
 *
 * @example Usage
 * ```ts
 * import { redactUrlSecrets } from "./errors.ts";
 * const text = redactUrlSecrets("GET /cgi-bin/message/send?access_token=abc&x=1");
 * console.assert(text === "GET /cgi-bin/message/send?access_token=[redacted]&x=1");
 * ```
 */
export function redactUrlSecrets(text: string): string {
  return text.replace(/((?:access_token|corpsecret)=)[^&\s)"'#]*/gi, "$1[redacted]");
}

/**
 * The IP address WeCom quotes in a 60020 errmsg (`from ip: 1.2.3.4`): the
 * address WeCom saw our request come from, the one to add as a trusted IP.
 *
 * @example Usage
 * ```ts
 * import { quotedIp } from "./errors.ts";
 * console.assert(quotedIp("not allow to access from your ip, from ip: 203.0.113.7") === "203.0.113.7");
 * ```
 */
export function quotedIp(text: string): string | undefined {
  return /from ip:\s*([0-9a-f.:]+)/i.exec(text)?.[1];
}

/** Fields of a {@linkcode WeComApiError}. */
export interface WeComApiErrorInit {
  /** API name, e.g. `gettoken`, `message/send`. */
  api: string;
  errcode: number;
  errmsg: string;
  httpStatus?: number;
  /** Defaults to {@linkcode classifyErrcode}(errcode). */
  kind?: WeComErrorKind;
  /** Overrides the default message (explanation of the errcode). */
  message?: string;
}

/**
 * A failed WeCom API call.
 *
 * @example Usage
 * ```ts
 * import { WeComApiError } from "./errors.ts";
 * const error = new WeComApiError({ api: "message/send", errcode: -1, errmsg: "system busy" });
 * console.assert(error.retryable);
 * ```
 */
export class WeComApiError extends Error {
  /** API name, e.g. `gettoken`, `message/send`, `message/recall`. */
  api: string;
  /** WeCom's errcode, or {@linkcode NO_ERRCODE} when WeCom gave none. */
  errcode: number;
  /** WeCom's errmsg (informational only), or a description of the transport failure. */
  errmsg: string;
  /** HTTP status when the failure was an HTTP status. */
  httpStatus?: number;
  /** What to do about it. */
  kind: WeComErrorKind;

  constructor(init: WeComApiErrorInit) {
    const kind = init.kind ?? classifyErrcode(init.errcode);
    super(redactUrlSecrets(init.message ?? defaultMessage(init, kind)));
    this.name = "WeComApiError";
    this.api = init.api;
    this.errcode = init.errcode;
    this.errmsg = redactUrlSecrets(init.errmsg);
    this.httpStatus = init.httpStatus;
    this.kind = kind;
  }

  /** True when the same call may succeed later (busy, rate limited, network, token refetch). */
  get retryable(): boolean {
    return this.kind === "retry" || this.kind === "network" || this.kind === "token_invalid";
  }
}

function defaultMessage(init: WeComApiErrorInit, kind: WeComErrorKind): string {
  let text = `WeCom ${init.api} failed with errcode ${init.errcode}: ${
    explainErrcode(init.errcode)
  }`;
  if (kind === "ip_not_trusted") {
    const ip = quotedIp(init.errmsg);
    if (ip) text += ` WeCom saw this server's IP as ${ip}.`;
  }
  return text;
}
