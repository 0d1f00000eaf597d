/**
 * A strict, small XML reader for WeCom's flat callback documents.
 *
 * WeCom's envelopes and message bodies are a root element holding simple
 * child elements (a few events nest one level more). This reader accepts
 * exactly well-formed XML of that kind: elements, text, CDATA sections,
 * comments, an optional XML declaration, the five predefined entities and
 * numeric character references. It refuses any DOCTYPE, entity declaration
 * or processing instruction, so no entity is ever expanded from the input
 * (no "billion laughs", no external entities), and it bounds nesting depth
 * and element count.
 *
 * @example Usage
 * ```ts
 * import { readXmlFields } from "./xml.ts";
 * const fields = readXmlFields("<xml><A><![CDATA[1 < 2]]></A><B>x</B></xml>");
 * console.assert(fields.get("A") === "1 < 2");
 * ```
 *
 * @module
 */

/** The input is not XML of the accepted kind. `position` is a character offset. */
export class XmlError extends Error {
  /** Character offset where reading stopped. */
  position: number;
  constructor(message: string, position: number) {
    super(`Cannot read the XML body: ${message} at character ${position}`);
    this.name = "XmlError";
    this.position = position;
  }
}

/** Most elements one document may hold. */
const MAX_ELEMENTS = 2000;
/** Deepest nesting accepted. */
const MAX_DEPTH = 8;
/**
 * Longest element name accepted. Paths repeat their ancestors' names for
 * every descendant, so an unbounded name would let a 60 KB document build
 * gigabytes of keys (seconds of CPU per request, before any signature check).
 */
const MAX_NAME_LENGTH = 128;

const NAME = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;
const PREDEFINED: Record<string, string> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/** `;`, `&` or whitespace (as `\s` matches it): what ends an entity name. */
function endsEntityName(c: number): boolean {
  if (c === 0x3b || c === 0x26 || c === 0x20 || (c >= 0x09 && c <= 0x0d)) return true;
  return c >= 0x80 && /\s/.test(String.fromCharCode(c));
}

