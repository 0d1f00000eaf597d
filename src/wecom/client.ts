/**
 * The WeCom API client: `message/send`, `message/recall`, `media/upload` and
 * `media/get` with a cached access token (`./token.ts`), one
 * refetch-and-retry on a revoked or expired token, and every failure as a
 * classified {@linkcode WeComApiError}.
 *
 * `media/get` answers the file itself on success and JSON on error; a file too
 * large for one GET (errcode 830002) is fetched in `Range` parts of at most
 * 20 MB. A file over the caller's `maxBytes` is refused with
 * `MediaTooLargeError` (`./media.ts`) before it is read.
 *
 * The client does not loop on busy or network errors: it throws an error whose
 * `kind` (and `retryable`) tells delivery to retry later, with
 * `duplicateCheck` on so that WeCom drops a copy that already arrived.
 *
 * Proxies: Deno's `fetch` honours `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
 * natively; route calls through an egress proxy whose fixed IP is in the app's
 * trusted IPs (60020) by setting those variables. Nothing here reimplements it.
 *
 * Access tokens never appear in errors or logs: URLs are redacted.
 *
 * @example Usage
 * ```ts ignore
 * import { createWeComClient } from "./client.ts";
 * const kv = await Deno.openKv(":memory:");
 * const client = createWeComClient({ kv, timeoutMs: 10_000 });
 * const { msgId } = await client.send(app, "zhangsan", { msgtype: "text", content: "hi" });
 * await client.recall(app, msgId);
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import { write as writeLog } from "../log.ts";
import { IP_NOT_TRUSTED_ERRCODE, NO_ERRCODE, WeComApiError } from "./errors.ts";
import {
  fetchMedia,
  MEDIA_RANGE_CHUNK_BYTES,
  MEDIA_TOO_LARGE_FOR_GET,
  mediaForm,
  MediaTooLargeError,
} from "./media.ts";
import { type WeComAnswer, wecomFetchJson } from "./request.ts";
import { createTokenCache, type WeComLog } from "./token.ts";
import type {
  DownloadResult,
  MediaKind,
  OutboundMessage,
  SendOptions,
  SendResult,
  WeComClient,
  WeComMediaClient,
} from "./types.ts";

export type { WeComLog } from "./token.ts";

/**
 * `duplicate_check_interval` of every send with `duplicateCheck`: WeCom's
 * documented maximum, 4 hours (api-facts §6a), so that a resend after a crash
 * or an outage of up to that long is recognised as a copy.
 */
export const DUPLICATE_CHECK_INTERVAL_SECONDS = 4 * 3600;

/** Dependencies of {@linkcode createWeComClient}. */
export interface WeComClientDeps {
  /** Holds the access tokens, their refresh locks and sticky credential failures. */
  kv: Deno.Kv;
  /** The fetch to use (tests); defaults to the global one, which honours HTTPS_PROXY. */
  fetch?: typeof fetch;
  /** Clock (epoch ms) for token expiry; defaults to `Date.now`. */
  now?: () => number;
  /** Timeout of one API call, ms (default 10 000; `delivery.requestTimeoutMs`). */
  timeoutMs?: number;
  /** Timeout of one media upload or download call, ms (default 120 000). */
  mediaTimeoutMs?: number;
  log?: WeComLog;
  /** Called after every gettoken HTTP call (metrics, tests). */
  onTokenFetch?: (app: AppConfig, outcome: "ok" | "error") => void;
  /** Refresh tokens this long before expiry, ms (default 5 min). */
  refreshAheadMs?: number;
  /** How long a wrong secret stops gettoken, ms (default 1 h). */
  credentialBackoffMs?: number;
  /** Interval at which a process waiting for another one's token refresh polls KV, ms (default 50). */
  tokenPollMs?: number;
}

/** Counters since the client was created. */
export interface WeComClientStats {
  /** gettoken HTTP calls. */
  tokenFetches: number;
  tokenFetchFailures: number;
  /** Tokens dropped after WeCom answered 40014 / 42001 / 41001. */
  tokenInvalidations: number;
  sends: number;
  sendFailures: number;
  recalls: number;
  recallFailures: number;
  uploads: number;
  uploadFailures: number;
  downloads: number;
  downloadFailures: number;
  /** Failures per errcode (`NO_ERRCODE`, -2, for network and HTTP failures). */
  errcodes: Record<string, number>;
}

/** The gateway's client: {@linkcode WeComClient} plus token access and counters. */
export interface GatewayWeComClient extends WeComClient, WeComMediaClient {
  /** A usable access token for `app` (from the cache, or fetched). */
  getToken(app: AppConfig): Promise<string>;
  /**
   * Calls gettoken now (ignoring the cache and a sticky failure) to prove the
   * credentials work, e.g. for a `check` command. Stores the token on success.
   */
  fetchTokenOnline(app: AppConfig): Promise<{ ok: true } | { ok: false; error: WeComApiError }>;
  stats(): WeComClientStats;
}

