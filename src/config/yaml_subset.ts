/**
 * A reader for the part of YAML that configuration files use, so that reading
 * `config.yaml` does not load `npm:yaml` (importing an `npm:` package costs
 * the process ~5 MiB of resident memory for good: the Node compatibility
 * layer). Anything outside the subset, or doubtful, gives `undefined`, and the
 * caller parses the text with `npm:yaml`, which also words the errors.
 *
 * The subset: an optional `---` first line; comments and blank lines; block
 * mappings and sequences indented with spaces (a sequence may sit at its
 * key's indentation; `- key: value` starts a mapping in an item); keys that
 * are plain words or quoted strings, each once per mapping; one-line plain
 * scalars resolved by the YAML 1.2 core schema (null, bool, int in decimal,
 * `0o` octal and `0x` hex, float, `.inf`, `.nan`, otherwise a string);
 * one-line single- and double-quoted scalars; flow sequences and mappings of
 * scalars, on one line or several. Refused: block scalars, multi-line plain or
 * quoted scalars, anchors, aliases, tags, complex keys, directives, several
 * documents, nested flow collections, tabs outside comment lines, control
 * characters.
 *
 * @example Usage
 * ```ts
 * import { parseYamlSubset } from "./yaml_subset.ts";
 * const read = parseYamlSubset("gateway:\n  port: 8645 # the port\n  hosts: [a, 'b']\n");
 * console.assert(JSON.stringify(read?.value) === '{"gateway":{"port":8645,"hosts":["a","b"]}}');
 * console.assert(parseYamlSubset("a: &x 1\nb: *x\n") === undefined);
 * ```
 *
 * @module
 */

/** A line with content: its indentation (spaces) and its text after it, trailing spaces cut. */
type Line = { indent: number; text: string };

/** The lines and the index of the line being read. */
type Reader = { lines: Line[]; at: number };

/** Thrown (and caught by {@linkcode parseYamlSubset}) when the text leaves the subset. */
const OUTSIDE = new Error("outside the YAML subset");

function refuse(): never {
  throw OUTSIDE;
}

/** Characters YAML does not allow, or that this reader leaves to the full parser. */
const UNUSUAL =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|\r(?!\n)|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What `\c` stands for in a double-quoted scalar; `\"`, `\/`, `\\`, `\ ` stand for the `c`. */
const ESCAPES: Record<string, string> = { 0: "\0", b: "\b", t: "\t", n: "\n", f: "\f", r: "\r" };

/** The lines that hold content (blank and comment lines dropped); `---` first is skipped. */
function contentLines(text: string): Line[] {
  if (UNUSUAL.test(text)) refuse();
  const lines: Line[] = [];
  let started = false;
  for (const raw of text.split(/\r?\n/)) {
    const body = raw.replace(/^ +/, "").replace(/ +$/, "");
    if (body === "" || body.startsWith("#")) continue;
    if (body.includes("\t")) refuse();
    const indent = raw.length - raw.replace(/^ +/, "").length;
    const marker = indent === 0 && /^(?:---|\.\.\.)(?: |$)/.test(body);
    if (marker && !started && /^---(?: +#.*)?$/.test(body)) {
      started = true;
      continue;
    }
    if (marker) refuse();
    started = true;
    lines.push({ indent, text: body });
  }
  return lines;
}

/** The scalar quoted at `text[start]` (one line) and the index after its closing quote. */
function readQuoted(text: string, start: number): [string, number] {
  const quote = text[start];
  let out = "";
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i];
    if (char === quote && quote === "'" && text[i + 1] === "'") {
      out += "'";
      i++;
    } else if (char === quote) {
      return [out, i + 1];
    } else if (char === "\\" && quote === '"') {
      const escape = text[++i];
      const digits = escape === "x" ? 2 : escape === "u" ? 4 : 0;
      const hex = text.slice(i + 1, i + 1 + digits);
      if (digits > 0 && /^[0-9a-fA-F]+$/.test(hex) && hex.length === digits) {
        out += String.fromCharCode(parseInt(hex, 16));
        i += digits;
      } else if (Object.hasOwn(ESCAPES, escape)) out += ESCAPES[escape];
      else if ('"/\\ '.includes(escape)) out += escape;
      else refuse();
    } else out += char;
  }
  return refuse();
}

/** A plain scalar's value by the YAML 1.2 core schema. */
function resolvePlain(text: string): unknown {
  if (/^(?:~|null|Null|NULL)$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?[0-9]+$/.test(text)) return parseInt(text, 10);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) {
    return parseFloat(text);
  }
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text[0] === "-" ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}

/** A plain scalar's value, refused when it could mean anything else than one plain scalar. */
function plainValue(text: string): unknown {
  if (text === "" || /^[?:,[\]{}#&*!|>'"%@`]|^-(?: |$)|: |:$/.test(text)) refuse();
  return resolvePlain(text);
}

/**
 * A key at `text[start]`: a plain word or a quoted string followed by `:` and a space (or the
 * end); its name and the index after the `:`. Undefined when `text` has no key there; refused
 * when the key is not a plain string name.
 */
function readKey(text: string, start: number): [string, number] | undefined {
  let key: string;
  let end: number;
  if (text[start] === '"' || text[start] === "'") [key, end] = readQuoted(text, start);
  else {
    const word = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(start))?.[0];
    if (word === undefined) return undefined;
    [key, end] = [word, start + word.length];
  }
  if (text[end] !== ":" || (end + 1 < text.length && text[end + 1] !== " ")) return undefined;
  const plain = text[start] !== '"' && text[start] !== "'";
  if (plain && typeof resolvePlain(key) !== "string") refuse();
  if (key === "__proto__" || key === "<<" || end - start > 1000) refuse();
  return [key, end + 1];
}

/** True for a line that is a block sequence item. */
function isItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

/** The block mapping or sequence whose first line is the current one, at `indent`. */
function readBlock(reader: Reader, indent: number): unknown {
  const { text } = reader.lines[reader.at];
  if (isItem(text)) return readSequence(reader, indent);
  if (readKey(text, 0)) return readMapping(reader, indent);
  return refuse();
}

/** The block mapping at `indent` starting at the current line. */
function readMapping(reader: Reader, indent: number): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  while (reader.lines[reader.at]?.indent === indent) {
    const { text } = reader.lines[reader.at];
    const [key, end] = readKey(text, 0) ?? refuse();
    if (Object.hasOwn(map, key)) refuse();
    map[key] = readValue(reader, text.slice(end).replace(/^ +/, ""), indent, true);
  }
  return map;
}