function decodeEntities(text: string, offset: number): string {
  let amp = text.indexOf("&");
  if (amp === -1) return text;
  // A scan rather than a global regex replace: that one matched every '&' of
  // the text before the first bad one could throw (0.4 s for 1 MiB of '&').
  let out = "";
  let from = 0;
  while (amp !== -1) {
    let end = amp + 1;
    const limit = Math.min(text.length, amp + 11);
    while (end < limit && !endsEntityName(text.charCodeAt(end))) end++;
    if (text.charCodeAt(end) !== 0x3b) {
      throw new XmlError("an '&' that starts no entity", offset + amp);
    }
    const name = text.slice(amp + 1, end);
    let decoded: string;
    if (Object.hasOwn(PREDEFINED, name)) decoded = PREDEFINED[name];
    else {
      let code = NaN;
      if (/^#x[0-9A-Fa-f]{1,6}$/.test(name)) code = parseInt(name.slice(2), 16);
      else if (/^#[0-9]{1,7}$/.test(name)) code = parseInt(name.slice(1), 10);
      if (
        Number.isNaN(code) || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ||
        (code < 0x20 && code !== 0x9 && code !== 0xa && code !== 0xd)
      ) {
        throw new XmlError(`an entity '&${name};' that is not one of XML's own`, offset + amp);
      }
      decoded = String.fromCodePoint(code);
    }
    out += text.slice(from, amp) + decoded;
    from = end + 1;
    amp = text.indexOf("&", from);
  }
  return out + text.slice(from);
}

/**
 * Reads a document whose root holds named children and returns their text by
 * path: top-level children by name (`"Content"`), nested ones joined with "."
 * (`"BatchJob.JobId"`). An element that holds elements has no entry of its
 * own. A repeated name keeps its first value, and later ones get `#2`, `#3`, …
 * suffixes (`"SendPicsInfo.PicList.item.PicMd5Sum#2"`).
 *
 * @throws {XmlError} when the input is not well-formed, has a DOCTYPE or
 * processing instruction, an unknown entity, or exceeds the depth or size
 * limits.
 */
export function readXmlFields(input: string): Map<string, string> {
  const fields = new Map<string, string>();
  const length = input.length;
  let i = 0;
  let elements = 0;

  const skipSpace = () => {
    while (i < length) {
      const c = input.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (input.startsWith("<!--", i)) {
        const end = input.indexOf("-->", i + 4);
        if (end === -1) throw new XmlError("an unterminated comment", i);
        i = end + 3;
      } else return;
    }
  };

  if (input.charCodeAt(0) === 0xfeff) i = 1;
  if (input.startsWith("<?xml", i)) {
    const end = input.indexOf("?>", i);
    if (end === -1) throw new XmlError("an unterminated XML declaration", i);
    i = end + 2;
  }
  skipMisc();
  if (input.startsWith("<!", i)) throw new XmlError("a DOCTYPE or declaration (not accepted)", i);
  if (input.startsWith("<?", i)) throw new XmlError("a processing instruction (not accepted)", i);
  if (input.charCodeAt(i) !== 0x3c) throw new XmlError("no root element", i);

  const counts = new Map<string, number>();
  const put = (path: string, value: string) => {
    const seen = counts.get(path) ?? 0;
    counts.set(path, seen + 1);
    fields.set(seen === 0 ? path : `${path}#${seen + 1}`, value);
  };

  // Reads one element starting at `<`; returns after its end tag.
  const readElement = (parentPath: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new XmlError(`nesting deeper than ${MAX_DEPTH}`, i);
    if (++elements > MAX_ELEMENTS) throw new XmlError(`more than ${MAX_ELEMENTS} elements`, i);
    const start = i;
    const close = input.indexOf(">", i);
    if (close === -1) throw new XmlError("an unterminated start tag", i);
    let tag = input.slice(i + 1, close);
    const selfClosing = tag.endsWith("/");
    if (selfClosing) tag = tag.slice(0, -1);
    const space = tag.search(/[\s]/);
    const name = space === -1 ? tag : tag.slice(0, space);
    if (name.length > MAX_NAME_LENGTH) {
      throw new XmlError(`an element name longer than ${MAX_NAME_LENGTH} characters`, start);
    }
    if (!NAME.test(name)) throw new XmlError(`a bad element name '${name.slice(0, 40)}'`, start);
    if (space !== -1) {
      const attributes = tag.slice(space);
      if (!/^(\s+[A-Za-z_:][\w:.\-]*\s*=\s*("[^"<]*"|'[^'<]*'))*\s*$/.test(attributes)) {
        throw new XmlError(`bad attributes on <${name}>`, start);
      }
    }
    i = close + 1;
    const path = depth === 0 ? "" : parentPath === "" ? name : `${parentPath}.${name}`;
    if (selfClosing) {
      if (depth > 0) put(path, "");
      return;
    }
    let text = "";
    let hasChildren = false;
    for (;;) {
      const lt = input.indexOf("<", i);
      if (lt === -1) throw new XmlError(`no end tag for <${name}>`, i);
      if (lt > i) text += decodeEntities(input.slice(i, lt), i);
      i = lt;
      if (input.startsWith("</", i)) {
        const end = input.indexOf(">", i);
        if (end === -1) throw new XmlError("an unterminated end tag", i);
        const endName = input.slice(i + 2, end).trimEnd();
        if (endName !== name) {
          throw new XmlError(`</${endName.slice(0, 40)}> where </${name}> was expected`, i);
        }
        i = end + 1;
        break;
      } else if (input.startsWith("<![CDATA[", i)) {
        const end = input.indexOf("]]>", i + 9);
        if (end === -1) throw new XmlError("an unterminated CDATA section", i);
        text += input.slice(i + 9, end);
        i = end + 3;
      } else if (input.startsWith("<!--", i)) {
        const end = input.indexOf("-->", i + 4);
        if (end === -1) throw new XmlError("an unterminated comment", i);
        i = end + 3;
      } else if (input.startsWith("<!", i) || input.startsWith("<?", i)) {
        throw new XmlError("a declaration or processing instruction (not accepted)", i);
      } else {
        hasChildren = true;
        readElement(path, depth + 1);
      }
    }
    if (depth > 0 && !hasChildren) put(path, text);
    else if (hasChildren && text.trim() !== "") {
      throw new XmlError(`text mixed with elements in <${name}>`, start);
    }
  };

  readElement("", 0);
  skipMisc();
  if (i < length) throw new XmlError("content after the root element", i);
  return fields;
}
