import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeBase64, encodeBase64 } from "../../src/crypto/base64.ts";
import { Base64Error, WeComCryptoError } from "../../src/crypto/errors.ts";

function assertBase64Error(input: string, pattern: RegExp) {
  assert.throws(
    () => decodeBase64(input),
    (err: unknown) => {
      assert.ok(err instanceof Base64Error, `expected Base64Error for ${JSON.stringify(input)}`);
      assert.ok(err instanceof WeComCryptoError);
      assert.equal(err.sdkCode, -40010);
      assert.equal(err.code, "invalid_base64");
      assert.match(err.message, pattern);
      return true;
    },
  );
}

Deno.test("encodeBase64() and decodeBase64() agree with Node's Buffer for lengths 0..70", () => {
  for (let n = 0; n <= 70; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    const text = encodeBase64(bytes);
    assert.equal(text, Buffer.from(bytes).toString("base64"));
    assert.deepEqual(decodeBase64(text), bytes);
  }
});

Deno.test("encodeBase64() uses the standard alphabet with padding", () => {
  assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
  assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf])), "+/+/");
  assert.equal(encodeBase64(new Uint8Array([0x41])), "QQ==");
  assert.equal(encodeBase64(new Uint8Array()), "");
});

Deno.test("decodeBase64() decodes a 64 KiB ciphertext-sized input", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
});

Deno.test("decodeBase64() leaves the requested spare room after the bytes", () => {
  for (const text of ["", "QQ==", "QUI=", "QUJD", "QUJDRA=="]) {
    const bytes = decodeBase64(text, 16);
    assert.deepEqual(bytes, new Uint8Array(Buffer.from(text, "base64")));
    assert.equal(bytes.byteOffset, 0);
    assert.ok(bytes.buffer.byteLength >= bytes.length + 16);
    new Uint8Array(bytes.buffer, 0, bytes.length + 16).fill(7, bytes.length);
  }
});

Deno.test("decodeBase64() rejects whitespace anywhere", () => {
  for (const text of ["QUJD\n\n\n\n", "QU D", "QUJD    ", " QUJ", "QU\tD", "QU\rD", "QU\fD"]) {
    assertBase64Error(text, /it contains whitespace/);
  }
  assertBase64Error("QUJDRA==\r\n", /it contains whitespace/);
  assertBase64Error("QUJD\r\nRA==", /it contains whitespace/);
});

Deno.test("decodeBase64() rejects characters outside the standard alphabet", () => {
  for (const text of ["QUJ-", "QUJ_", "QU.D", "QUJé", "QUJ\u00a0", "QUJ\0", "QU%2F"]) {
    assertBase64Error(text, /./);
  }
  // The URL-safe form of "+/8=" is refused: the percent-decoded echostr uses '+' and '/'.
  assertBase64Error("-_8=", /./);
});

Deno.test("decodeBase64() rejects lengths that are not a multiple of 4 and missing padding", () => {
  assertBase64Error("Q", /length 1 is not a multiple of 4/);
  assertBase64Error("QQ", /length 2/);
  assertBase64Error("QUJ", /length 3/);
  assertBase64Error("QQ=", /length 3/);
  assertBase64Error("QUJDRA", /length 6/);
});

Deno.test("decodeBase64() rejects misplaced or excess padding", () => {
  assertBase64Error("QQ==QQ==", /./);
  assertBase64Error("Q===", /./);
  assertBase64Error("====", /./);
  assertBase64Error("=QUJ", /./);
  assertBase64Error("QU=D", /./);
});

Deno.test("decodeBase64() rejects non-zero trailing bits (non-canonical encodings)", () => {
  assert.deepEqual(decodeBase64("QQ=="), new Uint8Array([0x41]));
  assert.deepEqual(decodeBase64("QUI="), new Uint8Array([0x41, 0x42]));
  assertBase64Error("QR==", /padding bits|./);
  assertBase64Error("QUJ=", /./);
  // The last character of vector A2 is 'Q' (no trailing bits); 'R' would decode to the same bytes.
  assertBase64Error("7R==", /./);
});
