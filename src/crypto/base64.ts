/**
 * Strict standard base64 (RFC 4648 §4) for ciphertexts on the hot path.
 *
 * Decoding accepts only the canonical form WeCom produces: the standard
 * alphabet, `=` padding to a multiple of 4 characters, zero trailing bits, no
 * whitespace. It uses the built-in `Uint8Array.fromBase64` family (native code),
 * and can leave spare room after the decoded bytes so a caller can append
 * without copying.
 *
 * @example Usage
 * ```ts
 * import { decodeBase64, encodeBase64 } from "./base64.ts";
 * const bytes = decodeBase64("aGk=");
 * console.assert(encodeBase64(bytes) === "aGk=");
 * ```
 *
 * @module
 */

import { Base64Error } from "./errors.ts";

/** The ASCII whitespace `Uint8Array.fromBase64` would silently skip. */
const WHITESPACE = /[\t\n\f\r ]/;

/**
 * Decodes canonical standard base64, throwing {@linkcode Base64Error} on
 * anything else (whitespace, characters outside `A-Za-z0-9+/=`, a length that
 * is not a multiple of 4, misplaced `=`, non-zero trailing bits).
 *
 * With `spare` > 0 the result is a view at the start of a buffer that has at
 * least `spare` writable bytes after the view, so the caller can grow it with
 * `new Uint8Array(result.buffer, result.byteOffset, result.length + spare)`.
 *
 * @example Usage
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 * const bytes = decodeBase64("AAEC", 16);
 * console.assert(bytes.length === 3 && bytes.buffer.byteLength >= 19);
 * ```
 */
export function decodeBase64(input: string, spare = 0): Uint8Array<ArrayBuffer> {
  if (WHITESPACE.test(input)) throw new Base64Error("it contains whitespace");
  if (input.length % 4 !== 0) {
    throw new Base64Error(`its length ${input.length} is not a multiple of 4`);
  }
  const target = new Uint8Array((input.length / 4) * 3 + spare);
  let written: number;
  try {
    ({ written } = target.setFromBase64(input, { lastChunkHandling: "strict" }));
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Base64Error(reason.replace(/\.$/, ""), { cause });
  }
  return target.subarray(0, written);
}

/**
 * Encodes bytes as standard base64 with `=` padding.
 *
 * @example Usage
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * console.assert(encodeBase64(new Uint8Array([0xfb, 0xff])) === "+/8=");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}
