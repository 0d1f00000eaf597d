/**
 * A simulated WeCom API server (used by tests, the demo and the simulator), following the documented behaviour
 * (WeCom API facts §5–§8). Started on 127.0.0.1, port 0.
 *
 * Routes (one entry each in `ROUTES`):
 * - `GET /cgi-bin/gettoken?corpid&corpsecret`: 41002 / 41004 missing, 40013
 *   unknown corp, 40001 wrong secret; else a new random token valid
 *   `tokenTtlSeconds` (older tokens stay valid until their own expiry).
 * - `POST /cgi-bin/message/send?access_token`: 41001 missing token, 40014
 *   unknown or revoked, 42001 expired; 40058 body not JSON; 40056 agentid
 *   missing, 301002 agentid of another app; 82001 no touser; 40008 unknown
 *   msgtype; 44004 empty text/markdown; 40007 no media_id. With `users` set,
 *   unknown members are listed in `invaliduser`, and 81013 when all are unknown.
 *   Text and markdown over 2048 UTF-8 bytes: by default (`oversize:
 *   "truncate"`, WeCom's documented behaviour for text) the message is delivered
 *   cut at 2048 bytes with `truncated: true`; with `oversize: "reject"` it is
 *   refused with 45002.
 *   Per app and member, more than 30 deliveries in 60 s or 1000 in an hour:
 *   answered errcode 0 with a msgid but not delivered (recorded in
 *   `state.dropped`), as WeCom drops the excess silently. Only delivered
 *   messages count towards the windows.
 *   `enable_duplicate_check: 1`: WeCom documents "在一定时间间隔内，同样内容（请求json）
 *   的消息，不会重复收到" (api-facts §6a), so a request whose whole JSON equals
 *   that of a message delivered within `duplicate_check_interval` (default
 *   1800 s, at most 4 h) is answered errcode 0 with the original msgid and not
 *   delivered again (recorded in `state.duplicatesSuppressed`). The same
 *   request JSON means the earlier one carried the same two duplicate-check
 *   fields: a copy sent without them is no original. `duplicateCheck:
 *   "content"` takes the other reading of the same sentence (the message
 *   alone, the two fields aside, against any delivered message) for tests
 *   that must hold under both.
 * - `POST /cgi-bin/message/recall?access_token`: 0 when the msgid is known, sent
 *   by the same app, not yet recalled and at most 24 h old; else 40058 (WeCom's
 *   code for a recall by another app; its code for an unknown msgid is not
 *   documented, so the fake uses 40058 with a different errmsg). A recalled
 *   message stays in `delivered` with `recalled: true`.
 * - `POST /cgi-bin/media/upload?access_token&type`: multipart/form-data with
 *   the file in field `media` (file name and content type kept). 40004 for a
 *   type other than image/voice/video/file, or an image that is not JPG/PNG,
 *   voice that is not AMR, video that is not MP4 (judged by the bytes, as
 *   WeCom does); 41005 no `media` field; 44001 for 5 bytes or fewer; over the
 *   limits (image 10 MB → 40009, video 10 MB → 40011, voice 2 MB → 40006,
 *   file 20 MB → 45001). Answers `{type, media_id, created_at}`; uploads are
 *   kept in `state.media` (see `uploads()`).
 * - `GET /cgi-bin/media/get?access_token&media_id`: the file (binary, its
 *   content type, `Content-Disposition: attachment; filename="…"`) for uploaded
 *   media and media registered with `addMedia()` (what users send); 40007
 *   JSON for an unknown or expired (3 days) id. Honours `Range: bytes=a-b`
 *   (206 with `Content-Range`); a file over `mediaGetMaxBytes` without a
 *   `Range` header answers 830002, as WeCom does for large files.
 *
 * Injected behaviours (`inject`) are consumed in order, per API (then from the
 * `"any"` queue), after the request is recorded in `received` and before normal
 * handling:
 * - `{ errcode }`: that errcode with a WeCom-like errmsg;
 * - `{ httpStatus }`: that HTTP status with a non-JSON body;
 * - `{ delayMs }`: wait, then handle normally: a send the client gave up on is
 *   still delivered, as with the real API;
 * - `"drop-connection"`: HTTP 200 headers, then the connection breaks before a
 *   body arrives; nothing is handled.
 *
 * @example Usage
 * ```ts ignore
 * import { fakeAppConfig, startFakeWeComApi } from "./wecom_api.ts";
 * const api = startFakeWeComApi();
 * const app = fakeAppConfig(api.url);
 * api.inject("send", [{ errcode: -1 }]);
 * // … run the client against app …
 * await api.close();
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { createSleeps } from "./sleeps.ts";

/** One app the fake knows. */
export interface FakeApp {
  corpId: string;
  corpSecret: string;
  agentId: string;
}

