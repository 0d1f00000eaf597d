/**
 * Micro-benchmarks of the per-callback crypto work: signature check plus
 * decryption, against SHA-1 signing alone as the baseline.
 *
 * Run: `deno bench bench/crypto_bench.ts`
 *
 * @module
 */

import {
  computeSignature,
  decrypt,
  encrypt,
  importAppCrypto,
  sealReply,
  verifyAndDecrypt,
} from "../src/crypto/mod.ts";

// Set A from WeCom's documentation (public test values, see tests/fixtures/crypto-vectors.json).
const app = await importAppCrypto(
  "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
  "QDG6eK",
  "wx5823bf96d3bd56c7",
);
const timestamp = "1409659813";
const nonce = "1372623149";
const a2Plaintext = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n" +
  "<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n" +
  "<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n" +
  "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>";
// Byte for byte the A2 vector (352 bytes of ciphertext, pad 30).
const a2 = await sealReply(
  app,
  a2Plaintext,
  timestamp,
  nonce,
  new TextEncoder().encode("0960688932c47ef1"),
);
if (a2.signature !== "477715d11cdb4164915debcba66cb864d751f3e6") {
  throw new Error("Cannot run the benchmark as the A2 vector did not reproduce");
}
const content = "你好，这是一条用于基准测试的消息。".repeat(40).slice(0, 600); // ≈ 1.8 KB of UTF-8
const twoKb = await sealReply(
  app,
  `<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Content><![CDATA[${content}]]>` +
    "</Content></xml>",
  timestamp,
  nonce,
);

Deno.bench({
  name: "computeSignature (A2 payload)",
  group: "callback",
  baseline: true,
  async fn() {
    await computeSignature(app.token, timestamp, nonce, a2.encrypt);
  },
});

Deno.bench({
  name: "verifyAndDecrypt A2 (352 B, pad 30)",
  group: "callback",
  async fn() {
    await verifyAndDecrypt(app, {
      signature: a2.signature,
      timestamp,
      nonce,
      ciphertext: a2.encrypt,
    });
  },
});

Deno.bench({
  name: "verifyAndDecrypt 2 KB message",
  group: "callback",
  async fn() {
    await verifyAndDecrypt(app, {
      signature: twoKb.signature,
      timestamp,
      nonce,
      ciphertext: twoKb.encrypt,
    });
  },
});

Deno.bench({
  name: "decrypt A2 only",
  group: "parts",
  baseline: true,
  async fn() {
    await decrypt(app, a2.encrypt);
  },
});

Deno.bench({
  name: "encrypt A2 plaintext",
  group: "parts",
  async fn() {
    await encrypt(app, a2Plaintext);
  },
});
