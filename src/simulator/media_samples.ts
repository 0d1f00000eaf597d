/**
 * Media files for the simulated WeCom, the demo and the tests: bytes that start
 * as real JPG, PNG, GIF, AMR and MP4 files do (which is what WeCom and the
 * gateway judge formats by), padded to the size a test needs, and one sample
 * per message type for the demo ({@linkcode demoMedia}).
 *
 * @example Usage
 * ```ts
 * import { amr, demoMedia } from "./media_samples.ts";
 * console.assert(amr(1).length === 6 + 50 * 32);
 * console.assert(demoMedia("image").contentType === "image/png");
 * ```
 *
 * @module
 */

function padded(head: number[], size: number, fill = 0x41): Uint8Array {
  const bytes = new Uint8Array(Math.max(size, head.length)).fill(fill);
  bytes.set(head);
  return bytes;
}

/** A PNG of `size` bytes. */
export function png(size = 2048): Uint8Array {
  return padded([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], size);
}

/** A JPEG of `size` bytes. */
export function jpg(size = 2048): Uint8Array {
  return padded([0xff, 0xd8, 0xff, 0xe0], size);
}

/** A GIF of `size` bytes (WeCom takes images as JPG or PNG only). */
export function gif(size = 2048): Uint8Array {
  return padded([...new TextEncoder().encode("GIF89a")], size);
}

/** An MP4 of `size` bytes. */
export function mp4(size = 4096): Uint8Array {
  return padded([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom")], size);
}

/** An AMR-NB recording of `seconds` (12.2 kbit/s frames of 32 bytes, 50 a second). */
export function amr(seconds = 1): Uint8Array {
  const frames = Math.round(seconds * 50);
  const head = new TextEncoder().encode("#!AMR\n");
  const bytes = new Uint8Array(head.length + frames * 32);
  bytes.set(head);
  for (let i = 0; i < frames; i++) bytes[head.length + i * 32] = 0x3c;
  return bytes;
}

/** `size` bytes of text-like data (no known format). */
export function blob(size: number): Uint8Array {
  return padded([], size, 0x62);
}

/** A complete 1×1 PNG (a valid image any viewer opens). */
const PIXEL_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/** A sample file as a member would send it. */
export interface SampleMedia {
  bytes: Uint8Array;
  filename: string;
  contentType: string;
}

/**
 * The file the demo's member sends for a message `type`: a real 1×1 PNG, two
 * seconds of AMR-NB (12.2 kbit/s frames, as WeCom records voice), an MP4 and
 * a small text file.
 */
export function demoMedia(type: "image" | "voice" | "video" | "file"): SampleMedia {
  switch (type) {
    case "image":
      return {
        bytes: Uint8Array.from(atob(PIXEL_PNG_BASE64), (char) => char.charCodeAt(0)),
        filename: "demo.png",
        contentType: "image/png",
      };
    case "voice":
      return { bytes: amr(2), filename: "demo.amr", contentType: "audio/amr" };
    case "video":
      return { bytes: mp4(4096), filename: "demo.mp4", contentType: "video/mp4" };
    case "file":
      return {
        bytes: new TextEncoder().encode("A file from the wecom-gateway demo.\n"),
        filename: "demo.txt",
        contentType: "text/plain",
      };
  }
}