/** The app the fake knows when `apps` is not given. */
export const FAKE_APP: FakeApp = {
  corpId: "wwfake0000000001",
  corpSecret: "fake-secret-0123456789abcdefghijklmnopqrstu",
  agentId: "1000002",
};

/**
 * An `AppConfig` pointing at the fake (the callback token and AES key are
 * placeholders of the right shape).
 *
 * @example Usage
 * ```ts ignore
 * const app = fakeAppConfig(api.url, { corpSecret: "wrong" });
 * ```
 */
export function fakeAppConfig(
  url: string,
  overrides: Partial<AppConfig> = {},
  fake: FakeApp = FAKE_APP,
): AppConfig {
  return {
    name: "default",
    corpId: fake.corpId,
    corpSecret: fake.corpSecret,
    agentId: fake.agentId,
    token: "faketoken0123456789",
    encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    apiBase: url,
    ...overrides,
  };
}

/** API names used by `inject` and in `received`. */
export type FakeApiName = "gettoken" | "send" | "recall" | "upload" | "media";

/** One injected behaviour. */
export type FakeBehaviour =
  | { errcode: number; errmsg?: string }
  | { httpStatus: number }
  | { delayMs: number }
  | "drop-connection";

/** Options of {@linkcode startFakeWeComApi}. */
export interface FakeWeComOptions {
  apps?: FakeApp[];
  /** Lifetime of issued tokens (default 7200). */
  tokenTtlSeconds?: number;
  /** Clock (epoch ms) for token expiry, rate windows, duplicate checks and recall age. */
  now?: () => number;
  /** Known members; when set, any other touser is invalid (81013 when none is valid). */
  users?: string[];
  /** Text/markdown over 2048 bytes: deliver cut with a flag (default) or refuse with 45002. */
  oversize?: "truncate" | "reject";
  /**
   * What `enable_duplicate_check` compares: the whole request JSON (default,
   * WeCom's "同样内容（请求json）") or the message without the two duplicate-check
   * fields, against any delivered message (`content`).
   */
  duplicateCheck?: "request" | "content";
  /** Deliveries per app and member per 60 s before silent drops (default 30). */
  perMinute?: number;
  /** Deliveries per app and member per hour before silent drops (default 1000). */
  perHour?: number;
  /** media/get of a larger file without `Range` answers 830002 (default 20 MB). */
  mediaGetMaxBytes?: number;
}

/** A media file the fake holds: uploaded through media/upload or registered by a test. */
export interface FakeMedia {
  mediaId: string;
  type: "image" | "voice" | "video" | "file";
  bytes: Uint8Array;
  filename: string;
  contentType: string;
  /** Epoch ms (the fake's clock); the id expires 3 days later. */
  at: number;
  source: "upload" | "registered";
  /** Agent id of the uploading app (uploads only). */
  agentId?: string;
}

/** One request the fake received. */
export interface FakeRequest {
  api: FakeApiName | "unknown";
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body, the raw text when it is not JSON, or undefined. */
  body: unknown;
  /** Agent id of the app the request was for (matched credentials or token), if known. */
  agentId?: string;
  at: number;
}

