/**
 * Parsing of WeCom's EncodingAESKey into the AES-256 key bytes.
 *
 * The admin console shows 43 characters of `[A-Za-z0-9]`;
 * `AESKey = Base64_Decode(EncodingAESKey + "=")` gives 32 bytes. The last
 * character's two low bits are dropped (they are often non-zero, e.g. in the
 * documented example key), so this decoding is deliberately not strict.
 *
 * @example Usage
 * ```ts
 * import { parseEncodingAesKey } from "./aes_key.ts";
 * const key = parseEncodingAesKey("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C");
 * console.assert(key.length === 32);
 * ```
 *
 * @module
 */

import { AesKeyError } from "./errors.ts";

const SHAPE = /^[A-Za-z0-9]{43}$/;

/**
 * Returns the 32 AES key bytes of an EncodingAESKey, or throws
 * {@linkcode AesKeyError} when it is not exactly 43 letters or digits. The
 * error describes the key's shape only, never its characters.
 *
 * @example Usage
 * ```ts
 * import { parseEncodingAesKey } from "./aes_key.ts";
 * try {
 *   parseEncodingAesKey("too-short");
 * } catch (err) {
 *   console.assert((err as Error).name === "AesKeyError");
 * }
 * ```
 */
export function parseEncodingAesKey(encodingAesKey: string): Uint8Array<ArrayBuffer> {
  if (typeof encodingAesKey !== "string") {
    throw new AesKeyError(`it is a ${typeof encodingAesKey}, not a string`);
  }
  if (!SHAPE.test(encodingAesKey)) {
    const length = encodingAesKey.length;
    const bad = /[^A-Za-z0-9]/.test(encodingAesKey);
    throw new AesKeyError(
      length !== 43
        ? `it has ${length} characters${bad ? " and some are not letters or digits" : ""}`
        : "some characters are not letters or digits (look for spaces, quotes, '+', '/' or '=')",
    );
  }
  return Uint8Array.fromBase64(encodingAesKey + "=", { lastChunkHandling: "loose" });
}
