/**
 * WeCom's error answers as the fake gives them: a thrown {@linkcode WeComError}
 * becomes `{errcode, errmsg}` with a WeCom-like errmsg (hint and "more info"
 * link included).
 *
 * @example Usage
 * ```ts ignore
 * import { errorAnswer, WeComError } from "./errors.ts";
 * const response = errorAnswer(new WeComError(40014)); // {"errcode":40014,"errmsg":"invalid access_token, hint: …"}
 * ```
 *
 * @module
 */

const ERRMSG: Record<number, string> = {
  [-1]: "system busy",
  40001: "invalid credential, access_token is invalid or not latest",
  40003: "invalid userid",
  40007: "invalid media_id",
  40008: "invalid message type",
  40013: "invalid corpid",
  40014: "invalid access_token",
  40056: "invalid agentid",
  40058: "invalid parameter",
  41001: "access_token missing",
  41002: "corpid missing",
  41004: "corpsecret missing",
  42001: "access_token expired",
  44004: "empty content",
  45002: "content size out of limit",
  45009: "api freq out of limit",
  45033: "api concurrent out of limit",
  60020: "not allow to access from your ip",
  81013: "user & party & tag all invalid",
  82001: "All touser & toparty & totag invalid",
  301002: "not allow operate another agent with this accesstoken.",
  40004: "invalid media type",
  40006: "invalid file size",
  40009: "invalid image size",
  40011: "invalid video size",
  41005: "media data missing",
  44001: "empty media data",
  45001: "media size out of limit",
  830002: "file too large, please use range to download",
};

/** A WeCom error a route answers with (thrown by the route, answered by the server). */
export class WeComError {
  constructor(readonly errcode: number, readonly errmsg?: string) {}
}

function wecomErrmsg(errcode: number, base = ERRMSG[errcode] ?? "error"): string {
  const hint = `${Math.floor(Date.now() / 1000)}-${crypto.randomUUID().slice(0, 8)}`;
  const from = errcode === 60020 ? ", from ip: 127.0.0.1" : "";
  return `${base}, hint: [${hint}]${from}, more info at ` +
    `https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
}

/** A JSON answer as WeCom sends it. */
export function jsonResponse(value: unknown): Response {
  return new Response(JSON.stringify(value), {
    headers: { "content-type": "application/json; charset=UTF-8" },
  });
}

/** The answer for `error`: its errcode and a WeCom-like errmsg. */
export function errorAnswer(error: WeComError): Response {
  return jsonResponse({
    errcode: error.errcode,
    errmsg: wecomErrmsg(error.errcode, error.errmsg),
  });
}