/** A message to one member, as the fake processed it. */
export interface FakeMessage {
  msgid: string;
  corpId: string;
  agentId: string;
  /** One member (a multi-member send is recorded once per member). */
  touser: string;
  msgtype: string;
  /** The `<msgtype>` object as delivered (content cut when truncated). */
  payload: Record<string, unknown>;
  /** The whole request body. */
  body: Record<string, unknown>;
  at: number;
  truncated: boolean;
  recalled: boolean;
  recalledAt?: number;
}

interface IssuedToken {
  app: FakeApp;
  expiresAt: number;
  revoked: boolean;
}

/** Everything the fake remembers; tests read and may adjust it. */
export interface FakeState {
  apps: FakeApp[];
  tokens: Map<string, IssuedToken>;
  /** Known members, or null for "everyone is valid". */
  users: Set<string> | null;
  oversize: "truncate" | "reject";
  delivered: FakeMessage[];
  /** Answered errcode 0 but dropped by the per-member limits. */
  dropped: FakeMessage[];
  /** Answered errcode 0 but suppressed by `enable_duplicate_check`. */
  duplicatesSuppressed: FakeMessage[];
  recalls: Array<{ msgid: string; agentId: string; at: number }>;
  /** Media by id: uploads and registered files. */
  media: Map<string, FakeMedia>;
}

/** A running fake. */
export interface FakeWeComApi {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use as `apiBase`). */
  url: string;
  state: FakeState;
  received: FakeRequest[];
  inject(api: FakeApiName | "any", behaviours: FakeBehaviour[]): void;
  /** Delivered messages (including recalled ones), optionally for one member. */
  delivered(userId?: string): FakeMessage[];
  /** gettoken requests received, optionally only those with the credentials of `agentId`'s app. */
  gettokenCalls(agentId?: string): number;
  /** Revokes every issued token: the next use answers 40014. */
  revokeTokens(): void;
  /** Expires every issued token: the next use answers 42001. */
  expireTokens(): void;
  /**
   * Registers a file as WeCom holds what a user sent (image, voice, video) and
   * returns its media id for the callback's `MediaId`.
   */
  addMedia(
    bytes: Uint8Array,
    options?: { filename?: string; contentType?: string; type?: FakeMedia["type"] },
  ): string;
  /** Files uploaded through media/upload, oldest first. */
  uploads(): FakeMedia[];
  close(): Promise<void>;
}

const MAX_CONTENT_BYTES = 2048;

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

const MB = 1024 * 1024;

/** WeCom's media/upload limits (api-facts §6b). */
const UPLOAD_LIMITS: Record<FakeMedia["type"], { maxBytes: number; errcode: number }> = {
  image: { maxBytes: 10 * MB, errcode: 40009 },
  voice: { maxBytes: 2 * MB, errcode: 40006 },
  video: { maxBytes: 10 * MB, errcode: 40011 },
  file: { maxBytes: 20 * MB, errcode: 45001 },
};

const MEDIA_TTL_MS = 3 * 24 * 3_600_000;

/** The format WeCom requires of a media type, judged by the file's first bytes. */
function formatFits(type: FakeMedia["type"], bytes: Uint8Array): boolean {
  const starts = (...values: number[]) => values.every((value, i) => bytes[i] === value);
  switch (type) {
    case "image":
      return starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47);
    case "voice":
      return new TextDecoder().decode(bytes.subarray(0, 6)) === "#!AMR\n";
    case "video":
      return new TextDecoder().decode(bytes.subarray(4, 8)) === "ftyp";
    default:
      return true;
  }
}

