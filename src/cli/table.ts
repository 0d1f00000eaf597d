/**
 * Plain-text tables for terminal output: columns padded to their widest cell,
 * counting CJK and other wide characters as two columns so that Chinese
 * user ids and errors line up.
 *
 * @example Usage
 * ```ts
 * import { formatTable } from "./table.ts";
 * const text = formatTable(["id", "state"], [["a1", "done"], ["b22", "queued"]]);
 * console.assert(text.split("\n")[0] === "id   state");
 * ```
 *
 * @module
 */

/**
 * Columns a string takes in a terminal: 2 for wide (CJK, full-width) characters, else 1.
 *
 * @example Usage
 * ```ts
 * import { displayWidth } from "./table.ts";
 * console.assert(displayWidth("ab") === 2 && displayWidth("你好") === 4);
 * ```
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const wide = (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf) ||
      (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
      (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1faff) ||
      (code >= 0x20000 && code <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

/**
 * Cuts `text` to at most `max` columns, ending with "…" when cut; newlines become spaces.
 *
 * @example Usage
 * ```ts
 * import { truncate } from "./table.ts";
 * console.assert(truncate("abcdef", 4) === "abc…");
 * ```
 */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (displayWidth(flat) <= max) return flat;
  let out = "";
  for (const char of flat) {
    if (displayWidth(out + char) > max - 1) break;
    out += char;
  }
  return out + "…";
}

/**
 * Renders `rows` under `headers`, columns separated by two spaces, no trailing spaces.
 *
 * @example Usage
 * ```ts
 * import { formatTable } from "./table.ts";
 * console.assert(formatTable(["a"], []) === "a");
 * ```
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(displayWidth(header), ...rows.map((row) => displayWidth(row[column] ?? "")))
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) =>
      column === cells.length - 1
        ? cell
        : cell + " ".repeat(widths[column] - displayWidth(cell) + 2)
    ).join("").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
