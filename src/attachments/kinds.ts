/**
 * What WeCom accepts as media, and how a file is sent.
 *
 * WeCom's `media/upload` limits (api-facts §6b): every file more than 5
 * bytes; image JPG/PNG up to 10 MB; voice AMR up to 2 MB and 60 s; video MP4
 * up to 10 MB; any file up to 20 MB. Formats are judged by the file's first
 * bytes, not its name. {@linkcode planUpload} picks the WeCom type for an
 * outbound file: the one asked for (or the file's own) when it fits, else
 * `file` (an image as GIF, an MP3 voice note, a video over 10 MB), and refuses
 * what no type takes (empty, over 20 MB) with a reason a user can read.
 *
 * @example Usage
 * ```ts
 * import { planUpload } from "./kinds.ts";
 * const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
 * const plan = planUpload({ filename: "chart", bytes: png });
 * console.assert(plan.ok && plan.kind === "image" && plan.filename === "chart.png");
 * ```
 *
 * @module
 */

import type { MediaKind } from "../wecom/types.ts";
import { formatBytes } from "../wecom/media.ts";

const MB = 1024 * 1024;

/** Files must be bigger than this (bytes). */
export const MIN_MEDIA_BYTES = 5;

/** WeCom's size limit per media type, bytes. */
export const MEDIA_MAX_BYTES: Readonly<Record<MediaKind, number>> = {
  image: 10 * MB,
  voice: 2 * MB,
  video: 10 * MB,
  file: 20 * MB,
};

/** Longest voice message WeCom takes, seconds. */
export const MAX_VOICE_SECONDS = 60;

/** A file format recognised by its first bytes. */
export type SniffedFormat =
  | "jpg"
  | "png"
  | "gif"
  | "webp"
  | "bmp"
  | "amr"
  | "silk"
  | "mp3"
  | "ogg"
  | "wav"
  | "mp4"
  | "pdf";

const CONTENT_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  amr: "audio/amr",
  silk: "audio/silk",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  m4a: "audio/mp4",
  mp4: "video/mp4",
  mov: "video/quicktime",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  zip: "application/zip",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};

/** The format WeCom requires of each media type (files take anything). */
const REQUIRED_FORMATS: Readonly<Record<Exclude<MediaKind, "file">, readonly SniffedFormat[]>> = {
  image: ["jpg", "png"],
  voice: ["amr"],
  video: ["mp4"],
};

/**
 * The format of `bytes` judged by their first bytes, or null.
 *
 * @example Usage
 * ```ts
 * import { sniffFormat } from "./kinds.ts";
 * console.assert(sniffFormat(new TextEncoder().encode("#!AMR\n\x3c")) === "amr");
 * console.assert(sniffFormat(new TextEncoder().encode("hello")) === null);
 * ```
 */
export function sniffFormat(bytes: Uint8Array): SniffedFormat | null {
  const starts = (...values: number[]) => values.every((value, i) => bytes[i] === value);
  const ascii = (from: number, to: number) =>
    String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));
  if (starts(0xff, 0xd8, 0xff)) return "jpg";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (ascii(0, 4) === "GIF8") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "wav";
  if (ascii(0, 2) === "BM" && bytes.length > 14) return "bmp";
  if (ascii(0, 5) === "#!AMR") return "amr";
  if (ascii(0, 9) === "#!SILK_V3" || ascii(1, 10) === "#!SILK_V3") return "silk";
  if (ascii(0, 3) === "ID3" || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0)) return "mp3";
  if (ascii(0, 4) === "OggS") return "ogg";
  if (ascii(4, 8) === "ftyp") return "mp4";
  if (ascii(0, 5) === "%PDF-") return "pdf";
  return null;
}

/**
 * The media type a file of this name would naturally be sent as, by its
 * extension (`file` for anything else).
 *
 * @example Usage
 * ```ts
 * import { kindForName } from "./kinds.ts";
 * console.assert(kindForName("a.JPG") === "image" && kindForName("b.pdf") === "file");
 * ```
 */
export function kindForName(filename: string): MediaKind {
  const extension = extensionOf(filename);
  if (["jpg", "jpeg", "png"].includes(extension)) return "image";
  if (extension === "amr") return "voice";
  if (extension === "mp4") return "video";
  return "file";
}

/**
 * A content type for a file name (by extension), `application/octet-stream`
 * when unknown.
 *
 * @example Usage
 * ```ts
 * import { contentTypeFor } from "./kinds.ts";
 * console.assert(contentTypeFor("voice.amr") === "audio/amr");
 * ```
 */
export function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[extensionOf(filename)] ?? "application/octet-stream";
}

/**
 * The file extension for a downloaded file: from its bytes, else the name WeCom
 * gave, else its content type, else `fallback`.
 *
 * @example Usage
 * ```ts
 * import { extensionFor } from "./kinds.ts";
 * console.assert(extensionFor(new Uint8Array([0xff, 0xd8, 0xff, 0]), "", "", "bin") === "jpg");
 * console.assert(extensionFor(new Uint8Array(4), "clip.MOV", "", "mp4") === "mov");
 * ```
 */
