// LeJEPA playground: a 2-D world (spiral, banana or sinusoid mixing of two latents), an MLP
// encoder trained live with SIGReg in a Web Worker; the embedding unwarps and R²(h → z) climbs.
import { clear, fmt, h } from './dom.js';
import { linePlot, legend, type Series } from './plot.js';
import {
  LEJEPA_PLAYGROUND_DEFAULTS, LEJEPA_PLAYGROUND_MIXINGS, lejepaPlaygroundProblem,
  type LejepaPlaygroundEvent, type LejepaPlaygroundMixing, type LejepaPlaygroundParams,
} from '../../src/explore/lejepa-playground.js';

interface Slider { key: string; label: string; min: number; max: number; step: number; value: number; help: string; show: (v: number) => string }

/** λ slider positions are log10 λ; 0 stands for λ = 0 at the left end. */
const LOG_LAMBDA_MIN = -6;

/** Colour of a latent point: hue from its angle, lightness from its radius (so the unwarping shows). */
function latentColor(z0: number, z1: number): string {
  const hue = ((Math.atan2(z1, z0) * 180) / Math.PI + 360) % 360;
  const r = Math.min(1, Math.hypot(z0, z1) / 3);
  return `hsl(${hue.toFixed(0)},70%,${(30 + 40 * r).toFixed(0)}%)`;
}

function scatter(points: Float32Array, colors: string[], o: { size?: number; title: string; lim?: number }): HTMLElement {
  const size = o.size ?? 300;
  const c = h('canvas', { width: size, height: size, class: 'scatter', title: o.title });
  const ctx = c.getContext('2d');
  if (ctx) {
    let lim = o.lim ?? 0;
    if (!lim) for (let i = 0; i < points.length; i++) lim = Math.max(lim, Math.abs(points[i]));
    lim = lim * 1.05 || 1;
    const f = (v: number) => ((v + lim) / (2 * lim)) * size;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = '#e3e7ee';
    ctx.beginPath();
    ctx.moveTo(size / 2, 0); ctx.lineTo(size / 2, size); ctx.moveTo(0, size / 2); ctx.lineTo(size, size / 2);
    ctx.stroke();
    for (let i = 0; i < points.length / 2; i++) {
      ctx.fillStyle = colors[i];
      ctx.fillRect(f(points[2 * i]) - 1.5, size - f(points[2 * i + 1]) - 1.5, 3, 3);
    }
  }
  return h('figure', {}, c, h('figcaption', {}, o.title));
}

