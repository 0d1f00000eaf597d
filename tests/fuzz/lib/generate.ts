/**
 * Seeded generators of bad (and a few good) WeCom callback inputs for the fuzz
 * suites: a small PRNG, random bytes and text, XML soups, truncations,
 * nesting, huge fields, entity and CDATA tricks, malformed base64, and
 * WeCom-layout plaintexts encrypted with raw AES-CBC (so the padding, the
 * length field and the receive id can be wrong while the ciphertext itself is
 * well-formed and validly signed).
 *
 * Everything here is deterministic for a given seed, except the AES-CBC
 * output, which is deterministic for a given key and plaintext.
 *
 * @example Usage
 * ```ts
 * import { createRng, mutate } from "./generate.ts";
 * const rng = createRng(42);
 * const bad = mutate(rng, "<xml><Encrypt>abc</Encrypt></xml>");
 * console.assert(typeof bad === "string");
 * ```
 *
 * @module
 */

/** A deterministic pseudo-random source (mulberry32). */
export interface Rng {
  /** The seed this stream started from. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, max). */
  int(max: number): number;
  /** An integer in [min, max], both included. */
  between(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of `items` (which must not be empty). */
  pick<T>(items: readonly T[]): T;
  /** `length` random bytes. */
  bytes(length: number): Uint8Array<ArrayBuffer>;
  /** `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string;
  /**
   * An independent stream named `label`: adding draws to one category does not
   * shift the inputs of the others.
   */
  fork(label: string): Rng;
}

function hashLabel(seed: number, label: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Returns a PRNG seeded with `seed` (any 32-bit integer).
 *
 * @example Usage
 * ```ts
 * import { createRng } from "./generate.ts";
 * const a = createRng(7), b = createRng(7);
 * console.assert(a.int(1000) === b.int(1000));
 * ```
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  return {
    seed: seed >>> 0,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)],
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = int(256);
      return out;
    },
    string(length, alphabet) {
      let out = "";
      for (let i = 0; i < length; i++) out += alphabet[int(alphabet.length)];
      return out;
    },
    fork: (label) => createRng(hashLabel(seed, label)),
  };
}

/** The seed used when `FUZZ_SEED` is not set: runs are reproducible by default. */
export const DEFAULT_SEED = 0x5eed2024;

/**
 * The seed of a fuzz run: `FUZZ_SEED` (decimal or 0x-hex, or `random` for a
 * fresh one), else {@linkcode DEFAULT_SEED}.
 *
 * @example Usage
 * ```ts
 * import { seedFromEnv } from "./generate.ts";
 * console.assert(Number.isInteger(seedFromEnv()));
 * ```
 */
