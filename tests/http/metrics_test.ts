import { equal, ok } from "node:assert/strict";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { startGateway } from "../../src/gateway.ts";
import { setLogSink } from "../../src/log.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { startFakeWeComApi } from "../../src/simulator/wecom_api.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("GET /metrics reports callbacks, latency, jobs, sends and token fetches in Prometheus text", async () => {
  const seed = randomApp();
  const api = startFakeWeComApi({
    apps: [{ corpId: seed.corpId, corpSecret: seed.corpSecret, agentId: seed.agentId }],
  });
  const app = { ...seed, apiBase: api.url };
  const config = await testConfig([app]);
  config.jobs = { ...config.jobs, pollMs: 50, workingNoticeMs: 0 };
  const gateway = await startGateway(config, { deliveryPollMs: 50 });
  try {
    const base = `http://127.0.0.1:${gateway.address!.port}`;
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const xml = textMessage({
      corpId: app.corpId,
      agentId: app.agentId,
      userId: "u",
      content: "hi",
      msgId: "1",
    });
    const sealed = await sealCallback(crypto, xml, { corpId: app.corpId, agentId: app.agentId });
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${base}/wecom/callback?${sealed.query}`, {
        method: "POST",
        body: sealed.body,
      });
      await response.body?.cancel();
    }
    const bad = await fetch(`${base}/wecom/callback?${sealed.query}`, {
      method: "POST",
      body: "nope",
    });
    await bad.body?.cancel();
    const deadline = Date.now() + 5000;
    while (api.delivered("u").length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const response = await fetch(`${base}/metrics`);
    equal(response.status, 200);
    ok(response.headers.get("content-type")!.startsWith("text/plain"));
    const text = await response.text();
    ok(
      text.includes('wecom_callbacks_total{method="POST",outcome="recorded",status="200"} 1'),
      text,
    );
    ok(text.includes('wecom_callbacks_total{method="POST",outcome="duplicate",status="200"} 1'));
    ok(text.includes('wecom_callbacks_total{method="POST",outcome="bad_envelope",status="400"} 1'));
    ok(/wecom_callback_ack_seconds_count 3/.test(text));
    ok(/wecom_callback_ack_seconds_bucket\{le="\+Inf"\} 3/.test(text));
    ok(text.includes('wecom_jobs{state="done"} 1'), text);
    ok(text.includes('wecom_sends_total{api="send",errcode="0"} 1'));
    ok(text.includes("wecom_token_fetches_total 1"));
    ok(text.includes("wecom_dead_letters 0"));
    ok(/wecom_agent_run_seconds_count 1/.test(text));
    // Every sample line is "name{labels} number".
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      ok(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/.test(line), line);
    }
  } finally {
    await gateway.stop({ graceMs: 500 });
    await api.close();
  }
});
