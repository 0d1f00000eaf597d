import assert from "node:assert/strict";
import { parseReply, stripThinking } from "../../src/agent/reply.ts";

Deno.test("MEDIA: lines become attachments and leave the text", () => {
  const reply = parseReply(
    "Here is your chart.\nMEDIA:/tmp/out/chart.png\n\nAnd the data:\n  MEDIA: /tmp/out/data.csv  \nBye",
  );
  assert.equal(reply.text, "Here is your chart.\n\nAnd the data:\nBye");
  assert.deepEqual(reply.attachments, [
    { path: "/tmp/out/chart.png" },
    { path: "/tmp/out/data.csv" },
  ]);
});

Deno.test("MEDIA: paths may be quoted or in backticks, and may contain spaces", () => {
  const reply = parseReply(
    'MEDIA: "/tmp/my report.pdf"\nMEDIA: `/tmp/a.png`\n`MEDIA:/tmp/b.jpg`\nMEDIA:/tmp/c d.txt',
  );
  assert.equal(reply.text, "");
  assert.deepEqual(reply.attachments.map((a) => a.path), [
    "/tmp/my report.pdf",
    "/tmp/a.png",
    "/tmp/b.jpg",
    "/tmp/c d.txt",
  ]);
});

Deno.test("[[audio_as_voice]] marks audio attachments as voice and disappears", () => {
  const reply = parseReply("[[audio_as_voice]]\nMEDIA:/tmp/hello.ogg\nMEDIA:/tmp/pic.png");
  assert.equal(reply.text, "");
  assert.deepEqual(reply.attachments, [
    { path: "/tmp/hello.ogg", kind: "voice" },
    { path: "/tmp/pic.png" },
  ]);
});

Deno.test("MEDIA: mentioned inside a sentence or a code fence stays text", () => {
  const source = "Write MEDIA:/path on its own line to attach a file.\n```\nMEDIA:/tmp/x.png\n```";
  const reply = parseReply(source);
  assert.equal(reply.text, source);
  assert.deepEqual(reply.attachments, []);
});

Deno.test("a bare MEDIA: line without a path stays text", () => {
  assert.deepEqual(parseReply("MEDIA:").attachments, []);
  assert.equal(parseReply("MEDIA:").text, "MEDIA:");
});

Deno.test("~/ in a MEDIA: path means the home folder", () => {
  const home = Deno.env.get("HOME");
  const reply = parseReply("MEDIA:~/pics/a.png");
  assert.equal(reply.attachments[0].path, home ? `${home}/pics/a.png` : "~/pics/a.png");
});

Deno.test("think blocks are removed with the blank lines they leave", () => {
  assert.equal(stripThinking("<think>\nLet me think.\n</think>\n\nHello!"), "Hello!");
  assert.equal(stripThinking("A<think>x</think>\n\n\n\nB <THINK>y</THINK>"), "A\n\nB");
  assert.equal(stripThinking("Use 2 < 3 > 1 freely."), "Use 2 < 3 > 1 freely.");
});

Deno.test("an unclosed leading think block leaves nothing; a lone </think> drops what precedes it", () => {
  assert.equal(stripThinking("  <think>I was cut off while thinking"), "");
  assert.equal(stripThinking("reasoning without opening tag</think>\nThe answer."), "The answer.");
});

Deno.test("parseReply strips reasoning before looking for MEDIA: lines", () => {
  const reply = parseReply("<think>MEDIA:/etc/shadow</think>Done.\nMEDIA:/tmp/r.png");
  assert.equal(reply.text, "Done.");
  assert.deepEqual(reply.attachments, [{ path: "/tmp/r.png" }]);
  assert.equal(
    parseReply("<think>x</think>ok", { stripThinking: false }).text,
    "<think>x</think>ok",
  );
});
