import { fail } from '../core/errors.js';

/**
 * A small, dependency-free SVG line plot: several series of (x, y ± err) points, error bars
 * with caps, a linear or log-10 x axis, a linear y axis, grid lines, a legend. Pure function
 * from data to an SVG string (standalone: it carries its own xmlns and font settings).
 */

export interface PlotPoint {
  x: number;
  y: number;
  /** half-length of the error bar (e.g. the std over seeds); omitted or 0: no bar */
  err?: number;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  /** CSS colour; default from a colour-blind-safe palette by series index */
  color?: string;
  /** draw the line dashed */
  dashed?: boolean;
}

export interface LinePlotOptions {
  series: PlotSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** log-10 x axis (every x must be > 0) */
  logX?: boolean;
  /** fixed y range; default from the data (error bars included), padded */
  yMin?: number;
  yMax?: number;
  /** pixel size of the whole image (default 720 × 400) */
  width?: number;
  height?: number;
}

/** Okabe–Ito colours plus a few more, distinguishable for colour-blind readers. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#7F7F7F', '#8C564B', '#17BECF', '#BCBD22', '#F0E442'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** About `count` round tick values (1, 2, 5 × 10^e steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) fail('E_ARG', `niceTicks: range must be finite, got [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/**
 * Ticks for a log-10 axis over [lo, hi] (both > 0): the powers of ten inside; when the range
 * spans fewer than three decades, also 2× and 5× each power.
 */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi > 0)) fail('E_ARG', `logTicks: a log axis needs positive values, got [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  const e0 = Math.floor(Math.log10(lo) + 1e-9);
  const e1 = Math.ceil(Math.log10(hi) - 1e-9);
  const mult = e1 - e0 < 3 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = e0; e <= e1; e++) {
    for (const m of mult) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  if (out.length === 0) out.push(lo);
  return out;
}

/** Short tick label: 1000 → 1k, 10000 → 10k, 0.25 → 0.25. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6 && Number.isInteger(v / 1e6)) return `${v / 1e6}M`;
  if (a >= 1e3 && Number.isInteger(v / 1e3)) return `${v / 1e3}k`;
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

function f(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/** Render the plot to an SVG string. */
export function linePlot(opts: LinePlotOptions): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 400;
  if (!(W >= 100) || !(H >= 100)) fail('E_ARG', `linePlot: width and height must be >= 100 pixels, got ${W} x ${H}`);
  if (!Array.isArray(opts.series)) fail('E_ARG', 'linePlot: series must be an array of {name, points}');
  const logX = !!opts.logX;
  const pts = opts.series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  for (const p of pts) if (logX && !(p.x > 0)) fail('E_ARG', `linePlot: a log x axis needs x > 0, got x = ${p.x}; use logX: false`);

  // data ranges
  let xLo = Infinity, xHi = -Infinity, yLo = Infinity, yHi = -Infinity;
  for (const p of pts) {
    const e = p.err && Number.isFinite(p.err) ? Math.abs(p.err) : 0;
    xLo = Math.min(xLo, p.x);
    xHi = Math.max(xHi, p.x);
    yLo = Math.min(yLo, p.y - e);
    yHi = Math.max(yHi, p.y + e);
  }
  if (pts.length === 0) {
    xLo = logX ? 1 : 0;
    xHi = logX ? 10 : 1;
    yLo = 0;
    yHi = 1;
  }
  if (opts.yMin !== undefined) yLo = opts.yMin;
  if (opts.yMax !== undefined) yHi = opts.yMax;
  if (yHi === yLo) {
    yLo -= 0.5;
    yHi += 0.5;
  } else if (opts.yMin === undefined || opts.yMax === undefined) {
    const pad = 0.05 * (yHi - yLo);
    if (opts.yMin === undefined) yLo -= pad;
    if (opts.yMax === undefined) yHi += pad;
  }
  if (xHi === xLo) {
    if (logX) {
      xLo /= 2;
      xHi *= 2;
    } else {
      xLo -= 0.5;
      xHi += 0.5;
    }
  }

  // layout
  const names = opts.series.map((s) => s.name);
  const legendW = names.length ? Math.min(250, 34 + 6.5 * Math.max(...names.map((n) => n.length))) : 0;
  const m = { left: 60, right: 16 + legendW, top: opts.title ? 34 : 14, bottom: 48 };
  const pw = Math.max(10, W - m.left - m.right);
  const ph = Math.max(10, H - m.top - m.bottom);
  const lx = (x: number) => (logX ? Math.log10(x) : x);
  const x0 = lx(xLo), x1 = lx(xHi);
  const padX = 0.04 * (x1 - x0);
  const X = (x: number) => m.left + ((lx(x) - (x0 - padX)) / (x1 - x0 + 2 * padX)) * pw;
  const Y = (y: number) => m.top + (1 - (y - yLo) / (yHi - yLo)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  if (opts.title) {
    // shrink long titles to fit the image (about 0.6 em per character)
    const size = Math.max(9, Math.min(14, Math.floor((W - 16) / (0.6 * opts.title.length))));
    out.push(`<text class="title" x="${f(W / 2)}" y="20" text-anchor="middle" font-size="${size}" font-weight="bold">${escapeXml(opts.title)}</text>`);
  }

  // grid and ticks
  const xt = logX ? logTicks(xLo, xHi) : niceTicks(xLo, xHi, 6);
  const yt = niceTicks(yLo, yHi, 5).filter((v) => v >= yLo - 1e-12 && v <= yHi + 1e-12);
  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const v of xt) out.push(`<line x1="${f(X(v))}" y1="${f(m.top)}" x2="${f(X(v))}" y2="${f(m.top + ph)}"/>`);
  for (const v of yt) out.push(`<line x1="${f(m.left)}" y1="${f(Y(v))}" x2="${f(m.left + pw)}" y2="${f(Y(v))}"/>`);
  out.push('</g>');
  out.push(`<rect class="frame" x="${f(m.left)}" y="${f(m.top)}" width="${f(pw)}" height="${f(ph)}" fill="none" stroke="#333333"/>`);
  out.push('<g class="x-ticks" text-anchor="middle">');
  for (const v of xt) out.push(`<text x="${f(X(v))}" y="${f(m.top + ph + 16)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g>');
  out.push('<g class="y-ticks" text-anchor="end">');
  for (const v of yt) out.push(`<text x="${f(m.left - 6)}" y="${f(Y(v) + 4)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g>');
  if (opts.xLabel) out.push(`<text class="x-label" x="${f(m.left + pw / 2)}" y="${f(H - 10)}" text-anchor="middle">${escapeXml(opts.xLabel + (logX ? ' (log scale)' : ''))}</text>`);
  if (opts.yLabel) out.push(`<text class="y-label" x="14" y="${f(m.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 ${f(m.top + ph / 2)})">${escapeXml(opts.yLabel)}</text>`);

  // series
  opts.series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    const sp = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${color}" fill="${color}">`);
    if (sp.length > 1) {
      const d = sp.map((p, i) => `${i ? 'L' : 'M'}${f(X(p.x))},${f(Y(p.y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    for (const p of sp) {
      const e = p.err && Number.isFinite(p.err) ? Math.abs(p.err) : 0;
      if (e > 0) {
        const cx = X(p.x);
        const ya = Y(Math.min(yHi, p.y + e)), yb = Y(Math.max(yLo, p.y - e));
        out.push(`<path class="errorbar" d="M${f(cx)},${f(ya)} L${f(cx)},${f(yb)} M${f(cx - 4)},${f(ya)} L${f(cx + 4)},${f(ya)} M${f(cx - 4)},${f(yb)} L${f(cx + 4)},${f(yb)}" fill="none" stroke-width="1.2"/>`);
      }
      out.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3.5"/>`);
    }
    out.push('</g>');
  });

  // legend
  if (names.length) {
    const lx0 = m.left + pw + 14;
    out.push('<g class="legend">');
    opts.series.forEach((s, si) => {
      const color = s.color ?? PALETTE[si % PALETTE.length];
      const yy = m.top + 10 + si * 18;
      out.push(`<line x1="${f(lx0)}" y1="${f(yy)}" x2="${f(lx0 + 24)}" y2="${f(yy)}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
      if (!s.dashed) out.push(`<circle cx="${f(lx0 + 12)}" cy="${f(yy)}" r="3.5" fill="${color}"/>`);
      out.push(`<text x="${f(lx0 + 30)}" y="${f(yy + 4)}">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
