/**
 * The YAML subset reader against npm:yaml: whatever it reads (config.example.yaml, the YAML
 * files and README examples of the repository, corner cases, thousands of random and mutated
 * documents), npm:yaml parses without error to a deep-equal value; it reads the shapes configs
 * use (so config.yaml does not load npm:yaml); it refuses what it does not cover.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseYamlSubset } from "../../src/config/yaml_subset.ts";
import { readYamlFile } from "../../src/config/yaml_file.ts";

const root = new URL("../../", import.meta.url);

/** The subset's reading of `text`; when it gives one, npm:yaml must parse `text` to the same. */
function checked(text: string): { value: unknown } | undefined {
  const read = parseYamlSubset(text);
  if (read === undefined) return undefined;
  let expected: unknown;
  try {
    // Default options; logLevel "error" only keeps npm:yaml's warnings off the console.
    expected = parse(text, { logLevel: "error" });
  } catch (error) {
    assert.fail(`read ${JSON.stringify(text)}, which npm:yaml refuses: ${error}`);
  }
  try {
    assert.deepEqual(read.value, expected);
  } catch (error) {
    (error as Error).message = `${JSON.stringify(text)}\n${(error as Error).message}`;
    throw error;
  }
  return read;
}

/** The `.yaml` and `.yml` files under `dir` (relative to the repository). */
async function yamlFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) found.push(...await yamlFiles(`${path}/`));
    else if (/\.ya?ml$/.test(entry.name)) found.push(path);
  }
  return found;
}

