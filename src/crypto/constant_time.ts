/**
 * Comparison of byte strings whose time does not depend on where they differ.
 *
 * @example Usage
 * ```ts
 * import { timingSafeEqual } from "./constant_time.ts";
 * const a = new TextEncoder().encode("abc");
 * console.assert(timingSafeEqual(a, new TextEncoder().encode("abc")));
 * ```
 *
 * @module
 */

/**
 * Returns whether `a` and `b` hold the same bytes.
 *
 * When the lengths are equal, every byte is visited whatever the contents, so
 * the time taken reveals nothing about the position of the first difference.
 * Different lengths return `false` at once: the length is not treated as secret
 * (callers compare fixed-length values such as 20-byte digests).
 *
 * @example Usage
 * ```ts
 * import { timingSafeEqual } from "./constant_time.ts";
 * console.assert(!timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
 * ```
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
