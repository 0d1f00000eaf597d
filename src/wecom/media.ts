/**
 * The byte-level parts of WeCom's media APIs: reading a `media/get` answer
 * (binary on success, JSON on error, optionally one `Range` of it) with a size
 * cap, and building the multipart body of `media/upload` (field `media`).
 *
 * Token handling and retries live in `./client.ts`; these helpers make one
 * HTTP call and classify its HTTP and network failures with the same
 * functions as `./request.ts` does for JSON APIs.
 *
 * @example Usage
 * ```ts ignore
 * import { fetchMedia } from "./media.ts";
 * const part = await fetchMedia(url, { api: "media/get", maxBytes: 20 * 1024 * 1024 });
 * console.log(part.bytes.length, part.contentType, part.filename);
 * ```
 *
 * @module
 */

import { NO_ERRCODE, WeComApiError } from "./errors.ts";
import { httpStatusError, redirectError, transportError } from "./request.ts";
import { guardedFetch, RedirectRefusedError } from "../guarded_fetch.ts";
import { concatBytes } from "../bytes.ts";

/** WeCom answers `media/get` with this errcode for a file too large for one GET: use `Range`. */
export const MEDIA_TOO_LARGE_FOR_GET = 830002;

/** Bytes asked per `Range` request once WeCom answered 830002 (WeCom: at most 20 MB). */
export const MEDIA_RANGE_CHUNK_BYTES = 20 * 1024 * 1024;

/**
 * A file bigger than the caller accepts. Carries the size when it is known
 * (from `Content-Length` or `Content-Range`) and the limit.
 *
 * @example Usage
 * ```ts
 * import { MediaTooLargeError } from "./media.ts";
 * const error = new MediaTooLargeError(30_000_000, 20_971_520);
 * console.assert(error.message.includes("20 MB"));
 * ```
 */