/** Documents where a YAML rule has a corner: each scalar rule, quoting, comments, shapes. */
const CORNERS = [
  ...[
    ...["a", "hello world", "two  spaces", "1", "-1", "+12", "012", "-012", "00", "0o17", "0O17"],
    ...["0o8", "0x1F", "0X1F", "0x1f", "-0x1", "+0x1", "0xg", "1e3", "1E3", "1e+3", "1e-3", "+1e3"],
    ...["1.5e", "12e03", "1.e3", ".e3", "e3", "1_000", "1,000", "123456789012345678901234567890"],
    ...["9007199254740993", "0x10000000000000000", "0o7777777777777777777777", "1e400", "-1e400"],
    ...[".5", "5.", "-.5", "+.5", "-5.", "0.", "3.", "+.", ".", "1.2.3", "-0", "+0", "-0.0", "0.0"],
    ...[".inf", ".Inf", ".INF", "-.inf", "+.inf", "-.INF", ".iNf", ".nan", ".NaN", ".NAN", "-.nan"],
    ...["inf", "nan", "Infinity", "NaN", "~", "null", "Null", "NULL", "nUll", "true", "True"],
    ...["TRUE", "tRue", "false", "False", "FALSE", "yes", "no", "on", "off", "y", "n", "=", "<<"],
    ...["a:b", "1:2", "http://x:80/p?q=1#f", "a#b", "a #b", "a  # b", "a b # c # d", "x,y", "a]"],
    ...[
      "a}",
      "a[1]",
      "a{b}",
      "-a",
      "--x",
      "-",
      "- a",
      "a :b",
      "a ,b",
      "ab:",
      "a: b",
      "é",
      "中文",
      "😀",
    ],
    ...["\u00a0x", "x\u3000", "?x", ":x", "@x", "`x`", "%x", "!x", "&x", "*x", "|", ">", "a'b"],
    ...['a"b', "#x", "'q'", "''", "'it''s'", "' sp '", "'a # b'", "'a: b'", "'x'y", "'x' #c"],
    ...["'x'#c", '""', '"d\\n"', '"\\x41\\u00e9"', '"\\ud83d\\ude00"', '"\\ud83d"', '"a\\"b"'],
    ...['"\\/\\\\"', '"\\0\\b\\f\\r\\t"', '"\\ "', '"\\a"', '"\\e"', '"\\N"', '"\\U0001F600"'],
    ...['"\\x4"', '"\\u12"', '"a # b"', '"true"', '"1"', '"x" y', '"x": y', '"open', "'open"],
    ...["[]", "[ ]", "{}", "{ }", "[a, b]", "[a, b, ]", "[a,b]", "[a,,b]", "[,]", "[a b, 'c d']"],
    ...["[1, true, null, ~, .5, 0x1F]", "[a:b]", "[a: b]", "[a:]", "[http://x]", "[-a]", "[- a]"],
    ...["[a, [b]]", "[{a: 1}]", "[a]x", "[a] #c", "[a]#c", "[a,#c]", "[a #c]", "[a", "[a]]"],
    ...["{a: 1, b: x}", "{a: 1, }", "{a: 1,, }", "{a:b}", "{a: b:c}", "{a}", "{a: }", '{"a": 1}'],
    ...['{"a":1}', "{'a': 1}", "{a: 1, a: 2}", "{true: 1}", "{a: [1]}", "{a: {b: 1}}", "{a: 1"],
    ...["&anchor a", "*alias", "!tag a", "!!str 1", "| ", ">-", "? a", "%x"],
  ].map((value) => `key: ${value}\n`),
  ...["- 1", "- ~", "- true", "- null", "- 'a'", "- a: 1", "- - a", "- [a]", "- {a: 1}", "-"],
  "",
  "\n\n",
  "# only a comment\n",
  "---\n",
  "--- # c\na: 1\n",
  "---\n---\n",
  "a: 1\n---\nb: 2\n",
  "a: 1\n...\n",
  "--- a\n",
  "%YAML 1.2\n---\na: 1\n",
  "\ufeffa: 1\n",
  "a: 1\r\nb: 2\r\n",
  "a: 1\rb: 2\n",
  "a: \u0001\n",
  "a: b\u0085c\n",
  "a: b\u2028c\n",
  "a:\tb\n",
  "a: b\t# c\n",
  "\ta: 1\n",
  "a:\n\t- b\n",
  "a: 1 # c\tc\n",
  "# c\t c\na: 1\n",
  "a: 1\na: 2\n",
  "a: 1\n'a': 2\n",
  'a: 1\n"a": 2\n',
  "a:\n  b: 1\n  b: 2\n",
  "a: 1\n  b: 2\n",
  "a:\n  b: 1\n c: 2\n",
  "  a: 1\n  b: 2\n",
  "  a: 1\nb: 2\n",
  "a:\n    b: 1\n  c: 2\n",
  "a: x\n  y\n",
  "a: x\n\n  y\n",
  "a: x\n  # c\n  y\n",
  "a: 'x\n  y'\n",
  "a:\n  x\n",
  "a: [x]\n  b\n",
  'a: "x"\n  b: 1\n',
  "a: # c\n  b: 1\n",
  "a:\n  # c\nb: 1\n",
  "a:\n- x\n- y\nb: 1\n",
  "a:\n- x\n  - y\n",
  "a:\n  - x\n  b: 1\n",
  "a:\n- x\n- y\n  b: 1\n",
  "- a: 1\n  b: 2\n- c: 3\n",
  "- a: 1\n b: 2\n",
  "- a: 1\n   b: 2\n",
  "-   a: 1\n    b: 2\n",
  "- a:\n  - x\n  b: 1\n",
  "- a:\n    b: 1\n  c: 2\n",
  "- a:\n  b: 1\n",
  "- - a\n  - b\n- c\n",
  "-\n  a: 1\n",
  "-\n- b\n",
  "- # c\n- b\n",
  "- x\n  y\n",
  "-  x\n-   y\n",
  "k: [\n  a,\n  b,\n]\n",
  "k: [\na,\n]\n",
  "k: [\n  a,\n  ]\n",
  "x:\n  k: [\n  a,\n  ]\n",
  "x:\n  k: [\n   a,\n  ]\n",
  "x:\n  k: [\n   a,\n ]\n",
  "x:\n  k: [\n   a\n   ]\n",
  "k: [ # c\n  a, # c\n  # c\n  b\n] # c\n",
  "k: [a\n  , b]\n",
  "k: [a,#c\n  b]\n",
  "k: [#c\n  a]\n",
  "k: [a#b, 'c]d', \"e, f\", \"g #h\", 'i''j']\n",
  "# c\n---\na: 1\n",
  "---#c\na: 1\n",
  "  ---\na: 1\n",
  "k: [a\n  b]\n",
  "k: ['a\n  b']\n",
  "k: [\n  a,\n  b,\n]\nz: 1\n",
  "k: [\n  a,\n  b,\n] x\n",
  "k: {\n  a: 1,\n  b: 2\n}\n",
  "k: {\n  a:\n  1\n}\n",
  "- [\n  a,\n  ]\n",
  "- [\n a,\n ]\n",
  "- [\n a,\n]\n",
  "- [\na,\n]\n",
  "- k: [\n    a,\n  ]\n",
  "- k: [\n  a,\n  ]\n",
  "__proto__: 1\n",
  "constructor: 1\ntoString: 2\n",
  "<<: {a: 1}\n",
  '"<<": 1\n',
  "true: 1\n",
  "null: 1\n",
  "1: a\n",
  "~: a\n",
  "'true': 1\n",
  '"": 1\n',
  '"a\\nb": 1\n',
  "a b: 1\n",
  "a : 1\n",
  "a:1\n",
  "名前: 1\n",
  "? a\n: b\n",
  "[a]: b\n",
  "{a: 1}\n",
  "[a, b]\n",
  "plain text\n",
  "'quoted'\n",
  "text: |\n  two\n  lines\n",
  "text: >\n  folded\n",
  "a: &x 1\nb: *x\n",
  "a: !!int 1\n",
  `${"k".repeat(1100)}: 1\n`,
  `a: ${"v".repeat(1100)}\n`,
];