/**
 * Creates the WeCom API client.
 *
 * @example Usage
 * ```ts ignore
 * import { createWeComClient } from "./client.ts";
 * const client = createWeComClient({ kv, timeoutMs: config.delivery.requestTimeoutMs });
 * try {
 *   await client.send(app, userId, { msgtype: "text", content: chunk }, { duplicateCheck: true });
 * } catch (error) {
 *   if (error instanceof WeComApiError && error.retryable) { ... retry later ... }
 * }
 * ```
 */
export function createWeComClient(deps: WeComClientDeps): GatewayWeComClient {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const mediaTimeoutMs = deps.mediaTimeoutMs ?? 120_000;
  const log: WeComLog = deps.log ?? writeLog;
  const tokens = createTokenCache({
    kv: deps.kv,
    fetch: deps.fetch,
    now: deps.now,
    timeoutMs,
    refreshAheadMs: deps.refreshAheadMs,
    credentialBackoffMs: deps.credentialBackoffMs,
    pollMs: deps.tokenPollMs,
    log,
    onTokenFetch: deps.onTokenFetch,
  });
  const counters = {
    tokenInvalidations: 0,
    sends: 0,
    sendFailures: 0,
    recalls: 0,
    recallFailures: 0,
    uploads: 0,
    uploadFailures: 0,
    downloads: 0,
    downloadFailures: 0,
    errcodes: {} as Record<string, number>,
  };
  const ipWarned = new Set<string>();

  /** POSTs `body` to `path` with the app's token; refetches the token and retries once if WeCom rejects it. */
  function callWithToken(
    app: AppConfig,
    api: string,
    path: string,
    body: unknown,
  ): Promise<WeComAnswer> {
    return withToken(
      app,
      api,
      (token) =>
        wecomFetchJson(`${app.apiBase}${path}?access_token=${encodeURIComponent(token)}`, {
          api,
          body,
          timeoutMs,
          fetch: deps.fetch,
        }),
    );
  }

  /** Runs `call` with the app's token; refetches the token and retries once if WeCom rejects it. */
  async function withToken<T>(
    app: AppConfig,
    api: string,
    call: (token: string) => Promise<T>,
  ): Promise<T> {
    const token = await tokens.get(app);
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof WeComApiError) || error.kind !== "token_invalid") throw error;
      counters.tokenInvalidations++;
      log("info", "WeCom rejected the access token; refetching it and retrying once", {
        app: app.name,
        api,
        errcode: error.errcode,
      });
      await tokens.invalidate(app, token);
      return await call(await tokens.get(app, token));
    }
  }

  function noteFailure(app: AppConfig, api: string, error: unknown): void {
    if (!(error instanceof WeComApiError)) return;
    counters.errcodes[String(error.errcode)] = (counters.errcodes[String(error.errcode)] ?? 0) + 1;
    if (error.errcode === IP_NOT_TRUSTED_ERRCODE) {
      // Loud once per app and process; delivery reports every occurrence on its own.
      const first = !ipWarned.has(app.name);
      ipWarned.add(app.name);
      log(first ? "error" : "debug", error.message, { app: app.name, api, errcode: error.errcode });
    }
  }

  /** One `media/get`, or `Range` parts of it when WeCom answers 830002. */
  async function download(
    url: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<DownloadResult> {
    const init = { api: "media/get", timeoutMs: mediaTimeoutMs, fetch: deps.fetch, signal };
    try {
      const whole = await fetchMedia(url, { ...init, maxBytes });
      return { bytes: whole.bytes, contentType: whole.contentType, filename: whole.filename };
    } catch (error) {
      if (!(error instanceof WeComApiError) || error.errcode !== MEDIA_TOO_LARGE_FOR_GET) {
        throw error;
      }
    }
    const parts: Uint8Array[] = [];
    let offset = 0;
    let total = Infinity;
    let first: { contentType: string; filename: string } | undefined;
    while (offset < total) {
      const end = offset + MEDIA_RANGE_CHUNK_BYTES - 1;
      const part = await fetchMedia(url, {
        ...init,
        maxBytes: MEDIA_RANGE_CHUNK_BYTES,
        range: [offset, end],
      });
      total = part.totalSize;
      if (total > maxBytes) throw new MediaTooLargeError(total, maxBytes);
      first ??= { contentType: part.contentType, filename: part.filename };
      if (part.bytes.length === 0) break;
      parts.push(part.bytes);
      offset += part.bytes.length;
      if (part.status === 200) break; // the server ignored Range and sent it all
    }
    const bytes = new Uint8Array(offset);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return { bytes, contentType: first?.contentType ?? "", filename: first?.filename ?? "" };
  }

  return {
    async send(app, userId, message, options) {
      counters.sends++;
      try {
        const body = sendBody(app, userId, message, options);
        const answer = await callWithToken(app, "message/send", "/cgi-bin/message/send", body);
        return {
          msgId: String(answer.msgid ?? ""),
          invalidUsers: splitIds(answer.invaliduser),
        } satisfies SendResult;
      } catch (error) {
        counters.sendFailures++;
        noteFailure(app, "message/send", error);
        throw error;
      }
    },

    async recall(app, msgId) {
      counters.recalls++;
      try {
        if (!msgId) {
          throw refused("message/recall", "msgId is empty; recall needs the msgid of send");
        }
        await callWithToken(app, "message/recall", "/cgi-bin/message/recall", { msgid: msgId });
      } catch (error) {
        counters.recallFailures++;
        noteFailure(app, "message/recall", error);
        throw error;
      }
    },

    async uploadMedia(app, kind, bytes, filename, contentType) {
      counters.uploads++;
      try {
        if (!MEDIA_KINDS.has(kind)) {
          throw refused(
            "media/upload",
            `Cannot upload media of type ${JSON.stringify(kind)}: ` +
              "expected image, voice, video or file",
          );
        }
        const answer = await withToken(app, "media/upload", (token) =>
          wecomFetchJson(
            `${app.apiBase}/cgi-bin/media/upload?access_token=${
              encodeURIComponent(token)
            }&type=${kind}`,
            {
              api: "media/upload",
              form: mediaForm(bytes, filename, contentType),
              timeoutMs: mediaTimeoutMs,
              fetch: deps.fetch,
            },
          ));
        const mediaId = typeof answer.media_id === "string" ? answer.media_id : "";
        if (mediaId === "") {
          throw new WeComApiError({
            api: "media/upload",
            errcode: NO_ERRCODE,
            errmsg: "no media_id",
            kind: "retry",
            message: "WeCom media/upload answered errcode 0 without a media_id; retried later.",
          });
        }
        const createdAt = Number(answer.created_at) * 1000;
        return {
          mediaId,
          type: kind,
          createdAt: Number.isFinite(createdAt) && createdAt > 0 ? createdAt : Date.now(),
        };
      } catch (error) {
        counters.uploadFailures++;
        noteFailure(app, "media/upload", error);
        throw error;
      }
    },

    async downloadMedia(app, mediaId, options = {}) {
      counters.downloads++;
      const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
      try {
        if (!mediaId) throw refused("media/get", "Cannot download media: the media id is empty");
        return await withToken(app, "media/get", (token) => {
          const url = `${app.apiBase}/cgi-bin/media/get?access_token=${
            encodeURIComponent(token)
          }&media_id=${encodeURIComponent(mediaId)}`;
          return download(url, maxBytes, options.signal);
        });
      } catch (error) {
        counters.downloadFailures++;
        noteFailure(app, "media/get", error);
        throw error;
      }
    },

    getToken(app) {
      return tokens.get(app);
    },

    async fetchTokenOnline(app) {
      try {
        await tokens.fetchNow(app);
        return { ok: true };
      } catch (error) {
        if (error instanceof WeComApiError) return { ok: false, error };
        throw error;
      }
    },

    stats() {
      const t = tokens.stats();
      return {
        tokenFetches: t.fetches,
        tokenFetchFailures: t.fetchFailures,
        ...counters,
        errcodes: { ...counters.errcodes },
      };
    },
  };
}

