/**
 * Fresh callback credentials shaped as WeCom's admin console makes them: a
 * Token (letters and digits, here 32) and an EncodingAESKey (43 letters and
 * digits), from the system's secure random source.
 *
 * @example Usage
 * ```ts
 * import { generateCallbackKeys } from "./generate.ts";
 * const { token, encodingAesKey } = generateCallbackKeys();
 * console.assert(token.length === 32 && encodingAesKey.length === 43);
 * ```
 *
 * @module
 */

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * `length` characters of `alphabet` (default letters and digits), each equally likely.
 *
 * @example Usage
 * ```ts
 * import { randomText } from "./generate.ts";
 * console.assert(/^[0-9a-f]{16}$/.test(randomText(16, "0123456789abcdef")));
 * ```
 */
export function randomText(length: number, alphabet: string = ALNUM): string {
  // The largest multiple of the alphabet's size below 256: rejecting the rest keeps every
  // character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** A callback Token and EncodingAESKey pair. */
export interface CallbackKeys {
  /** 32 letters and digits (WeCom allows at most 32). */
  token: string;
  /** 43 letters and digits: the base64 of a 32-byte AES key without its `=`. */
  encodingAesKey: string;
}

/**
 * Generates a Token and an EncodingAESKey for a new app's "Set API Receive" page.
 *
 * @example Usage
 * ```ts
 * import { generateCallbackKeys } from "./generate.ts";
 * console.assert(/^[A-Za-z0-9]{43}$/.test(generateCallbackKeys().encodingAesKey));
 * ```
 */
export function generateCallbackKeys(): CallbackKeys {
  return { token: randomText(32), encodingAesKey: randomText(43) };
}