/** Shapes that configuration files use: the reader must read them (not leave them to npm:yaml). */
const CONFIG_SHAPES = [
  "gateway:\n  port: 8000\n",
  "gateway:\n  delivery:\n    max_attempts: 8\n",
  `
platforms:
  wecom_callback:
    enabled: true
    extra:
      corp_id: "wwflatcorp"
      corp_secret: 'flat-secret'
      agent_id: 1000002
      encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
      host: "127.0.0.1" # behind a proxy
      port: 9001
      path: "/hook/"
      api_base: http://127.0.0.1:9999/
      allowed_users: "zhangsan, wwflatcorp:lisi"
      markdown_plain_users: []
`,
  `---
# several apps
platforms:
  wecom_callback:
    extra:
      apps:
        - name: dept-a
          corp_id: ww_corp_a
          agent_id: "1000002"
        -   name: "dept_b"
            agent_id: 1000003
            api_base: https://proxy.example/wecom/
      apps_too:
      - name: dept-c
      - name: dept-d
`,
  `agent:
  kind: openai
  max_turns: 90 # a Hermes key: left alone
  timeout_seconds: 0.5
  openai:
    base_url: http://127.0.0.1:1234/v1/
    system_prompt: Be brief.
    headers: {}
  http:
    url: http://127.0.0.1:1/x
    headers:
      Authorization: Bearer abc
      X-Count: 3
  command:
    argv: [sh, -c, "echo \\"$1\\" #1", a#b, 'it''s', -x]
    env: [HERMES_HOME, ANTHROPIC_API_KEY]
    cwd: sub
  failure_text: { zh: "抱歉", en: "Sorry" }
  truncation_marker: "\\n\\n[…cut short]"
gateway:
  kv: ":memory:"
  operator:
    host: 127.0.0.1
    token: ""
`,
  `agent:
  command:
    argv: [
      "hermes",
      "chat",
      "{message}",
    ] # the program
    env:
      HERMES_PROFILE: wecom
      HERMES_HOME:
  http:
    headers:
# Authorization: "Bearer your-token"

gateway:
  media:
    upload_roots: ['/srv/agent/out', /tmp/agent]
`,
];