export function lejepaView(root: HTMLElement, query: URLSearchParams): void {
  const q = (k: string, d: number) => (query.has(k) && Number.isFinite(Number(query.get(k))) ? Number(query.get(k)) : d);
  const D = LEJEPA_PLAYGROUND_DEFAULTS;
  const sliders: Slider[] = [
    { key: 'lambda', label: 'log₁₀ λ', min: LOG_LAMBDA_MIN, max: 0, step: 0.25, value: q('lambda', Math.log10(D.lambda)), help: 'weight of SIGReg in λ·SIGReg + (1 − λ)·alignment (paper, 2-D: 1e-3); the left end is λ = 0 (alignment only: collapse)', show: (v) => (v <= LOG_LAMBDA_MIN ? '0' : (10 ** v).toPrecision(2)) },
    { key: 'rho', label: 'ρ', min: 0, max: 0.99, step: 0.01, value: q('rho', D.rho), help: 'OU correlation of each view with the hidden anchor (paper: 0.95)', show: (v) => v.toFixed(2) },
    { key: 'alpha', label: 'log₂ α', min: -3, max: 5, step: 0.5, value: q('alpha', Math.log2(D.alpha)), help: 'generalised-normal shape of the latents, α = 2 is Gaussian; away from it identifiability degrades', show: (v) => (2 ** v).toPrecision(3) },
    { key: 'steps', label: 'steps', min: 100, max: 10000, step: 100, value: q('steps', D.steps), help: 'optimiser steps (paper: 20000): constant rate, then cosine to 0 over the second half', show: (v) => String(v) },
    { key: 'width', label: 'MLP width', min: 16, max: 256, step: 16, value: q('width', D.width), help: 'hidden width of the 4-hidden-layer GELU MLP (paper: 256)', show: (v) => String(v) },
  ];
  const inputs = new Map<string, HTMLInputElement>();
  const outs = new Map<string, HTMLOutputElement>();
  const form = h('div', { class: 'sliders' });
  for (const sl of sliders) {
    const inp = h('input', { type: 'range', id: `lj-${sl.key}`, name: sl.key, min: sl.min, max: sl.max, step: sl.step, value: sl.value });
    const out = h('output', { for: `lj-${sl.key}`, id: `lj-out-${sl.key}` });
    inputs.set(sl.key, inp);
    outs.set(sl.key, out);
    form.append(h('label', { title: sl.help }, h('span', { class: 'sl-label' }, sl.label), inp, out));
  }
  const mixing = h('select', { id: 'lj-mixing' });
  for (const m of LEJEPA_PLAYGROUND_MIXINGS) mixing.append(h('option', { value: m }, m));
  mixing.value = (LEJEPA_PLAYGROUND_MIXINGS as readonly string[]).includes(query.get('mixing') ?? '') ? query.get('mixing')! : D.mixing;
  form.append(h('label', {}, h('span', { class: 'sl-label' }, 'mixing'), mixing));
  const seed = h('input', { type: 'number', id: 'lj-seed', value: q('seed', 0), min: 0, step: 1 });
  form.append(h('label', {}, h('span', { class: 'sl-label' }, 'seed'), seed));
  const runBtn = h('button', { id: 'lj-run', class: 'primary' }, 'Train');
  const stopBtn = h('button', { id: 'lj-stop', disabled: true }, 'Stop');
  const status = h('div', { id: 'lj-status', class: 'status' }, 'Set the world and press Train.');
  const backendLine = h('div', { id: 'lj-backend', class: 'muted' });
  const problem = h('div', { class: 'problem', id: 'lj-problem' });
  const readout = h('div', { class: 'cards', id: 'lj-readout' });
  const pictures = h('div', { class: 'pictures', id: 'lj-pictures' });
  const curvesBox = h('div', { class: 'live', id: 'lj-curves' });
  root.append(
    h('h1', {}, 'LeJEPA: does it learn the world model?'),
    h('p', { class: 'muted intro' }, 'Two latents z are observed through a nonlinear mixing x = g(z). Training pairs are two Ornstein–Uhlenbeck steps from a hidden anchor (each view = ρ·z + √(1 − ρ²)·noise). An MLP encoder h = f(x) is trained with LeJEPA: λ·SIGReg (pushes the embedding towards an isotropic Gaussian) + (1 − λ)·alignment of the two views. With Gaussian latents the theory says h recovers z up to a rotation: watch the warped observations unwarp and R²(h → z), the linear identifiability, climb towards 1. The embedding is shown after the best rotation onto z.'),
    h('div', { class: 'play' },
      h('aside', {}, form, h('div', { class: 'buttons' }, runBtn, stopBtn), problem, status, backendLine),
      h('main', {}, readout, pictures, curvesBox)),
  );

  const params = (): LejepaPlaygroundParams => {
    const v = (k: string) => Number(inputs.get(k)!.value);
    return {
      ...D, mixing: mixing.value as LejepaPlaygroundMixing, lambda: v('lambda') <= LOG_LAMBDA_MIN ? 0 : 10 ** v('lambda'), rho: v('rho'), alpha: 2 ** v('alpha'),
      steps: v('steps'), width: v('width'), seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
    };
  };
  const sync = () => {
    for (const sl of sliders) outs.get(sl.key)!.value = sl.show(Number(inputs.get(sl.key)!.value));
    const why = lejepaPlaygroundProblem(params());
    problem.textContent = why ?? '';
    runBtn.disabled = !!why;
  };

  let worker: Worker | null = null;
  let running = false;
  let t0 = 0;
  let z: Float32Array | null = null;
  let x: Float32Array | null = null;
  let colors: string[] = [];
  let lastH: Float32Array | null = null;
  let r2xz = NaN;
  let curves: Series[] = [];
  let hidden = new Set<string>();
  let last: Extract<LejepaPlaygroundEvent, { type: 'progress' }> | null = null;

  function card(label: string, value: string, id: string, raw?: number): HTMLElement {
    return h('div', { class: 'card', id, 'data-value': raw ?? '' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
  }
  function render(): void {
    clear(readout);
    readout.append(
      card('R²(h → z)', last ? fmt(last.r2_hz, 4) : '—', 'lj-r2', last?.r2_hz),
      card('R²(h → z), grid [−3, 3]²', last ? fmt(last.r2_hz_grid, 4) : '—', 'lj-r2grid', last?.r2_hz_grid),
      card('R²(x → z) (the mixing)', fmt(r2xz, 3), 'lj-r2xz', r2xz),
      card('step', last ? `${last.step} / ${last.total}` : '—', 'lj-step'),
    );
    clear(pictures);
    if (z && x) {
      pictures.append(scatter(z, colors, { title: 'latents z (colour = angle, shade = radius)', lim: 3.2 }));
      pictures.append(scatter(x, colors, { title: `observations x = ${mixing.value}(z)` }));
      if (lastH) pictures.append(scatter(lastH, colors, { title: 'embedding h = f(x), rotated onto z', lim: 3.2 }));
    }
    clear(curvesBox);
    if (curves.some((c) => c.points.length)) {
      curvesBox.append(h('h3', {}, 'Training'), legend(curves, hidden, (hd) => { hidden = hd; render(); }),
        linePlot(curves, { hidden, xLabel: 'step', yLabel: 'R²', yMin: 0, yMax: 1, width: 560, height: 240 }));
    }
  }

  function onEvent(e: LejepaPlaygroundEvent | { type: 'backend'; name: string }): void {
    switch (e.type) {
      case 'backend':
        backendLine.textContent = `backend: ${e.name}`;
        break;
      case 'world':
        z = e.z; x = e.x; r2xz = e.r2_xz;
        colors = Array.from({ length: z.length / 2 }, (_, i) => latentColor(z![2 * i], z![2 * i + 1]));
        status.textContent = 'training…';
        render();
        break;
      case 'progress':
        last = e;
        lastH = e.h;
        curves[0].points.push({ x: e.step, y: e.r2_hz });
        curves[1].points.push({ x: e.step, y: e.r2_hz_grid });
        status.textContent = `step ${e.step}/${e.total}: loss ${fmt(e.loss, 4)} (alignment ${fmt(e.align, 4)}, SIGReg ${fmt(e.sigreg, 3)}), lr ${e.lr.toExponential(1)}`;
        render();
        break;
      case 'done':
        finish(`done in ${e.seconds.toFixed(1)} s: R²(h → z) = ${fmt(e.r2_hz, 4)}`, 'done');
        break;
      case 'error':
        finish(`failed: ${e.message}`, 'error');
        break;
    }
  }

  function finish(msg: string, state: string): void {
    running = false;
    root.dataset.state = state;
    status.textContent = msg;
    stopBtn.disabled = true;
    sync();
  }

  function stop(): void {
    worker?.terminate();
    worker = null;
    if (running) finish(`stopped after ${((performance.now() - t0) / 1000).toFixed(1)} s`, 'stopped');
  }

  function run(): void {
    stop();
    const p = params();
    const why = lejepaPlaygroundProblem(p);
    if (why) { problem.textContent = why; return; }
    z = x = lastH = null; last = null; r2xz = NaN;
    curves = [
      { key: 'r2', label: 'R²(h → z), held-out samples', color: '#0072B2', points: [] },
      { key: 'grid', label: 'R²(h → z), grid over [−3, 3]²', color: '#D55E00', dashed: true, points: [] },
    ];
    render();
    running = true;
    root.dataset.state = 'running';
    stopBtn.disabled = false;
    status.textContent = 'building the world…';
    t0 = performance.now();
    worker = new Worker(new URL('./lejepa.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev) => onEvent(ev.data);
    worker.onerror = (ev) => finish(`worker failed: ${ev.message}`, 'error');
    worker.postMessage({ type: 'run', params: p, wasmDir: new URL('wasm/', document.baseURI).href });
  }

  // moving a slider while training restarts with the new setting
  let pending: ReturnType<typeof setTimeout> | null = null;
  const changed = () => {
    sync();
    if (!running) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => { pending = null; run(); }, 300);
  };
  for (const inp of inputs.values()) inp.addEventListener('input', changed);
  mixing.addEventListener('change', changed);
  runBtn.addEventListener('click', run);
  stopBtn.addEventListener('click', stop);
  sync();
  render();
  if (query.get('run') === '1') run();
}
