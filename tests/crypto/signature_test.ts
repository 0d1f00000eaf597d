import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { computeSignature, verifySignature } from "../../src/crypto/signature.ts";
import { ciphertextOf, vectors } from "./vectors.ts";

const payloadOf = ciphertextOf;

/** Independent reference: Node's SHA-1 over the sorted, concatenated strings. */
function referenceSignature(...parts: string[]): string {
  return createHash("sha1").update([...parts].sort().join(""), "utf8").digest("hex");
}

Deno.test("computeSignature() reproduces msg_signature of all four vectors", async () => {
  assert.equal(vectors.length, 4);
  for (const v of vectors) {
    assert.equal(
      await computeSignature(v.token, v.timestamp, v.nonce, payloadOf(v)),
      v.msg_signature,
      v.name,
    );
  }
});

Deno.test("computeSignature() sorts its inputs: argument order does not matter", async () => {
  const v = vectors[1];
  const expected = v.msg_signature;
  assert.equal(await computeSignature(payloadOf(v), v.nonce, v.timestamp, v.token), expected);
  assert.equal(await computeSignature(v.nonce, v.token, payloadOf(v), v.timestamp), expected);
});

Deno.test("computeSignature() agrees with an independent SHA-1 for varied inputs", async () => {
  const samples = [
    ["", "", "", ""],
    ["Token123", "1700000000", "abc", "x+y/z=="],
    ["a", "a", "b", "ab"],
    ["ZZZ", "zzz", "000", "___"],
    ["t", "1", "2", "包含中文的载荷"],
  ];
  for (const [token, timestamp, nonce, payload] of samples) {
    const sig = await computeSignature(token, timestamp, nonce, payload);
    assert.match(sig, /^[0-9a-f]{40}$/);
    assert.equal(sig, referenceSignature(token, timestamp, nonce, payload));
  }
});

Deno.test("verifySignature() accepts the vectors' signatures", async () => {
  for (const v of vectors) {
    assert.equal(
      await verifySignature(v.token, v.timestamp, v.nonce, payloadOf(v), v.msg_signature),
      true,
      v.name,
    );
  }
});

Deno.test("verifySignature() rejects a signature with any one hex digit changed", async () => {
  const v = vectors[0];
  for (let i = 0; i < 40; i++) {
    const digit = v.msg_signature[i];
    const changed = digit === "0" ? "1" : "0";
    const sig = v.msg_signature.slice(0, i) + changed + v.msg_signature.slice(i + 1);
    assert.equal(
      await verifySignature(v.token, v.timestamp, v.nonce, payloadOf(v), sig),
      false,
      `position ${i}`,
    );
  }
});

Deno.test("verifySignature() rejects wrong lengths, uppercase, non-hex and padded values", async () => {
  const v = vectors[1];
  const good = v.msg_signature;
  const bad = [
    "",
    good.slice(0, 39),
    good + "0",
    good.slice(0, 38),
    good.toUpperCase(),
    good.slice(0, 39).toUpperCase() + good[39],
    "g" + good.slice(1),
    good.slice(0, 39) + "z",
    ` ${good.slice(1)}`,
    `${good}\n`,
    good.slice(0, 20),
  ];
  assert.notEqual(good.toUpperCase(), good, "the vector must contain letters");
  for (const sig of bad) {
    assert.equal(
      await verifySignature(v.token, v.timestamp, v.nonce, payloadOf(v), sig),
      false,
      JSON.stringify(sig),
    );
  }
});

Deno.test("verifySignature() rejects a valid signature over other values", async () => {
  const [a1, a2] = vectors;
  const payload = payloadOf(a2);
  const sig = a2.msg_signature;
  assert.equal(await verifySignature("QDG6eL", a2.timestamp, a2.nonce, payload, sig), false);
  assert.equal(await verifySignature(a2.token, a1.timestamp, a2.nonce, payload, sig), false);
  assert.equal(await verifySignature(a2.token, a2.timestamp, a1.nonce, payload, sig), false);
  assert.equal(
    await verifySignature(a2.token, a2.timestamp, a2.nonce, payloadOf(a1), sig),
    false,
  );
  // A raw '+' turned into a space by a careless URL decoder breaks the signature.
  assert.equal(
    await verifySignature(
      a1.token,
      a1.timestamp,
      a1.nonce,
      payloadOf(a1).replaceAll("+", " "),
      a1.msg_signature,
    ),
    false,
  );
});
