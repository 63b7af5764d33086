import { fail } from '../core/errors.js';
import { escapeXml, formatTick, niceTicks, PALETTE } from './svg.js';

/**
 * SVG of parametric curves: polylines drawn in the order given (not sorted by x, so
 * trajectories in a plane work), solid or dashed, without point markers; plus labelled point
 * markers, optional equal aspect (a circle stays a circle), a legend of the named curves.
 * Pure function from data to a standalone SVG string.
 */

export interface Curve {
  /** shown in the legend when given */
  name?: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
  dashed?: boolean;
  /** stroke width (default 2) */
  width?: number;
  /** opacity (default 1) */
  opacity?: number;
}

export interface Marker {
  x: number;
  y: number;
  color?: string;
  /** filled (default) or an open ring */
  open?: boolean;
  label?: string;
  radius?: number;
}

export interface CurvePlotOptions {
  curves: Curve[];
  markers?: Marker[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** fixed ranges (default: the data, padded) */
  xRange?: [number, number];
  yRange?: [number, number];
  /** one unit on x = one unit on y (the plot box shrinks to keep it) */
  equalAspect?: boolean;
  width?: number;
  height?: number;
}

function f(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

export function curvePlot(o: CurvePlotOptions): string {
  const W = o.width ?? 560;
  const H = o.height ?? 420;
  if (!(W >= 100) || !(H >= 100)) fail('E_ARG', `curvePlot: width and height must be >= 100 pixels, got ${W} x ${H}`);
  if (!Array.isArray(o.curves)) fail('E_ARG', 'curvePlot: curves must be an array of {x, y}');
  for (const c of o.curves) if (c.x.length !== c.y.length) fail('E_SHAPE', `curvePlot: curve "${c.name ?? ''}" has ${c.x.length} x values and ${c.y.length} y values`);
  const markers = o.markers ?? [];
  let xLo = Infinity, xHi = -Infinity, yLo = Infinity, yHi = -Infinity;
  const take = (x: number, y: number) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    xLo = Math.min(xLo, x);
    xHi = Math.max(xHi, x);
    yLo = Math.min(yLo, y);
    yHi = Math.max(yHi, y);
  };
  for (const c of o.curves) for (let i = 0; i < c.x.length; i++) take(c.x[i], c.y[i]);
  for (const m of markers) take(m.x, m.y);
  if (!Number.isFinite(xLo)) [xLo, xHi, yLo, yHi] = [0, 1, 0, 1];
  if (o.xRange) [xLo, xHi] = o.xRange;
  else {
    const p = 0.04 * (xHi - xLo || 1);
    xLo -= p;
    xHi += p;
  }
  if (o.yRange) [yLo, yHi] = o.yRange;
  else {
    const p = 0.05 * (yHi - yLo || 1);
    yLo -= p;
    yHi += p;
  }
  if (!(xHi > xLo) || !(yHi > yLo)) fail('E_ARG', `curvePlot: empty range x [${xLo}, ${xHi}], y [${yLo}, ${yHi}]`);

  const named = o.curves.filter((c) => c.name);
  const legendW = named.length ? Math.min(200, 34 + 6.5 * Math.max(...named.map((c) => c.name!.length))) : 0;
  const m = { left: 60, right: 16 + legendW, top: o.title ? 34 : 14, bottom: 48 };
  let pw = Math.max(10, W - m.left - m.right);
  let ph = Math.max(10, H - m.top - m.bottom);
  if (o.equalAspect) {
    const k = Math.min(pw / (xHi - xLo), ph / (yHi - yLo));
    pw = k * (xHi - xLo);
    ph = k * (yHi - yLo);
  }
  const X = (x: number) => m.left + ((x - xLo) / (xHi - xLo)) * pw;
  const Y = (y: number) => m.top + (1 - (y - yLo) / (yHi - yLo)) * ph;
  const inside = (x: number, y: number) => x >= xLo && x <= xHi && y >= yLo && y <= yHi;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  if (o.title) {
    const size = Math.max(9, Math.min(14, Math.floor((W - 16) / (0.6 * o.title.length))));
    out.push(`<text class="title" x="${f(W / 2)}" y="20" text-anchor="middle" font-size="${size}" font-weight="bold">${escapeXml(o.title)}</text>`);
  }
  const xt = niceTicks(xLo, xHi, 6).filter((v) => v >= xLo && v <= xHi);
  const yt = niceTicks(yLo, yHi, 5).filter((v) => v >= yLo && v <= yHi);
  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const v of xt) out.push(`<line x1="${f(X(v))}" y1="${f(m.top)}" x2="${f(X(v))}" y2="${f(m.top + ph)}"/>`);
  for (const v of yt) out.push(`<line x1="${f(m.left)}" y1="${f(Y(v))}" x2="${f(m.left + pw)}" y2="${f(Y(v))}"/>`);
  out.push('</g>');
  out.push(`<rect class="frame" x="${f(m.left)}" y="${f(m.top)}" width="${f(pw)}" height="${f(ph)}" fill="none" stroke="#333333"/>`);
  out.push('<g class="x-ticks" text-anchor="middle">');
  for (const v of xt) out.push(`<text x="${f(X(v))}" y="${f(m.top + ph + 16)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g><g class="y-ticks" text-anchor="end">');
  for (const v of yt) out.push(`<text x="${f(m.left - 6)}" y="${f(Y(v) + 4)}">${escapeXml(formatTick(v))}</text>`);
  out.push('</g>');
  if (o.xLabel) out.push(`<text class="x-label" x="${f(m.left + pw / 2)}" y="${f(m.top + ph + 36)}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (o.yLabel) out.push(`<text class="y-label" x="14" y="${f(m.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 ${f(m.top + ph / 2)})">${escapeXml(o.yLabel)}</text>`);

  out.push(`<clipPath id="plot-area"><rect x="${f(m.left)}" y="${f(m.top)}" width="${f(pw)}" height="${f(ph)}"/></clipPath>`);
  out.push('<g clip-path="url(#plot-area)">');
  o.curves.forEach((c, ci) => {
    const color = c.color ?? PALETTE[ci % PALETTE.length];
    // break the polyline at non-finite points
    const parts: string[] = [];
    let pen = false;
    for (let i = 0; i < c.x.length; i++) {
      const x = c.x[i], y = c.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      parts.push(`${pen ? 'L' : 'M'}${f(X(x))},${f(Y(y))}`);
      pen = true;
    }
    if (parts.length > 1) {
      out.push(`<path class="curve"${c.name ? ` data-name="${escapeXml(c.name)}"` : ''} d="${parts.join(' ')}" fill="none" stroke="${color}" stroke-width="${c.width ?? 2}"${c.dashed ? ' stroke-dasharray="6 4"' : ''}${c.opacity !== undefined ? ` stroke-opacity="${c.opacity}"` : ''}/>`);
    }
  });
  for (const mk of markers) {
    if (!inside(mk.x, mk.y)) continue;
    const color = mk.color ?? '#000000';
    const r = mk.radius ?? 4;
    out.push(mk.open
      ? `<circle class="marker" cx="${f(X(mk.x))}" cy="${f(Y(mk.y))}" r="${r}" fill="#ffffff" stroke="${color}" stroke-width="2"/>`
      : `<circle class="marker" cx="${f(X(mk.x))}" cy="${f(Y(mk.y))}" r="${r}" fill="${color}" stroke="#000000" stroke-width="1"/>`);
    if (mk.label) out.push(`<text x="${f(X(mk.x) + r + 3)}" y="${f(Y(mk.y) - r - 2)}" font-size="11">${escapeXml(mk.label)}</text>`);
  }
  out.push('</g>');
  if (named.length) {
    const lx0 = m.left + pw + 14;
    out.push('<g class="legend">');
    let row = 0;
    o.curves.forEach((c, ci) => {
      if (!c.name) return;
      const color = c.color ?? PALETTE[ci % PALETTE.length];
      const yy = m.top + 10 + row++ * 18;
      out.push(`<line x1="${f(lx0)}" y1="${f(yy)}" x2="${f(lx0 + 24)}" y2="${f(yy)}" stroke="${color}" stroke-width="2"${c.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
      out.push(`<text x="${f(lx0 + 30)}" y="${f(yy + 4)}">${escapeXml(c.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
