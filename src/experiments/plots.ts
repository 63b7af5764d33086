import { fail } from '../core/errors.js';
import { escapeXml, formatTick, logTicks, niceTicks, PALETTE } from './svg.js';

/**
 * Two more dependency-free SVG plots for reports: overlaid histograms of several samples on
 * shared bins (e.g. the curvature of natural vs generated trajectories) and scatter plots with
 * optional log axes and reference lines (e.g. a decoded force against the true one).
 */

export interface HistogramSeries {
  name: string;
  values: ArrayLike<number>;
  color?: string;
}

export interface HistogramOptions {
  series: HistogramSeries[];
  /** bin edges: `bins` equal bins over [lo, hi] (default: the range of all values) */
  bins?: number;
  lo?: number;
  hi?: number;
  /** 'density' divides counts by n·width so samples of different sizes compare (default 'count') */
  normalize?: 'count' | 'density';
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** Counts of `values` in `bins` equal bins over [lo, hi] (values outside are clamped to the end bins). */
export function histogramCounts(values: ArrayLike<number>, bins: number, lo: number, hi: number): Float64Array {
  if (!Number.isInteger(bins) || bins < 1) fail('E_ARG', `histogram: bins must be a positive integer, got ${bins}`);
  if (!(hi > lo)) fail('E_ARG', `histogram: the range [${lo}, ${hi}] is empty`);
  const c = new Float64Array(bins);
  const w = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    c[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / w)))]++;
  }
  return c;
}

