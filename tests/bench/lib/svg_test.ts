import assert from "node:assert/strict";
import {
  cdfPoints,
  ChartError,
  escapeXml,
  lineChart,
  logTicks,
  niceTicks,
  writePlot,
} from "../../../bench/lib/svg.ts";

Deno.test("niceTicks covers the range in steps of 1, 2 or 5 × 10^n", () => {
  assert.deepEqual(niceTicks(0, 3600), [0, 1000, 2000, 3000, 4000]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const ticks = niceTicks(0, 47);
  assert.equal(ticks[0], 0);
  assert.ok(ticks[ticks.length - 1] >= 47);
  assert.deepEqual(niceTicks(5, 5).length > 1, true);
});

Deno.test("lineChart draws every series with its name, axis labels and points in the plot area", () => {
  const svg = lineChart({
    title: "Ack throughput <by> target",
    xLabel: "concurrency",
    yLabel: "req/s",
    logX: true,
    series: [
      { name: "edge", points: [[1, 900], [8, 3000], [32, 3600], [128, 3500]] },
      { name: "all", points: [[1, 800], [8, 2500], [32, 3000], [128, 2900]] },
    ],
    goal: { y: 2500, label: "goal" },
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /Ack throughput &lt;by&gt; target/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2);
  assert.equal((svg.match(/<circle/g) ?? []).length, 8);
  for (const label of [">edge<", ">all<", ">concurrency<", ">req/s<", ">goal<", ">128<"]) {
    assert.ok(svg.includes(label), `missing ${label}`);
  }
  // Every point lies inside the plot rectangle (x 70..490, y 36..308 for 640×360).
  for (const match of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)) {
    const [x, y] = [Number(match[1]), Number(match[2])];
    assert.ok(x >= 70 && x <= 490 && y >= 36 && y <= 308, `point ${x},${y} outside`);
  }
  // The highest y (3600) is drawn above the lowest (800).
  const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.ok(ys[2] < ys[4]);
});

Deno.test("lineChart skips non-finite points and refuses a chart with none", () => {
  const svg = lineChart({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "s", points: [[0, 1], [1, NaN], [2, 3]] }],
  });
  assert.equal((svg.match(/<circle/g) ?? []).length, 2);
  assert.throws(
    () =>
      lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [{ name: "s", points: [] }] }),
    (error: unknown) =>
      error instanceof ChartError && /Cannot draw the chart 'empty' as it has no finite point/
        .test(error.message),
  );
});

Deno.test("cdfPoints gives ascending values with percentiles up to 100", () => {
  const points = cdfPoints([5, 1, 3, 2, 4]);
  assert.deepEqual(points, [[1, 20], [2, 40], [3, 60], [4, 80], [5, 100]]);
  const many = cdfPoints(Array.from({ length: 10_000 }, (_, i) => i), 100);
  assert.ok(many.length <= 102);
  assert.deepEqual(many[many.length - 1], [9999, 100]);
  assert.deepEqual(cdfPoints([]), []);
});

Deno.test("escapeXml escapes markup characters", () => {
  assert.equal(escapeXml(`a<b & "c"`), "a&lt;b &amp; &quot;c&quot;");
});

Deno.test("writePlot creates the folder and returns the file's path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await writePlot(`${dir}/plots/`, "x.svg", "<svg/>");
    assert.equal(path, `${dir}/plots/x.svg`);
    assert.equal(await Deno.readTextFile(path), "<svg/>");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logTicks gives 1-2-5 steps inside the range; a log chart of many points uses them", () => {
  assert.deepEqual(logTicks(3, 250), [5, 10, 20, 50, 100, 200]);
  const svg = lineChart({
    title: "latency",
    xLabel: "ms",
    yLabel: "percentile",
    logX: true,
    series: [{
      name: "a",
      points: Array.from({ length: 50 }, (_, i) => [i + 1, i * 2] as [number, number]),
    }],
  });
  for (const label of [">1<", ">2<", ">5<", ">10<", ">20<", ">50<"]) {
    assert.ok(svg.includes(label), label);
  }
  assert.ok(!svg.includes(">37<"));
});
