import assert from "node:assert/strict";
import { splitMessage, splitMessageDetailed, type SplitResult } from "../../src/text/split.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text).length;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Checks every promise of the splitter on one input. */
function checkSplit(text: string, maxBytes: number, markdown = false): SplitResult {
  const result = splitMessageDetailed(text, maxBytes, { markdown });
  const { chunks, bodies, gaps } = result;
  assert.equal(gaps.length, bodies.length + 1);
  assert.equal(chunks.length, bodies.length);
  // No content lost: the bodies with the removed separators are the text.
  assert.equal(gaps[0] + bodies.map((body, i) => body + gaps[i + 1]).join(""), text);
  for (const gap of gaps) assert.match(gap, /^\s*$/u, "only whitespace is removed");
  const boundaries = new Set([0, text.length]);
  for (const { index } of segmenter.segment(text)) boundaries.add(index);
  let position = gaps[0].length;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    assert.ok(bytes(chunk) <= maxBytes, `chunk ${i} has ${bytes(chunk)} bytes > ${maxBytes}`);
    assert.match(chunk, /\S/u, "no empty or whitespace-only chunk");
    assert.ok(chunk.isWellFormed(), "no code point is cut");
    if (!markdown) assert.equal(chunk, bodies[i]);
    assert.ok(boundaries.has(position), `chunk ${i} starts inside a grapheme`);
    position += bodies[i].length;
    assert.ok(boundaries.has(position), `chunk ${i} ends inside a grapheme`);
    position += gaps[i + 1].length;
  }
  return result;
}

Deno.test("short text is one chunk, unchanged", () => {
  assert.deepEqual(splitMessage("Hello, WeCom!"), ["Hello, WeCom!"]);
  assert.deepEqual(splitMessage("  indented\nand trailing  "), ["  indented\nand trailing  "]);
});

Deno.test("ASCII splits exactly at the byte limit", () => {
  assert.deepEqual(splitMessage("x".repeat(2048)), ["x".repeat(2048)]);
  const chunks = checkSplit("x".repeat(2049), 2048).chunks;
  assert.deepEqual(chunks.map(bytes), [2048, 1]);
});

Deno.test("683 CJK characters (2049 bytes) become 682 + 1", () => {
  const text = "好".repeat(683);
  const chunks = checkSplit(text, 2048).chunks;
  assert.deepEqual(chunks.map((c) => c.length), [682, 1]);
  assert.deepEqual(chunks.map(bytes), [2046, 3]);
});

Deno.test("CJK text splits after 。！？ without spaces", () => {
  const sentence = "这是一个比较长的中文句子用于测试分割。";
  const text = sentence.repeat(60); // 60 × 57 bytes
  const chunks = checkSplit(text, 2048).chunks;
  assert.equal(chunks.length, 2);
  assert.ok(chunks[0].endsWith("。"));
  assert.equal(chunks.join(""), text);
  // Clauses (，) before graphemes when a sentence is too long.
  const clauses = checkSplit("一二三四五，六七八九十，甲乙丙丁戊", 40).chunks;
  assert.deepEqual(clauses, ["一二三四五，六七八九十，", "甲乙丙丁戊"]);
});

Deno.test("emoji ZWJ sequences, flags and combining marks are never cut at the boundary", () => {
  const family = "👨‍👩‍👧‍👦"; // 25 bytes
  for (let pad = 2030; pad <= 2048; pad++) {
    const result = checkSplit("a".repeat(pad) + family + "b", 2048);
    assert.ok(result.chunks.some((c) => c.includes(family)), `family kept whole at pad ${pad}`);
  }
  const flags = "🇨🇳🇯🇵🇺🇸";
  for (let pad = 2036; pad <= 2047; pad++) {
    const chunks = checkSplit("a".repeat(pad) + flags, 2048).chunks;
    assert.equal(chunks.join(""), "a".repeat(pad) + flags);
    for (const chunk of chunks) {
      assert.doesNotMatch(chunk, /^[\u{1F1E6}-\u{1F1FF}](?:[\u{1F1E6}-\u{1F1FF}]{2})*$/u);
    }
  }
  const accented = "e\u0301".repeat(1000); // 3 bytes per grapheme
  const chunks = checkSplit(accented, 2048).chunks;
  assert.ok(chunks.every((c) => c.startsWith("e")), "no chunk starts with a combining mark");
});

Deno.test("one huge word without spaces is split at grapheme boundaries", () => {
  assert.deepEqual(checkSplit("x".repeat(5000), 2048).chunks.map(bytes), [2048, 2048, 904]);
  const smileys = checkSplit("🙂".repeat(1000), 2048).chunks;
  assert.deepEqual(smileys.map(bytes), [2048, 1952]);
  const url = "https://example.com/" + "path/".repeat(600);
  assert.equal(checkSplit(url, 2048).chunks.join(""), url);
});