export class MediaTooLargeError extends Error {
  /** The file's size in bytes, when WeCom said it. */
  size?: number;
  /** The limit it exceeds, bytes. */
  maxBytes: number;
  constructor(size: number | undefined, maxBytes: number) {
    super(
      `The media file is ${size === undefined ? "larger than" : `${formatBytes(size)}, over`} the ${
        formatBytes(maxBytes)
      } limit (gateway.media.max_bytes); it was not downloaded. ` +
        "Raise gateway.media.max_bytes to accept larger files.",
    );
    this.name = "MediaTooLargeError";
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/** Options of {@linkcode fetchMedia}. */
export interface FetchMediaInit {
  /** API name for errors, e.g. `media/get`. */
  api: string;
  /** Read at most this many bytes; more is a {@linkcode MediaTooLargeError}. */
  maxBytes: number;
  /** Ask for bytes `[start, end]` (inclusive) only. */
  range?: [number, number];
  /** Per-call timeout, ms (default 120 000). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** One successful `media/get` answer. */
export interface MediaPart {
  /** 200, or 206 for a range. */
  status: number;
  bytes: Uint8Array;
  contentType: string;
  filename: string;
  /** Size of the whole file, from `Content-Range` (206) or the body (200). */
  totalSize: number;
}

/**
 * GETs `url` and returns its bytes; throws {@linkcode WeComApiError} for a JSON
 * error answer (e.g. 40007, 830002), an HTTP error or a network failure, and
 * {@linkcode MediaTooLargeError} when the answer exceeds `maxBytes`.
 *
 * @example Usage
 * ```ts ignore
 * import { fetchMedia } from "./media.ts";
 * const first = await fetchMedia(url, { api: "media/get", maxBytes: 1 << 20, range: [0, 1023] });
 * ```
 */
export async function fetchMedia(url: string, init: FetchMediaInit): Promise<MediaPart> {
  const { api, maxBytes } = init;
  const timeoutMs = init.timeoutMs ?? 120_000;
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (init.signal) signals.push(init.signal);
  const headers: Record<string, string> = {};
  if (init.range) headers.range = `bytes=${init.range[0]}-${init.range[1]}`;
  let response: Response;
  try {
    response = await guardedFetch(url, { headers, signal: AbortSignal.any(signals) }, init);
  } catch (error) {
    if (init.signal?.aborted) throw init.signal.reason ?? error;
    if (error instanceof RedirectRefusedError) throw redirectError(api, error);
    throw transportError(api, url, error, timeoutMs, 0);
  }
  const status = response.status;
  const contentType = response.headers.get("content-type") ?? "";
  const disposition = response.headers.get("content-disposition") ?? "";
  if (status < 200 || status > 299) {
    await response.body?.cancel();
    throw httpStatusError(api, url, status);
  }
  if (isJsonAnswer(contentType, disposition)) {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw transportError(api, url, error, timeoutMs, status);
    }
    throw jsonError(api, text, status);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new MediaTooLargeError(rangeTotal(response) ?? declared, maxBytes);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(response, maxBytes);
  } catch (error) {
    if (error instanceof MediaTooLargeError) throw error;
    if (init.signal?.aborted) throw init.signal.reason ?? error;
    throw transportError(api, url, error, timeoutMs, status);
  }
  // Some servers answer a JSON error without a JSON content type.
  if (bytes.length > 0 && bytes.length < 2048 && bytes[0] === 0x7b && !disposition) {
    const text = new TextDecoder().decode(bytes);
    if (/"errcode"\s*:/.test(text)) throw jsonError(api, text, status);
  }
  return {
    status,
    bytes,
    contentType: contentType || "application/octet-stream",
    filename: filenameOf(disposition),
    totalSize: status === 206 ? rangeTotal(response) ?? bytes.length : bytes.length,
  };
}

/**
 * The multipart body of `media/upload`: one part named `media` with the file
 * name users will see and its content type.
 *
 * @example Usage
 * ```ts
 * import { mediaForm } from "./media.ts";
 * const form = mediaForm(new Uint8Array([1, 2, 3, 4, 5, 6]), "a.png", "image/png");
 * console.assert((form.get("media") as File).name === "a.png");
 * ```
 */
export function mediaForm(bytes: Uint8Array, filename: string, contentType: string): FormData {
  const form = new FormData();
  form.append("media", new File([bytes as BlobPart], filename, { type: contentType }));
  return form;
}

/**
 * The file name of a `Content-Disposition` header (`filename*=UTF-8''…` or
 * `filename="…"`), without any directory part; "" when there is none.
 *
 * @example Usage
 * ```ts
 * import { filenameOf } from "./media.ts";
 * console.assert(filenameOf('attachment; filename="photo.jpg"') === "photo.jpg");
 * console.assert(filenameOf("attachment; filename*=UTF-8''%E5%9B%BE.png") === "图.png");
 * ```
 */
export function filenameOf(disposition: string): string {
  let name = "";
  const extended = /filename\*\s*=\s*(?:[\w-]+)?'[^']*'([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      name = decodeURIComponent(extended[1].trim());
    } catch {
      name = "";
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/i.exec(disposition);
    name = (plain?.[1] ?? plain?.[2] ?? "").trim();
    if (/%[0-9A-Fa-f]{2}/.test(name)) {
      try {
        name = decodeURIComponent(name); // some servers percent-encode the plain form
      } catch {
        // not percent-encoding after all: keep it as sent
      }
    }
  }
  return name.split(/[\\/]/).pop() ?? "";
}

/**
 * Sizes for people: `512 B`, `12.3 KB`, `10 MB`.
 *
 * @example Usage
 * ```ts
 * import { formatBytes } from "./media.ts";
 * console.assert(formatBytes(10 * 1024 * 1024) === "10 MB");
 * console.assert(formatBytes(1536) === "1.5 KB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded : rounded.toFixed(1)} ${units[unit]}`;
}

function isJsonAnswer(contentType: string, disposition: string): boolean {
  if (/attachment/i.test(disposition)) return false;
  return /application\/json|text\/plain|text\/json/i.test(contentType);
}

function rangeTotal(response: Response): number | undefined {
  const match = /\/\s*(\d+)\s*$/.exec(response.headers.get("content-range") ?? "");
  return match ? Number(match[1]) : undefined;
}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new MediaTooLargeError(undefined, maxBytes);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

function jsonError(api: string, text: string, status: number): WeComApiError {
  let record: { errcode?: unknown; errmsg?: unknown } | undefined;
  try {
    record = JSON.parse(text);
  } catch {
    record = undefined;
  }
  const errcode = Number(record?.errcode ?? NaN);
  if (!record || !Number.isFinite(errcode) || errcode === 0) {
    return new WeComApiError({
      api,
      errcode: NO_ERRCODE,
      errmsg: "answer is neither a file nor a WeCom error",
      httpStatus: status,
      kind: "retry",
      message: `WeCom ${api} answered text that is neither a file nor a WeCom error ` +
        `(${text.length} bytes); a proxy may be in the way. The download is retried later.`,
    });
  }
  return new WeComApiError({
    api,
    errcode,
    errmsg: String(record.errmsg ?? ""),
    httpStatus: status,
  });
}
