import assert from "node:assert/strict";
import { concatBytes } from "../src/bytes.ts";

Deno.test("concatBytes joins chunks in order and returns a lone chunk as is", () => {
  assert.deepEqual([
    ...concatBytes([new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])]),
  ], [
    1,
    2,
    3,
  ]);
  const lone = new Uint8Array([9, 8]);
  assert.equal(concatBytes([lone]), lone);
  assert.equal(concatBytes([]).length, 0);
});
