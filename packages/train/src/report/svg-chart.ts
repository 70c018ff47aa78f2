/**
 * Line charts as inline SVG (axes, ticks, labels, legend) for the training report: a few
 * hundred points per curve, drawn by our own code so the report opens with no JavaScript and
 * no network. Points that are NaN or infinite break the line and are counted under the chart,
 * never dropped silently.
 */
import { escapeHtml } from './escape-html.js';

export interface ChartSeries {
  name: string;
  /** [x, y] pairs in x order. */
  points: [number, number][];
  /** CSS color. */
  color: string;
  /** Draw a dot at each point (sparse series such as evaluations). @default false */
  markers?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** x values are counts (steps): ticks at whole numbers. @default true */
  integerX?: boolean;
}

/** The drawing area: SVG size and margins around the plot. */
export const CHART_LAYOUT = { width: 640, height: 300, left: 72, right: 16, top: 36, bottom: 52 } as const;

/** About `count` round tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // The last tick is the first at or above max, so the axis covers every point.
  for (let i = 0; ; i++) {
    const v = Number((first + i * step).toPrecision(12));
    ticks.push(v);
    if (v >= max) break;
  }
  return ticks;
}

export function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) return value.toExponential(1);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return value.toFixed(Math.min(decimals, 6));
}

/** An SVG line chart; an empty string when no series has a finite point. */
export function lineChart(options: ChartOptions): string {
  const { width, height, left, right, top, bottom } = CHART_LAYOUT;
  const finite = options.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  if (finite.length === 0) return '';
  const integerX = options.integerX ?? true;
  const xs = finite.map((p) => p[0]);
  const ys = finite.map((p) => p[1]);
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const [yMin, yMax] = [yTicks[0]!, yTicks.at(-1)!];
  const xTicks = niceTicks(xMin, xMax, 6, integerX).filter((t) => t >= xMin && t <= xMax);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const sx = (x: number) => left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => top + ((yMax - y) / (yMax - yMin)) * plotH;
  const r = (v: number) => Number(v.toFixed(2));

  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(options.title)}">`);
  parts.push(`<text class="chart-title" x="${left}" y="20">${escapeHtml(options.title)}</text>`);
  // Grid and y ticks.
  const yStep = yTicks.length > 1 ? yTicks[1]! - yTicks[0]! : 1;
  for (const t of yTicks) {
    const y = r(sy(t));
    parts.push(`<line class="grid" x1="${left}" y1="${y}" x2="${width - right}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatTick(t, yStep))}</text>`);
  }
  const xStep = xTicks.length > 1 ? xTicks[1]! - xTicks[0]! : 1;
  for (const t of xTicks) {
    const x = r(sx(t));
    parts.push(`<line class="tick-mark" x1="${x}" y1="${top + plotH}" x2="${x}" y2="${top + plotH + 5}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${top + plotH + 18}" text-anchor="middle">${escapeHtml(formatTick(t, xStep))}</text>`);
  }
  parts.push(`<line class="axis" x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}"/>`);
  parts.push(`<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}"/>`);
  parts.push(`<text class="axis-label" x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeHtml(options.xLabel)}</text>`);
  parts.push(`<text class="axis-label" transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(options.yLabel)}</text>`);

  const skipped: string[] = [];
  options.series.forEach((s, i) => {
    const segments: string[] = [];
    let open = false;
    let bad = 0;
    for (const [x, y] of s.points) {
      if (!(Number.isFinite(x) && Number.isFinite(y))) {
        bad++;
        open = false;
        continue;
      }
      segments.push(`${open ? 'L' : 'M'}${r(sx(x))},${r(sy(y))}`);
      open = true;
    }
    if (bad > 0) skipped.push(`${bad} non-finite value${bad > 1 ? 's' : ''} of ${s.name}`);
    const name = escapeHtml(s.name);
    const color = escapeHtml(s.color);
    if (segments.length > 0) parts.push(`<path class="series" data-series="${name}" d="${segments.join(' ')}" stroke="${color}"/>`);
    if (s.markers) {
      for (const [x, y] of s.points) {
        if (Number.isFinite(x) && Number.isFinite(y)) parts.push(`<circle data-series="${name}" cx="${r(sx(x))}" cy="${r(sy(y))}" r="3" fill="${color}"/>`);
      }
    }
    // Legend, top right, one entry per series.
    const ly = top + 4 + i * 16;
    parts.push(`<rect x="${width - right - 150}" y="${ly}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text class="legend" x="${width - right - 132}" y="${ly + 4}">${name}</text>`);
  });
  if (skipped.length > 0) {
    parts.push(`<text class="note" x="${width - right}" y="20" text-anchor="end">not drawn: ${escapeHtml(skipped.join(', '))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
