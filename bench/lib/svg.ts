/**
 * Small SVG line/point charts drawn by the benchmarks from their own results:
 * one or more series on linear (or log-x) axes with ticks, axis labels, a
 * title and a legend. No dependency; the output is a standalone SVG document.
 *
 * @example Usage
 * ```ts
 * import { lineChart } from "./svg.ts";
 * const svg = lineChart({
 *   title: "Acknowledgements per second",
 *   xLabel: "concurrency",
 *   yLabel: "req/s",
 *   series: [{ name: "edge", points: [[1, 900], [8, 3000], [32, 3600]] }],
 * });
 * console.assert(svg.startsWith("<svg"));
 * ```
 *
 * @module
 */

/** One line (or set of points) of a chart. */
export interface Series {
  name: string;
  /** [x, y] pairs; non-finite pairs are skipped. */
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw only the points (no line). */
  pointsOnly?: boolean;
}

/** What {@linkcode lineChart} draws. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Logarithmic x axis (every x must be > 0). */
  logX?: boolean;
  /** Size in px (default 640 × 360). */
  width?: number;
  height?: number;
  /** Force the y axis to start at 0 (default true). */
  yFromZero?: boolean;
  /** A horizontal dashed line, e.g. a goal. */
  goal?: { y: number; label: string };
}

/** Thrown when a chart cannot be drawn from the given data. */
export class ChartError extends Error {
  constructor(readonly title: string, readonly reason: string) {
    super(`Cannot draw the chart '${title}' as ${reason}`);
    this.name = "ChartError";
  }
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];

/** Escapes text for SVG/XML. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

/** "Nice" tick values covering [min, max]: steps of 1, 2 or 5 × 10^n, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) max = min + (min === 0 ? 1 : Math.abs(min));
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  const first = Math.floor(min / step) * step;
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) {
    ticks.push(Number((first + ticks.length * step).toPrecision(12)));
  }
  return ticks;
}

/** Ticks of a logarithmic axis: 1, 2 and 5 × 10^n within [min, max] (min > 0). */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

/** A tick label: integers with thin grouping, small numbers with up to 2 decimals. */
export function tickText(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return String(Number(value.toFixed(2)));
}

/** Draws the chart as an SVG document. Throws {@linkcode ChartError} when no point is finite. */
export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const margin = { left: 70, right: 150, top: 36, bottom: 52 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const series = options.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) =>
      Number.isFinite(x) && Number.isFinite(y) && (!options.logX || x > 0)
    ),
  }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new ChartError(options.title, "it has no finite point");
  const fx = options.logX ? Math.log10 : (x: number) => x;
  const xs = all.map(([x]) => fx(x));
  const ys = all.map(([, y]) => y);
  if (options.goal) ys.push(options.goal.y);
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const yTicks = niceTicks(options.yFromZero === false ? Math.min(...ys) : 0, Math.max(...ys));
  const yMin = yTicks[0];
  const yMax = yTicks[yTicks.length - 1];
  const px = (x: number) => margin.left + ((fx(x) - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => margin.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const distinctX = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  const xTicks = options.logX
    ? (distinctX.length <= 10 ? distinctX : logTicks(10 ** xMin, 10 ** xMax))
    : niceTicks(xMin, xMax).filter((t) => t >= xMin && t <= xMax);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${
      escapeXml(options.title)
    }</text>`,
  ];
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    out.push(
      `<line x1="${margin.left}" x2="${
        margin.left + plotW
      }" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${
        tickText(t)
      }</text>`,
    );
  }
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top + plotH}" y2="${
        margin.top + plotH + 4
      }" stroke="#333"/>`,
      `<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${tickText(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" ` +
      `fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${
      escapeXml(options.xLabel)
    }</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  if (options.goal) {
    const y = py(options.goal.y).toFixed(1);
    out.push(
      `<line x1="${margin.left}" x2="${
        margin.left + plotW
      }" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="6 4"/>`,
      `<text x="${margin.left + plotW - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#555">${
        escapeXml(options.goal.label)
      }</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    if (!s.pointsOnly && points.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>`,
      );
    }
    if (s.pointsOnly || s.points.length <= 40) {
      for (const p of points) {
        const [x, y] = p.split(",");
        out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
      }
    }
    const ly = margin.top + 10 + i * 18;
    const lx = margin.left + plotW + 12;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 24}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/**
 * The empirical distribution of `samples` as [value, percentile] points (at
 * most `points` of them), for a latency distribution chart.
 */
export function cdfPoints(samples: ArrayLike<number>, points = 200): [number, number][] {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const out: [number, number][] = [];
  const step = Math.max(1, Math.floor(n / points));
  for (let i = 0; i < n; i += step) out.push([sorted[i], ((i + 1) / n) * 100]);
  if (out[out.length - 1][0] !== sorted[n - 1]) out.push([sorted[n - 1], 100]);
  return out;
}

/**
 * Writes `svg` to `dir/name` (creating `dir`) and returns the path: where a
 * benchmark says its plot went.
 */
export async function writePlot(dir: string, name: string, svg: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir.replace(/\/$/, "")}/${name}`;
  await Deno.writeTextFile(path, svg);
  return path;
}