export function extensionFor(
  bytes: Uint8Array,
  filename: string,
  contentType: string,
  fallback: string,
): string {
  const sniffed = sniffFormat(bytes);
  if (sniffed) return sniffed;
  const named = extensionOf(filename);
  if (/^[a-z0-9]{1,8}$/.test(named)) return named;
  const type = contentType.split(";")[0].trim().toLowerCase();
  const byType = Object.entries(CONTENT_TYPES).find(([, value]) => value === type)?.[0];
  return byType ?? fallback;
}

/**
 * The length of an AMR (narrow or wide band) recording in seconds, by counting
 * its 20 ms frames; undefined when the bytes are not AMR.
 *
 * @example Usage
 * ```ts
 * import { amrSeconds } from "./kinds.ts";
 * const frame = [0x3c, ...new Array(31).fill(0)]; // one 12.2 kbit/s frame: 32 bytes
 * const bytes = new Uint8Array([...new TextEncoder().encode("#!AMR\n"), ...Array(50).fill(frame).flat()]);
 * console.assert(amrSeconds(bytes) === 1);
 * ```
 */
export function amrSeconds(bytes: Uint8Array): number | undefined {
  const head = String.fromCharCode(...bytes.subarray(0, 9));
  let offset: number;
  let sizes: number[];
  if (head.startsWith("#!AMR-WB\n")) {
    offset = 9;
    sizes = [18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 0, 0, 0, 0, 1, 1];
  } else if (head.startsWith("#!AMR\n")) {
    offset = 6;
    sizes = [13, 14, 16, 18, 20, 21, 27, 32, 6, 0, 0, 0, 0, 0, 0, 1];
  } else {
    return undefined;
  }
  let frames = 0;
  while (offset < bytes.length) {
    const size = sizes[(bytes[offset] >> 3) & 0x0f];
    if (size === 0) break; // not a valid frame type: stop counting
    offset += size;
    frames++;
  }
  return frames * 0.02;
}

/** The outcome of {@linkcode planUpload}. */
export type UploadPlan =
  | {
    ok: true;
    kind: MediaKind;
    /** The name users see (an extension matching the type is added when missing). */
    filename: string;
    contentType: string;
  }
  | {
    ok: false;
    /** Why it cannot be sent, for the user: "it is 25 MB; WeCom sends files up to 20 MB". */
    reason: string;
  };

/**
 * Chooses how to send a file: as `wanted` (or its natural type) when WeCom
 * takes it in that type, otherwise as a file; refuses files no type takes.
 *
 * @example Usage
 * ```ts
 * import { planUpload } from "./kinds.ts";
 * const gif = new TextEncoder().encode("GIF89a......");
 * const plan = planUpload({ filename: "cat.gif", bytes: gif, wanted: "image" });
 * console.assert(plan.ok && plan.kind === "file"); // WeCom images are JPG or PNG only
 * ```
 */
export function planUpload(
  file: { filename: string; bytes: Uint8Array; wanted?: MediaKind },
): UploadPlan {
  const { bytes } = file;
  const size = bytes.length;
  if (size <= MIN_MEDIA_BYTES) {
    return { ok: false, reason: `it is empty (${size} bytes); WeCom needs more than 5 bytes` };
  }
  if (size > MEDIA_MAX_BYTES.file) {
    return {
      ok: false,
      reason: `it is ${sizeOver(size, MEDIA_MAX_BYTES.file)}; WeCom sends files of at most ${
        formatBytes(MEDIA_MAX_BYTES.file)
      }`,
    };
  }
  const format = sniffFormat(bytes);
  const natural: MediaKind = format === "jpg" || format === "png"
    ? "image"
    : format === "amr"
    ? "voice"
    : format === "mp4"
    ? "video"
    : "file";
  const candidate = file.wanted ?? natural;
  const fits = candidate === "file" || (
    format !== null && REQUIRED_FORMATS[candidate].includes(format) &&
    size <= MEDIA_MAX_BYTES[candidate] &&
    (candidate !== "voice" || (amrSeconds(bytes) ?? 0) <= MAX_VOICE_SECONDS)
  );
  const kind = fits ? candidate : "file";
  let filename = file.filename || "file";
  if (
    kind !== "file" && format && !REQUIRED_FORMATS[kind].includes(extensionOf(filename) as never)
  ) {
    if (!(format === "jpg" && extensionOf(filename) === "jpeg")) filename = `${filename}.${format}`;
  }
  const contentType = kind === "file" && format === null
    ? contentTypeFor(filename)
    : CONTENT_TYPES[format ?? extensionOf(filename)] ?? contentTypeFor(filename);
  return { ok: true, kind, filename, contentType };
}

/**
 * A size over a limit, for people: rounded, unless it would read like the
 * limit itself ("20 MB; … at most 20 MB"), then in bytes.
 *
 * @example Usage
 * ```ts
 * import { sizeOver } from "./kinds.ts";
 * console.assert(sizeOver(21 * 1024 * 1024, 20 * 1024 * 1024) === "21 MB");
 * console.assert(sizeOver(20 * 1024 * 1024 + 1, 20 * 1024 * 1024) === "20971521 bytes");
 * ```
 */
export function sizeOver(size: number, limit: number): string {
  const shown = formatBytes(size);
  return shown === formatBytes(limit) ? `${size} bytes` : shown;
}

function extensionOf(filename: string): string {
  const name = filename.split(/[\\/]/).pop() ?? "";
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}
