import assert from "node:assert/strict";
import { percentile, slope, summarize } from "../../../bench/lib/stats.ts";

Deno.test("summarize gives nearest-rank percentiles", () => {
  const s = summarize([5, 1, 4, 2, 3]);
  assert.equal(s.p50, 3);
  assert.equal(s.max, 5);
  assert.equal(percentile(new Float64Array([1, 2, 3, 4]), 99), 4);
});

Deno.test("slope fits a line through noisy points and is NaN without enough of them", () => {
  assert.equal(slope([[0, 1], [1, 3], [2, 5]]), 2);
  // Flat with noise: slope near 0, not the last-minus-first difference (2).
  const flat: [number, number][] = [[0, 100], [1, 101], [2, 99], [3, 100], [4, 102]];
  assert.ok(Math.abs(slope(flat) - 0.3) < 1e-9);
  assert.ok(Number.isNaN(slope([[1, 1]])));
  assert.ok(Number.isNaN(slope([[1, 1], [1, 5]])));
});