export function seedFromEnv(name = "FUZZ_SEED"): number {
  let text: string | undefined;
  try {
    text = Deno.env.get(name);
  } catch {
    text = undefined;
  }
  if (text === undefined || text === "") return DEFAULT_SEED;
  if (text === "random") return crypto.getRandomValues(new Uint32Array(1))[0];
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(
      `Cannot seed the fuzz run as '${name}' must be an unsigned 32-bit integer or 'random': current value is '${text}'`,
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Text

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("") +
  "\n\t\r";
/** Characters that matter to XML, over-represented in {@linkcode randomPrintable}. */
const XML_CHARS = "<>&;/![]=?\"'-#x";
/** Letters and digits. */
export const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** The standard base64 alphabet. */
export const BASE64_ALPHABET = ALNUM + "+/";

/**
 * Up to `maxLength` random bytes (lengths skewed small).
 *
 * @example Usage
 * ```ts
 * import { createRng, randomBytes } from "./generate.ts";
 * console.assert(randomBytes(createRng(1), 16).length <= 64);
 * ```
 */
export function randomBytes(rng: Rng, maxLength: number): Uint8Array<ArrayBuffer> {
  const length = rng.chance(0.5) ? rng.int(64) : rng.int(maxLength + 1);
  return rng.bytes(length);
}

/**
 * Up to `maxLength` printable ASCII characters, XML punctuation over-represented.
 *
 * @example Usage
 * ```ts
 * import { createRng, randomPrintable } from "./generate.ts";
 * console.assert(/^[\x20-\x7e\n\t\r]*$/.test(randomPrintable(createRng(1), 100)));
 * ```
 */
export function randomPrintable(rng: Rng, maxLength: number): string {
  const length = rng.chance(0.5) ? rng.int(80) : rng.int(maxLength + 1);
  let out = "";
  for (let i = 0; i < length; i++) {
    out += rng.chance(0.3) ? rng.pick([...XML_CHARS]) : PRINTABLE[rng.int(PRINTABLE.length)];
  }
  return out;
}

/**
 * Random Unicode text: ASCII, CJK, emoji, controls and lone surrogates.
 *
 * @example Usage
 * ```ts
 * import { createRng, randomUnicode } from "./generate.ts";
 * console.assert(typeof randomUnicode(createRng(1), 10) === "string");
 * ```
 */
export function randomUnicode(rng: Rng, maxLength: number): string {
  const length = rng.int(maxLength + 1);
  let out = "";
  for (let i = 0; i < length; i++) {
    const kind = rng.int(6);
    if (kind === 0) out += String.fromCharCode(rng.int(0x20));
    else if (kind === 1) out += String.fromCharCode(0x4e00 + rng.int(0x5000));
    else if (kind === 2) out += String.fromCodePoint(0x1f300 + rng.int(0x300));
    else if (kind === 3) out += String.fromCharCode(0xd800 + rng.int(0x800));
    else out += PRINTABLE[rng.int(PRINTABLE.length)];
  }
  return out;
}

const TOKENS = [
  "<xml>",
  "</xml>",
  "<Encrypt>",
  "</Encrypt>",
  "<ToUserName>",
  "</ToUserName>",
  "<AgentID>",
  "</AgentID>",
  "<![CDATA[",
  "]]>",
  "<!--",
  "-->",
  '<?xml version="1.0"?>',
  "<?pi x?>",
  "<!DOCTYPE xml>",
  '<!ENTITY a "b">',
  "&lt;",
  "&amp;",
  "&#65;",
  "&#x0;",
  "&a;",
  "&",
  "<",
  ">",
  "/>",
  "<a/>",
  "<a b='c'>",
  '<a b="c"',
  "</a>",
  " ",
  "\n",
  "\u0000",
  "\ufeff",
  "中文",
  "=",
  '"',
];

/**
 * A soup of XML-significant tokens and random text, at most `maxTokens` pieces.
 *
 * @example Usage
 * ```ts
 * import { createRng, xmlSoup } from "./generate.ts";
 * console.assert(typeof xmlSoup(createRng(1), 20) === "string");
 * ```
 */
export function xmlSoup(rng: Rng, maxTokens: number): string {
  const count = rng.int(maxTokens + 1);
  let out = rng.chance(0.5) ? "<xml>" : "";
  for (let i = 0; i < count; i++) {
    out += rng.chance(0.75) ? rng.pick(TOKENS) : rng.string(rng.between(1, 8), ALNUM);
  }
  return out;
}

/**
 * Applies 1–4 random edits to `text`: delete a range, insert a token or
 * random characters, duplicate a range, swap two characters, replace one.
 *
 * @example Usage
 * ```ts
 * import { createRng, mutate } from "./generate.ts";
 * console.assert(typeof mutate(createRng(3), "<xml/>") === "string");
 * ```
 */
export function mutate(rng: Rng, text: string): string {
  let out = text;
  const edits = rng.between(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(6)) {
      case 0: {
        const end = Math.min(out.length, at + rng.between(1, 16));
        out = out.slice(0, at) + out.slice(end);
        break;
      }
      case 1:
        out = out.slice(0, at) + rng.pick(TOKENS) + out.slice(at);
        break;
      case 2:
        out = out.slice(0, at) + randomPrintable(rng, 8) + out.slice(at);
        break;
      case 3: {
        const end = Math.min(out.length, at + rng.between(1, 64));
        out = out.slice(0, end) + out.slice(at, end) + out.slice(end);
        break;
      }
      case 4:
        if (out.length > 1) {
          const a = rng.int(out.length - 1);
          out = out.slice(0, a) + out[a + 1] + out[a] + out.slice(a + 2);
        }
        break;
      default:
        if (at < out.length) {
          out = out.slice(0, at) + String.fromCharCode(rng.int(0x80)) + out.slice(at + 1);
        }
    }
  }
  return out;
}

/**
 * Every proper prefix of `text` (lengths 0 … length − 1), or every `step`-th one.
 *
 * @example Usage
 * ```ts
 * import { truncations } from "./generate.ts";
 * console.assert(truncations("abc").join("|") === "|a|ab");
 * ```
 */
export function truncations(text: string, step = 1): string[] {
  const out: string[] = [];
  for (let length = 0; length < text.length; length += step) out.push(text.slice(0, length));
  return out;
}

// ---------------------------------------------------------------------------------------------
// XML shapes

/** How {@linkcode nestedXml} ends its document. */
export type NestingStyle = "closed" | "unclosed" | "self-closing" | "mismatched";

/**
 * `<xml>` holding `depth` nested elements around `leaf`.
 *
 * @example Usage
 * ```ts
 * import { nestedXml } from "./generate.ts";
 * console.assert(nestedXml(2) === "<xml><a><a>x</a></a></xml>");
 * ```
 */
export function nestedXml(depth: number, style: NestingStyle = "closed", leaf = "x"): string {
  const open = "<a>".repeat(depth);
  switch (style) {
    case "unclosed":
      return `<xml>${open}${leaf}`;
    case "self-closing":
      return `<xml>${"<a>".repeat(Math.max(0, depth - 1))}<a/>${
        "</a>".repeat(Math.max(0, depth - 1))
      }</xml>`;
    case "mismatched":
      return `<xml>${open}${leaf}${"</b>".repeat(depth)}</xml>`;
    default:
      return `<xml>${open}${leaf}${"</a>".repeat(depth)}</xml>`;
  }
}

/**
 * `<xml>` holding `count` sibling elements (optionally after a real `<Encrypt>`).
 *
 * @example Usage
 * ```ts
 * import { manyElements } from "./generate.ts";
 * console.assert(manyElements(2) === "<xml><Item>1</Item><Item>1</Item></xml>");
 * ```
 */
export function manyElements(count: number, encrypt = "", selfClosing = false): string {
  const item = selfClosing ? "<Item/>" : "<Item>1</Item>";
  const head = encrypt ? `<Encrypt><![CDATA[${encrypt}]]></Encrypt>` : "";
  return `<xml>${head}${item.repeat(count)}</xml>`;
}

/**
 * An envelope whose `field` holds `size` characters of `fill` (CDATA or not).
 *
 * @example Usage
 * ```ts
 * import { hugeField } from "./generate.ts";
 * console.assert(hugeField("Encrypt", 60 * 1024).length > 60 * 1024);
 * ```
 */
export function hugeField(
  field: string,
  size: number,
  options: { fill?: string; cdata?: boolean; encrypt?: string } = {},
): string {
  const fill = options.fill ?? "A";
  const value = fill.repeat(Math.ceil(size / fill.length)).slice(0, size);
  const wrapped = options.cdata ? `<![CDATA[${value}]]>` : value;
  const encrypt = field === "Encrypt"
    ? ""
    : `<Encrypt><![CDATA[${options.encrypt ?? "AAAA"}]]></Encrypt>`;
  return `<xml>${encrypt}<${field}>${wrapped}</${field}></xml>`;
}

/**
 * Documents with entity tricks: the predefined ones, unknown ones, DOCTYPE bombs, XXE.
 *
 * @example Usage
 * ```ts
 * import { entityDocuments } from "./generate.ts";
 * console.assert(entityDocuments().some((d) => d.includes("<!ENTITY")));
 * ```
 */
export function entityDocuments(encrypt = "AAAA"): string[] {
  const laughs = [
    '<!ENTITY lol "lol">',
    ...Array.from(
      { length: 9 },
      (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`,
    ),
  ].join("");
  return [
    `<xml><Encrypt>${encrypt}&lt;</Encrypt></xml>`,
    `<xml><Encrypt>&lt;&gt;&amp;&quot;&apos;</Encrypt></xml>`,
    `<xml><Encrypt>${encrypt}</Encrypt><ToUserName>&#65;&#x42;</ToUserName></xml>`,
    `<?xml version="1.0"?><!DOCTYPE lolz [${laughs}]><xml><Encrypt>&lol9;</Encrypt></xml>`,
    `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>`,
    `<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><xml><Encrypt>a</Encrypt></xml>`,
    `<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><Encrypt>a</Encrypt></xml>`,
    `<xml><!DOCTYPE x><Encrypt>a</Encrypt></xml>`,
    `<xml><Encrypt>&custom;</Encrypt></xml>`,
    `<xml><Encrypt>&toString;&__proto__;&valueOf;</Encrypt></xml>`,
    `<xml><Encrypt>&lol9;</Encrypt></xml>`,
    `<xml><Encrypt>a&b</Encrypt></xml>`,
    `<xml><Encrypt>a&amp</Encrypt></xml>`,
    `<xml><Encrypt>&#0;</Encrypt></xml>`,
    `<xml><Encrypt>&#xD800;</Encrypt></xml>`,
    `<xml><Encrypt>&#x110000;</Encrypt></xml>`,
    `<xml><Encrypt>&#99999999999;</Encrypt></xml>`,
    `<xml><Encrypt>&#x;</Encrypt></xml>`,
    `<xml><Encrypt>&#;</Encrypt></xml>`,
    `<xml><Encrypt>&;</Encrypt></xml>`,
    `<xml><Encrypt>&${"a".repeat(5000)};</Encrypt></xml>`,
    `<xml><Encrypt>${"&amp;".repeat(10_000)}</Encrypt></xml>`,
    `<xml><Encrypt>${"&#65;".repeat(10_000)}</Encrypt></xml>`,
    `<xml><Encrypt>${"&".repeat(10_000)}</Encrypt></xml>`,
    `<xml><Encrypt a="&lt;">${encrypt}</Encrypt></xml>`,
    `<xml><Encrypt a="&custom;">${encrypt}</Encrypt></xml>`,
    `<?xml-stylesheet href="x"?><xml><Encrypt>${encrypt}</Encrypt></xml>`,
    `<xml><?pi?><Encrypt>${encrypt}</Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[&lol9;]]></Encrypt></xml>`,
  ];
}

/**
 * Documents with CDATA tricks around a (possibly valid) `encrypt` value.
 *
 * @example Usage
 * ```ts
 * import { cdataDocuments } from "./generate.ts";
 * console.assert(cdataDocuments("AAAA").every((d) => typeof d === "string"));
 * ```
 */
export function cdataDocuments(encrypt = "AAAA"): string[] {
  return [
    `<xml><Encrypt><![CDATA[${encrypt}</Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}]]]]><![CDATA[>]]></Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}]]>]]></Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[<![CDATA[${encrypt}]]>]]></Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}]]><![CDATA[]]></Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[]]>${encrypt}</Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}]></Encrypt></xml>`,
    `<xml><Encrypt><![CDATA${encrypt}]]></Encrypt></xml>`,
    `<xml><Encrypt><![cdata[${encrypt}]]></Encrypt></xml>`,
    `<xml><![CDATA[<Encrypt>${encrypt}</Encrypt>]]></xml>`,
    `<xml><Encrypt>${encrypt}</Encrypt><![CDATA[x]]></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt>]]></xml>`,
    `<![CDATA[<xml><Encrypt>${encrypt}</Encrypt></xml>]]>`,
    `<xml><Encrypt><![CDATA[${encrypt}`,
    `<xml><Encrypt><![CDATA[${"]".repeat(10_000)}`,
    `<xml><Encrypt>${"<![CDATA[]]>".repeat(10_000)}</Encrypt></xml>`,
    `<xml><Encrypt><![CDATA[${encrypt}\u0000]]></Encrypt></xml>`,
    `<xml><Encrypt><!-- c -->${encrypt}<!-- d --></Encrypt></xml>`,
    `<xml><Encrypt><!-- ${encrypt}</Encrypt></xml>`,
    `<xml><Encrypt>${encrypt}</Encrypt><!--</xml>`,
  ];
}

/**
 * Documents with broken tags, attributes, names and structure.
 *
 * @example Usage
 * ```ts
 * import { structureDocuments } from "./generate.ts";
 * console.assert(structureDocuments("AAAA").includes("<xml/>"));
 * ```
 */
export function structureDocuments(encrypt = "AAAA"): string[] {
  const e = encrypt;
  return [
    "",
    " ",
    "<",
    ">",
    "<>",
    "</>",
    "<xml>",
    "</xml>",
    "<xml/>",
    "<xml></xml>",
    `<xml><Encrypt/></xml>`,
    `<xml><Encrypt></Encrypt></xml>`,
    `<xml><Encrypt>   </Encrypt></xml>`,
    `<xml><Encrypt>${e}</Encrypt>`,
    `<xml><Encrypt>${e}</xml>`,
    `<xml><Encrypt>${e}</encrypt></xml>`,
    `<xml><Encrypt>${e}</Encrypt></xml><xml></xml>`,
    `<xml><Encrypt>${e}</Encrypt></xml>trailing`,
    `leading<xml><Encrypt>${e}</Encrypt></xml>`,
    `<xml><Encrypt>${e}</Encrypt>text</xml>`,
    `<xml><1Encrypt>${e}</1Encrypt></xml>`,
    `<xml><Enc rypt>${e}</Enc></xml>`,
    `<xml><Encrypt a=b>${e}</Encrypt></xml>`,
    `<xml><Encrypt a="b>${e}</Encrypt></xml>`,
    `<xml><Encrypt a="<">${e}</Encrypt></xml>`,
    `<xml><Encrypt ${"a='1' ".repeat(2000)}>${e}</Encrypt></xml>`,
    `<xml><Encrypt${" ".repeat(20_000)}>${e}</Encrypt></xml>`,
    `<xml><Encrypt ${" ".repeat(20_000)}b>${e}</Encrypt></xml>`,
    `<xml><Encrypt>${e}</Encrypt${" ".repeat(20_000)}></xml>`,
    `<xml><${"N".repeat(50_000)}>x</${"N".repeat(50_000)}></xml>`,
    `<xml><Encrypt>${e}</Encrypt><Encrypt>${e}</Encrypt></xml>`,
    `<xml><Encrypt></Encrypt><Encrypt>${e}</Encrypt></xml>`,
    `<xml><Encrypt><Encrypt>${e}</Encrypt></Encrypt></xml>`,
    `<xml><Wrapper><Encrypt>${e}</Encrypt></Wrapper></xml>`,
    `<xml>\u0000<Encrypt>${e}</Encrypt></xml>`,
    `\ufeff\ufeff<xml><Encrypt>${e}</Encrypt></xml>`,
    `<?xml version="1.0"<xml><Encrypt>${e}</Encrypt></xml>`,
    `<?xml version="1.0"?><?xml version="1.0"?><xml><Encrypt>${e}</Encrypt></xml>`,
    `<xml><Encrypt>${e}</Encrypt><!-- unterminated</xml>`,
    `<!-- only a comment -->`,
    `<xml>${"<!---->".repeat(20_000)}<Encrypt>${e}</Encrypt></xml>`,
    `<xml>${"<a".repeat(20_000)}</xml>`,
    `<xml>${"</a>".repeat(20_000)}</xml>`,
    `<xml>${"<a/>".repeat(20_000)}</xml>`,
    `<xml>${"<".repeat(50_000)}</xml>`,
    `<xml>${">".repeat(50_000)}<Encrypt>${e}</Encrypt></xml>`,
    `{"Encrypt":"${e}"}`,
    `Encrypt=${e}`,
    `<XML><ENCRYPT>${e}</ENCRYPT></XML>`,
  ];
}

// ---------------------------------------------------------------------------------------------
// base64

/** One malformed base64 value with what is wrong with it. */
export interface Base64Case {
  label: string;
  value: string;
}

/**
 * Malformed variants of the valid base64 text `valid` (at least 8 characters):
 * whitespace, URL-safe alphabet, wrong length, padding in the middle, missing
 * or extra padding, non-canonical final bits, characters outside the alphabet.
 *
 * @example Usage
 * ```ts
 * import { badBase64, createRng } from "./generate.ts";
 * const cases = badBase64(createRng(1), "QUJDREVGR0g=");
 * console.assert(cases.some((c) => c.label === "URL-safe alphabet"));
 * ```
 */
export function badBase64(rng: Rng, valid: string): Base64Case[] {
  const at = (lo = 1) => rng.between(lo, Math.max(lo, valid.length - 2));
  const insert = (text: string, position: number, what: string) =>
    text.slice(0, position) + what + text.slice(position);
  const body = valid.replace(/=+$/, "");
  const out: Base64Case[] = [
    { label: "space inside", value: insert(valid, at(), " ") },
    { label: "newline inside", value: insert(valid, at(), "\n") },
    { label: "CRLF every 76", value: valid.replace(/(.{76})/g, "$1\r\n") },
    { label: "tab inside", value: insert(valid, at(), "\t") },
    { label: "form feed inside", value: insert(valid, at(), "\f") },
    { label: "vertical tab inside", value: insert(valid, at(), "\v") },
    { label: "NBSP inside", value: insert(valid, at(), "\u00a0") },
    { label: "URL-safe alphabet", value: valid.replaceAll("+", "-").replaceAll("/", "_") + "-_" },
    { label: "URL-safe, no padding", value: body.replaceAll("+", "-").replaceAll("/", "_") },
    { label: "one character short", value: valid.slice(1) },
    { label: "two characters short", value: valid.slice(2) },
    { label: "three characters short", value: valid.slice(3) },
    { label: "one character extra", value: valid + "A" },
    { label: "one quad short", value: valid.slice(4) },
    { label: "one quad extra", value: "AAAA" + valid },
    { label: "padding in the middle", value: insert(body, at(4) & ~3, "==") + "==" },
    { label: "single = in the middle", value: insert(valid, at(), "=") },
    { label: "padding removed", value: body },
    { label: "extra padding", value: valid + "====" },
    { label: "three = padding", value: body.slice(0, -1) + "===" },
    { label: "padding only", value: "====" },
    { label: "non-alphabet *", value: insert(valid.slice(1), at(), "*") },
    { label: "non-alphabet .", value: valid.slice(0, -1) + "." },
    { label: "fullwidth letter", value: valid.slice(0, -1) + "Ａ" },
    { label: "NUL", value: valid.slice(0, -1) + "\u0000" },
    { label: "percent-encoded", value: encodeURIComponent(valid) + "%" },
    { label: "lowercased", value: valid.toLowerCase() },
    { label: "empty after trim", value: "=" },
  ];
  // Non-zero bits after the last full byte ("QR==" for "QQ=="): refused in strict mode.
  const match = /([A-Za-z0-9+/])(=+)$/.exec(valid);
  if (match) {
    const index = BASE64_ALPHABET.indexOf(match[1]);
    const flipped = BASE64_ALPHABET[index ^ (match[2].length === 2 ? 0x0f : 0x03)];
    out.push({
      label: "non-canonical final bits",
      value: valid.slice(0, valid.length - match[0].length) + flipped + match[2],
    });
  }
  for (let i = 0; i < 4; i++) {
    const bytes = rng.between(1, 4096);
    out.push({ label: `random ${bytes} bytes`, value: rng.bytes(bytes).toBase64() });
  }
  out.push({
    label: "random 16-byte multiple (AES garbage)",
    value: rng.bytes(16 * rng.between(2, 256)).toBase64(),
  });
  out.push({ label: "random alphabet soup", value: rng.string(4 * rng.between(1, 500), ALNUM) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// WeCom plaintext layouts and raw AES-CBC

const encoder = new TextEncoder();

/** How to build (or break) a WeCom plaintext: `random(16) ‖ msg_len ‖ msg ‖ receiveid ‖ pad`. */
export interface LayoutOptions {
  /** The message bytes (or text). */
  message: Uint8Array | string;
  /** The receive id (corp id) bytes or text. */
  receiveId: Uint8Array | string;
  /** Overrides the big-endian length field. */
  msgLen?: number;
  /** Pad to this block size (default 32, as WeCom does; 16 is also accepted by the gateway). */
  padTo?: number;
  /** Overrides the value of every pad byte. */
  padByte?: number;
  /** XORs the pad byte at this offset from the end (0 = last byte) with 0x01. */
  corruptPadAt?: number;
  /** No padding at all: zero bytes are appended to reach a multiple of 16 instead. */
  noPad?: boolean;
  /** The 16-byte random prefix (default: sixteen 'a'). */
  random?: Uint8Array;
}

/**
 * The plaintext bytes WeCom encrypts, broken as `options` say; the length is
 * always a multiple of 16 (so AES-CBC accepts it unchanged).
 *
 * @example Usage
 * ```ts
 * import { wecomPlaintext } from "./generate.ts";
 * const bytes = wecomPlaintext({ message: "hi", receiveId: "ww1" });
 * console.assert(bytes.length % 32 === 0 && bytes[bytes.length - 1] === 7);
 * ```
 */
export function wecomPlaintext(options: LayoutOptions): Uint8Array<ArrayBuffer> {
  const message = typeof options.message === "string"
    ? encoder.encode(options.message)
    : options.message;
  const receiveId = typeof options.receiveId === "string"
    ? encoder.encode(options.receiveId)
    : options.receiveId;
  const random = options.random ?? encoder.encode("aaaaaaaaaaaaaaaa");
  const bodyLength = 20 + message.length + receiveId.length;
  const padTo = options.padTo ?? 32;
  let padLength = options.noPad ? (16 - (bodyLength % 16)) % 16 : padTo - (bodyLength % padTo);
  if (!options.noPad && (bodyLength + padLength) % 16 !== 0) padLength += 16;
  const out = new Uint8Array(bodyLength + padLength);
  out.set(random.subarray(0, 16), 0);
  const msgLen = options.msgLen ?? message.length;
  new DataView(out.buffer).setUint32(16, msgLen >>> 0, false);
  out.set(message, 20);
  out.set(receiveId, 20 + message.length);
  const padValue = options.noPad ? 0 : (options.padByte ?? padLength);
  out.fill(padValue, bodyLength);
  if (options.corruptPadAt !== undefined && padLength > options.corruptPadAt) {
    out[out.length - 1 - options.corruptPadAt] ^= 0x01;
  }
  return out;
}

/**
 * The raw 32-byte AES key of an EncodingAESKey (43 letters and digits).
 *
 * @example Usage
 * ```ts
 * import { aesKeyBytes } from "./generate.ts";
 * console.assert(aesKeyBytes("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").length === 32);
 * ```
 */
export function aesKeyBytes(encodingAesKey: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(encodingAesKey + "=", { lastChunkHandling: "loose" });
}

/**
 * AES-256-CBC of `plaintext` (a multiple of 16 bytes) with WeCom's key and IV
 * (the key's first 16 bytes), without adding any padding; base64.
 *
 * @example Usage
 * ```ts
 * import { encryptRaw, wecomPlaintext } from "./generate.ts";
 * const text = await encryptRaw(
 *   "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
 *   wecomPlaintext({ message: "hi", receiveId: "wx5823bf96d3bd56c7" }),
 * );
 * console.assert(text.length % 4 === 0);
 * ```
 */
export async function encryptRaw(encodingAesKey: string, plaintext: Uint8Array): Promise<string> {
  if (plaintext.length % 16 !== 0) {
    throw new RangeError(
      `Cannot encrypt without padding as the plaintext must be a multiple of 16 bytes: current length is ${plaintext.length}`,
    );
  }
  const raw = aesKeyBytes(encodingAesKey);
  const key = await crypto.subtle.importKey("raw", raw, { name: "AES-CBC" }, false, ["encrypt"]);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-CBC", iv: raw.slice(0, 16) },
      key,
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
  // WebCrypto adds one whole block of PKCS#7 padding to a 16-byte multiple: drop it.
  return sealed.subarray(0, plaintext.length).toBase64();
}

/** The parts of a decrypted WeCom message, for building valid or broken bodies. */
export interface MessageParts {
  corpId: string;
  userId: string;
  agentId: string;
  msgType?: string;
  msgId?: string;
  content?: string;
  createTime?: number;
}

/**
 * A WeCom text-message plaintext built from `parts`, leaving out the elements
 * named in `omit`.
 *
 * @example Usage
 * ```ts
 * import { messageXml } from "./generate.ts";
 * const xml = messageXml({ corpId: "ww1", userId: "lisi", agentId: "1" }, ["MsgId"]);
 * console.assert(!xml.includes("<MsgId>"));
 * ```
 */
export function messageXml(parts: MessageParts, omit: readonly string[] = []): string {
  const elements: [string, string][] = [
    ["ToUserName", `<![CDATA[${parts.corpId}]]>`],
    ["FromUserName", `<![CDATA[${parts.userId}]]>`],
    ["CreateTime", String(parts.createTime ?? 1_700_000_000)],
    ["MsgType", `<![CDATA[${parts.msgType ?? "text"}]]>`],
    ["Content", `<![CDATA[${parts.content ?? "hello"}]]>`],
    ["MsgId", parts.msgId ?? "1"],
    ["AgentID", parts.agentId],
  ];
  return "<xml>" +
    elements.filter(([name]) => !omit.includes(name)).map(([name, value]) =>
      `<${name}>${value}</${name}>`
    ).join("") +
    "</xml>";
}

/**
 * Decrypted message bodies that are never a valid message for `parts.corpId`:
 * not XML, not UTF-8-clean text, XML lacking a required element, a text
 * message without MsgId, an event without Event, another corp's ToUserName.
 *
 * @example Usage
 * ```ts
 * import { createRng, garbageMessages } from "./generate.ts";
 * const bodies = garbageMessages(createRng(1), { corpId: "ww1", userId: "u", agentId: "1" });
 * console.assert(bodies.length > 20);
 * ```
 */
export function garbageMessages(rng: Rng, parts: MessageParts): (string | Uint8Array)[] {
  const valid = messageXml(parts);
  return [
    "",
    " ",
    "hello",
    "1616140317555161061",
    randomPrintable(rng, 400),
    randomUnicode(rng, 200),
    rng.bytes(rng.between(1, 600)),
    new Uint8Array([0xff, 0xfe, 0xfd]),
    new Uint8Array([0xe4, 0xb8]), // truncated UTF-8
    new Uint8Array([0xed, 0xa0, 0x80]), // an encoded surrogate
    messageXml(parts, ["ToUserName"]),
    messageXml(parts, ["FromUserName"]),
    messageXml(parts, ["MsgType"]),
    messageXml(parts, ["MsgId"]),
    messageXml({ ...parts, userId: "  " }),
    messageXml({ ...parts, msgType: "" }),
    messageXml({ ...parts, msgType: "event" }),
    messageXml({ ...parts, corpId: parts.corpId + "x" }),
    messageXml({ ...parts, corpId: "wwsomeoneelse000001" }),
    valid.slice(0, rng.int(valid.length)),
    mutate(rng, valid).replace("</xml>", "<"),
    `<!DOCTYPE xml [<!ENTITY a "b">]>${valid}`,
    nestedXml(rng.between(9, 200)),
    manyElements(2001),
    `<xml>${valid}</xml>`.replace("<xml><xml>", "<xml><x>"),
  ];
}

/**
 * Receive ids that differ from `corpId` (which must be the app's own):
 * another corp, empty, longer, shorter, other case, with NUL or a space.
 *
 * @example Usage
 * ```ts
 * import { wrongReceiveIds } from "./generate.ts";
 * console.assert(!wrongReceiveIds("ww1", "ww2").includes("ww1"));
 * ```
 */
export function wrongReceiveIds(corpId: string, otherCorpId: string): string[] {
  return [
    otherCorpId,
    "",
    corpId + "x",
    corpId.slice(0, -1),
    corpId.toUpperCase() === corpId ? corpId.toLowerCase() : corpId.toUpperCase(),
    corpId + "\u0000",
    " " + corpId,
    corpId.repeat(40),
  ];
}

// ---------------------------------------------------------------------------------------------
// Well-formed documents with their expected reading (a round-trip oracle)

/** A well-formed document and the fields `readXmlFields` must return for it. */
export interface WellFormed {
  xml: string;
  fields: Map<string, string>;
}

const NAMES = ["A", "B", "Encrypt", "ToUserName", "item", "x_1", "Pic.List", "a-b", "Ü"];
const SAFE_NAMES = NAMES.filter((n) => /^[A-Za-z_][A-Za-z0-9_.\-]*$/.test(n));

/** Text without CR, controls or lone surrogates: what a WeCom field may hold. */
function safeText(rng: Rng, maxLength: number): string {
  const length = rng.int(maxLength + 1);
  let out = "";
  for (let i = 0; i < length; i++) {
    const kind = rng.int(8);
    if (kind === 0) out += rng.pick(["<", ">", "&", '"', "'", "]]>", "]]", "<!--", "&amp;"]);
    else if (kind === 1) out += String.fromCharCode(0x4e00 + rng.int(0x5000));
    else if (kind === 2) out += String.fromCodePoint(0x1f300 + rng.int(0x300));
    else if (kind === 3) out += rng.pick([" ", "\n", "\t"]);
    else out += PRINTABLE[rng.int(95)];
  }
  return out;
}

/** Encodes `text` as element content: escaped, as numeric references, in CDATA, or mixed. */
function encodeText(rng: Rng, text: string): string {
  if (text === "") return rng.chance(0.3) ? "<!-- empty -->" : "";
  const style = rng.int(4);
  if (style === 0) return `<![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
  let out = "";
  for (const ch of text) {
    if (ch === "<") out += rng.pick(["&lt;", "&#60;", "&#x3C;"]);
    else if (ch === "&") out += rng.pick(["&amp;", "&#38;", "&#x26;"]);
    else if (ch === ">") out += rng.pick([">", "&gt;"]);
    else if (style === 1 && rng.chance(0.2)) {
      out += rng.chance(0.5) ? `&#${ch.codePointAt(0)};` : `&#x${ch.codePointAt(0)!.toString(16)};`;
    } else if (style === 2 && rng.chance(0.1)) out += `<![CDATA[${ch}]]>`;
    else if (style === 3 && rng.chance(0.05)) out += `<!--c-->${ch}`;
    else out += ch;
  }
  return out;
}

/**
 * A random well-formed document of WeCom's kind (a root holding elements, up
 * to three levels, repeated names, attributes, comments, CDATA, references)
 * with the fields the reader must return.
 *
 * @example Usage
 * ```ts
 * import { createRng, wellFormedDocument } from "./generate.ts";
 * const { xml, fields } = wellFormedDocument(createRng(1));
 * console.assert(xml.startsWith("<") || xml.startsWith("\ufeff"));
 * console.assert(fields instanceof Map);
 * ```
 */
export function wellFormedDocument(rng: Rng): WellFormed {
  const fields = new Map<string, string>();
  const counts = new Map<string, number>();
  const put = (path: string, value: string) => {
    const seen = counts.get(path) ?? 0;
    counts.set(path, seen + 1);
    fields.set(seen === 0 ? path : `${path}#${seen + 1}`, value);
  };
  const space = () => rng.pick(["", "", " ", "\n", "\n  ", "\t"]);
  const attributes = () =>
    rng.chance(0.2) ? ` a="${rng.string(3, ALNUM)}"${rng.chance(0.5) ? " b='1'" : ""}` : "";
  const element = (parentPath: string, depth: number): string => {
    const name = rng.pick(SAFE_NAMES);
    const path = parentPath === "" ? name : `${parentPath}.${name}`;
    if (depth < 3 && rng.chance(0.2)) {
      let inner = "";
      const children = rng.between(1, 4);
      for (let i = 0; i < children; i++) inner += space() + element(path, depth + 1);
      return `<${name}${attributes()}>${inner}${space()}</${name}>`;
    }
    if (rng.chance(0.1)) {
      put(path, "");
      return `<${name}${attributes()}${rng.pick(["/", " /"])}>`;
    }
    const value = safeText(rng, rng.chance(0.9) ? 30 : 3000);
    put(path, value);
    return `<${name}${attributes()}>${encodeText(rng, value)}</${name}${rng.pick(["", " "])}>`;
  };
  let body = "";
  const count = rng.between(0, 25);
  for (let i = 0; i < count; i++) {
    body += space() + element("", 1);
    if (rng.chance(0.1)) body += "<!-- between -->";
  }
  const prolog = (rng.chance(0.1) ? "\ufeff" : "") +
    (rng.chance(0.3) ? '<?xml version="1.0" encoding="UTF-8"?>' : "") +
    (rng.chance(0.1) ? "<!-- head -->\n" : "");
  const root = rng.pick(["xml", "root"]);
  const xml = `${prolog}<${root}${attributes()}>${body}${space()}</${root}>${
    rng.pick(["", "\n", "<!-- tail -->"])
  }`;
  return { xml, fields };
}