function f(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

function frame(out: string[], W: number, H: number, m: { left: number; right: number; top: number; bottom: number }, o: { title?: string; xLabel?: string; yLabel?: string }): void {
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  if (o.title) {
    const size = Math.max(9, Math.min(14, Math.floor((W - 16) / (0.6 * o.title.length))));
    out.push(`<text class="title" x="${f(W / 2)}" y="20" text-anchor="middle" font-size="${size}" font-weight="bold">${escapeXml(o.title)}</text>`);
  }
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  if (o.xLabel) out.push(`<text class="x-label" x="${f(m.left + pw / 2)}" y="${f(H - 10)}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (o.yLabel) out.push(`<text class="y-label" x="14" y="${f(m.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 ${f(m.top + ph / 2)})">${escapeXml(o.yLabel)}</text>`);
}

function legend(out: string[], x: number, y: number, items: { name: string; color: string }[]): void {
  out.push('<g class="legend">');
  items.forEach((s, i) => {
    const yy = y + 10 + i * 18;
    out.push(`<rect x="${f(x)}" y="${f(yy - 6)}" width="14" height="12" fill="${s.color}" fill-opacity="0.55" stroke="${s.color}"/>`);
    out.push(`<text x="${f(x + 20)}" y="${f(yy + 4)}">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
}

/** SVG: overlaid histograms (semi-transparent bars on shared bins), one colour per series. */
export function histogramPlot(o: HistogramOptions): string {
  const W = o.width ?? 720, H = o.height ?? 400;
  if (!Array.isArray(o.series) || o.series.length === 0) fail('E_ARG', 'histogramPlot: give at least one series of values');
  let lo = o.lo ?? Infinity, hi = o.hi ?? -Infinity;
  if (o.lo === undefined || o.hi === undefined) {
    for (const s of o.series) {
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (!Number.isFinite(v)) continue;
        if (o.lo === undefined) lo = Math.min(lo, v);
        if (o.hi === undefined) hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (!(hi > lo)) hi = lo + 1;
  const bins = o.bins ?? 30;
  const width = (hi - lo) / bins;
  const counts = o.series.map((s) => {
    const c = histogramCounts(s.values, bins, lo, hi);
    if (o.normalize === 'density') {
      const n = c.reduce((a, b) => a + b, 0);
      if (n > 0) for (let i = 0; i < bins; i++) c[i] /= n * width;
    }
    return c;
  });
  const yHi = Math.max(1e-12, ...counts.flatMap((c) => Array.from(c))) * 1.05;
  const legendW = Math.min(250, 40 + 6.5 * Math.max(...o.series.map((s) => s.name.length)));
  const m = { left: 60, right: 16 + legendW, top: o.title ? 34 : 14, bottom: 48 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const X = (x: number) => m.left + ((x - lo) / (hi - lo)) * pw;
  const Y = (y: number) => m.top + (1 - y / yHi) * ph;
  const out: string[] = [];
  frame(out, W, H, m, { title: o.title, xLabel: o.xLabel, yLabel: o.yLabel ?? (o.normalize === 'density' ? 'density' : 'count') });
  const xt = niceTicks(lo, hi, 6).filter((v) => v >= lo - 1e-9 && v <= hi + 1e-9);
  const yt = niceTicks(0, yHi, 5).filter((v) => v <= yHi);
  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const v of yt) out.push(`<line x1="${f(m.left)}" y1="${f(Y(v))}" x2="${f(m.left + pw)}" y2="${f(Y(v))}"/>`);
  out.push('</g>');
  const colors = o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  counts.forEach((c, si) => {
    out.push(`<g class="series" data-name="${escapeXml(o.series[si].name)}" fill="${colors[si]}" fill-opacity="0.45" stroke="${colors[si]}" stroke-width="1">`);
    for (let b = 0; b < bins; b++) {
      if (c[b] <= 0) continue;
      const x0 = X(lo + b * width), x1 = X(lo + (b + 1) * width);
      out.push(`<rect x="${f(x0)}" y="${f(Y(c[b]))}" width="${f(Math.max(0.5, x1 - x0))}" height="${f(Y(0) - Y(c[b]))}"/>`);
    }
    out.push('</g>');
  });
  out.push(`<rect class="frame" x="${f(m.left)}" y="${f(m.top)}" width="${f(pw)}" height="${f(ph)}" fill="none" stroke="#333333"/>`);
  out.push('<g class="x-ticks" text-anchor="middle">');
  for (const v of xt) out.push(`<text x="${f(X(v))}" y="${f(m.top + ph + 16)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g><g class="y-ticks" text-anchor="end">');
  for (const v of yt) out.push(`<text x="${f(m.left - 6)}" y="${f(Y(v) + 4)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g>');
  legend(out, m.left + pw + 14, m.top, o.series.map((s, i) => ({ name: s.name, color: colors[i] })));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface ScatterSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
}

export interface ScatterOptions {
  series: ScatterSeries[];
  logX?: boolean;
  logY?: boolean;
  /** reference lines y = c·x^p (in data units), drawn dashed */
  lines?: { name: string; coefficient: number; power: number; color?: string }[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** at most this many points per series are drawn (evenly thinned; default 2000) */
  maxPoints?: number;
}

/** SVG: scatter plot of several series; points with non-positive values on a log axis are left out. */
export function scatterPlot(o: ScatterOptions): string {
  const W = o.width ?? 720, H = o.height ?? 440;
  const ok = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0);
  let xLo = Infinity, xHi = -Infinity, yLo = Infinity, yHi = -Infinity;
  for (const s of o.series) {
    if (s.x.length !== s.y.length) fail('E_SHAPE', `scatterPlot: series ${s.name} has ${s.x.length} x and ${s.y.length} y values`);
    for (let i = 0; i < s.x.length; i++) {
      if (!ok(s.x[i], s.y[i])) continue;
      xLo = Math.min(xLo, s.x[i]);
      xHi = Math.max(xHi, s.x[i]);
      yLo = Math.min(yLo, s.y[i]);
      yHi = Math.max(yHi, s.y[i]);
    }
  }
  if (!Number.isFinite(xLo)) [xLo, xHi, yLo, yHi] = [1, 10, 1, 10];
  if (xHi === xLo) xHi = xLo * 2 + 1;
  if (yHi === yLo) yHi = yLo * 2 + 1;
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const padX = 0.04 * (tx(xHi) - tx(xLo)), padY = 0.05 * (ty(yHi) - ty(yLo));
  const names = [...o.series.map((s) => s.name), ...(o.lines ?? []).map((l) => l.name)];
  const legendW = Math.min(260, 40 + 6.5 * Math.max(...names.map((n) => n.length)));
  const m = { left: 64, right: 16 + legendW, top: o.title ? 34 : 14, bottom: 48 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const X = (v: number) => m.left + ((tx(v) - tx(xLo) + padX) / (tx(xHi) - tx(xLo) + 2 * padX)) * pw;
  const Y = (v: number) => m.top + (1 - (ty(v) - ty(yLo) + padY) / (ty(yHi) - ty(yLo) + 2 * padY)) * ph;
  const out: string[] = [];
  frame(out, W, H, m, { title: o.title, xLabel: o.xLabel && o.logX ? `${o.xLabel} (log scale)` : o.xLabel, yLabel: o.yLabel && o.logY ? `${o.yLabel} (log scale)` : o.yLabel });
  const xt = (o.logX ? logTicks(xLo, xHi) : niceTicks(xLo, xHi, 6)).filter((v) => v >= xLo * (o.logX ? 0.999 : 1) - 1e-12 && v <= xHi * 1.001 + 1e-12);
  const yt = (o.logY ? logTicks(yLo, yHi) : niceTicks(yLo, yHi, 5)).filter((v) => v >= yLo * (o.logY ? 0.999 : 1) - 1e-12 && v <= yHi * 1.001 + 1e-12);
  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const v of xt) out.push(`<line x1="${f(X(v))}" y1="${f(m.top)}" x2="${f(X(v))}" y2="${f(m.top + ph)}"/>`);
  for (const v of yt) out.push(`<line x1="${f(m.left)}" y1="${f(Y(v))}" x2="${f(m.left + pw)}" y2="${f(Y(v))}"/>`);
  out.push('</g>');
  const colors = o.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const maxP = o.maxPoints ?? 2000;
  o.series.forEach((s, si) => {
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" fill="${colors[si]}" fill-opacity="0.5">`);
    const step = Math.max(1, Math.ceil(s.x.length / maxP));
    for (let i = 0; i < s.x.length; i += step) {
      if (ok(s.x[i], s.y[i])) out.push(`<circle cx="${f(X(s.x[i]))}" cy="${f(Y(s.y[i]))}" r="2"/>`);
    }
    out.push('</g>');
  });
  const lineColors = (o.lines ?? []).map((l, i) => l.color ?? PALETTE[(o.series.length + i) % PALETTE.length]);
  (o.lines ?? []).forEach((l, li) => {
    const pts: string[] = [];
    for (let k = 0; k <= 50; k++) {
      const xv = o.logX ? 10 ** (tx(xLo) + ((tx(xHi) - tx(xLo)) * k) / 50) : xLo + ((xHi - xLo) * k) / 50;
      const yv = l.coefficient * xv ** l.power;
      if (ok(xv, yv) && yv >= yLo * 0.5 && yv <= yHi * 2) pts.push(`${pts.length ? 'L' : 'M'}${f(X(xv))},${f(Math.max(m.top, Math.min(m.top + ph, Y(yv))))}`);
    }
    if (pts.length > 1) out.push(`<path class="reference" d="${pts.join(' ')}" fill="none" stroke="${lineColors[li]}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  });
  out.push(`<rect class="frame" x="${f(m.left)}" y="${f(m.top)}" width="${f(pw)}" height="${f(ph)}" fill="none" stroke="#333333"/>`);
  out.push('<g class="x-ticks" text-anchor="middle">');
  for (const v of xt) out.push(`<text x="${f(X(v))}" y="${f(m.top + ph + 16)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g><g class="y-ticks" text-anchor="end">');
  for (const v of yt) out.push(`<text x="${f(m.left - 6)}" y="${f(Y(v) + 4)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g>');
  legend(out, m.left + pw + 14, m.top, [...o.series.map((s, i) => ({ name: s.name, color: colors[i] })), ...(o.lines ?? []).map((l, i) => ({ name: l.name, color: lineColors[i] }))]);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
