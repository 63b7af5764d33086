import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  conservedDelta, exactSolution, implicitBiasLimit, initFromBeta, neuronKernelDistance, paperTheory, singleNeuronFlow, type LayerRates, type NeuronTrajectory,
} from '../worlds/rich-lazy.js';
import {
  activationHamming, kernelDistance, sphereSamples, symmetricStudent, teacherStudentData, trainTwoLayerGD, twoLayerForward, twoLayerMse, twoLayerNtk, type TwoLayerNet,
} from '../worlds/teacher-student.js';
import { type Cell, checkSeeds, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, summaryTable, type SummaryRow } from './report.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';
import { linePlot, PALETTE } from './svg.js';
import { curvePlot, type Curve, type Marker } from './svg-curves.js';

/**
 * "Get rich quick: exact solutions reveal how unbalanced initializations promote rapid feature
 * learning" (Kunin et al., NeurIPS 2024; PROTOCOLS.md §7; code `allanraventos/getrichquick`).
 *
 * Method `single-neuron` (deterministic, one line per figure): f = a·wᵀx under gradient flow,
 * integrated with RK45 (src/linalg/ode.ts) at rtol = atol = `rtol`/`atol`, next to the exact
 * solution (src/worlds/rich-lazy.ts; the paper's closed forms `paperTheory`, and our unified form
 * `exactSolution` as a cross-check):
 *  - `fig2` (Fig. 2, 3, 4a): XX = I₂, XY = (0, 1), β₀ = (−1, 0), δ ∈ {−4, −2, −1, 0, 1, 2, 4}, T = 20;
 *    plots of (‖w‖, a) on the conserved hyperbolas, β-space trajectories over the loss contours,
 *    ν(t) = a‖w‖, μ(t) = cos∠(w, β*), kernel distance S(t), theory dashed;
 *  - `fig4b`: XX = x xᵀ, x = (0.5, 1), XY = 1.1·x, β₀ = 0.5·(0.6·(x₂, −x₁) + 0.4·x); the limit
 *    β∞ against the implicit-bias formula for each δ, and the δ → ±∞ limits;
 *  - `fig7` (basins): XX = I, XY = (1, 0.25), δ ∈ {0, −2, −10}, starts on the separating surface
 *    (a = −4, ν_c = (w/a)·β* at the unstable root) ± 1e-3 in a, T = 200;
 *  - `fig8` (the acceptance test): XX = I, XY = (0.5, 0.5), δ ∈ {−2, −1, −0.2, 0.02, 0.2, 1, 2},
 *    β₀ ∈ {(0, −1), (1, −1)/√2, (1, 1)/√2}, T = 10.
 * Metrics: `max_abs_theory_error` = max over the figure's trajectories, solver steps and the
 * components of (w, a) of |RK45 − paper closed form|; `max_exact_error` the same for our unified
 * form; `max_delta_drift` = max |δ(t) − δ(0)| along the RK45 trajectories; figure-specific ones.
 *
 * Method `two-layer-relu` (config δ × τ × seed): the teacher–student grid of
 * src/worlds/teacher-student.ts, reduced (PROTOCOLS §7.3): full-batch GD at lr = baseLr/τ²;
 * `kernel_distance` (NTK on the training set, final vs initial), `test_loss` (fresh sphere points),
 * `train_loss`, `hamming` (activation-pattern changes), `param_distance`.
 */

export const RICH_LAZY_METHODS = ['single-neuron', 'two-layer-relu'] as const;
export type RichLazyMethod = (typeof RICH_LAZY_METHODS)[number];
export const RICH_LAZY_FIGURES = ['fig2', 'fig4b', 'fig7', 'fig8'] as const;
export type RichLazyFigure = (typeof RICH_LAZY_FIGURES)[number];
export const RICH_LAZY_METRICS = ['max_abs_theory_error', 'max_exact_error', 'max_delta_drift', 'implicit_bias_error', 'kernel_distance', 'test_loss', 'train_loss', 'hamming', 'param_distance'] as const;

export interface RichLazySettings {
  /** RK45 tolerances for every single-neuron trajectory */
  rtol: number;
  atol: number;
  /** layer learning rates of the single neuron (the paper's figures: 1, 1) */
  etaA: number;
  etaW: number;
  /** two-layer grid: input dim, training inputs, test inputs, student width, teacher width, GD steps, lr = baseLr/τ² */
  d: number;
  n: number;
  nTest: number;
  m: number;
  teacherWidth: number;
  steps: number;
  baseLr: number;
}

export interface RichLazyPreset {
  settings: RichLazySettings;
  deltas: number[];
  taus: number[];
  seeds: number[];
}

const RL_QUICK: RichLazySettings = { rtol: 1e-11, atol: 1e-11, etaA: 1, etaW: 1, d: 20, n: 200, nTest: 2000, m: 20, teacherWidth: 3, steps: 5000, baseLr: 5e-3 };
const RL_FULL: RichLazySettings = { ...RL_QUICK, steps: 20000, nTest: 10000 };

/** logspace(−1, 0.3, k): the reference grid's τ range. */
function taus(k: number): number[] {
  return Array.from({ length: k }, (_, i) => Number((10 ** (-1 + (1.3 * i) / (k - 1))).toPrecision(4)));
}
function deltasGrid(k: number): number[] {
  return Array.from({ length: k }, (_, i) => Number((-1 + (2 * i) / (k - 1)).toPrecision(4)));
}