/**
 * The JSON body of `message/send` for one member.
 *
 * @example Usage
 * ```ts ignore
 * import { sendBody } from "./client.ts";
 * sendBody(app, "zhangsan", { msgtype: "text", content: "hi" }, { duplicateCheck: true });
 * // { touser: "zhangsan", msgtype: "text", agentid: 1000002, text: { content: "hi" },
 * //   enable_duplicate_check: 1, duplicate_check_interval: 14400 }
 * ```
 */
export function sendBody(
  app: AppConfig,
  userId: string,
  message: OutboundMessage,
  options?: SendOptions,
): Record<string, unknown> {
  if (!userId || /[|]/.test(userId) || userId.trim().toLowerCase() === "@all") {
    // A single-member API: "a|b" or "@all" would broadcast.
    throw refused(
      "message/send",
      `Cannot send to user id ${JSON.stringify(userId)}: it must be one member's UserID ` +
        "(not empty, no '|', not '@all')",
    );
  }
  const agentid = Number(app.agentId);
  if (!Number.isSafeInteger(agentid)) {
    throw refused(
      "message/send",
      `Cannot send through app '${app.name}': agent_id must be digits, got ${
        JSON.stringify(app.agentId)
      }`,
    );
  }
  const body: Record<string, unknown> = { touser: userId, msgtype: message.msgtype, agentid };
  if (message.msgtype === "text" || message.msgtype === "markdown") {
    body[message.msgtype] = { content: message.content };
  } else {
    body[message.msgtype] = { media_id: message.mediaId };
  }
  if (options?.duplicateCheck) {
    body.enable_duplicate_check = 1;
    body.duplicate_check_interval = DUPLICATE_CHECK_INTERVAL_SECONDS;
  }
  return body;
}

const MEDIA_KINDS: ReadonlySet<MediaKind> = new Set(["image", "voice", "video", "file"]);

function refused(api: string, message: string): WeComApiError {
  return new WeComApiError({
    api,
    errcode: NO_ERRCODE,
    errmsg: "refused before sending",
    kind: "permanent",
    message,
  });
}

function splitIds(value: unknown): string[] {
  return typeof value === "string" && value !== "" ? value.split("|") : [];
}
