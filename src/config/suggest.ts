/**
 * "Did you mean …?" for misspelt configuration keys and environment variables.
 *
 * @example Usage
 * ```ts
 * import { suggest } from "./suggest.ts";
 * console.assert(suggest("encoding_aes_kye", ["token", "encoding_aes_key"]) === "encoding_aes_key");
 * console.assert(suggest("corpId", ["corp_id"]) === "corp_id");
 * console.assert(suggest("colour", ["token"]) === undefined);
 * ```
 *
 * @module
 */

/** Lower case without `_`, `-`, `.` and spaces, so `corpId`, `corp-id` and `CORP_ID` compare equal. */
export function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, "");
}

/** Edit distance between two strings, counting a swap of neighbours as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The known key that `input` most likely meant, or `undefined` when none is close.
 *
 * Matches in order: the same key in another spelling (case, `_`/`-`), an entry of
 * `aliases` (keyed by normalised spelling) naming a known key, then the known key
 * with the smallest edit distance if it is small for the key's length.
 *
 * @example Usage
 * ```ts
 * import { suggest } from "./suggest.ts";
 * console.assert(suggest("aes_key", ["encoding_aes_key"], { aeskey: "encoding_aes_key" }) === "encoding_aes_key");
 * ```
 */
export function suggest(
  input: string,
  known: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const wanted = normaliseKey(input);
  if (wanted === "") return undefined;
  const same = known.find((key) => normaliseKey(key) === wanted);
  if (same) return same;
  const alias = aliases[wanted];
  if (alias && known.includes(alias)) return alias;
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 10 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const key of known) {
    const distance = editDistance(wanted, normaliseKey(key));
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}