export const RL_PRESETS: Record<'quick' | 'full', RichLazyPreset> = {
  quick: { settings: RL_QUICK, deltas: deltasGrid(5), taus: taus(5), seeds: [0, 1] },
  full: { settings: RL_FULL, deltas: deltasGrid(9), taus: taus(9), seeds: [0, 1] },
};

export function isRichLazyMethod(s: string): s is RichLazyMethod {
  return (RICH_LAZY_METHODS as readonly string[]).includes(s);
}

export function richLazyCells(p: { deltas: number[]; taus: number[]; seeds: number[]; methods: string[] }): Cell[] {
  for (const m of p.methods) if (!isRichLazyMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${RICH_LAZY_METHODS.join(', ')}`);
  checkSeeds(p.seeds);
  for (const t of p.taus) if (!(Number.isFinite(t) && t > 0)) fail('E_USAGE', `τ values must be positive, got ${t}`);
  for (const d of p.deltas) if (!Number.isFinite(d)) fail('E_USAGE', `δ values must be finite numbers, got ${d}`);
  const cells: Cell[] = [];
  if (p.methods.includes('single-neuron')) {
    // deterministic: one line per figure (seed 0)
    for (const figure of RICH_LAZY_FIGURES) cells.push({ config: { figure, seed: 0 }, method: 'single-neuron' });
  }
  if (p.methods.includes('two-layer-relu')) {
    for (const tau of p.taus) for (const delta of p.deltas) for (const seed of p.seeds) cells.push({ config: { tau, delta, seed }, method: 'two-layer-relu' });
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* Single neuron: the figures                                                                */
/* ---------------------------------------------------------------------------------------- */

/** One trajectory of a figure: numerics at the solver's steps, the closed forms at the same times. */
export interface NeuronRun {
  delta: number;
  label: string;
  a0: number;
  w0: Float64Array;
  flow: NeuronTrajectory;
  /** the paper's closed form (whitened inputs only) */
  theory?: NeuronTrajectory;
  /** our unified closed form (whitened inputs only) */
  exact?: NeuronTrajectory;
}

export interface FigureResult {
  figure: RichLazyFigure;
  XX: number[];
  XY: number[];
  runs: NeuronRun[];
  metrics: Record<string, number>;
}

const FIG2_DELTAS = [-4, -2, -1, 0, 1, 2, 4];
const FIG8_DELTAS = [-2, -1, -0.2, 0.02, 0.2, 1, 2];
const FIG7_DELTAS = [0, -2, -10];

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function maxAbsDiff(a: NeuronTrajectory, b: NeuronTrajectory): number {
  let e = 0;
  for (let k = 0; k < a.a.length; k++) e = Math.max(e, Math.abs(a.a[k] - b.a[k]));
  for (let k = 0; k < a.w.length; k++) e = Math.max(e, Math.abs(a.w[k] - b.w[k]));
  return e;
}

function deltaDrift(tr: NeuronTrajectory, delta0: number, r: LayerRates): number {
  let e = 0;
  for (let k = 0; k < tr.a.length; k++) e = Math.max(e, Math.abs(conservedDelta(tr.a[k], tr.w.subarray(k * tr.d, (k + 1) * tr.d), r) - delta0));
  return e;
}

/** Start on Fig. 7's separating surface (a = a_s, (w/a)·β* = the unstable root), w₁ from the larger root. */
function separatingStart(delta: number, ols: number[], aS: number): number[] {
  const s2 = ols[0] ** 2 + ols[1] ** 2;
  const k = aS * (-delta / 2 - Math.sqrt(delta * delta + 4 * s2) / 2); // w·β* = a·λ₋
  // w·ols = k and ‖w‖² = a² − δ
  const A = ols[0] ** 2 / ols[1] ** 2 + 1;
  const B = (-2 * k * ols[0]) / ols[1] ** 2;
  const C = k * k / ols[1] ** 2 + delta - aS * aS;
  const w1 = (-B + Math.sqrt(B * B - 4 * A * C)) / (2 * A);
  return [w1, (k - ols[0] * w1) / ols[1]];
}

/** Run one figure's trajectories and its metrics. */
export function singleNeuronFigure(figure: RichLazyFigure, s: RichLazySettings): FigureResult {
  const r: LayerRates = { etaA: s.etaA, etaW: s.etaW };
  const tol = { rtol: s.rtol, atol: s.atol, rates: r };
  const runs: NeuronRun[] = [];
  const metrics: Record<string, number> = {};
  let XX: number[], XY: number[];
  const withTheory = (run: NeuronRun): NeuronRun => {
    const p = { a0: run.a0, w0: run.w0, betaStar: XY, rates: r };
    run.theory = paperTheory(p, run.flow.t);
    run.exact = exactSolution(p, run.flow.t);
    return run;
  };
  if (figure === 'fig2' || figure === 'fig8') {
    XX = [1, 0, 0, 1];
    XY = figure === 'fig2' ? [0, 1] : [0.5, 0.5];
    const beta0s = figure === 'fig2' ? [[-1, 0]] : [[0, -1], unit([0.5, -0.5]), unit([0.5, 0.5])];
    const T = figure === 'fig2' ? 20 : 10;
    for (const b0 of beta0s) {
      for (const delta of figure === 'fig2' ? FIG2_DELTAS : FIG8_DELTAS) {
        const { a, w } = initFromBeta(b0, delta, r);
        const flow = singleNeuronFlow({ XX, XY, a0: a, w0: w, T, ...tol });
        runs.push(withTheory({ delta, label: `δ = ${delta}${beta0s.length > 1 ? `, β₀ = (${b0.map((v) => v.toFixed(2)).join(', ')})` : ''}`, a0: a, w0: w, flow }));
      }
    }
    if (figure === 'fig2') {
      for (const run of runs) {
        const k = run.flow.t.length - 1;
        metrics[`kernel_distance@delta=${run.delta}`] = neuronKernelDistance(run.a0, run.w0, run.flow.a[k], run.flow.w.subarray(2 * k, 2 * k + 2), r);
      }
    }
  } else if (figure === 'fig4b') {
    const x = [0.5, 1];
    XX = [x[0] * x[0], x[0] * x[1], x[1] * x[0], x[1] * x[1]];
    XY = x.map((v) => 1.1 * v);
    const b0 = [0.5 * (0.6 * x[1] + 0.4 * x[0]), 0.5 * (0.6 * -x[0] + 0.4 * x[1])];
    let worst = 0;
    for (const delta of FIG2_DELTAS) {
      const { a, w } = initFromBeta(b0, delta, r);
      const flow = singleNeuronFlow({ XX, XY, a0: a, w0: w, T: 400, ...tol });
      const k = flow.t.length - 1;
      const lim = implicitBiasLimit({ x, XY, a0: a, w0: w, rates: r });
      const beta = [flow.a[k] * flow.w[2 * k], flow.a[k] * flow.w[2 * k + 1]];
      const err = Math.hypot(beta[0] - lim.betaInf[0], beta[1] - lim.betaInf[1]);
      worst = Math.max(worst, err);
      metrics[`beta_inf_1@delta=${delta}`] = beta[0];
      metrics[`beta_inf_2@delta=${delta}`] = beta[1];
      runs.push({ delta, label: `δ = ${delta}`, a0: a, w0: w, flow });
    }
    metrics.implicit_bias_error = worst;
  } else {
    XX = [1, 0, 0, 1];
    XY = [1, 0.25];
    for (const delta of FIG7_DELTAS) {
      for (const eps of [1e-3, -1e-3]) {
        const w0 = Float64Array.from(separatingStart(delta, XY, -4));
        const a0 = -4 + eps;
        const flow = singleNeuronFlow({ XX, XY, a0, w0, T: 200, ...tol });
        const run: NeuronRun = { delta, label: `δ = ${delta}, a₀ = −4 ${eps > 0 ? '+' : '−'} 10⁻³`, a0, w0, flow };
        runs.push(run);
        const k = flow.t.length - 1;
        metrics[`a_final@delta=${delta},eps=${eps > 0 ? '+' : '-'}`] = flow.a[k];
      }
    }
  }
  let drift = 0, theoryErr = 0, exactErr = 0;
  for (const run of runs) {
    const d0 = conservedDelta(run.a0, run.w0, r);
    drift = Math.max(drift, deltaDrift(run.flow, d0, r));
    if (run.theory) theoryErr = Math.max(theoryErr, maxAbsDiff(run.flow, run.theory));
    if (run.exact) exactErr = Math.max(exactErr, maxAbsDiff(run.flow, run.exact));
  }
  metrics.max_delta_drift = drift;
  if (figure === 'fig2' || figure === 'fig8') {
    metrics.max_abs_theory_error = theoryErr;
    metrics.max_exact_error = exactErr;
  }
  metrics.trajectories = runs.length;
  metrics.solver_steps = runs.reduce((acc, run) => acc + run.flow.t.length - 1, 0);
  return { figure, XX, XY, runs, metrics };
}

/* ---------------------------------------------------------------------------------------- */
/* Two-layer ReLU teacher–student grid                                                       */
/* ---------------------------------------------------------------------------------------- */

export async function twoLayerCell(o: { tau: number; delta: number; seed: number }, s: RichLazySettings, signal?: AbortSignal): Promise<Record<string, number>> {
  const data = teacherStudentData({ d: s.d, n: s.n, nTest: 1, teacherWidth: s.teacherWidth, seed: `rich-lazy:${o.seed}` });
  // test inputs: one fixed set for every seed (the reference draws them with seed 201)
  const Xtest = sphereSamples(s.nTest, s.d, new Rng(201));
  const ytest = twoLayerForward(data.teacher, Xtest, s.nTest);
  const net: TwoLayerNet = symmetricStudent({ d: s.d, m: s.m, tau: o.tau, delta: o.delta, seed: new Rng(`rich-lazy:${o.seed}`).fork('student') });
  const net0: TwoLayerNet = { ...net, W: net.W.slice(), a: net.a.slice() };
  const K0 = twoLayerNtk(net, data.X, data.n);
  checkAborted(signal);
  const trainLoss = trainTwoLayerGD(net, data.X, data.y, { lr: s.baseLr / (o.tau * o.tau), steps: s.steps, signal });
  const K = twoLayerNtk(net, data.X, data.n);
  let pd = 0;
  for (let i = 0; i < net.W.length; i++) pd += (net.W[i] - net0.W[i]) ** 2;
  for (let j = 0; j < net.m; j++) pd += (net.a[j] - net0.a[j]) ** 2;
  return {
    kernel_distance: kernelDistance(K0, K),
    test_loss: twoLayerMse(net, Xtest, ytest),
    train_loss: trainLoss,
    initial_test_loss: twoLayerMse(net0, Xtest, ytest),
    hamming: activationHamming(net0, net, data.X, data.n),
    param_distance: Math.sqrt(pd),
  };
}

export async function runRichLazyCell(config: Record<string, unknown>, method: string, s: RichLazySettings, _cache?: Map<string, unknown>, signal?: AbortSignal): Promise<Record<string, number>> {
  if (!isRichLazyMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${RICH_LAZY_METHODS.join(', ')}`);
  checkAborted(signal);
  if (method === 'single-neuron') {
    const fig = config.figure as RichLazyFigure;
    if (!(RICH_LAZY_FIGURES as readonly string[]).includes(fig)) fail('E_ARG', `unknown figure "${String(fig)}"; choose from ${RICH_LAZY_FIGURES.join(', ')}`);
    return singleNeuronFigure(fig, s).metrics;
  }
  return twoLayerCell({ tau: config.tau as number, delta: config.delta as number, seed: config.seed as number }, s, signal);
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface RichLazyOptions {
  out: string;
  preset?: 'quick' | 'full';
  seeds?: number[];
  methods?: string[];
  deltas?: number[];
  taus?: number[];
  settings?: Partial<RichLazySettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

export async function runRichLazy(o: RichLazyOptions): Promise<ExperimentRun<RichLazySettings>> {
  return runExperiment({
    name: 'rich-lazy',
    presets: RL_PRESETS,
    cells: (preset) => richLazyCells({
      deltas: o.deltas?.length ? o.deltas : preset.deltas,
      taus: o.taus?.length ? o.taus : preset.taus,
      seeds: o.seeds?.length ? o.seeds : preset.seeds,
      methods: o.methods?.length ? o.methods : [...RICH_LAZY_METHODS],
    }),
    runCell: runRichLazyCell,
    writeReport: writeRichLazyReport,
  }, { ...o, overrides: o.settings });
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** Diverging colours for the δ values (brown for negative, teal for positive), as the paper. */
const DELTA_COLORS = ['#964b00', '#a47e1d', '#acaf4d', '#7f7f7f', '#71c28b', '#39a189', '#008080'];

function deltaColor(i: number, count: number): string {
  if (count === DELTA_COLORS.length) return DELTA_COLORS[i];
  return PALETTE[i % PALETTE.length];
}

function norms(tr: NeuronTrajectory): Float64Array {
  const out = new Float64Array(tr.a.length);
  for (let k = 0; k < out.length; k++) out[k] = Math.hypot(...tr.w.subarray(k * tr.d, (k + 1) * tr.d));
  return out;
}

function betaOf(tr: NeuronTrajectory, i: number): Float64Array {
  const out = new Float64Array(tr.a.length);
  for (let k = 0; k < out.length; k++) out[k] = tr.a[k] * tr.w[k * tr.d + i];
  return out;
}

function nuOf(tr: NeuronTrajectory): Float64Array {
  const n = norms(tr);
  return n.map((v, k) => tr.a[k] * v);
}

function muOf(tr: NeuronTrajectory, XY: number[]): Float64Array {
  const n = norms(tr);
  const s = Math.hypot(...XY);
  return n.map((v, k) => (tr.w[k * tr.d] * XY[0] + tr.w[k * tr.d + 1] * XY[1]) / (v * s));
}

function kernelOf(run: NeuronRun, tr: NeuronTrajectory, r: LayerRates): Float64Array {
  return Float64Array.from(tr.a, (a, k) => neuronKernelDistance(run.a0, run.w0, a, tr.w.subarray(k * tr.d, (k + 1) * tr.d), r));
}

/** Loss contours ½βᵀXXβ − XYᵀβ for a 2×2 XX: level sets as closed curves (ellipses) or line pairs. */
function lossContours(XX: number[], XY: number[], levels: number[]): Curve[] {
  // β = β_c + v, with XX β_c = XY (least-norm for singular XX); ½vᵀXXv = level
  const [p, q, , r2] = XX;
  const det = p * r2 - q * q;
  const curves: Curve[] = [];
  if (Math.abs(det) > 1e-12) {
    const bc = [(r2 * XY[0] - q * XY[1]) / det, (-q * XY[0] + p * XY[1]) / det];
    // eigen-decomposition of the symmetric 2×2
    const tr = p + r2, disc = Math.sqrt(((p - r2) / 2) ** 2 + q * q);
    const l1 = tr / 2 + disc, l2 = tr / 2 - disc;
    const th = 0.5 * Math.atan2(2 * q, p - r2);
    for (const lv of levels) {
      const xs: number[] = [], ys: number[] = [];
      for (let i = 0; i <= 96; i++) {
        const ang = (2 * Math.PI * i) / 96;
        const u = Math.sqrt((2 * lv) / l1) * Math.cos(ang), v = Math.sqrt((2 * lv) / l2) * Math.sin(ang);
        xs.push(bc[0] + u * Math.cos(th) - v * Math.sin(th));
        ys.push(bc[1] + u * Math.sin(th) + v * Math.cos(th));
      }
      curves.push({ x: xs, y: ys, color: '#c9c9c9', width: 1 });
    }
  } else {
    // rank one: XX = x xᵀ; level sets are pairs of lines x·β = x·β_c ± √(2 level)/‖x‖ ... drawn long
    const x = [Math.sqrt(p), Math.sign(q || 1) * Math.sqrt(r2)];
    const nx = Math.hypot(x[0], x[1]);
    const xh = [x[0] / nx, x[1] / nx], nh = [-xh[1], xh[0]];
    const c0 = (XY[0] * xh[0] + XY[1] * xh[1]) / (nx * nx);
    for (const lv of [0, ...levels]) {
      for (const sg of lv === 0 ? [0] : [1, -1]) {
        const off = c0 + (sg * Math.sqrt(2 * lv)) / nx;
        curves.push({ x: [off * xh[0] - 10 * nh[0], off * xh[0] + 10 * nh[0]], y: [off * xh[1] - 10 * nh[1], off * xh[1] + 10 * nh[1]], color: lv === 0 ? '#d62728' : '#c9c9c9', width: lv === 0 ? 2 : 1 });
      }
    }
  }
  return curves;
}

function writeSvg(dir: string, file: string, svg: string, plots: string[]): void {
  writeFileAtomic(join(dir, file), svg);
  plots.push(file);
}

function singleNeuronPlots(dir: string, fig: FigureResult, s: RichLazySettings, md: string[], plots: string[]): void {
  const r: LayerRates = { etaA: s.etaA, etaW: s.etaW };
  const runs = fig.runs;
  const col = (i: number) => deltaColor(i, runs.length);
  if (fig.figure === 'fig2') {
    // parameter space: (‖w‖, a) with the conserved hyperbolas a² − ‖w‖² = δ and the minima a‖w‖ = ‖β*‖
    const curves: Curve[] = [];
    const s0 = Math.hypot(...fig.XY);
    const mx: number[] = [], my: number[] = [];
    for (let i = 1; i <= 200; i++) {
      const wn = 0.05 + (3.2 * i) / 200;
      mx.push(wn);
      my.push(s0 / wn);
    }
    curves.push({ name: 'minima a‖w‖ = ‖β*‖', x: mx, y: my, color: '#d62728', width: 2 });
    runs.forEach((run, i) => {
      const hx: number[] = [], hy: number[] = [];
      for (let k = -200; k <= 200; k++) {
        const a = (3.5 * k) / 200;
        const w2 = (s.etaW * a * a - run.delta) / s.etaA;
        if (w2 >= 0) {
          hx.push(Math.sqrt(w2));
          hy.push(a);
        } else {
          hx.push(NaN);
          hy.push(NaN);
        }
      }
      curves.push({ x: hx, y: hy, color: col(i), width: 1, opacity: 0.35 });
    });
    runs.forEach((run, i) => {
      curves.push({ name: `δ = ${run.delta}`, x: norms(run.flow), y: run.flow.a, color: col(i), width: 3 });
      if (run.theory) curves.push({ x: norms(run.theory), y: run.theory.a, color: '#000000', width: 1, dashed: true });
    });
    const markers: Marker[] = runs.map((run, i) => ({ x: Math.hypot(...run.w0), y: run.a0, color: col(i) }));
    writeSvg(dir, 'fig2_parameters.svg', curvePlot({
      curves, markers, title: 'Parameter space: (‖w‖, a) on the conserved hyperbolas', xLabel: '‖w‖', yLabel: 'a', xRange: [0, 3], yRange: [-2.5, 3], equalAspect: true, width: 640, height: 520,
    }), plots);
    // first layer: w(t) in the plane
    const wc: Curve[] = [];
    runs.forEach((run, i) => {
      const w1 = Float64Array.from(run.flow.a, (_a, k) => run.flow.w[2 * k]);
      const w2 = Float64Array.from(run.flow.a, (_a, k) => run.flow.w[2 * k + 1]);
      wc.push({ name: `δ = ${run.delta}`, x: w1, y: w2, color: col(i), width: 3 });
      if (run.theory) {
        const t1 = Float64Array.from(run.theory.a, (_a, k) => run.theory!.w[2 * k]);
        const t2 = Float64Array.from(run.theory.a, (_a, k) => run.theory!.w[2 * k + 1]);
        wc.push({ x: t1, y: t2, color: '#000000', width: 1, dashed: true });
      }
    });
    writeSvg(dir, 'fig2_w.svg', curvePlot({
      curves: wc, markers: runs.map((run, i) => ({ x: run.w0[0], y: run.w0[1], color: col(i) })), title: 'First layer: w(t) (start: dots); upstream (δ < 0) w moves far, downstream (δ > 0) little', xLabel: 'w₁', yLabel: 'w₂', equalAspect: true, width: 640, height: 520,
    }), plots);
    // β space over loss contours
    const bc: Curve[] = lossContours(fig.XX, fig.XY, [0.05, 0.2, 0.45, 0.8, 1.25, 1.8]);
    runs.forEach((run, i) => {
      bc.push({ name: `δ = ${run.delta}`, x: betaOf(run.flow, 0), y: betaOf(run.flow, 1), color: col(i), width: 3 });
      if (run.theory) bc.push({ x: betaOf(run.theory, 0), y: betaOf(run.theory, 1), color: '#000000', width: 1, dashed: true });
    });
    writeSvg(dir, 'fig2_beta.svg', curvePlot({
      curves: bc, markers: [{ x: fig.XY[0], y: fig.XY[1], color: '#d62728', label: 'β*' }, { x: runs[0].a0 * runs[0].w0[0], y: runs[0].a0 * runs[0].w0[1], color: '#7f7f7f', label: 'β₀' }],
      title: 'Function space: β(t) over the loss contours', xLabel: 'β₁', yLabel: 'β₂', xRange: [-1.2, 0.6], yRange: [-0.6, 1.2], equalAspect: true, width: 620, height: 520,
    }), plots);
    const timePlot = (file: string, title: string, yLabel: string, get: (run: NeuronRun, tr: NeuronTrajectory) => ArrayLike<number>) => {
      const cs: Curve[] = [];
      runs.forEach((run, i) => {
        cs.push({ name: `δ = ${run.delta}`, x: run.flow.t, y: get(run, run.flow), color: col(i), width: 3 });
        if (run.theory) cs.push({ x: run.theory.t, y: get(run, run.theory), color: '#000000', width: 1, dashed: true });
      });
      writeSvg(dir, file, curvePlot({ curves: cs, title, xLabel: 'time t', yLabel, width: 640, height: 400 }), plots);
    };
    timePlot('fig2_nu.svg', 'Signed magnitude ν(t) = a‖w‖', 'ν', (_run, tr) => nuOf(tr));
    timePlot('fig2_mu.svg', 'Alignment μ(t) = cos∠(w, β*)', 'μ', (_run, tr) => muOf(tr, fig.XY));
    timePlot('fig2_kernel.svg', 'Kernel distance S(0, t)', 'S', (run, tr) => kernelOf(run, tr, r));
    md.push('### Fig. 2, 3, 4(a): XX = I, XY = (0, 1), β₀ = (−1, 0), T = 20', '');
    md.push('Solid: RK45 (rtol = atol = ' + s.rtol + '); dashed black: the paper\'s closed form at the same times.', '');
    for (const f of ['fig2_parameters.svg', 'fig2_w.svg', 'fig2_beta.svg', 'fig2_nu.svg', 'fig2_mu.svg', 'fig2_kernel.svg']) md.push(`![${f}](${f})`, '');
    const body = runs.map((run) => {
      const k = run.flow.t.length - 1;
      const S = neuronKernelDistance(run.a0, run.w0, run.flow.a[k], run.flow.w.subarray(2 * k, 2 * k + 2), r);
      let Smax = 0;
      for (const v of kernelOf(run, run.flow, r)) Smax = Math.max(Smax, v);
      const nw0 = Math.hypot(...run.w0);
      const nwT = Math.hypot(...run.flow.w.subarray(2 * k, 2 * k + 2));
      return [String(run.delta), run.a0.toFixed(3), nw0.toFixed(3), run.flow.a[k].toFixed(3), nwT.toFixed(3), S.toFixed(4), Smax.toFixed(4)];
    });
    md.push('Kernel distance at T and its maximum over [0, T] (the lazy/rich picture: small for large |δ|, large near δ = 0 and for negative δ, where the first layer moves first):', '');
    md.push(markdownTable(['δ', 'a₀', '‖w₀‖', 'a(T)', '‖w(T)‖', 'S(T)', 'max S'], body, ['r', 'r', 'r', 'r', 'r', 'r', 'r']), '');
  } else if (fig.figure === 'fig8') {
    const cs: Curve[] = [];
    const csA: Curve[] = [];
    runs.forEach((run, i) => {
      const c = DELTA_COLORS[i % 7];
      cs.push({ name: i < 7 ? `δ = ${run.delta}` : undefined, x: run.flow.t, y: nuOf(run.flow), color: c, width: 3 });
      if (run.theory) cs.push({ x: run.theory.t, y: nuOf(run.theory), color: '#000000', width: 1, dashed: true });
      csA.push({ name: i < 7 ? `δ = ${run.delta}` : undefined, x: run.flow.t, y: run.flow.a, color: c, width: 3 });
      if (run.theory) csA.push({ x: run.theory.t, y: run.theory.a, color: '#000000', width: 1, dashed: true });
    });
    writeSvg(dir, 'fig8_nu.svg', curvePlot({ curves: cs, title: 'Fig. 8: ν(t) = a‖w‖, RK45 (colour) vs theory (dashed), 3 starts × 7 δ', xLabel: 'time t', yLabel: 'ν', width: 680, height: 420 }), plots);
    writeSvg(dir, 'fig8_a.svg', curvePlot({ curves: csA, title: 'Fig. 8: a(t), RK45 (colour) vs theory (dashed)', xLabel: 'time t', yLabel: 'a', width: 680, height: 420 }), plots);
    md.push('### Appendix Fig. 8: theory vs RK45 (XX = I, XY = (0.5, 0.5), T = 10, rtol = atol = ' + s.rtol + ')', '');
    md.push('![fig8_nu.svg](fig8_nu.svg)', '', '![fig8_a.svg](fig8_a.svg)', '');
    const body = runs.map((run) => [run.label, String(run.flow.t.length - 1), maxAbsDiff(run.flow, run.theory!).toExponential(2), maxAbsDiff(run.flow, run.exact!).toExponential(2), deltaDrift(run.flow, conservedDelta(run.a0, run.w0, r), r).toExponential(2), Math.min(...run.flow.a).toFixed(3)]);
    md.push(markdownTable(['start', 'RK45 steps', '|RK45 − paper form|', '|RK45 − unified form|', 'δ drift', 'min a(t)'], body, ['l', 'r', 'r', 'r', 'r', 'r']), '');
    md.push('(min a(t) < 0: the neuron flips sign; both closed forms follow it through a = 0.)', '');
  } else if (fig.figure === 'fig4b') {
    const x = [0.5, 1];
    const curves: Curve[] = lossContours(fig.XX, fig.XY, [0.02, 0.08, 0.18]);
    const markers: Marker[] = [];
    const b0 = [runs[0].a0 * runs[0].w0[0], runs[0].a0 * runs[0].w0[1]];
    runs.forEach((run, i) => {
      const lim = implicitBiasLimit({ x, XY: fig.XY, a0: run.a0, w0: run.w0, rates: r });
      curves.push({ name: `δ = ${run.delta}`, x: betaOf(run.flow, 0), y: betaOf(run.flow, 1), color: col(i), width: 3 });
      markers.push({ x: lim.betaInf[0], y: lim.betaInf[1], color: col(i), open: true, radius: 6 });
    });
    // δ → ±∞ limits
    const ols = implicitBiasLimit({ x, XY: fig.XY, a0: runs[0].a0, w0: runs[0].w0, rates: r }).betaOls;
    const dotp = ols[0] * b0[0] + ols[1] * b0[1];
    const o2 = ols[0] ** 2 + ols[1] ** 2;
    const plus = [ols[0] + b0[0] - (dotp / o2) * ols[0], ols[1] + b0[1] - (dotp / o2) * ols[1]];
    const minus = [(o2 / dotp) * b0[0], (o2 / dotp) * b0[1]];
    curves.push({ name: 'δ → +∞ (straight)', x: [b0[0], plus[0]], y: [b0[1], plus[1]], color: '#014D4E', dashed: true, width: 2 });
    curves.push({ name: 'δ → −∞ (rescale β₀)', x: [b0[0], minus[0]], y: [b0[1], minus[1]], color: '#5C4033', dashed: true, width: 2 });
    markers.push({ x: b0[0], y: b0[1], color: '#7f7f7f', label: 'β₀' });
    writeSvg(dir, 'fig4b_beta.svg', curvePlot({
      curves, markers, title: 'Fig. 4(b): low-rank XX, β(t) and the predicted limits β∞ (open circles)', xLabel: 'β₁', yLabel: 'β₂', xRange: [0.25, 1.85], yRange: [-0.25, 1.25], equalAspect: true, width: 660, height: 520,
    }), plots);
    md.push('### Fig. 4(b): implicit bias with a rank-one XX = x xᵀ, x = (0.5, 1), XY = 1.1·x', '');
    md.push('![fig4b_beta.svg](fig4b_beta.svg)', '');
    const body = runs.map((run) => {
      const k = run.flow.t.length - 1;
      const lim = implicitBiasLimit({ x, XY: fig.XY, a0: run.a0, w0: run.w0, rates: r });
      const bT = [run.flow.a[k] * run.flow.w[2 * k], run.flow.a[k] * run.flow.w[2 * k + 1]];
      return [String(run.delta), `(${bT.map((v) => v.toFixed(5)).join(', ')})`, `(${Array.from(lim.betaInf, (v) => v.toFixed(5)).join(', ')})`, Math.hypot(bT[0] - lim.betaInf[0], bT[1] - lim.betaInf[1]).toExponential(2)];
    });
    md.push(`β(T = ${runs[0].flow.t[runs[0].flow.t.length - 1]}) from RK45 against β∞ = β_OLS + a∞·k (k = w₀'s part in the null space of XX):`, '');
    md.push(markdownTable(['δ', 'β(T) RK45', 'β∞ theory', 'distance'], body, ['r', 'l', 'l', 'r']), '');
    md.push(`Limits: δ → +∞ gives β_OLS + (β₀ minus its projection on β_OLS) = (${plus.map((v) => v.toFixed(4)).join(', ')}); δ → −∞ rescales β₀ onto the solution line: (${minus.map((v) => v.toFixed(4)).join(', ')}).`, '');
  } else {
    const cs: Curve[] = [];
    const cn: Curve[] = [];
    runs.forEach((run, i) => {
      const c = PALETTE[Math.floor(i / 2)];
      const b1 = betaOf(run.flow, 0), b2 = betaOf(run.flow, 1);
      const nb = b1.map((v, k) => Math.hypot(v, b2[k]));
      const s0 = Math.hypot(...fig.XY);
      const mu = b1.map((v, k) => (v * fig.XY[0] + b2[k] * fig.XY[1]) / (nb[k] * s0));
      cs.push({ name: i % 2 === 0 ? `δ = ${run.delta}` : undefined, x: run.flow.t, y: mu, color: c, dashed: i % 2 === 1, width: 2 });
      cn.push({ name: i % 2 === 0 ? `δ = ${run.delta}` : undefined, x: run.flow.t, y: nb, color: c, dashed: i % 2 === 1, width: 2 });
    });
    writeSvg(dir, 'fig7_alignment.svg', curvePlot({ curves: cs, title: 'Fig. 7: alignment βᵀβ*/(‖β‖‖β*‖), starts a = −4 + 10⁻³ (solid) and − 10⁻³ (dashed)', xLabel: 'time t', yLabel: 'alignment', width: 680, height: 400 }), plots);
    writeSvg(dir, 'fig7_norm.svg', curvePlot({ curves: cn, title: 'Fig. 7: ‖β(t)‖ from either side of the separating surface', xLabel: 'time t', yLabel: '‖β‖', width: 680, height: 400 }), plots);
    md.push('### Appendix Fig. 7: basins of attraction (XX = I, XY = (1, 0.25), T = 200)', '');
    md.push('![fig7_alignment.svg](fig7_alignment.svg)', '', '![fig7_norm.svg](fig7_norm.svg)', '');
    const body = runs.map((run) => [run.label, run.flow.a[run.flow.a.length - 1].toFixed(4)]);
    md.push('Starts a hair above the separating surface end with a > 0, a hair below with a < 0 (the two minima a·w = β*):', '');
    md.push(markdownTable(['start', 'a(T)'], body, ['l', 'r']), '');
  }
}

export function writeRichLazyReport(dir: string, lines: ResultLine[], o: { settings?: RichLazySettings; preset?: string } = {}): string {
  const s = o.settings ?? RL_QUICK;
  const rows = aggregate(lines);
  const md: string[] = [];
  const plots: string[] = [];
  md.push('# Get rich quick (Kunin et al., NeurIPS 2024) — reproduction report', '');
  md.push('Protocol: PROTOCOLS.md §7. Single neuron f = a·wᵀx under gradient flow: RK45 (Dormand–Prince, SciPy\'s step control) next to');
  md.push('the exact solution; two-layer ReLU teacher–student grid (reduced) for the lazy/rich picture.');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push('', '## Acceptance numbers', '');
  const sn = rows.filter((r) => r.method === 'single-neuron');
  if (sn.length) {
    const body = sn.map((r) => [String(r.config.figure), fmtE(r.mean.max_abs_theory_error), fmtE(r.mean.max_exact_error), fmtE(r.mean.max_delta_drift), fmtE(r.mean.implicit_bias_error), String(r.mean.trajectories ?? '—'), String(r.mean.solver_steps ?? '—')]);
    md.push(markdownTable(['figure', 'max |RK45 − paper theory|', 'max |RK45 − unified form|', 'max δ drift', 'implicit-bias error', 'trajectories', 'RK45 steps'], body, ['l', 'r', 'r', 'r', 'r', 'r', 'r']), '');
    md.push('Targets (issue 17): theory error <= 1e-6 at the Fig. 8 settings, δ drift <= 1e-9. The paper reports no numbers, only the figures (theory and numerics overlaid).', '');
    md.push('## Single neuron', '');
    for (const r of sn) {
      try {
        singleNeuronPlots(dir, singleNeuronFigure(r.config.figure as RichLazyFigure, s), s, md, plots);
      } catch (e) {
        md.push(`(plots of ${String(r.config.figure)} failed: ${(e as Error).message})`, '');
      }
    }
  }
  const tl = rows.filter((r) => r.method === 'two-layer-relu');
  if (tl.length) {
    md.push('## Two-layer ReLU teacher–student grid (reduced)', '');
    md.push(`d = ${s.d}, n = ${s.n} training inputs on the sphere, student width m = ${s.m} (symmetric start), teacher ${s.teacherWidth} neurons; full-batch GD, lr = ${s.baseLr}/τ², ${s.steps} steps, float64; test loss on ${s.nTest} fresh sphere points. Mean ± std over seeds.`, '');
    md.push('The paper\'s grid: d = 100, n = 1000, m = 50, 17 × 17 (δ, τ), 16 seeds, 10⁶ steps (not CPU-feasible).', '');
    const tausSeen = [...new Set(tl.map((r) => r.config.tau as number))].sort((a, b) => a - b);
    const deltasSeen = [...new Set(tl.map((r) => r.config.delta as number))].sort((a, b) => a - b);
    for (const metric of ['kernel_distance', 'test_loss', 'hamming', 'param_distance', 'train_loss']) {
      const series = tausSeen.map((tau, i) => ({
        name: `τ = ${tau}`,
        color: PALETTE[i % PALETTE.length],
        points: tl.filter((r) => r.config.tau === tau && Number.isFinite(r.mean[metric])).map((r) => ({ x: r.config.delta as number, y: r.mean[metric], err: r.std[metric] })),
      }));
      if (metric === 'kernel_distance' || metric === 'test_loss') {
        const file = `grid_${metric}.svg`;
        writeSvg(dir, file, linePlot({ series, title: `${metric === 'kernel_distance' ? 'Kernel distance S(0, T)' : 'Test loss'} vs δ, one line per τ`, xLabel: 'δ', yLabel: metric }), plots);
        md.push(`![${file}](${file})`, '');
      }
      md.push(`**${metric}** (rows τ, columns δ):`, '');
      const body = tausSeen.map((tau) => [String(tau), ...deltasSeen.map((dl) => {
        const r = tl.find((x) => x.config.tau === tau && x.config.delta === dl);
        return r ? formatMeanStd(r.mean[metric], r.std[metric], metric === 'test_loss' || metric === 'train_loss' ? 5 : 3) : '—';
      })]);
      md.push(markdownTable(['τ \\ δ', ...deltasSeen.map(String)], body, ['r', ...deltasSeen.map(() => 'r' as const)]), '');
    }
  }
  md.push('## All lines', '', summaryTable(rows as SummaryRow[], ['max_abs_theory_error', 'max_delta_drift', 'kernel_distance', 'test_loss']), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}

function fmtE(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toExponential(2);
}
