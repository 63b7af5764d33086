// Playground: a superposition world built from sliders, and a linear probe, a TopK SAE,
// DL-FISTA and the FISTA oracle trained live in a Web Worker on the wasm backend (the TopK SAE
// on WebGPU when the browser has an adapter; the badge #sae-backend says which).
import { Matrix } from '../../src/core/matrix.js';
import { dictionaryRecovery } from '../../src/metrics/dictionary.js';
import { clear, fmt, h } from './dom.js';
import { heatmap, legend, linePlot, type Series } from './plot.js';
import {
  defaultDim, METHOD_NAMES, paramsProblem, PLAYGROUND_METHODS, PLAYGROUND_SETTINGS,
  type PlaygroundEvent, type PlaygroundMethod, type PlaygroundParams,
} from '../../src/explore/playground.js';

const COLORS: Record<PlaygroundMethod, string> = { probe: '#D55E00', oracle: '#000000', 'topk-sae': '#0072B2', 'dl-fista': '#009E73' };

interface Slider { key: string; label: string; min: number; max: number; step: number; value: number; help: string }

export function playground(root: HTMLElement, query: URLSearchParams): void {
  const q = (k: string, d: number) => (query.has(k) && Number.isFinite(Number(query.get(k))) ? Number(query.get(k)) : d);
  const sliders: Slider[] = [
    { key: 'n', label: 'n latents', min: 4, max: 200, step: 1, value: q('n', 40), help: 'number of true latent features' },
    { key: 'k', label: 'k active', min: 1, max: 20, step: 1, value: q('k', 3), help: 'latents active in each sample' },
    { key: 'm', label: 'm dims', min: 2, max: 100, step: 1, value: q('m', 0), help: 'observed dimension (superposition when m < n); 0 = the paper’s default max(k+1, ⌈2k ln(n/k)⌉)' },
    { key: 'N', label: 'N samples', min: 40, max: 5000, step: 20, value: q('N', 1000), help: 'in-distribution samples (half train, half validation); OOD set N/2' },
    { key: 'epochs', label: 'SAE epochs', min: 1, max: 500, step: 1, value: q('epochs', PLAYGROUND_SETTINGS.saeEpochs), help: 'TopK SAE training epochs (paper: 500)' },
    { key: 'outer', label: 'DL-FISTA steps', min: 1, max: 1000, step: 1, value: q('outer', PLAYGROUND_SETTINGS.dlMaxOuter), help: 'DL-FISTA outer iterations, at most (paper: 1000)' },
  ];
  const inputs = new Map<string, HTMLInputElement>();
  const outs = new Map<string, HTMLOutputElement>();
  const form = h('div', { class: 'sliders' });
  for (const sl of sliders) {
    const inp = h('input', { type: 'range', id: `sl-${sl.key}`, name: sl.key, min: sl.min, max: sl.max, step: sl.step, value: sl.key === 'm' && sl.value === 0 ? sl.min : sl.value });
    const out = h('output', { for: `sl-${sl.key}`, id: `out-${sl.key}` });
    inputs.set(sl.key, inp);
    outs.set(sl.key, out);
    form.append(h('label', { title: sl.help }, h('span', { class: 'sl-label' }, sl.label), inp, out));
  }
  let autoM = q('m', 0) === 0;
  const autoBox = h('input', { type: 'checkbox', id: 'auto-m' });
  autoBox.checked = autoM;
  form.append(h('label', { class: 'check' }, autoBox, ' m = paper default'));
  const seed = h('input', { type: 'number', id: 'seed', value: q('seed', 0), min: 0, step: 1 });
  form.append(h('label', {}, h('span', { class: 'sl-label' }, 'seed'), seed));
  const methodBoxes = new Map<PlaygroundMethod, HTMLInputElement>();
  const only = query.get('methods')?.split(',');
  const mrow = h('div', { class: 'methods' });
  for (const m of PLAYGROUND_METHODS) {
    const cb = h('input', { type: 'checkbox', 'data-method': m });
    cb.checked = !only || only.includes(m);
    methodBoxes.set(m, cb);
    mrow.append(h('label', {}, cb, h('span', { class: 'swatch', style: `background:${COLORS[m]};border-color:${COLORS[m]}` }), METHOD_NAMES[m]));
  }
  const runBtn = h('button', { id: 'run', class: 'primary' }, 'Run');
  const stopBtn = h('button', { id: 'stop', disabled: true }, 'Stop');
  const status = h('div', { id: 'status', class: 'status' }, 'Set the world and press Run.');
  const backendLine = h('div', { id: 'backend', class: 'muted' });
  // which device trains the TopK SAE: WebGPU when the browser gives an adapter, else wasm
  const saeBadge = h('div', { id: 'sae-backend', class: 'badge', 'data-backend': 'unknown', title: 'where the TopK SAE trains' }, 'TopK SAE: —');
  const problem = h('div', { class: 'problem', id: 'problem' });

  const resultTable = h('table', { class: 'results', id: 'play-results' });
  const livePlot = h('div', { class: 'live' });
  const pictures = h('div', { class: 'pictures', id: 'pictures' });
  root.append(
    h('h1', {}, 'Playground: superposition, live'),
    h('p', { class: 'muted intro' }, 'n sparse latents (k active per sample) are mixed into m < n dimensions: x = z·A. A linear probe cannot undo the superposition out of distribution; sparse coding can. Codes are scored by MCC (mean |correlation| with the true latents after matching) on held-out in-distribution samples and on an out-of-distribution set of new latent combinations (the "Stop Probing, Start Coding" protocol).'),
    h('div', { class: 'play' },
      h('aside', {}, form, mrow, h('div', { class: 'buttons' }, runBtn, stopBtn), problem, status, backendLine, saeBadge),
      h('main', {}, resultTable, livePlot, h('h3', {}, 'Learned atoms against the true ones'), h('p', { class: 'muted' }, '|cosine| between each true atom (rows) and the learned atom matched to it (columns, Hungarian matching): a dark diagonal is a recovered dictionary.'), pictures)),
  );

  const params = (): PlaygroundParams => {
    const v = (k: string) => Number(inputs.get(k)!.value);
    return {
      latents: v('n'), active: v('k'), dim: v('m'), samples: v('N'), seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      settings: { ...PLAYGROUND_SETTINGS, saeEpochs: v('epochs'), dlMaxOuter: v('outer') },
      methods: PLAYGROUND_METHODS.filter((m) => methodBoxes.get(m)!.checked),
    };
  };
  const sync = () => {
    const n = Number(inputs.get('n')!.value);
    const kIn = inputs.get('k')!;
    if (Number(kIn.value) > n) kIn.value = String(n);
    if (autoM) inputs.get('m')!.value = String(Math.min(100, defaultDim(n, Number(kIn.value))));
    for (const [k, inp] of inputs) outs.get(k)!.value = inp.value;
    const why = paramsProblem(params());
    problem.textContent = why ?? '';
    runBtn.disabled = !!why || running;
  };
  for (const [k, inp] of inputs) inp.addEventListener('input', () => {
    if (k === 'm') { autoM = false; autoBox.checked = false; }
    sync();
  });
  autoBox.addEventListener('change', () => { autoM = autoBox.checked; sync(); });
  if (!autoM) inputs.get('m')!.value = String(q('m', 2));

  // state of one run
  let worker: Worker | null = null;
  let running = false;
  let A: Matrix | null = null;
  let t0 = 0;
  const results = new Map<PlaygroundMethod, { metrics?: Record<string, number>; state: string; seconds?: number }>();
  const curves = new Map<PlaygroundMethod, { x: number; y: number }[]>();
  let hiddenCurves = new Set<string>();
  const atomsOf = new Map<PlaygroundMethod, Float32Array>();

  function renderResults(): void {
    clear(resultTable);
    const metrics = [['mcc_id', 'MCC (ID)'], ['mcc_ood', 'MCC (OOD)'], ['dict_mean_cos', 'dict. mean |cos|']];
    resultTable.append(h('thead', {}, h('tr', {}, h('th', {}, 'method'), ...metrics.map(([, l]) => h('th', {}, l)), h('th', {}, 'status'))));
    const body = h('tbody', {});
    for (const m of params().methods) {
      const r = results.get(m);
      body.append(h('tr', { 'data-method': m },
        h('td', {}, h('span', { class: 'swatch', style: `background:${COLORS[m]};border-color:${COLORS[m]}` }), METHOD_NAMES[m]),
        ...metrics.map(([key]) => {
          const v = r?.metrics?.[key];
          const bar = v !== undefined ? h('span', { class: 'bar-in', style: `width:${Math.max(0, Math.min(1, v)) * 100}%;background:${COLORS[m]}` }) : null;
          return h('td', { 'data-metric': key, 'data-value': v ?? '' }, h('span', { class: 'num' }, v === undefined ? '—' : fmt(v)), bar);
        }),
        h('td', { class: 'muted' }, r ? r.state + (r.seconds !== undefined ? ` (${r.seconds.toFixed(1)} s)` : '') : 'waiting')));
    }
    resultTable.append(body);
  }

  function renderLive(): void {
    clear(livePlot);
    const sae = curves.get('topk-sae');
    const series: Series[] = [];
    if (sae?.length) series.push({ key: 'topk-sae', label: 'TopK SAE: MCC (ID) while training', color: COLORS['topk-sae'], points: sae });
    if (!series.length) return;
    livePlot.append(h('h3', {}, 'Training'), legend(series, hiddenCurves, (hd) => { hiddenCurves = hd; renderLive(); }),
      linePlot(series, { hidden: hiddenCurves, xLabel: 'training step', yLabel: 'MCC (ID)', yMin: 0, yMax: 1, width: 520, height: 220 }));
  }

  function renderPictures(): void {
    clear(pictures);
    if (!A) return;
    for (const [m, atoms] of atomsOf) {
      const L = new Matrix(A.rows, A.cols, atoms);
      const rec = dictionaryRecovery(L, A);
      // row i: true atom i; column j: learned atom matched to true atom j (then none)
      const order = new Int32Array(A.rows).fill(-1);
      for (let t = 0; t < rec.matching.truth.length; t++) order[rec.matching.truth[t]] = rec.matching.learned[t];
      const n = A.rows, d = A.cols;
      const vals = new Float64Array(n * n);
      const norm = (M: Float32Array, r: number) => { let s = 0; for (let c = 0; c < d; c++) s += M[r * d + c] ** 2; return Math.sqrt(s) || 1; };
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const lj = order[j];
          if (lj < 0) continue;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += A.data[i * d + c] * atoms[lj * d + c];
          vals[i * n + j] = Math.abs(dot) / (norm(A.data, i) * norm(atoms, lj));
        }
      }
      pictures.append(h('figure', { 'data-method': m }, heatmap(vals, n, n, { size: 220, title: `${METHOD_NAMES[m]}: |cos|(true i, matched learned j)` }),
        h('figcaption', {}, `${METHOD_NAMES[m]} — mean matched |cos| ${fmt(rec.meanCos)}, ${fmt(100 * rec.frac090, 0)}% above 0.9`)));
    }
  }

  function onEvent(e: PlaygroundEvent | { type: 'backend'; name: string } | { type: 'sae-backend'; webgpu: boolean; note: string }): void {
    switch (e.type) {
      case 'backend':
        backendLine.textContent = `backend: ${e.name}`;
        break;
      case 'sae-backend':
        saeBadge.dataset.backend = e.webgpu ? 'webgpu' : 'wasm';
        saeBadge.textContent = e.webgpu ? `TopK SAE: WebGPU — ${e.note}` : 'TopK SAE: wasm (no WebGPU)';
        saeBadge.title = e.note;
        break;
      case 'world':
        A = new Matrix(e.latents, e.dim, e.A);
        status.textContent = `world: n = ${e.latents}, m = ${e.dim}, k = ${e.active}; train ${e.sizes.train}, validation ${e.sizes.val}, OOD ${e.sizes.ood} samples`;
        break;
      case 'start':
        results.set(e.method, { state: 'running…' });
        renderResults();
        break;
      case 'progress': {
        const r = results.get(e.method) ?? { state: '' };
        r.state = `step ${e.step}/${e.total}${e.mcc_id !== undefined ? `, MCC ID ${fmt(e.mcc_id)}` : `, loss ${fmt(e.loss, 4)}`}`;
        results.set(e.method, r);
        if (e.mcc_id !== undefined) {
          if (!curves.has(e.method)) curves.set(e.method, []);
          curves.get(e.method)!.push({ x: e.step, y: e.mcc_id });
          renderLive();
        }
        if (e.atoms) { atomsOf.set(e.method, e.atoms); renderPictures(); }
        renderResults();
        break;
      }
      case 'result':
        results.set(e.method, { metrics: e.metrics as unknown as Record<string, number>, state: 'done', seconds: e.seconds });
        if (e.atoms) { atomsOf.set(e.method, e.atoms); renderPictures(); }
        renderResults();
        break;
      case 'done':
        finish(`done in ${e.seconds.toFixed(1)} s`, 'done');
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
    const why = paramsProblem(p);
    if (why) { problem.textContent = why; return; }
    results.clear(); curves.clear(); atomsOf.clear(); A = null;
    clear(livePlot); clear(pictures);
    renderResults();
    running = true;
    root.dataset.state = 'running';
    runBtn.disabled = true;
    stopBtn.disabled = false;
    status.textContent = 'building the world…';
    t0 = performance.now();
    worker = new Worker(new URL('./playground.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev) => onEvent(ev.data);
    worker.onerror = (ev) => finish(`worker failed: ${ev.message}`, 'error');
    worker.postMessage({ type: 'run', params: p, wasmDir: new URL('wasm/', document.baseURI).href });
  }

  runBtn.addEventListener('click', run);
  stopBtn.addEventListener('click', stop);
  sync();
  renderResults();
  if (query.get('run') === '1') run();
}