/** What the reader leaves to npm:yaml: features outside the subset, and invalid YAML. */
const REFUSED = [
  "text: |\n  two\n  lines\n",
  "text: >-\n  folded\n",
  "a: &x 1\nb: *x\n",
  "a: !!str 1\n",
  "? a\n: b\n",
  "%YAML 1.2\n---\na: 1\n",
  "a: 1\n---\nb: 2\n",
  "a: 1\n...\n",
  "a: x\n  continued\n",
  "a: 'two\n  lines'\n",
  "a: [x, [y]]\n",
  "a: [{b: 1}]\n",
  "a: @x\n",
  "a: `x`\n",
  "<<: {a: 1}\n",
  "__proto__: 1\n",
  "true: 1\n",
  "a:\tb\n",
  "\ta: 1\n",
  "a: 1\na: 2\n",
  "a: {b: 1, b: 2}\n",
  "a: 1\n  b: 2\n",
  "a:\n  b: 1\n c: 2\n",
  "a: 'open\n",
  'a: "open\n',
  "a: [x, y\n",
  "a: {b: 1\n",
  "a: b: c\n",
  "k: [\na,\n]\n",
  "plain text\n",
];

Deno.test("yaml subset: config.example.yaml, the repository's YAML files and README examples read as npm:yaml reads them", async () => {
  const example = await Deno.readTextFile(new URL("config.example.yaml", root));
  assert.ok(checked(example), "config.example.yaml is read by the subset");
  for (const path of await yamlFiles("tests/")) {
    checked(await Deno.readTextFile(new URL(path, root)));
  }
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]);
  assert.ok(blocks.length > 0);
  for (const block of blocks) checked(block);
  const read = await readYamlFile(new URL("config.example.yaml", root).pathname, true);
  assert.deepEqual(read.root, parse(example));
});

Deno.test("yaml subset: corner cases read as npm:yaml reads them, or are refused", () => {
  for (const text of [...CORNERS, ...CONFIG_SHAPES, ...REFUSED]) checked(text);
});

Deno.test("yaml subset: the shapes configs use are read (config.yaml does not load npm:yaml)", () => {
  for (const text of CONFIG_SHAPES) assert.ok(checked(text), text);
  for (const text of ["", "# only comments\n", "---\n"]) {
    assert.deepEqual(checked(text), { value: null });
  }
});

Deno.test("yaml subset: features outside it and invalid YAML are refused", () => {
  for (const text of REFUSED) assert.equal(parseYamlSubset(text), undefined, text);
});

// ---------------------------------------------------------------------------------------------
// Random documents: generated in the subset's shapes with its corner scalars, then mutated.