Deno.test("prefers paragraphs, then lines, then sentences, then words", () => {
  const text = "line one\nline two\n\npara two";
  assert.deepEqual(checkSplit(text, 20).chunks, ["line one\nline two", "para two"]);
  assert.deepEqual(checkSplit(text, 12).chunks, ["line one", "line two", "para two"]);
  assert.deepEqual(checkSplit("One. Two! Three? Four", 10).chunks, ["One. Two!", "Three?", "Four"]);
  assert.deepEqual(checkSplit("Hello world. This is fine", 20).chunks, [
    "Hello world.",
    "This is fine",
  ]);
  assert.deepEqual(checkSplit("alpha beta gamma delta", 11).chunks, ["alpha beta", "gamma delta"]);
  // Several blank lines are one separator; the next line keeps its indentation.
  const indented = checkSplit("first\n\n\n\n    second", 12);
  assert.deepEqual(indented.chunks, ["first", "    second"]);
  assert.deepEqual(indented.gaps, ["", "\n\n\n\n", ""]);
});

Deno.test("a fenced code block that fits stays in one chunk", () => {
  const code = "```ts\nconst a = 1;\n\nconst b = 2;\n```";
  const text = "Intro paragraph that is long enough.\n\n" + code + "\n\nOutro text here.";
  for (const markdown of [false, true]) {
    const chunks = checkSplit(text, 60, markdown).chunks;
    assert.ok(chunks.some((c) => c.includes(code)), `code block intact (markdown ${markdown})`);
    assert.equal(chunks.length, 2);
  }
});

Deno.test("markdown: a code block too large is closed and reopened in every chunk", () => {
  const lines = Array.from({ length: 300 }, (_, i) => `  const value${i} = compute(${i});`);
  const text = "Here is the code:\n\n```typescript\n" + lines.join("\n") + "\n```\n\nDone.";
  const { chunks } = checkSplit(text, 2048, true);
  assert.ok(chunks.length >= 4);
  for (const chunk of chunks.slice(1, -1)) {
    assert.ok(chunk.startsWith("```typescript\n"), "reopened with the same info string");
    assert.ok(chunk.endsWith("\n```"), "closed");
  }
  for (const chunk of chunks) {
    const fences = chunk.split("\n").filter((line) => /^```/.test(line)).length;
    assert.equal(fences % 2, 0, "fences balanced in every chunk");
  }
  // Indentation of code lines survives the split.
  assert.ok(chunks[1].split("\n")[1].startsWith("  const"));
  // Without markdown nothing is added.
  const plain = checkSplit(text, 2048, false).chunks;
  assert.equal(plain.filter((c) => c.includes("```")).length, 2);
});

Deno.test("empty or whitespace-only input gives no chunk", () => {
  for (const text of ["", " ", "\n\n\t ", "\u3000\u00a0"]) assert.deepEqual(splitMessage(text), []);
  // A long run of spaces at a split point is removed, not sent.
  const chunks = checkSplit("a" + " ".repeat(5000) + "b", 2048).chunks;
  assert.deepEqual(chunks, ["a", "b"]);
});

Deno.test("refuses a limit too small for one code point", () => {
  assert.throws(() => splitMessage("x", 3), /'maxBytes' must be an integer of at least 4/);
  assert.throws(() => splitMessage("x", 10.5), RangeError);
});

Deno.test("100 KB inputs split fast", () => {
  const prose = Array.from(
    { length: 5000 },
    (_, i) => `Sentence ${i} is here.${i % 5 === 0 ? "\n\n" : i % 3 === 0 ? "\n" : " "}`,
  ).join("");
  const inputs = [
    prose.slice(0, 100_000),
    "x".repeat(100_000),
    "好".repeat(34_000),
    "👨‍👩‍👧".repeat(6000),
    "```\n" + "code line\n".repeat(10_000) + "```",
  ];
  for (const text of inputs) {
    const started = performance.now();
    const { chunks } = splitMessageDetailed(text, 2048, { markdown: true });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
    assert.ok(chunks.length >= 48, `${chunks.length} chunks`);
    checkSplit(text, 2048);
  }
});

Deno.test("random inputs: nothing lost, limits kept, graphemes whole", () => {
  const pieces = [
    "a",
    "word ",
    "Lorem",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    ". ",
    "! ",
    "? ",
    "。",
    "，",
    "好",
    "中文",
    "👨‍👩‍👧",
    "🇯🇵",
    "🇨🇳",
    "e\u0301",
    " \u0301",
    "🙂",
    "```\n",
    "```js\n",
    "~~~\n",
    "\u3000",
    "x".repeat(40),
  ];
  let seed = 20250106;
  const random = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let run = 0; run < 400; run++) {
    const length = Math.floor(random() * 400);
    let text = "";
    for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
    const maxBytes = 32 + Math.floor(random() * 300);
    checkSplit(text, maxBytes, false);
    checkSplit(text, maxBytes, true);
  }
});
