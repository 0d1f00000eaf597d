/**
 * The callback handler marks its work urgent for the gateway's priority gate
 * (src/priority_gate.ts) from the moment a body has arrived until the
 * response is ready, and never while a body is still arriving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { createCallbackHandler, prepareApps } from "../../src/http/callback.ts";
import { createIntake } from "../../src/intake/record.ts";
import { setLogSink } from "../../src/log.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("callback: urgent from the arrived body to the ready response, recording included; bad and slow bodies too, never before the body", async () => {
  const app = randomApp({ name: "urgent" });
  const config = await testConfig([app]);
  using kv = await Deno.openKv(":memory:");
  const apps = await prepareApps([app]);
  const events: string[] = [];
  let urgentNow = 0;
  const record = createIntake({ kv, access: config.access });
  const handler = createCallbackHandler({
    apps,
    replayWindowSeconds: 0,
    bodyTimeoutMs: 50,
    urgent: () => {
      urgentNow++;
      events.push("begin");
      return () => {
        urgentNow--;
        events.push("end");
      };
    },
    intake: (appConfig, message, plaintext) => {
      events.push(`intake while urgent: ${urgentNow}`);
      return record(appConfig, message, plaintext);
    },
  });
  const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
  const { corpId, agentId } = app;
  const xml = textMessage({ corpId, agentId, userId: "lisi", content: "hi", msgId: "1" });
  const sealed = await sealCallback(crypto, xml, { corpId, agentId });
  const url = new URL(`http://gw/wecom/callback?${sealed.query}`);
  const call = async (body: BodyInit) => {
    const response = await handler(new Request(url, { method: "POST", body }), url, apps);
    await response.body?.cancel();
    events.push(`response ${response.status}`);
  };

  await call(sealed.body);
  assert.deepEqual(events.splice(0), ["begin", "intake while urgent: 1", "end", "response 200"]);

  await call("<xml>not closed");
  assert.deepEqual(events.splice(0), ["begin", "end", "response 400"]);

  // A body that never finishes arriving: refused at its deadline, and never urgent.
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("<xml><Encrypt>"));
    },
  });
  await call(stalled);
  assert.deepEqual(events.splice(0), ["response 408"]);
  assert.equal(urgentNow, 0);
});