function wecomErrmsg(errcode: number, base = ERRMSG[errcode] ?? "error"): string {
  const hint = `${Math.floor(Date.now() / 1000)}-${crypto.randomUUID().slice(0, 8)}`;
  const from = errcode === 60020 ? ", from ip: 127.0.0.1" : "";
  return `${base}, hint: [${hint}]${from}, more info at ` +
    `https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
}

/** A JSON answer or a raw Response from a route handler. */
type RouteResult =
  | Record<string, unknown>
  | Response
  | Promise<Record<string, unknown> | Response>;

interface RouteContext {
  query: Record<string, string>;
  /** The parsed JSON body (routes with `body: "json"`). */
  json: Record<string, unknown>;
  /** The form (routes with `body: "multipart"`). */
  form?: FormData;
  /** The `Range` header, if any. */
  range: string | null;
  /** The app of the access token (routes with `auth: true`). */
  app: FakeApp;
  request: FakeRequest;
  now: number;
}

interface Route {
  api: FakeApiName;
  method: "GET" | "POST";
  /** Needs a valid `access_token`. */
  auth: boolean;
  body: "json" | "none" | "multipart";
  handle(ctx: RouteContext): RouteResult;
}

class WeComError {
  constructor(readonly errcode: number, readonly errmsg?: string) {}
}

function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  let end = maxBytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not split a character
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * What a duplicate check compares: the whole request JSON (`request`), or the
 * request without the check's own two fields (`content`).
 */
function duplicateKey(body: Record<string, unknown>, mode: "request" | "content"): string {
  if (mode === "request") return canonicalJson(body);
  const rest = { ...body };
  delete rest.enable_duplicate_check;
  delete rest.duplicate_check_interval;
  return canonicalJson(rest);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : 1
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Starts the fake WeCom API on 127.0.0.1 (ephemeral port).
 *
 * @example Usage
 * ```ts ignore
 * const api = startFakeWeComApi({ users: ["zhangsan"], now: () => clock });
 * try {
 *   // … point an AppConfig's apiBase at api.url …
 * } finally {
 *   await api.close();
 * }
 * ```
 */
export function startFakeWeComApi(options: FakeWeComOptions = {}): FakeWeComApi {
  const now = options.now ?? Date.now;
  const ttlMs = (options.tokenTtlSeconds ?? 7200) * 1000;
  const perMinute = options.perMinute ?? 30;
  const perHour = options.perHour ?? 1000;
  const duplicateMode = options.duplicateCheck ?? "request";
  const state: FakeState = {
    apps: options.apps ?? [FAKE_APP],
    tokens: new Map(),
    users: options.users ? new Set(options.users) : null,
    oversize: options.oversize ?? "truncate",
    delivered: [],
    dropped: [],
    duplicatesSuppressed: [],
    recalls: [],
    media: new Map(),
  };
  const mediaGetMaxBytes = options.mediaGetMaxBytes ?? 20 * MB;
  const received: FakeRequest[] = [];
  const queues = new Map<FakeApiName | "any", FakeBehaviour[]>();
  const { sleep, wakeAll } = createSleeps();
  const messages = new Map<string, FakeMessage[]>(); // msgid → its records
  const duplicateKeys = new WeakMap<FakeMessage, string>();

  function gettoken(ctx: RouteContext): RouteResult {
    const { corpid, corpsecret } = ctx.query;
    if (!corpid) throw new WeComError(41002);
    if (!corpsecret) throw new WeComError(41004);
    const corpApps = state.apps.filter((a) => a.corpId === corpid);
    if (corpApps.length === 0) throw new WeComError(40013);
    const app = corpApps.find((a) => a.corpSecret === corpsecret);
    if (!app) throw new WeComError(40001);
    ctx.request.agentId = app.agentId;
    const token = randomToken(48);
    state.tokens.set(token, { app, expiresAt: ctx.now + ttlMs, revoked: false });
    return { errcode: 0, errmsg: "ok", access_token: token, expires_in: ttlMs / 1000 };
  }

  function send(ctx: RouteContext): RouteResult {
    const { json: body, app } = ctx;
    const agentid = body.agentid;
    if (agentid === undefined || agentid === "" || !Number.isFinite(Number(agentid))) {
      throw new WeComError(40056);
    }
    if (String(Number(agentid)) !== app.agentId) throw new WeComError(301002);
    const touser = typeof body.touser === "string" ? body.touser : "";
    if (touser === "") throw new WeComError(82001);
    const msgtype = String(body.msgtype ?? "");
    const raw = body[msgtype];
    const payload: Record<string, unknown> = raw && typeof raw === "object"
      ? { ...(raw as Record<string, unknown>) }
      : {};
    let truncated = false;
    if (msgtype === "text" || msgtype === "markdown") {
      const content = typeof payload.content === "string" ? payload.content : "";
      if (content === "") throw new WeComError(44004);
      if (new TextEncoder().encode(content).length > MAX_CONTENT_BYTES) {
        if (state.oversize === "reject") throw new WeComError(45002);
        payload.content = truncateUtf8(content, MAX_CONTENT_BYTES);
        truncated = true;
      }
    } else if (["image", "voice", "video", "file"].includes(msgtype)) {
      if (typeof payload.media_id !== "string" || payload.media_id === "") {
        throw new WeComError(40007);
      }
    } else {
      throw new WeComError(40008);
    }

    const members = touser === "@all" ? ["@all"] : touser.split("|").filter((u) => u !== "");
    const invalid = state.users && touser !== "@all"
      ? members.filter((u) => !state.users!.has(u))
      : [];
    const valid = members.filter((u) => !invalid.includes(u));
    if (valid.length === 0) throw new WeComError(81013);

    const msgid = randomToken(24);
    const key = duplicateKey(body, duplicateMode);
    const interval = Math.min(Number(body.duplicate_check_interval ?? 1800) || 1800, 14_400);
    const records: FakeMessage[] = [];
    let answerMsgid = msgid;
    for (const member of valid) {
      const record: FakeMessage = {
        msgid,
        corpId: app.corpId,
        agentId: app.agentId,
        touser: member,
        msgtype,
        payload,
        body,
        at: ctx.now,
        truncated,
        recalled: false,
      };
      if (Number(body.enable_duplicate_check) === 1) {
        const original = state.delivered.find((m) =>
          m.agentId === app.agentId && m.corpId === app.corpId &&
          m.at >= ctx.now - interval * 1000 && duplicateKeys.get(m) === key
        );
        if (original) {
          answerMsgid = original.msgid;
          state.duplicatesSuppressed.push(record);
          continue;
        }
      }
      const mine = state.delivered.filter((m) =>
        m.agentId === app.agentId && m.corpId === app.corpId && m.touser === member
      );
      const lastMinute = mine.filter((m) => m.at > ctx.now - 60_000).length;
      const lastHour = mine.filter((m) => m.at > ctx.now - 3_600_000).length;
      if (lastMinute >= perMinute || lastHour >= perHour) {
        state.dropped.push(record);
        continue;
      }
      duplicateKeys.set(record, key);
      state.delivered.push(record);
      records.push(record);
    }
    if (records.length > 0) messages.set(msgid, records);
    const answer: Record<string, unknown> = { errcode: 0, errmsg: "ok", msgid: answerMsgid };
    if (invalid.length > 0) answer.invaliduser = invalid.map((u) => u.toLowerCase()).join("|");
    return answer;
  }

  function recall(ctx: RouteContext): RouteResult {
    const msgid = typeof ctx.json.msgid === "string" ? ctx.json.msgid : "";
    const records = messages.get(msgid);
    if (!records) throw new WeComError(40058, "invalid msgid");
    if (records[0].agentId !== ctx.app.agentId || records[0].corpId !== ctx.app.corpId) {
      throw new WeComError(40058, "msgid not sent by this agent");
    }
    if (records[0].recalled) throw new WeComError(40058, "msg already recalled");
    if (ctx.now - records[0].at > 24 * 3_600_000) {
      throw new WeComError(40058, "msg can only be recalled within 24 hours");
    }
    for (const record of records) {
      record.recalled = true;
      record.recalledAt = ctx.now;
    }
    state.recalls.push({ msgid, agentId: ctx.app.agentId, at: ctx.now });
    return { errcode: 0, errmsg: "ok" };
  }

  function upload(ctx: RouteContext): RouteResult {
    const type = ctx.query.type ?? "";
    if (!(type in UPLOAD_LIMITS)) throw new WeComError(40004);
    const file = ctx.form?.get("media");
    if (!(file instanceof File)) throw new WeComError(41005);
    return file.arrayBuffer().then((buffer) => {
      const bytes = new Uint8Array(buffer);
      const kind = type as FakeMedia["type"];
      if (bytes.length <= 5) throw new WeComError(44001);
      const limit = UPLOAD_LIMITS[kind];
      if (bytes.length > limit.maxBytes) throw new WeComError(limit.errcode);
      if (!formatFits(kind, bytes)) throw new WeComError(40004);
      const mediaId = `3${randomToken(45)}`;
      state.media.set(mediaId, {
        mediaId,
        type: kind,
        bytes,
        filename: file.name,
        contentType: file.type,
        at: ctx.now,
        source: "upload",
        agentId: ctx.app.agentId,
      });
      return {
        errcode: 0,
        errmsg: "",
        type: kind,
        media_id: mediaId,
        created_at: String(Math.floor(ctx.now / 1000)),
      };
    });
  }

  function mediaGet(ctx: RouteContext): RouteResult {
    const media = state.media.get(ctx.query.media_id ?? "");
    if (!media || ctx.now - media.at > MEDIA_TTL_MS) throw new WeComError(40007);
    const headers: Record<string, string> = {
      "content-type": media.contentType || "application/octet-stream",
      "content-disposition": /^[\x20-\x7e]*$/.test(media.filename) && !media.filename.includes('"')
        ? `attachment; filename="${media.filename}"`
        : `attachment; filename*=UTF-8''${encodeURIComponent(media.filename)}`,
    };
    const total = media.bytes.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(ctx.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] === "" ? total - 1 : Number(range[2]), total - 1);
      if (start >= total || end < start) {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${total}` },
        });
      }
      return new Response(media.bytes.slice(start, end + 1), {
        status: 206,
        headers: { ...headers, "content-range": `bytes ${start}-${end}/${total}` },
      });
    }
    if (total > mediaGetMaxBytes) throw new WeComError(830002);
    return new Response(media.bytes.slice(), { headers });
  }

  /** One entry per API path. */
  const ROUTES: Record<string, Route> = {
    "/cgi-bin/gettoken": {
      api: "gettoken",
      method: "GET",
      auth: false,
      body: "none",
      handle: gettoken,
    },
    "/cgi-bin/message/send": {
      api: "send",
      method: "POST",
      auth: true,
      body: "json",
      handle: send,
    },
    "/cgi-bin/message/recall": {
      api: "recall",
      method: "POST",
      auth: true,
      body: "json",
      handle: recall,
    },
    "/cgi-bin/media/upload": {
      api: "upload",
      method: "POST",
      auth: true,
      body: "multipart",
      handle: upload,
    },
    "/cgi-bin/media/get": {
      api: "media",
      method: "GET",
      auth: true,
      body: "none",
      handle: mediaGet,
    },
  };

  function nextBehaviour(api: FakeApiName): FakeBehaviour | undefined {
    return queues.get(api)?.shift() ?? queues.get("any")?.shift();
  }

  function jsonResponse(value: unknown): Response {
    return new Response(JSON.stringify(value), {
      headers: { "content-type": "application/json; charset=UTF-8" },
    });
  }

  function errorAnswer(error: WeComError): Response {
    return jsonResponse({
      errcode: error.errcode,
      errmsg: wecomErrmsg(error.errcode, error.errmsg),
    });
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const query = Object.fromEntries(url.searchParams);
    const route = ROUTES[url.pathname];
    let form: FormData | undefined;
    let text = "";
    if (route?.body === "multipart" && req.body) {
      try {
        form = await req.formData();
      } catch {
        form = undefined;
      }
    } else if (req.body) {
      text = await req.text();
    }
    let parsed: unknown = undefined;
    if (form) {
      const file = form.get("media");
      parsed = file instanceof File
        ? { media: { filename: file.name, contentType: file.type, size: file.size } }
        : {};
    } else if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const request: FakeRequest = {
      api: route?.api ?? "unknown",
      method: req.method,
      path: url.pathname,
      query,
      body: parsed,
      at: now(),
    };
    received.push(request);
    if (!route) return new Response("404 page not found", { status: 404 });

    // One injected behaviour per request, before normal handling.
    const behaviour = nextBehaviour(route.api);
    if (behaviour === "drop-connection") {
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.error(new Error("fake WeCom API dropped the connection"));
          },
        }),
      );
    }
    if (behaviour && "httpStatus" in behaviour) {
      return new Response(`<html><body>${behaviour.httpStatus}</body></html>`, {
        status: behaviour.httpStatus,
        headers: { "content-type": "text/html" },
      });
    }
    if (behaviour && "errcode" in behaviour) {
      return errorAnswer(new WeComError(behaviour.errcode, behaviour.errmsg));
    }
    if (behaviour && "delayMs" in behaviour) await sleep(behaviour.delayMs); // then handle normally

    try {
      if (req.method !== route.method) throw new WeComError(40058, "invalid request method");
      const t = now();
      let app = state.apps[0];
      if (route.auth) {
        const token = query.access_token;
        if (!token) throw new WeComError(41001);
        const issued = state.tokens.get(token);
        if (!issued || issued.revoked) throw new WeComError(40014);
        if (issued.expiresAt <= t) throw new WeComError(42001);
        app = issued.app;
        request.agentId = app.agentId;
      }
      let json: Record<string, unknown> = {};
      if (route.body === "json") {
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new WeComError(40058, "invalid json");
        }
        json = parsed as Record<string, unknown>;
      }
      const result = await route.handle({
        query,
        json,
        form,
        range: req.headers.get("range"),
        app,
        request,
        now: t,
      });
      return result instanceof Response ? result : jsonResponse(result);
    } catch (error) {
      if (error instanceof WeComError) return errorAnswer(error);
      throw error;
    }
  }

  let closing: Promise<void> | undefined;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    // A dropped connection reports its stream error here; answer quietly.
    onError: () => new Response("fake WeCom API error", { status: 500 }),
  }, handle);

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    received,
    inject(api, behaviours) {
      const queue = queues.get(api) ?? [];
      queue.push(...behaviours);
      queues.set(api, queue);
    },
    delivered(userId) {
      return userId === undefined
        ? [...state.delivered]
        : state.delivered.filter((m) => m.touser === userId);
    },
    gettokenCalls(agentId) {
      return received.filter((r) =>
        r.api === "gettoken" && (agentId === undefined || r.agentId === agentId)
      ).length;
    },
    revokeTokens() {
      for (const issued of state.tokens.values()) issued.revoked = true;
    },
    expireTokens() {
      const t = now();
      for (const issued of state.tokens.values()) issued.expiresAt = Math.min(issued.expiresAt, t);
    },
    addMedia(bytes, media = {}) {
      const mediaId = `1${randomToken(45)}`;
      state.media.set(mediaId, {
        mediaId,
        type: media.type ?? "file",
        bytes,
        filename: media.filename ?? `${mediaId.slice(0, 12)}.bin`,
        contentType: media.contentType ?? "application/octet-stream",
        at: now(),
        source: "registered",
      });
      return mediaId;
    },
    uploads() {
      return [...state.media.values()].filter((media) => media.source === "upload");
    },
    close() {
      wakeAll();
      closing ??= server.shutdown();
      return closing;
    },
  };
}