/** The block sequence at `indent` starting at the current line. */
function readSequence(reader: Reader, indent: number): unknown[] {
  const list: unknown[] = [];
  while (reader.lines[reader.at]?.indent === indent && isItem(reader.lines[reader.at].text)) {
    const line = reader.lines[reader.at];
    const rest = line.text.slice(1).replace(/^ +/, "");
    if (isItem(rest) || readKey(rest, 0)) {
      // `- - a` or `- key: value`: the item is a block collection starting at the rest's column.
      const column = indent + line.text.length - rest.length;
      reader.lines[reader.at] = { indent: column, text: rest };
      list.push(readBlock(reader, column));
    } else list.push(readValue(reader, rest, indent, false));
  }
  return list;
}

/**
 * The value after a key or a `-` on the current line (`rest`, leading spaces cut), or in the
 * lines below when `rest` is empty; `indent` is the mapping's or the sequence's.
 */
function readValue(reader: Reader, rest: string, indent: number, inMapping: boolean): unknown {
  let value: unknown;
  if (rest === "" || rest.startsWith("#")) {
    const next = reader.lines[++reader.at];
    const nested = next && (next.indent > indent ||
      (inMapping && next.indent === indent && isItem(next.text)));
    return nested ? readBlock(reader, next.indent) : null;
  }
  if (rest[0] === "[" || rest[0] === "{") value = readFlow(reader, rest, indent);
  else if (rest[0] === '"' || rest[0] === "'") {
    const [text, end] = readQuoted(rest, 0);
    if (!/^(?: +#.*)?$/.test(rest.slice(end))) refuse();
    value = text;
  } else value = plainValue(rest.replace(/ +#.*$/, ""));
  reader.at++;
  return value;
}

/**
 * A flow sequence or mapping of scalars starting at `rest[0]` on the current line and ending on
 * it or a line below (lines inside deeper than `indent`, the closing one at least as deep).
 * The current line is left at the closing one.
 */
function readFlow(reader: Reader, rest: string, indent: number): unknown {
  const close = rest[0] === "[" ? "]" : "}";
  const list: unknown[] = [];
  const map: Record<string, unknown> = {};
  let text = rest;
  let pos = 1;
  /** The next character that is not a space, a comment or a line end. */
  const peek = (): string => {
    for (;;) {
      while (text[pos] === " ") pos++;
      if (text[pos] === "#" && text[pos - 1] !== " ") refuse();
      if (pos < text.length && text[pos] !== "#") return text[pos];
      const next = reader.lines[++reader.at] ?? refuse();
      if (next.indent < indent || (next.indent === indent && next.text[0] !== close)) refuse();
      [text, pos] = [next.text, 0];
    }
  };
  /** The scalar at `pos`, on this line. */
  const scalar = (): unknown => {
    if (text[pos] === '"' || text[pos] === "'") {
      const [value, end] = readQuoted(text, pos);
      pos = end;
      return value;
    }
    // A plain scalar ends before a flow indicator, a comment or the line's end.
    const plain = /^.*?(?=[,[\]{}]| #|$)/.exec(text.slice(pos))![0];
    pos += plain.length;
    return plainValue(plain.replace(/ +$/, ""));
  };
  while (peek() !== close) {
    if (close === "]") list.push(scalar());
    else {
      const [key, end] = readKey(text, pos) ?? refuse();
      if (Object.hasOwn(map, key)) refuse();
      pos = end + 1;
      while (text[pos] === " ") pos++;
      map[key] = scalar();
    }
    if (peek() === ",") pos++;
    else if (peek() !== close) refuse();
  }
  if (!/^(?: +#.*)?$/.test(text.slice(pos + 1))) refuse();
  return close === "]" ? list : map;
}

/**
 * The value of the YAML document `text` when it lies in the subset this module reads (see the
 * module documentation); then it deep-equals what `npm:yaml`'s `parse(text)` returns. Undefined
 * for anything else, valid YAML or not; never throws.
 *
 * @example Usage
 * ```ts
 * import { parseYamlSubset } from "./yaml_subset.ts";
 * const read = parseYamlSubset("apps:\n  - name: a\n    agent_id: 1000002\n");
 * console.assert(JSON.stringify(read?.value) === '{"apps":[{"name":"a","agent_id":1000002}]}');
 * console.assert(parseYamlSubset("text: |\n  two\n  lines\n") === undefined);
 * ```
 */
export function parseYamlSubset(text: string): { value: unknown } | undefined {
  try {
    const lines = contentLines(text);
    if (lines.length === 0) return { value: null };
    const reader: Reader = { lines, at: 0 };
    const value = readBlock(reader, lines[0].indent);
    // A collection ends at a line with another indentation, so a line deeper than the one it
    // ends (a continuation, a bad indentation) ends them all and is left over here.
    return reader.at === lines.length ? { value } : undefined;
  } catch {
    return undefined; // outside the subset (a mistake here would also leave the text to npm:yaml)
  }
}
