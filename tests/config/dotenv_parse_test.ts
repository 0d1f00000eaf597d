/**
 * `.env` parsing: the same variables as the `dotenv` package's `parse`
 * (expected values recorded from dotenv 18.0.10 for each case), and reading
 * `.env` leaves the environment alone.
 */

import * as assert from "node:assert/strict";
import { parseDotenv } from "../../src/config/dotenv_parse.ts";
import { readDotenv } from "../../src/config/dotenv.ts";

/** [what the case shows, the file's text, what dotenv 18.0.10 parses it to]. */
const CASES: [string, string, Record<string, string>][] = [
  ["plain values, spaces inside kept", "A=1\nB=two words\n", { "A": "1", "B": "two words" }],
  [
    "comments: whole line, trailing, and # inside single quotes kept",
    "# comment\nA=1 # trailing\nB='single # not comment'\n",
    { "A": "1", "B": "single # not comment" },
  ],
  ["escapes only in double quotes", "A=\"line\\nbreak\\r\"\nB='raw\\n'\nC=`back\\n`\n", {
    "A": "line\nbreak\r",
    "B": "raw\\n",
    "C": "back\\n",
  }],
  ["export prefix and spaces around =", "export A=1\nexport  B = 2 \n", { "A": "1", "B": "2" }],
  ["multiline double-quoted value", 'A="multi\nline"\nB=after\n', {
    "A": "multi\nline",
    "B": "after",
  }],
  ["empty values", "A=\nB= \nC=''\nD=\"\"\n", { "A": "", "B": "", "C": "", "D": "" }],
  ["colon form needs a space after the colon", "A: 1\nB:2\n", { "A": "1" }],
  ["CRLF line endings", "A=1\r\nB=2\r\n", { "A": "1", "B": "2" }],
  ["escaped double quotes stay escaped", 'A="has \\"quote\\""\n', { "A": 'has \\"quote\\"' }],
  ["escaped single quote stays escaped", "A='it\\'s'\n", { "A": "it\\'s" }],
  ["lines that are not assignments are skipped", "garbage line\nA=1\n=novalue\n", { "A": "1" }],
  ["a later line wins", "A=1\nA=2\n", { "A": "2" }],
  ["= in a value kept, # in an unquoted value starts a comment", "A=x=y\nB=http://h/p?a=1#frag\n", {
    "A": "x=y",
    "B": "http://h/p?a=1",
  }],
  ["keys with dots and dashes", "A.B-C_1=ok\n", { "A.B-C_1": "ok" }],
  ["unquoted values trimmed", "A=  spaced  \n", { "A": "spaced" }],
  ["an unterminated quote is kept as text", 'A="unterminated\nB=2\n', {
    "A": '"unterminated',
    "B": "2",
  }],
  ["indented lines", "  A=indented\n", { "A": "indented" }],
  ["comment after a quoted value", "A=\"x\" # c\nB='y'#c\n", { "A": "x", "B": "y" }],
  ["secret-like value with symbols", "WECOM_SECRET=a$b%c&d*e!f\n", {
    "WECOM_SECRET": "a$b%c&d*e!f",
  }],
  ["unicode value", "A=你好 世界\n", { "A": "你好 世界" }],
];

for (const [name, text, expected] of CASES) {
  Deno.test(`.env parsing as dotenv does: ${name}`, () => {
    assert.deepEqual(parseDotenv(text), expected);
  });
}

Deno.test(".env parsing: an empty file and a file of comments give no variables", () => {
  assert.deepEqual(parseDotenv(""), {});
  assert.deepEqual(parseDotenv("# only\n\n   # comments\n"), {});
});

Deno.test(".env is read from the directory without touching the environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = `WECOM_DOTENV_PROBE_${crypto.randomUUID().replaceAll("-", "_")}`;
    await Deno.writeTextFile(`${dir}/.env`, `${key}="from file"\nexport OTHER=2\n`);
    const read = await readDotenv(dir);
    assert.deepEqual(read.values, { [key]: "from file", OTHER: "2" });
    assert.equal(read.path, `${dir}/.env`);
    assert.equal(read.problem, undefined);
    assert.equal(Deno.env.get(key), undefined, "the environment is not modified");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
