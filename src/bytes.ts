/**
 * Joining byte chunks read from a stream into one array.
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const joined = concatBytes([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * console.assert(joined.join(",") === "1,2,3");
 * ```
 *
 * @module
 */

/**
 * Returns the chunks as one array: the chunk itself when there is only one,
 * otherwise a new array with each chunk copied in order.
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * console.assert(concatBytes([]).length === 0);
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
