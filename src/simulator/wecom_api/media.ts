/**
 * The media family of the fake (WeCom API facts §6b, §7):
 *
 * - `POST /cgi-bin/media/upload?access_token&type`: multipart/form-data with
 *   the file in field `media`. 40004 for another type, or an image that is not
 *   JPG/PNG, voice not AMR, video not MP4 (judged by the bytes); 41005 no
 *   `media` field; 44001 for 5 bytes or fewer; over the limits (image 10 MB →
 *   40009, video 10 MB → 40011, voice 2 MB → 40006, file 20 MB → 45001).
 * - `GET /cgi-bin/media/get?access_token&media_id`: the file for uploaded and
 *   registered media; 40007 for an unknown or expired (3 days) id; honours
 *   `Range: bytes=a-b` (206); a file over `mediaGetMaxBytes` without `Range`
 *   answers 830002.
 *
 * Plus registering a file as WeCom holds what a user sent ({@linkcode addMedia}).
 *
 * @example Usage
 * ```ts ignore
 * import { addMedia } from "./media.ts";
 * const mediaId = addMedia(fake, png, { type: "image", contentType: "image/png" });
 * ```
 *
 * @module
 */

import { WeComError } from "./errors.ts";
import type { Route, RouteContext, RouteResult } from "./route.ts";
import { type Fake, MB, randomToken } from "./state.ts";
import type { FakeMedia } from "./types.ts";

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

function upload(fake: Fake, ctx: RouteContext): RouteResult {
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
    fake.state.media.set(mediaId, {
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

function mediaGet(fake: Fake, ctx: RouteContext): RouteResult {
  const media = fake.state.media.get(ctx.query.media_id ?? "");
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
  if (total > fake.settings.mediaGetMaxBytes) throw new WeComError(830002);
  return new Response(media.bytes.slice(), { headers });
}

/** The media routes by path. */
export const MEDIA_ROUTES: Record<string, Route> = {
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

/**
 * Registers a file as WeCom holds what a user sent (image, voice, video) and
 * returns its media id for the callback's `MediaId`.
 */
export function addMedia(
  fake: Fake,
  bytes: Uint8Array,
  media: { filename?: string; contentType?: string; type?: FakeMedia["type"] } = {},
): string {
  const mediaId = `1${randomToken(45)}`;
  fake.state.media.set(mediaId, {
    mediaId,
    type: media.type ?? "file",
    bytes,
    filename: media.filename ?? `${mediaId.slice(0, 12)}.bin`,
    contentType: media.contentType ?? "application/octet-stream",
    at: fake.settings.now(),
    source: "registered",
  });
  return mediaId;
}

/** Files uploaded through media/upload, oldest first. */
export function uploads(fake: Fake): FakeMedia[] {
  return [...fake.state.media.values()].filter((media) => media.source === "upload");
}
