import assert from "node:assert/strict";
import { log, RECENT_PROBLEMS, recentProblems, redact, setLogSink } from "../src/log.ts";
import { startWorld } from "./fakes/world.ts";
import { waitFor } from "./lib/wait.ts";

Deno.test("redact replaces secret-looking and body-looking fields", () => {
  const fields = redact({
    app: "a",
    corpSecret: "s",
    token: "t",
    encodingAesKey: "k",
    access_token: "x",
    content: "hello",
    apiKey: "sk",
    error: new Error("boom"),
  });
  assert.equal(fields.app, "a");
  for (
    const name of ["corpSecret", "token", "encodingAesKey", "access_token", "content", "apiKey"]
  ) {
    assert.equal(fields[name], "[redacted]", name);
  }
  assert.equal(fields.error, "boom");
});

Deno.test("json log lines are one JSON object each, with level, msg and fields", () => {
  const lines: string[] = [];
  const previous = setLogSink({ format: "json", level: "info", write: (line) => lines.push(line) });
  try {
    log.debug("hidden");
    log.info("callback recorded", { app: "a", requestId: "r1" });
    assert.equal(lines.length, 1);
    const parsed = JSON.parse(lines[0]);
    assert.equal(parsed.level, "info");
    assert.equal(parsed.msg, "callback recorded");
    assert.equal(parsed.requestId, "r1");
  } finally {
    setLogSink(previous);
  }
});

Deno.test("a whole round trip, with failures on the way, logs no secret and no message body", async () => {
  const lines: string[] = [];
  const previous = setLogSink({
    format: "human",
    level: "debug",
    write: (line) => lines.push(line),
  });
  const w = await startWorld({ gateway: { backoffBaseMs: 10, ipBackoffBaseMs: 10 } });
  const secretContent = "my-private-message-" + crypto.randomUUID();
  try {
    w.api.inject("send", [{ errcode: 60020 }, { errcode: -1 }]);
    const sealed = await w.sealText("lisi", secretContent, "1");
    // A forged one and a good one.
    await w.postSealed({
      query: sealed.query.replace(/msg_signature=../, "msg_signature=00"),
      body: sealed.body,
    });
    await w.postSealed(sealed);
    await waitFor(() => w.delivered("lisi").length > 0, "the reply", 10000);
    assert.equal(w.delivered("lisi").length, 1);
  } finally {
    await w.close();
    setLogSink(previous);
  }
  const text = lines.join("\n");
  assert.ok(lines.length > 3, "the round trip was logged");
  assert.ok(text.includes("60020") || text.includes("trusted"), "the 60020 failure was logged");
  for (const secret of [w.app.token, w.app.encodingAesKey, w.app.corpSecret, secretContent]) {
    assert.ok(!text.includes(secret), `a log line contains a secret or the message body`);
  }
  assert.ok(!/access_token=[A-Za-z0-9]/.test(text), "an access token reached the log");
});

Deno.test("a field without a value is left out of the line, never written as 'undefined'", () => {
  const lines: string[] = [];
  const previous = setLogSink({
    format: "human",
    level: "info",
    write: (line) => lines.push(line),
  });
  try {
    log.info("sent", { app: "a", job: undefined, attempts: 0 });
  } finally {
    setLogSink(previous);
  }
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith("sent app=a attempts=0"), lines[0]);
});

Deno.test("recentProblems keeps the last warnings and errors, redacted, whatever the sink's level", () => {
  const previous = setLogSink({ format: "json", level: "error", write: () => {} });
  try {
    log.info("not kept");
    for (let i = 0; i < RECENT_PROBLEMS + 5; i++) log.warn(`ring ${i}`, { secret: "s3cret", n: i });
    log.error("ring last", { app: "a" });
    const kept = recentProblems();
    assert.equal(kept.length, RECENT_PROBLEMS);
    assert.equal(kept.at(-1)!.msg, "ring last");
    assert.equal(kept.at(-1)!.level, "error");
    assert.equal(kept[0].msg, "ring 6");
    assert.equal(kept[0].fields.secret, "[redacted]");
    assert.ok(!kept.some((line) => line.msg === "not kept"));
  } finally {
    setLogSink(previous);
  }
});
