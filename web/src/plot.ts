// Small SVG / canvas plots: line plots with hover read-outs and toggleable series, histograms,
// strips (a vector as a row of coloured cells) and heat maps.
import { fmt, h, s } from './dom.js';

export interface Series {
  key: string;
  label: string;
  color: string;
  dashed?: boolean;
  points: { x: number; y: number; err?: number }[];
}

export interface LineOptions {
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  title?: string;
  logX?: boolean;
  yMin?: number;
  yMax?: number;
  /** series keys not drawn */
  hidden?: Set<string>;
}

let tip: HTMLDivElement | null = null;
function tooltip(): HTMLDivElement {
  if (!tip) {
    tip = h('div', { class: 'tooltip', role: 'status' });
    tip.hidden = true;
    document.body.append(tip);
  }
  return tip;
}
export function showTip(ev: MouseEvent, lines: string[]): void {
  const t = tooltip();
  t.replaceChildren(...lines.map((l) => h('div', {}, l)));
  t.hidden = false;
  t.style.left = `${ev.pageX + 12}px`;
  t.style.top = `${ev.pageY + 12}px`;
}
export function hideTip(): void {
  if (tip) tip.hidden = true;
}

function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function linePlot(series: Series[], o: LineOptions = {}): SVGSVGElement {
  const W = o.width ?? 560, H = o.height ?? 320;
  const m = { l: 56, r: 16, t: o.title ? 28 : 12, b: 44 };
  const shown = series.filter((se) => !o.hidden?.has(se.key));
  const xs = series.flatMap((se) => se.points.map((p) => p.x)).filter(Number.isFinite);
  const ys = shown.flatMap((se) => se.points.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)])).filter(Number.isFinite);
  let x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 1;
  if (x0 === x1) { x0 -= o.logX ? x0 / 2 : 1; x1 += o.logX ? x1 : 1; }
  let y0 = o.yMin ?? (ys.length ? Math.min(...ys) : 0), y1 = o.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const logX = !!o.logX && x0 > 0;
  const fx = (x: number) => m.l + ((logX ? Math.log(x) - Math.log(x0) : x - x0) / (logX ? Math.log(x1) - Math.log(x0) : x1 - x0)) * (W - m.l - m.r);
  const fy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'plot' });
  if (o.title) svg.append(s('text', { x: W / 2, y: 18, 'text-anchor': 'middle', class: 'plot-title' }, o.title));
  const xt = logX ? [...new Set(xs)].sort((a, b) => a - b) : ticks(x0, x1);
  for (const t of xt) {
    svg.append(s('line', { x1: fx(t), x2: fx(t), y1: m.t, y2: H - m.b, class: 'grid' }));
    svg.append(s('text', { x: fx(t), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, fmtTick(t)));
  }
  for (const t of ticks(y0, y1)) {
    svg.append(s('line', { x1: m.l, x2: W - m.r, y1: fy(t), y2: fy(t), class: 'grid' }));
    svg.append(s('text', { x: m.l - 6, y: fy(t) + 4, 'text-anchor': 'end', class: 'tick' }, fmtTick(t)));
  }
  svg.append(s('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis' }));
  svg.append(s('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: 'axis' }));
  if (o.xLabel) svg.append(s('text', { x: (m.l + W - m.r) / 2, y: H - 8, 'text-anchor': 'middle', class: 'label' }, o.xLabel));
  if (o.yLabel) svg.append(s('text', { x: 14, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`, class: 'label' }, o.yLabel));
  for (const se of shown) {
    const pts = se.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (!pts.length) continue;
    const g = s('g', { 'data-series': se.key });
    g.append(s('path', { d: pts.map((p, i) => `${i ? 'L' : 'M'}${fx(p.x).toFixed(1)},${fy(p.y).toFixed(1)}`).join(''), fill: 'none', stroke: se.color, 'stroke-width': 2, 'stroke-dasharray': se.dashed ? '6 4' : undefined }));
    for (const p of pts) {
      if (p.err) g.append(s('line', { x1: fx(p.x), x2: fx(p.x), y1: fy(p.y - p.err), y2: fy(p.y + p.err), stroke: se.color, 'stroke-width': 1 }));
      const c = s('circle', { cx: fx(p.x), cy: fy(p.y), r: 4, fill: se.color, class: 'pt' });
      c.addEventListener('mousemove', (ev) => showTip(ev, [se.label, `${o.xLabel ?? 'x'} = ${fmtTick(p.x)}`, `${o.yLabel ?? 'y'} = ${fmt(p.y)}${p.err ? ` ± ${fmt(p.err)}` : ''}`]));
      c.addEventListener('mouseleave', hideTip);
      g.append(c);
    }
    svg.append(g);
  }
  return svg;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US');
  return Number(v.toPrecision(3)).toString();
}

/** A legend whose entries toggle series (calls onToggle with the new hidden set). */
export function legend(series: { key: string; label: string; color: string; dashed?: boolean }[], hidden: Set<string>, onToggle: (hidden: Set<string>) => void): HTMLElement {
  const box = h('div', { class: 'legend' });
  for (const se of series) {
    const cb = h('input', { type: 'checkbox', 'data-method': se.key });
    cb.checked = !hidden.has(se.key);
    cb.addEventListener('change', () => {
      const next = new Set(hidden);
      if (cb.checked) next.delete(se.key);
      else next.add(se.key);
      onToggle(next);
    });
    const swatch = h('span', { class: 'swatch' + (se.dashed ? ' dashed' : ''), style: `border-color:${se.color};background:${se.dashed ? 'transparent' : se.color}` });
    box.append(h('label', {}, cb, swatch, se.label));
  }
  return box;
}

export function histogram(edges: number[], counts: number[], o: { width?: number; height?: number; xLabel?: string } = {}): SVGSVGElement {
  const W = o.width ?? 360, H = o.height ?? 160;
  const m = { l: 40, r: 8, t: 8, b: 32 };
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'plot' });
  const maxc = Math.max(1, ...counts);
  const bw = (W - m.l - m.r) / counts.length;
  counts.forEach((c, i) => {
    const hgt = (c / maxc) * (H - m.t - m.b);
    const r = s('rect', { x: m.l + i * bw + 0.5, y: H - m.b - hgt, width: Math.max(1, bw - 1), height: hgt, class: 'bar' });
    r.addEventListener('mousemove', (ev) => showTip(ev, [`[${fmt(edges[i])}, ${fmt(edges[i + 1])})`, `${c} samples`]));
    r.addEventListener('mouseleave', hideTip);
    svg.append(r);
  });
  svg.append(s('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis' }));
  svg.append(s('text', { x: m.l, y: H - m.b + 14, 'text-anchor': 'start', class: 'tick' }, fmt(edges[0], 2)));
  svg.append(s('text', { x: W - m.r, y: H - m.b + 14, 'text-anchor': 'end', class: 'tick' }, fmt(edges[edges.length - 1], 2)));
  svg.append(s('text', { x: m.l - 4, y: m.t + 10, 'text-anchor': 'end', class: 'tick' }, String(maxc)));
  if (o.xLabel) svg.append(s('text', { x: (W + m.l) / 2, y: H - 4, 'text-anchor': 'middle', class: 'label' }, o.xLabel));
  return svg;
}

/** Diverging colour for v in [-1, 1]: blue (negative) – white – red (positive). */
export function diverging(v: number): string {
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

/** A vector as a strip of cells coloured by value (scaled by the largest |value|). */
export function strip(values: ArrayLike<number>, o: { width?: number; height?: number; label?: string } = {}): SVGSVGElement {
  const n = values.length;
  const W = o.width ?? 480, H = o.height ?? 22;
  let mx = 1e-12;
  for (let i = 0; i < n; i++) mx = Math.max(mx, Math.abs(values[i]));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'strip', preserveAspectRatio: 'none' });
  const cw = W / n;
  for (let i = 0; i < n; i++) {
    const r = s('rect', { x: i * cw, y: 0, width: cw + 0.3, height: H, fill: diverging(values[i] / mx) });
    r.addEventListener('mousemove', (ev) => showTip(ev, [`${o.label ?? 'dim'} ${i}`, fmt(values[i])]));
    r.addEventListener('mouseleave', hideTip);
    svg.append(r);
  }
  return svg;
}

/** A [rows x cols] matrix of values in [0, 1] drawn on a canvas (dark = 1). */
export function heatmap(values: Float64Array, rows: number, cols: number, o: { size?: number; title?: string } = {}): HTMLCanvasElement {
  const size = o.size ?? 240;
  const c = h('canvas', { width: size, height: size, class: 'heatmap', title: o.title });
  const ctx = c.getContext('2d');
  if (!ctx) return c;
  const cw = size / cols, ch = size / rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = Math.max(0, Math.min(1, values[i * cols + j]));
      const g = Math.round(255 * (1 - v));
      ctx.fillStyle = `rgb(${g},${g},${Math.round(255 - 120 * v)})`;
      ctx.fillRect(j * cw, i * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
  return c;
}
