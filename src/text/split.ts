/**
 * Splitting a reply into messages WeCom accepts: at most 2048 UTF-8 bytes each.
 *
 * WeCom cuts longer text and markdown messages silently, so the gateway splits
 * them itself, at the most natural place that fits: a blank line (paragraph),
 * else a line break, else a sentence end (`. ! ?` followed by a space, `。！？`
 * with or without one), else a word or clause boundary (a space, `，、；：`),
 * else a grapheme boundary (`Intl.Segmenter`), and only for a single grapheme
 * larger than the limit a code point boundary. A chunk is never cut inside a
 * code point or (except that last case) a grapheme: emoji ZWJ sequences, flags
 * and combining marks stay whole.
 *
 * Only the whitespace at a split point is removed (the separator); no other
 * content is lost, and no chunk is empty or whitespace only. Fenced code blocks
 * stay in one chunk when they fit; a code block that does not fit is split at
 * its line breaks, and in markdown mode each part is closed and reopened with
 * the same fence so that it still renders as code.
 *
 * Byte counts come from one prefix-sum pass over the text, so a 100 KB reply
 * is split in a few milliseconds.
 *
 * @example Usage
 * ```ts
 * import { splitMessage } from "./split.ts";
 * const chunks = splitMessage("first paragraph\n\nsecond paragraph", 20);
 * console.assert(chunks.length === 2 && chunks[1] === "second paragraph");
 * ```
 *
 * @module
 */

/** WeCom's limit of a text or markdown message, in UTF-8 bytes. */
export const WECOM_MAX_MESSAGE_BYTES = 2048;

/** Options of {@linkcode splitMessage}. */
export interface SplitOptions {
  /**
   * The chunks are sent as WeCom markdown: a fenced code block that has to be
   * split is closed at the end of one chunk and reopened at the start of the
   * next (default false).
   */
  markdown?: boolean;
}

/** The chunks of a split text, with what was removed between them. */
export interface SplitResult {
  /** The messages to send, in order (in markdown mode with added fences). */
  chunks: string[];
  /** The part of the original text in each chunk (the chunk without added fences). */
  bodies: string[];
  /**
   * The whitespace removed around the bodies: `gaps.length === bodies.length + 1`
   * and `gaps[0] + bodies[0] + gaps[1] + … + bodies[k-1] + gaps[k]` is the text.
   */
  gaps: string[];
}

/**
 * Splits `text` into chunks of at most `maxBytes` UTF-8 bytes (see the module
 * documentation for where it splits). Empty or whitespace-only text gives no
 * chunk.
 *
 * @example Usage
 * ```ts
 * import { splitMessage } from "./split.ts";
 * const chunks = splitMessage("好".repeat(683)); // 2049 bytes
 * console.assert(chunks.length === 2 && chunks[0].length === 682);
 * ```
 *
 * @param text The reply text.
 * @param maxBytes Upper bound of one chunk in UTF-8 bytes (default 2048, WeCom's limit).
 * @param options Markdown mode.
 * @returns The chunks in sending order.
 */
export function splitMessage(
  text: string,
  maxBytes: number = WECOM_MAX_MESSAGE_BYTES,
  options: SplitOptions = {},
): string[] {
  return splitMessageDetailed(text, maxBytes, options).chunks;
}

/**
 * Like {@linkcode splitMessage}, but also returns the original part of each
 * chunk and the whitespace removed between them, so callers (and tests) can
 * check that nothing else was lost.
 *
 * @example Usage
 * ```ts
 * import { splitMessageDetailed } from "./split.ts";
 * const text = "one two three";
 * const { bodies, gaps } = splitMessageDetailed(text, 8);
 * const joined = gaps[0] + bodies.map((body, i) => body + gaps[i + 1]).join("");
 * console.assert(joined === text);
 * ```
 */
