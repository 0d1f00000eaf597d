/**
 * Regression tests found by the fuzz suite (tests/fuzz/): validly signed
 * messages that can never be recorded are refused with a 4xx and leave no
 * job, instead of a 503 from KV (which made WeCom retry in vain).
 *
 * @module
 */

import assert from "node:assert/strict";
import { computeSignature, encrypt, importAppCrypto } from "../../src/crypto/mod.ts";
import { createCallbackHandler, prepareApps } from "../../src/http/callback.ts";
import { createIntake } from "../../src/intake/record.ts";
import { countJobs } from "../../src/records/job_store/mod.ts";
import { setLogSink } from "../../src/log.ts";
import { textMessage } from "../../src/simulator/seal.ts";
import { randomApp, testConfig } from "../fakes/config.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("POST: a message too large to record is 413, ids too long for a KV key are 400; no job", async () => {
  const app = randomApp({ name: "limits" });
  const config = await testConfig([app]);
  const kv = await Deno.openKv(":memory:");
  try {
    const apps = await prepareApps([app]);
    const handler = createCallbackHandler({
      apps,
      replayWindowSeconds: 0,
      intake: createIntake({ kv, access: config.access }),
    });
    const crypto = await importAppCrypto(app.encodingAesKey, app.token, app.corpId);
    const post = async (content: string, msgId: string, userId = "lisi") => {
      const xml = textMessage({ corpId: app.corpId, agentId: app.agentId, userId, content, msgId });
      const ciphertext = await encrypt(crypto, xml);
      const signature = await computeSignature(app.token, "1", "2", ciphertext);
      const url = new URL(
        `http://gw/wecom/callback?msg_signature=${signature}&timestamp=1&nonce=2`,
      );
      const body = `<xml><Encrypt><![CDATA[${ciphertext}]]></Encrypt></xml>`;
      const response = await handler(new Request(url, { method: "POST", body }), url, apps);
      await response.body?.cancel();
      return response.status;
    };
    // 40 000 ASCII characters and one CJK one: a 54 KB body, but stored as UTF-16 (80 KB).
    const mixed = await post("a".repeat(40_000) + "中", "1");
    const longUser = await post("hi", "2", "u".repeat(3000));
    const longMsgId = await post("hi", "9".repeat(3000));
    // The same size in plain ASCII fits, and is recorded.
    const ascii = await post("a".repeat(45_000), "3");
    assert.deepEqual([mixed, longUser, longMsgId, ascii], [413, 400, 400, 200]);
    assert.deepEqual((await countJobs(kv)).queued, 1);
  } finally {
    kv.close();
  }
});
