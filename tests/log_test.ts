import { equal, ok } from "node:assert/strict";
import { importAppCrypto } from "../src/crypto/mod.ts";
import { startGateway } from "../src/gateway.ts";
import { log, redact, setLogSink } from "../src/log.ts";
import { sealCallback, textMessage } from "../src/simulator/seal.ts";
import { startFakeWeComApi } from "../src/simulator/wecom_api.ts";
import { randomApp, testConfig } from "./fakes/config.ts";

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
  equal(fields.app, "a");
  for (
    const name of ["corpSecret", "token", "encodingAesKey", "access_token", "content", "apiKey"]
  ) {
    equal(fields[name], "[redacted]", name);
  }
  equal(fields.error, "boom");
});

Deno.test("json log lines are one JSON object each, with level, msg and fields", () => {
  const lines: string[] = [];
  const previous = setLogSink({ format: "json", level: "info", write: (line) => lines.push(line) });
  try {
    log.debug("hidden");
    log.info("callback recorded", { app: "a", requestId: "r1" });
    equal(lines.length, 1);
    const parsed = JSON.parse(lines[0]);
    equal(parsed.level, "info");
    equal(parsed.msg, "callback recorded");
    equal(parsed.requestId, "r1");
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
  const seed = randomApp();
  const api = startFakeWeComApi({
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app = { ...seed, apiBase: api.url };
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  const gateway = await startGateway(config, {
    deliveryPollMs: 50,
    backoffBaseMs: 10,
    ipBackoffBaseMs: 10,
  });
  const secretContent = "my-private-message-" + crypto.randomUUID();
  try {
    const crypto_ = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const base = `http://127.0.0.1:${gateway.address!.port}/wecom/callback`;
    api.inject("send", [{ errcode: 60020 }, { errcode: -1 }]);
    const xml = textMessage({
      corpId: app.corpId,
      agentId: app.agentId,
      userId: "lisi",
      content: secretContent,
      msgId: "1",
    });
    const sealed = await sealCallback(crypto_, xml, { corpId: app.corpId, agentId: app.agentId });
    // A forged one and a good one.
    const forged = await fetch(
      `${base}?${sealed.query.replace(/msg_signature=../, "msg_signature=00")}`,
      {
        method: "POST",
        body: sealed.body,
      },
    );
    await forged.body?.cancel();
    const response = await fetch(`${base}?${sealed.query}`, { method: "POST", body: sealed.body });
    await response.body?.cancel();
    const deadline = Date.now() + 10000;
    while (api.delivered("lisi").length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    equal(api.delivered("lisi").length, 1);
  } finally {
    await gateway.stop({ graceMs: 500 });
    await api.close();
    setLogSink(previous);
  }
  const text = lines.join("\n");
  ok(lines.length > 3, "the round trip was logged");
  ok(text.includes("60020") || text.includes("trusted"), "the 60020 failure was logged");
  for (const secret of [app.token, app.encodingAesKey, app.corpSecret, secretContent]) {
    ok(!text.includes(secret), `a log line contains a secret or the message body`);
  }
  ok(!/access_token=[A-Za-z0-9]/.test(text), "an access token reached the log");
});
