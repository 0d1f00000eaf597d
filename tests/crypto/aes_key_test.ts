import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseEncodingAesKey } from "../../src/crypto/aes_key.ts";
import { AesKeyError } from "../../src/crypto/errors.ts";
import { importAppCrypto } from "../../src/crypto/msg_crypt.ts";

const KEY_A = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const KEY_B = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

function assertAesKeyError(key: string, pattern: RegExp) {
  assert.throws(
    () => parseEncodingAesKey(key),
    (err: unknown) => {
      assert.ok(err instanceof AesKeyError);
      assert.equal(err.sdkCode, -40004);
      assert.equal(err.code, "invalid_aes_key");
      assert.match(err.message, pattern);
      assert.match(err.message, /WeCom admin console/);
      if (key.length >= 8) assert.ok(!err.message.includes(key.slice(0, 8)), "key leaked");
      return true;
    },
  );
}

Deno.test("parseEncodingAesKey() gives the 32 bytes of base64(key + '=') for the vector keys", () => {
  for (const key of [KEY_A, KEY_B]) {
    const bytes = parseEncodingAesKey(key);
    assert.equal(bytes.length, 32);
    // Node's decoder ignores the non-zero trailing bits of the 43rd character ('C' in KEY_A).
    assert.deepEqual(bytes, new Uint8Array(Buffer.from(key + "=", "base64")));
  }
});

Deno.test("parseEncodingAesKey() rejects keys that are not 43 characters", () => {
  assertAesKeyError(KEY_A.slice(0, 42), /it has 42 characters/);
  assertAesKeyError(KEY_A + "x", /it has 44 characters/);
  assertAesKeyError(KEY_A + "=", /it has 44 characters and some are not letters or digits/);
  assertAesKeyError("", /it has 0 characters/);
});

Deno.test("parseEncodingAesKey() rejects 43 characters that are not all letters or digits", () => {
  for (const bad of ["+", "/", "=", " ", "-", "_", "é", "\n"]) {
    assertAesKeyError(KEY_A.slice(0, 20) + bad + KEY_A.slice(21), /not letters or digits/);
  }
  assertAesKeyError(` ${KEY_A.slice(1)}`, /not letters or digits/);
});

Deno.test("importAppCrypto() imports a non-extractable AES-256-CBC key and the IV", async () => {
  const app = await importAppCrypto(KEY_A, "QDG6eK", "wx5823bf96d3bd56c7");
  assert.equal(app.key.extractable, false);
  assert.deepEqual(app.key.algorithm, { name: "AES-CBC", length: 256 });
  assert.deepEqual([...app.key.usages].sort(), ["decrypt", "encrypt"]);
  assert.deepEqual(app.iv, new Uint8Array(Buffer.from(KEY_A + "=", "base64").subarray(0, 16)));
  assert.equal(app.token, "QDG6eK");
  assert.equal(app.receiveId, "wx5823bf96d3bd56c7");
  assert.ok(Object.isFrozen(app));
});

Deno.test("importAppCrypto() rejects a bad key with AesKeyError before importing", async () => {
  await assert.rejects(importAppCrypto(KEY_A.slice(1), "QDG6eK", "wx"), AesKeyError);
  await assert.rejects(importAppCrypto(KEY_A.replace("j", "+"), "QDG6eK", "wx"), AesKeyError);
});

Deno.test("an AppCrypto shows neither the token nor the key-derived bytes when inspected or serialised", async () => {
  const token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
  const app = await importAppCrypto(KEY_B, token, "ww1436e0e65a779aee");
  const ivText = String(app.iv[0]) + ", " + String(app.iv[1]);
  const suffixText = String(app.suffix[16]) + ", " + String(app.suffix[17]);
  for (const shown of [Deno.inspect(app), JSON.stringify(app), Deno.inspect({ nested: app })]) {
    assert.ok(!shown.includes(token), `token leaked in ${shown}`);
    assert.ok(!shown.includes(ivText), `iv leaked in ${shown}`);
    assert.ok(!shown.includes(suffixText), `suffix leaked in ${shown}`);
    assert.match(shown, /ww1436e0e65a779aee/);
    assert.match(shown, /\[redacted\]/);
  }
});
