/**
 * The WeCom message signature: `msg_signature = hex(sha1(concat(sort([token,
 * timestamp, nonce, payload]))))`, where payload is the `Encrypt` text of a
 * POST or the percent-decoded `echostr` of a GET.
 *
 * @example Usage
 * ```ts
 * import { computeSignature, verifySignature } from "./signature.ts";
 * const sig = await computeSignature("QDG6eK", "1409659589", "263014780", "P9nA...");
 * console.assert(await verifySignature("QDG6eK", "1409659589", "263014780", "P9nA...", sig));
 * ```
 *
 * @module
 */

import { timingSafeEqual } from "./constant_time.ts";

const encoder = new TextEncoder();
const SIGNATURE = /^[0-9a-f]{40}$/;

/**
 * Returns the signature (40 lowercase hex digits) of a callback or reply.
 *
 * The four strings are sorted by plain lexicographic order (UTF-16 code
 * units, which equals the SDKs' byte order for the ASCII values WeCom uses),
 * concatenated, UTF-8 encoded, and hashed with SHA-1.
 *
 * @example Usage
 * ```ts
 * import { computeSignature } from "./signature.ts";
 * const sig = await computeSignature("token", "1409659813", "1372623149", "Encrypt text");
 * console.assert(/^[0-9a-f]{40}$/.test(sig));
 * ```
 */
export async function computeSignature(
  token: string,
  timestamp: string,
  nonce: string,
  payload: string,
): Promise<string> {
  const sorted = [token, timestamp, nonce, payload].sort();
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(sorted.join("")));
  return new Uint8Array(digest).toHex();
}

/**
 * Returns whether `signature` is the signature of the given values.
 *
 * Anything but exactly 40 lowercase hex digits is rejected (WeCom always sends
 * lowercase). The comparison with the expected value takes the same time
 * wherever the two differ.
 *
 * @example Usage
 * ```ts
 * import { verifySignature } from "./signature.ts";
 * const ok = await verifySignature("token", "1", "2", "payload", "not-a-signature");
 * console.assert(ok === false);
 * ```
 */
export async function verifySignature(
  token: string,
  timestamp: string,
  nonce: string,
  payload: string,
  signature: string,
): Promise<boolean> {
  if (typeof signature !== "string" || !SIGNATURE.test(signature)) return false;
  const expected = await computeSignature(token, timestamp, nonce, payload);
  return timingSafeEqual(encoder.encode(expected), encoder.encode(signature));
}
