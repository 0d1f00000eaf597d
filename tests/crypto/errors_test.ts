import assert from "node:assert/strict";
import {
  AesKeyError,
  Base64Error,
  DecryptError,
  LengthFieldError,
  MessageEncodingError,
  PaddingError,
  ReceiveIdError,
  SignatureError,
  WeComCryptoError,
} from "../../src/crypto/mod.ts";

Deno.test("each crypto error has its own name, code and the official SDK return code", () => {
  const table: [WeComCryptoError, string, string, number][] = [
    [new SignatureError(), "SignatureError", "signature_mismatch", -40001],
    [new AesKeyError("it has 42 characters"), "AesKeyError", "invalid_aes_key", -40004],
    [new ReceiveIdError("ww1", "ww2", 3), "ReceiveIdError", "receive_id_mismatch", -40005],
    [new DecryptError("it is 20 bytes long"), "DecryptError", "decrypt_failed", -40007],
    [new PaddingError("the pad byte is 0"), "PaddingError", "invalid_padding", -40008],
    [new LengthFieldError("msg_len 9"), "LengthFieldError", "invalid_length_field", -40008],
    [new MessageEncodingError(), "MessageEncodingError", "invalid_utf8", -40008],
    [new Base64Error("it contains whitespace"), "Base64Error", "invalid_base64", -40010],
  ];
  for (const [err, name, code, sdkCode] of table) {
    assert.ok(err instanceof WeComCryptoError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, name);
    assert.equal(err.code, code);
    assert.equal(err.sdkCode, sdkCode);
    assert.match(err.message, /^Cannot /);
  }
  assert.equal(new Set(table.map(([, , code]) => code)).size, table.length);
});

Deno.test("padding, length and UTF-8 errors point at the EncodingAESKey/Token config", () => {
  for (
    const err of [new PaddingError("x"), new LengthFieldError("x"), new MessageEncodingError()]
  ) {
    assert.match(err.message, /EncodingAESKey or Token in config does not match/);
    assert.match(err.message, /WeCom admin console/);
  }
  assert.match(new SignatureError().message, /Token in config/);
});

Deno.test("ReceiveIdError shows both corp ids, which are not secret", () => {
  const err = new ReceiveIdError("ww1436e0e65a779aee", "wx5823bf96d3bd56c7", 18);
  assert.equal(err.expected, "ww1436e0e65a779aee");
  assert.equal(err.actual, "wx5823bf96d3bd56c7");
  assert.equal(err.actualLength, 18);
  assert.match(err.message, /'wx5823bf96d3bd56c7'/);
  assert.match(err.message, /'ww1436e0e65a779aee'/);
  assert.match(err.message, /corp_id in config/);
});

Deno.test("ReceiveIdError never echoes bytes that do not look like an id", () => {
  for (const garbled of ["hello, this is a private message", "", "\u0001\u0002", "a".repeat(65)]) {
    const err = new ReceiveIdError("ww1436e0e65a779aee", garbled, garbled.length);
    assert.equal(err.actual, null);
    if (garbled.length > 0) assert.ok(!err.message.includes(garbled));
    assert.match(err.message, new RegExp(`\\(${garbled.length} bytes, not an id\\)`));
  }
});

Deno.test("errors keep the underlying cause", () => {
  const cause = new Error("OperationError");
  assert.equal(new DecryptError("AES-CBC decryption failed", { cause }).cause, cause);
  assert.equal(new MessageEncodingError({ cause }).cause, cause);
  assert.equal(new Base64Error("x", { cause }).cause, cause);
});
