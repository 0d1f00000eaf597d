import assert from "node:assert/strict";
import { timingSafeEqual } from "../../src/crypto/constant_time.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("timingSafeEqual() returns true for equal bytes, including empty ones", () => {
  assert.equal(timingSafeEqual(bytes(), bytes()), true);
  assert.equal(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2, 3)), true);
  const digest = crypto.getRandomValues(new Uint8Array(20));
  assert.equal(timingSafeEqual(digest, digest.slice()), true);
});

Deno.test("timingSafeEqual() returns false wherever the bytes differ", () => {
  const a = crypto.getRandomValues(new Uint8Array(40));
  for (let i = 0; i < a.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const b = a.slice();
      b[i] ^= bit;
      assert.equal(timingSafeEqual(a, b), false, `difference at byte ${i} bit ${bit}`);
      assert.equal(timingSafeEqual(b, a), false);
    }
  }
});

Deno.test("timingSafeEqual() returns false for different lengths, even on a common prefix", () => {
  assert.equal(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2)), false);
  assert.equal(timingSafeEqual(bytes(), bytes(0)), false);
  assert.equal(timingSafeEqual(bytes(0, 0), bytes(0)), false);
});

Deno.test("timingSafeEqual() compares views by their own bytes, not their buffers", () => {
  const buffer = bytes(9, 1, 2, 9, 1, 2);
  assert.equal(timingSafeEqual(buffer.subarray(1, 3), buffer.subarray(4, 6)), true);
  assert.equal(timingSafeEqual(buffer.subarray(0, 2), buffer.subarray(1, 3)), false);
});