export function splitMessageDetailed(
  text: string,
  maxBytes: number = WECOM_MAX_MESSAGE_BYTES,
  options: SplitOptions = {},
): SplitResult {
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_BYTES) {
    throw new RangeError(
      `Cannot split the message as 'maxBytes' must be an integer of at least ${MIN_BYTES} ` +
        `(one UTF-8 code point): current value is ${maxBytes}`,
    );
  }
  const contentEnd = lastContentEnd(text);
  if (contentEnd === 0) return { chunks: [], bodies: [], gaps: [text] };

  const splitter = new Splitter(text, options.markdown === true);
  const chunks: string[] = [];
  const bodies: string[] = [];
  const gaps: string[] = [];
  let gap = "";
  let start = 0;
  while (start < contentEnd) {
    const { cut, prefix, suffix } = splitter.next(start, maxBytes);
    const body = text.slice(start, cut.end);
    if (NON_SPACE.test(body)) {
      gaps.push(gap);
      bodies.push(body);
      chunks.push(prefix + body + suffix);
      gap = text.slice(cut.end, cut.next);
    } else {
      // Only whitespace up to the cut (a run longer than a chunk): it is a separator too.
      gap += text.slice(start, cut.next);
    }
    start = cut.next;
  }
  gaps.push(gap + text.slice(start));
  return { chunks, bodies, gaps };
}

/** The smallest usable limit: every code point fits. */
const MIN_BYTES = 4;

const NON_SPACE = /\S/;

/** Characters that belong to the grapheme before them (combining marks, ZWJ). */
const JOINS_PREVIOUS = /[\p{M}\u200d]/u;

/** Break levels, best first. */
const PARAGRAPH = 0;
const LINE = 1;
const SENTENCE = 2;
const WORD = 3;
const CODE_LINE = 4;
const LEVELS = 5;

/** A place to split: the chunk ends at `start`, the next one begins at `end`. */
interface Cut {
  end: number;
  next: number;
}

/** A separator `[start, end)` removed at a split point. */
interface Break {
  start: number;
  end: number;
}

/** A fenced code block, by UTF-16 index. */
interface CodeBlock {
  /** Start of the opening fence line. */
  start: number;
  /** Just after the opening fence line's newline. */
  contentStart: number;
  /** Start of the closing fence line (text length when unclosed). */
  closeStart: number;
  /** End of the closing fence line, without its newline (text length when unclosed). */
  end: number;
  /** The opening fence line, e.g. "```ts". */
  openLine: string;
  /** A closing fence for it, e.g. "```". */
  closeLine: string;
}

const SENTENCE_END = new Set([".", "!", "?", "。", "！", "？", "…", "．"]);
const CLOSERS = new Set(['"', "'", ")", "]", "}", "»", "”", "’", "」", "』", "）", "】", "》"]);

/** Index just after the last non-whitespace character (0 when there is none). */
function lastContentEnd(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    if (NON_SPACE.test(text[i])) return i + 1;
  }
  return 0;
}

/** Prefix sums of UTF-8 bytes per UTF-16 index; a surrogate pair counts 4 at its first unit. */
function byteOffsets(text: string): Uint32Array {
  const n = text.length;
  const offsets = new Uint32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) total += 1;
    else if (c < 0x800) total += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        total += 4;
        offsets[i + 1] = total;
        offsets[i + 2] = total;
        i++;
        continue;
      }
      total += 3; // lone surrogate: encoded as U+FFFD
    } else total += 3;
    offsets[i + 1] = total;
  }
  return offsets;
}

/** UTF-8 length of a short string. */
function utf8Length(text: string): number {
  const offsets = byteOffsets(text);
  return offsets[text.length];
}