/** A deterministic generator of numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The values of the corner cases above (`key: VALUE`), as building blocks. */
const SCALARS = CORNERS.filter((text) => text.startsWith("key: ") && !/^key: [[{]/.test(text))
  .map((text) => text.slice(5, -1));
const KEYS = ["name", "port", "a.b", "X-Count", "_x", "'q k'", '"d k"', "true", "null", "<<"];

/** A random document of block mappings, sequences, flow collections, comments and scalars. */
function randomDocument(next: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const chance = (p: number) => next() < p;
  const step = pick([1, 2, 2, 2, 3, 4]);
  const pad = (n: number) => " ".repeat(Math.max(0, n));
  const comment = () => chance(0.15) ? pick([" # c", "  # note: x", " #"]) : "";
  const scalar = () => chance(0.6) ? pick(["a", "x y", "1", "true", "'q'", '"d"']) : pick(SCALARS);
  const flow = (indent: number): string => {
    const [open, close] = chance(0.7) ? ["[", "]"] : ["{", "}"];
    const items = Array.from(
      { length: Math.floor(next() * 4) },
      (_, i) => open === "[" ? scalar() : `${chance(0.9) ? `k${i}` : pick(KEYS)}: ${scalar()}`,
    );
    if (chance(0.6)) return `${open}${items.join(pick([", ", ",", " , "]))}${close}`;
    const inner = pad(indent + pick([-1, 0, 1, step, step]));
    const lines = items.map((item) => `${inner}${item},${comment()}`);
    if (chance(0.2)) lines.push(`${pad(indent + step)}# inside`);
    return `${open}${comment()}\n${lines.join("\n")}\n${pad(indent + pick([-1, 0, 0, 1]))}${close}`;
  };
  const value = (indent: number, depth: number): string => {
    const kind = next();
    if (kind < 0.45 || depth > 3) return ` ${scalar()}${comment()}`;
    if (kind < 0.6) return ` ${flow(indent)}${comment()}`;
    if (kind < 0.67) return `${comment()}`;
    const inner = chance(0.2) ? indent : indent + step;
    const block = chance(0.5) || inner === indent
      ? sequence(inner, depth + 1)
      : mapping(inner, depth + 1);
    return `${comment()}\n${block}`;
  };
  const mapping = (indent: number, depth: number): string => {
    const count = 1 + Math.floor(next() * 4);
    const keys = Array.from({ length: count }, (_, i) => chance(0.9) ? `k${i}` : pick(KEYS));
    return keys.map((key) => `${pad(indent)}${key}:${value(indent, depth)}`).join("\n");
  };
  const sequence = (indent: number, depth: number): string => {
    const count = 1 + Math.floor(next() * 3);
    return Array.from({ length: count }, () => {
      const gap = pad(pick([1, 1, 1, 2, 3]));
      if (chance(0.3) && depth <= 3) {
        const column = indent + 1 + gap.length;
        return `${pad(indent)}-${gap}${mapping(column, depth + 1).slice(column)}`;
      }
      if (chance(0.1) && depth <= 3) {
        return `${pad(indent)}-${gap}${sequence(indent + 1 + gap.length, depth + 1).trimStart()}`;
      }
      return `${pad(indent)}-${value(indent, depth)}`;
    }).join("\n");
  };
  const body = chance(0.8) ? mapping(chance(0.1) ? 2 : 0, 0) : sequence(0, 0);
  const head = chance(0.1) ? "---\n" : chance(0.1) ? "# header\n\n" : "";
  return head + body.split("\n").map((line) => chance(0.05) ? `${line}\n` : line).join("\n") +
    "\n";
}

/** Small edits that move a document in and out of the subset and of valid YAML. */
const EDITS = [" ", "  ", ":", ": ", "-", "- ", "#", " #", "'", '"', "[", "]", "{", "}", ",", "\t"];
EDITS.push("\n", "\r\n", "\\", "&a ", "*a", "!t ", "|", ">", "? ", "---\n", "...\n", "%", "@", "x");

function mutate(text: string, next: () => number): string {
  const at = Math.floor(next() * (text.length + 1));
  const lines = text.split("\n");
  const line = Math.floor(next() * lines.length);
  switch (Math.floor(next() * 6)) {
    case 0:
      return text.slice(0, at) + EDITS[Math.floor(next() * EDITS.length)] + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1);
    case 2:
      lines.splice(line, 0, lines[line]);
      return lines.join("\n");
    case 3:
      lines.splice(line, 1);
      return lines.join("\n");
    case 4:
      lines[line] = next() < 0.5 ? ` ${lines[line]}` : lines[line].replace(/^ /, "");
      return lines.join("\n");
    default:
      if (line + 1 < lines.length) [lines[line], lines[line + 1]] = [lines[line + 1], lines[line]];
      return lines.join("\n");
  }
}

Deno.test("yaml subset: thousands of random and mutated documents read as npm:yaml reads them, or are refused", () => {
  const next = random(20240607);
  let documents = 0;
  let read = 0;
  let mutantsRead = 0;
  for (let i = 0; i < 1500; i++) {
    const document = randomDocument(next);
    documents++;
    if (checked(document)) read++;
    let mutant = document;
    for (let j = 0; j < 3; j++) {
      mutant = mutate(mutant, next);
      documents++;
      if (checked(mutant)) mutantsRead++;
    }
  }
  assert.equal(documents, 6000);
  // Enough of both kinds are read for the comparison to mean something.
  assert.ok(read > 500, `${read} of 1500 generated documents read`);
  assert.ok(mutantsRead > 1000, `${mutantsRead} of 4500 mutated documents read`);
});
