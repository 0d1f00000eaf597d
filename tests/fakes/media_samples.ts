/**
 * Media files for tests: bytes that start as real JPG, PNG, GIF, AMR and MP4
 * files do (which is what WeCom and the gateway judge formats by), padded to
 * the size a test needs.
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