/** Finds fenced code blocks (CommonMark fences: 3+ backticks or tildes, indented ≤ 3). */
function findCodeBlocks(text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let open:
    | { start: number; contentStart: number; fence: string; indent: string; line: string }
    | null = null;
  let pos = 0;
  while (pos <= text.length) {
    const newline = text.indexOf("\n", pos);
    const lineEnd = newline === -1 ? text.length : newline;
    const line = text.slice(pos, lineEnd);
    if (open === null) {
      const match = /^( {0,3})(`{3,}|~{3,})([^\n]*)$/.exec(line);
      if (match && !(match[2][0] === "`" && match[3].includes("`"))) {
        open = {
          start: pos,
          contentStart: newline === -1 ? text.length : newline + 1,
          fence: match[2],
          indent: match[1],
          line: line.replace(/\s+$/, ""),
        };
      }
    } else {
      const match = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (match && match[1][0] === open.fence[0] && match[1].length >= open.fence.length) {
        blocks.push({
          start: open.start,
          contentStart: open.contentStart,
          closeStart: pos,
          end: lineEnd,
          openLine: open.line,
          closeLine: open.indent + open.fence,
        });
        open = null;
      }
    }
    if (newline === -1) break;
    pos = newline + 1;
  }
  if (open !== null) {
    blocks.push({
      start: open.start,
      contentStart: open.contentStart,
      closeStart: text.length,
      end: text.length,
      openLine: open.line,
      closeLine: open.indent + open.fence,
    });
  }
  return blocks;
}

/** The block whose span `[start, end)` holds `index`, if any (blocks are sorted, disjoint). */
function blockAt(blocks: CodeBlock[], index: number): CodeBlock | undefined {
  let low = 0;
  let high = blocks.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const block = blocks[mid];
    if (index < block.start) high = mid - 1;
    else if (index >= block.end) low = mid + 1;
    else return block;
  }
  return undefined;
}

/** True when the whitespace run starting at `index` follows a sentence end. */
function endsSentence(text: string, index: number): boolean {
  let j = index - 1;
  for (let closers = 0; j >= 0 && closers < 3 && CLOSERS.has(text[j]); closers++) j--;
  return j >= 0 && SENTENCE_END.has(text[j]);
}

/** All split points outside code blocks by level, plus line breaks inside code blocks. */
function collectBreaks(text: string, blocks: CodeBlock[]): Break[][] {
  const levels: Break[][] = Array.from({ length: LEVELS }, () => []);
  const n = text.length;
  for (const match of text.matchAll(/\s+/g)) {
    const start = match.index;
    const end = start + match[0].length;
    if (start === 0 || end === n) continue; // nothing before or after it
    if (blockAt(blocks, start)) continue;
    const run = match[0];
    const lastNewline = run.lastIndexOf("\n");
    if (lastNewline >= 0) {
      const paragraph = run.indexOf("\n") !== lastNewline;
      // Keep the next line's indentation: only the line ends are the separator.
      levels[paragraph ? PARAGRAPH : LINE].push({ start, end: start + lastNewline + 1 });
    } else {
      // A space followed by a combining mark or ZWJ is one grapheme with it: keep them together.
      const separatorEnd = end < n && JOINS_PREVIOUS.test(text[end]) ? end - 1 : end;
      levels[endsSentence(text, start) ? SENTENCE : WORD].push({ start, end: separatorEnd });
    }
  }
  // CJK sentence and clause ends need no space after them.
  for (const match of text.matchAll(/[。！？]+[」』）】”’》]*(?=[^\s\p{M}\u200d])/gu)) {
    const at = match.index + match[0].length;
    if (!blockAt(blocks, at)) levels[SENTENCE].push({ start: at, end: at });
  }
  for (const match of text.matchAll(/[，、；：]+(?=[^\s\p{M}\u200d])/gu)) {
    const at = match.index + match[0].length;
    if (!blockAt(blocks, at)) levels[WORD].push({ start: at, end: at });
  }
  for (const block of blocks) {
    // Not the opening line's newline, not the one before the closing fence.
    for (let at = text.indexOf("\n", block.contentStart); at !== -1 && at < block.closeStart - 1;) {
      // "\r\n" is one grapheme: the separator is the whole line ending.
      levels[CODE_LINE].push({ start: text[at - 1] === "\r" ? at - 1 : at, end: at + 1 });
      at = text.indexOf("\n", at + 1);
    }
  }
  levels[SENTENCE].sort((a, b) => a.start - b.start);
  levels[WORD].sort((a, b) => a.start - b.start);
  return levels;
}

/** The last break with `after < start <= upTo`, by binary search. */
function lastBreakIn(breaks: Break[], after: number, upTo: number): Break | undefined {
  let low = 0;
  let high = breaks.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (breaks[mid].start <= upTo) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found >= 0 && breaks[found].start > after ? breaks[found] : undefined;
}

/** Chooses cuts over one text; holds the precomputed offsets, breaks and code blocks. */
class Splitter {
  readonly #text: string;
  readonly #markdown: boolean;
  readonly #bytes: Uint32Array;
  readonly #blocks: CodeBlock[];
  readonly #breaks: Break[][];
  #segmenter?: Intl.Segmenter;

  constructor(text: string, markdown: boolean) {
    this.#text = text;
    this.#markdown = markdown;
    this.#bytes = byteOffsets(text);
    this.#blocks = findCodeBlocks(text);
    this.#breaks = collectBreaks(text, this.#blocks);
  }

  /** The next chunk from `start`: where it ends and, in markdown mode, the fences it needs. */
  next(start: number, maxBytes: number): { cut: Cut; prefix: string; suffix: string } {
    let prefix = "";
    let budget = maxBytes;
    if (this.#markdown) {
      const block = this.#insideCode(start);
      if (block) {
        prefix = block.openLine + "\n";
        budget = maxBytes - utf8Length(prefix);
        if (budget < MIN_BYTES) {
          prefix = "";
          budget = maxBytes;
        }
      }
    }
    let cut = this.#cut(start, budget);
    let suffix = "";
    if (this.#markdown) {
      let block = this.#insideCode(cut.end);
      if (block && cut.end > start) {
        suffix = "\n" + block.closeLine;
        const suffixBytes = utf8Length(suffix);
        if (budget - suffixBytes < MIN_BYTES) suffix = "";
        else if (this.#bytes[cut.end] - this.#bytes[start] + suffixBytes > budget) {
          cut = this.#cut(start, budget - suffixBytes);
          block = this.#insideCode(cut.end);
          suffix = block ? "\n" + block.closeLine : "";
        }
      }
    }
    return { cut, prefix, suffix };
  }

  /** The code block whose content holds `index` (where a chunk boundary needs fences). */
  #insideCode(index: number): CodeBlock | undefined {
    const block = blockAt(this.#blocks, index);
    return block && index >= block.contentStart && index < block.closeStart ? block : undefined;
  }

  /** The best cut of a chunk starting at `start` of at most `budget` bytes. */
  #cut(start: number, budget: number): Cut {
    const bytes = this.#bytes;
    const n = this.#text.length;
    const limit = bytes[start] + budget;
    if (bytes[n] <= limit) return { end: n, next: n };
    // Largest index whose offset fits: never between the halves of a surrogate pair.
    let low = start;
    let high = n;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (bytes[mid] <= limit) low = mid;
      else high = mid - 1;
    }
    const upTo = this.#clampToFences(start, low);
    for (const breaks of this.#breaks) {
      const found = lastBreakIn(breaks, start, upTo);
      if (found) return { end: found.start, next: found.end };
    }
    const grapheme = this.#lastGraphemeBoundary(start, upTo);
    if (grapheme > start) return { end: grapheme, next: grapheme };
    const end = upTo > start ? upTo : low; // one grapheme larger than the budget: code points
    return { end, next: end };
  }

  /** Moves a window end out of a fence line, so fences are never cut in half. */
  #clampToFences(start: number, upTo: number): number {
    const block = blockAt(this.#blocks, upTo);
    if (!block) return upTo;
    if (upTo > block.start && upTo < block.contentStart && block.start > start) return block.start;
    if (upTo >= block.closeStart && block.closeStart - 1 > start) return block.closeStart - 1;
    return upTo;
  }

  /** The last grapheme boundary in `(start, upTo]`, or `start` when there is none. */
  #lastGraphemeBoundary(start: number, upTo: number): number {
    this.#segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
    // Boundaries only depend on what precedes them and the next character.
    const window = this.#text.slice(start, Math.min(this.#text.length, upTo + 16));
    let best = 0;
    for (const { index } of this.#segmenter.segment(window)) {
      if (index > upTo - start) break;
      best = index;
    }
    return start + best;
  }
}
