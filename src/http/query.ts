/**
 * Query strings as WeCom sends them.
 *
 * `URLSearchParams` turns a raw `+` into a space, which corrupts a base64
 * `echostr` sent without percent-encoding. This reader only percent-decodes.
 *
 * @example Usage
 * ```ts
 * import { parseQuery } from "./query.ts";
 * const query = parseQuery("?echostr=a+b%2Bc%3D&nonce=1");
 * console.assert(query.get("echostr") === "a+b+c=");
 * ```
 *
 * @module
 */

/** Returns the first value of each parameter, percent-decoded, `+` kept as `+`. */
export function parseQuery(search: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = search.startsWith("?") ? search.slice(1) : search;
  if (text === "") return out;
  for (const part of text.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? "" : part.slice(eq + 1);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName);
      value = decodeURIComponent(rawValue);
    } catch {
      continue; // a malformed escape: treat the parameter as absent
    }
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}
