/**
 * Parsing the text of a `.env` file into variables, with the rules of the
 * `dotenv` package's `parse` (so existing `.env` files read the same) but
 * without it: an `npm:` package costs ~10 MiB of idle RSS (the Node
 * compatibility layer it loads). The environment is never modified.
 *
 * Rules: `KEY=value` or `KEY: value` lines, an optional `export ` prefix;
 * keys of letters, digits, `_`, `.` and `-`; `#` starts a comment outside
 * quotes; values in single, double or back quotes keep `#` and may span
 * lines; only in double quotes do `\n` and `\r` become a line break and a
 * carriage return; unquoted values are trimmed; a later line wins; lines that
 * are not assignments are skipped.
 *
 * @example Usage
 * ```ts
 * import { parseDotenv } from "./dotenv_parse.ts";
 * const values = parseDotenv('export A=1 # note\nB="two\\nlines"\n');
 * console.assert(values.A === "1" && values.B === "two\nlines");
 * ```
 *
 * @module
 */

/** One assignment per match: the key, then the raw value (quoted or not). */
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg;

/**
 * The variables assigned in `text` (a `.env` file's content).
 *
 * @example Usage
 * ```ts
 * import { parseDotenv } from "./dotenv_parse.ts";
 * console.assert(parseDotenv("A='x # y'").A === "x # y");
 * ```
 */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.replace(/\r\n?/mg, "\n");
  for (const match of lines.matchAll(LINE)) {
    let value = (match[2] ?? "").trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/mg, "$2");
    if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    values[match[1]] = value;
  }
  return values;
}
