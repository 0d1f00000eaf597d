import assert from "node:assert/strict";
import { median, medianRatios, MissingBaselineError, rotation } from "../../../bench/lib/rounds.ts";

Deno.test("rotation puts each target first once over as many rounds as targets", () => {
  const targets = ["edge", "all", "bare-kv"];
  const firsts = [0, 1, 2].map((r) => rotation(targets, r)[0]);
  assert.deepEqual(firsts, ["edge", "all", "bare-kv"]);
  assert.deepEqual(rotation(targets, 4), ["all", "bare-kv", "edge"]);
  assert.deepEqual(rotation([], 3), []);
});

Deno.test("median of odd and even counts ignores non-finite values", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("medianRatios takes ratios within each round, so a slow round does not skew one target", () => {
  // Round 2 is slow for everyone (a noisy neighbour): its ratio is still 0.9.
  const rounds = [
    { edge: 1000, all: 900 },
    { edge: 400, all: 360 },
    { edge: 1100, all: 990 },
  ];
  const out = medianRatios(rounds, "edge");
  assert.equal(out.edge.median, 1);
  assert.ok(Math.abs(out.all.median - 0.9) < 1e-9);
  assert.deepEqual(out.all.ratios.map((r) => Number(r.toFixed(3))), [0.9, 0.9, 0.9]);
  // Pooled means would say 2250/2500 = 0.9 too here, but a per-round swing shows in min/max.
  const swing = medianRatios(
    [{ edge: 1, all: 0.6 }, { edge: 1, all: 1.5 }, { edge: 1, all: 0.9 }],
    "edge",
  );
  assert.equal(swing.all.median, 0.9);
  assert.equal(swing.all.min, 0.6);
  assert.equal(swing.all.max, 1.5);
});

Deno.test("medianRatios refuses a round without the baseline, naming what to do", () => {
  assert.throws(
    () => medianRatios([{ edge: 1, all: 1 }, { all: 2 }], "edge"),
    (error: unknown) =>
      error instanceof MissingBaselineError && error.round === 1 &&
      /round 2 as the baseline 'edge' has no figure in it: run the baseline/.test(error.message),
  );
});
