import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { iidSparseWorld } from '../worlds/superposition.js';
import { fista } from '../inference/fista.js';
import { meanL0 } from '../inference/common.js';
import { learnDictionaryFista } from '../dictionary/dl-fista.js';
import { MlpEncoder, mlpEncoderFlops, mlpTrainingFlopsPerStep } from '../dictionary/mlp-encoder.js';
import { mcc } from '../metrics/mcc.js';
import { dictionaryRecovery } from '../metrics/dictionary.js';
import { amortisationGap, fistaFlopsPerSample, lassoLambdaOf } from '../metrics/amortisation.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, meanStd, type SummaryRow } from './report.js';
import { linePlot, type PlotSeries } from './svg.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Compute-optimal inference and the amortisation gap" (docs/papers.md sec. 2, arXiv 2411.13117).
 *
 * World: N = 16 sources, M = 8 dims, K = 3 active per sample, magnitudes |N(0,1)|, D [16 x 8]
 * with unit-norm rows (N(0,1) entries, normalised), X = S·D; 1024 train and 1024 test rows; one
 * world per seed. Loss MSE + λ·mean|S| (λ = 0.01), Adam lr 1e-3, full batch.
 * Encoders:
 *  - `sae`: S = ReLU(W x + b);  `mlp-32`, `mlp-256`, `mlp-1024`: S = ReLU(W₂ ReLU(W₁ x + b₁) + b₂);
 *  - `sparse-coding`: per-sample sparse coding: the codes are optimised directly, by FISTA on the
 *    same objective (λ' = λ·M/(2N) in ½‖x − zD‖² + λ'‖z‖₁ form) under z ≥ 0, from zero;
 *    with a learned dictionary, D comes from DL-FISTA (FISTA + MOD) on the training rows;
 *  - `sae-ito`: inference-time optimisation: FISTA started from the trained SAE's codes on its
 *    decoder.
 * Settings: `known` (decoder fixed to the true D) and `learned` (decoder learned; random
 * unit-norm init, rows renormalised every step).
 * Metrics on the test rows: code MCC, dictionary recovery (learned D: mean matched |cosine| and
 * the reference code's Pearson-based dictionary MCC), FLOPs per test sample (inference; training
 * spread over the test rows; total), and the amortisation gap of each method's codes (loss in the
 * paper's MSE + λ·mean|S| convention, against the FISTA optimum on the same decoder).
 * Along training (amortised encoders) and along FISTA iterations (sparse coding, ITO) the test MCC
 * is recorded at checkpoints `ckpt<i>_mcc` with their total FLOPs per test sample
 * `ckpt<i>_flops`, for the MCC-against-compute plot.
 */

export const AMORTISATION_METHODS = ['sae', 'mlp-32', 'mlp-256', 'mlp-1024', 'sparse-coding', 'sae-ito'] as const;
export type AmortisationMethod = (typeof AMORTISATION_METHODS)[number];
export const AMORTISATION_SETTINGS = ['known', 'learned'] as const;
export type AmortisationSetting = (typeof AMORTISATION_SETTINGS)[number];

export const AG_METHOD_LABELS: Record<string, string> = {
  sae: 'SAE ReLU(Wx+b)',
  'mlp-32': 'MLP h=32',
  'mlp-256': 'MLP h=256',
  'mlp-1024': 'MLP h=1024',
  'sparse-coding': 'sparse coding (FISTA)',
  'sae-ito': 'SAE + ITO (FISTA from SAE codes)',
};

export const AG_METHOD_COLORS: Record<string, string> = {
  sae: '#D55E00',
  'mlp-32': '#E69F00',
  'mlp-256': '#CC79A7',
  'mlp-1024': '#56B4E9',
  'sparse-coding': '#000000',
  'sae-ito': '#0072B2',
};

/** Reference results of the paper (known D, code MCC on the test rows). */
export const AG_PAPER_MCC_KNOWN: Record<string, number> = { sae: 0.61, 'mlp-256': 0.82, 'sae-ito': 0.97 };

export const AG_METRICS = ['mcc', 'dict_cos', 'dict_mcc', 'flops_inference', 'flops_total', 'loss', 'gap', 'gap_rel', 'mcc_optimal', 'l0'] as const;

export interface AmortisationConfig {
  setting: AmortisationSetting;
  seed: number;
  [key: string]: string | number;
}

export interface AmortisationSettings {
  sources: number;
  dim: number;
  active: number;
  train: number;
  test: number;
  /** L1 weight of MSE + λ·mean|S| */
  lambda: number;
  lr: number;
  /** Adam steps (full batch) of the amortised encoders */
  steps: number;
  /** encoder biases b (the reference code's default has none) */
  bias: boolean;
  /** FISTA cap and tolerance (relative largest code change) for sparse coding and ITO */
  fistaIters: number;
  fistaTol: number;
  /** FISTA cap and tolerance for the optimum of the amortisation gap (tighter) */
  gapIters: number;
  gapTol: number;
  /** DL-FISTA (learned-D sparse coding): outer steps cap, FISTA iterations per outer step */
  dlOuter: number;
  dlFistaIters: number;
  /** training checkpoints (amortised encoders) */
  checkpoints: number;
  /** FISTA iteration budgets for the sparse-coding / ITO curves */
  budgets: number[];
}

export const AG_FULL_SETTINGS: AmortisationSettings = {
  sources: 16,
  dim: 8,
  active: 3,
  train: 1024,
  test: 1024,
  lambda: 0.01,
  lr: 1e-3,
  steps: 20000,
  bias: true,
  fistaIters: 10000,
  fistaTol: 1e-5,
  gapIters: 10000,
  gapTol: 1e-7,
  dlOuter: 5000,
  dlFistaIters: 100,
  checkpoints: 8,
  budgets: [1, 3, 10, 30, 100, 300, 1000],
};

export const AG_QUICK_SETTINGS: AmortisationSettings = {
  ...AG_FULL_SETTINGS,
  steps: 4000,
  dlOuter: 2000,
};

export const AG_PRESETS: Record<'quick' | 'full', { settings: AmortisationSettings; seeds: number[]; methods: AmortisationMethod[] }> = {
  quick: { settings: AG_QUICK_SETTINGS, seeds: [0, 1], methods: ['sae', 'mlp-32', 'mlp-256', 'sparse-coding', 'sae-ito'] },
  full: { settings: AG_FULL_SETTINGS, seeds: [0, 1, 2, 3, 4], methods: [...AMORTISATION_METHODS] },
};

export function isAmortisationMethod(s: string): s is AmortisationMethod {
  return (AMORTISATION_METHODS as readonly string[]).includes(s);
}

export function amortisationCells(settings: readonly string[], seeds: number[], methods: string[]): Cell[] {
  for (const m of methods) if (!isAmortisationMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${AMORTISATION_METHODS.join(', ')}`);
  for (const s of settings) if (!(AMORTISATION_SETTINGS as readonly string[]).includes(s)) fail('E_USAGE', `unknown setting "${s}"; choose known or learned`);
  checkSeeds(seeds);
  const ordered = AMORTISATION_METHODS.filter((m) => methods.includes(m));
  const cells: Cell[] = [];
  for (const setting of settings) {
    for (const seed of seeds) {
      const config: AmortisationConfig = { setting: setting as AmortisationSetting, seed };
      const group = configKey(config);
      for (const method of ordered) cells.push({ config, method, group });
    }
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

export interface AmortisationWorld {
  Xtrain: Matrix;
  Strain: Matrix;
  Xtest: Matrix;
  Stest: Matrix;
  /** true dictionary [sources x dim] */
  D: Matrix;
}

export function amortisationWorld(seed: number, s: AmortisationSettings): AmortisationWorld {
  const w = iidSparseWorld({
    latents: s.sources, active: s.active, dim: s.dim, samples: s.train + s.test,
    magnitude: 'halfnormal', valFraction: s.test / (s.train + s.test), seed: `amortisation-gap:${seed}`,
  });
  return { Xtrain: w.X.train, Strain: w.Z.train, Xtest: w.X.val, Stest: w.Z.val, D: w.A };
}

function hiddenOf(method: AmortisationMethod): number {
  return method === 'sae' || method === 'sae-ito' ? 0 : Number(method.slice(4));
}

/** Geometric checkpoints 1 ≤ c ≤ steps (the last is `steps`), without duplicates. */
export function checkpointSteps(steps: number, count: number): number[] {
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.max(1, Math.round(steps / 2 ** (count - 1 - i))));
  return [...out].sort((a, b) => a - b);
}

interface TrainedEncoder {
  enc: MlpEncoder;
  trainingFlops: number;
  curve: { step: number; mcc: number; flops: number }[];
}

async function trainEncoder(method: AmortisationMethod, config: AmortisationConfig, s: AmortisationSettings, w: AmortisationWorld, signal?: AbortSignal): Promise<TrainedEncoder> {
  const hidden = hiddenOf(method);
  const learned = config.setting === 'learned';
  const name = method === 'sae-ito' ? 'sae' : method;
  const enc = new MlpEncoder(
    { inputDim: s.dim, atoms: s.sources, hidden, bias: s.bias },
    { seed: `amortisation-gap:${config.seed}:${name}:${config.setting}`, decoder: learned ? undefined : w.D },
  );
  const perStep = mlpTrainingFlopsPerStep(s.dim, s.sources, hidden, s.train, learned, s.bias);
  const inference = mlpEncoderFlops(s.dim, s.sources, hidden, s.bias);
  const curve: TrainedEncoder['curve'] = [];
  await enc.fit(w.Xtrain, {
    steps: s.steps, lr: s.lr, lambda: s.lambda, learnDecoder: learned, signal,
    checkpoints: checkpointSteps(s.steps, s.checkpoints),
    onCheckpoint: (step, e) => {
      curve.push({ step, mcc: mcc(e.encode(w.Xtest), w.Stest).mcc, flops: (perStep * step) / s.test + inference });
    },
  });
  return { enc, trainingFlops: perStep * s.steps, curve };
}

function dictionaryMetrics(learned: Matrix, truth: Matrix): Record<string, number> {
  const rec = dictionaryRecovery(learned, truth);
  // the reference code's dictionary MCC: Pearson correlation of atoms across the d coordinates, matched
  const pearson = mcc(learned.transpose(), truth.transpose(), { pad: 'none', dropInactive: false }).mcc;
  return { dict_cos: rec.meanCos, dict_frac090: rec.frac090, dict_mcc: pearson };
}

/** Gap metrics of codes Z of the test rows under the decoder D (paper's loss convention). */
function gapMetrics(w: AmortisationWorld, D: Matrix, Z: Matrix, s: AmortisationSettings): Record<string, number> {
  const g = amortisationGap(w.Xtest, D, Z, { lambda: s.lambda, loss: 'mse', nonneg: true, iters: s.gapIters, tol: s.gapTol, truth: w.Stest });
  return {
    mcc: g.mccAmortised!, loss: g.meanAmortised, loss_optimal: g.meanOptimal, gap: g.meanGap, gap_rel: g.relativeGap,
    mcc_optimal: g.mccOptimal!, gap_iters: g.iterations, l0: meanL0(Z),
  };
}

/** MCC along FISTA iteration budgets from `init` (zeros when absent); total FLOPs per test sample include `baseFlops`. */
function fistaCurve(w: AmortisationWorld, D: Matrix, s: AmortisationSettings, baseFlops: number, init?: Matrix): Record<string, number> {
  const out: Record<string, number> = {};
  const ll = lassoLambdaOf(s.lambda, 'mse', D);
  s.budgets.forEach((b, i) => {
    const r = fista(w.Xtest, D, { lambda: ll, iters: b, tol: 0, nonneg: true, init, objective: false, gradient: 'gram' });
    out[`ckpt${i}_iters`] = b;
    out[`ckpt${i}_mcc`] = mcc(r.Z, w.Stest).mcc;
    out[`ckpt${i}_flops`] = baseFlops + fistaFlopsPerSample(s.sources, s.dim, b, { samples: s.test });
  });
  return out;
}

export async function runAmortisationCell(
  config: AmortisationConfig, method: string, s: AmortisationSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  if (!isAmortisationMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${AMORTISATION_METHODS.join(', ')}`);
  if (config.setting !== 'known' && config.setting !== 'learned') fail('E_ARG', `unknown setting "${String(config.setting)}"; choose known or learned`);
  checkAborted(signal);
  let w = cache.get('world') as AmortisationWorld | undefined;
  if (!w) {
    w = amortisationWorld(config.seed, s);
    cache.set('world', w);
  }
  const learned = config.setting === 'learned';
  const ll = lassoLambdaOf(s.lambda, 'mse', w.D);
  const out: Record<string, number> = {};

  if (method === 'sparse-coding') {
    let D = w.D;
    let trainingFlops = 0;
    if (learned) {
      const dl = await learnDictionaryFista(w.Xtrain, {
        atoms: s.sources, lambda: ll, nonneg: true, fistaIters: s.dlFistaIters, maxOuter: s.dlOuter,
        seed: `amortisation-gap:${config.seed}:dl`, signal,
      });
      D = dl.D;
      const a = s.sources, d = s.dim, n = s.train;
      // per outer step: warm-started FISTA on the training rows, then MOD: ZᵀZ (2·n·a²), ZᵀX (2·n·a·d), a Cholesky solve (a³/3 + 2·a²·d)
      const mod = 2 * n * a * a + 2 * n * a * d + (a * a * a) / 3 + 2 * a * a * d;
      trainingFlops = (dl.iterations + 1) * (n * fistaFlopsPerSample(a, d, s.dlFistaIters, { samples: n }) + mod);
      Object.assign(out, dictionaryMetrics(D, w.D), { dl_outer: dl.iterations, dl_converged: dl.converged ? 1 : 0 });
    }
    const r = fista(w.Xtest, D, { lambda: ll, iters: s.fistaIters, tol: s.fistaTol, nonneg: true, objective: false, gradient: 'gram' });
    Object.assign(out, gapMetrics(w, D, r.Z, s));
    out.fista_iters = r.iterations;
    out.flops_training = trainingFlops / s.test;
    out.flops_inference = fistaFlopsPerSample(s.sources, s.dim, r.iterations, { samples: s.test });
    out.flops_total = out.flops_training + out.flops_inference;
    Object.assign(out, fistaCurve(w, D, s, out.flops_training));
    return out;
  }

  // amortised encoders (sae-ito reuses the group's trained SAE)
  const key = method === 'sae-ito' ? 'sae' : method;
  let t = cache.get(`enc:${key}`) as TrainedEncoder | undefined;
  if (!t) {
    t = await trainEncoder(key, config, s, w, signal);
    cache.set(`enc:${key}`, t);
  }
  const enc = t.enc;
  const Z = enc.encode(w.Xtest);
  if (learned) Object.assign(out, dictionaryMetrics(enc.D, w.D));
  const lossTrain = enc.loss(w.Xtrain, s.lambda);
  out.train_loss = lossTrain.loss;
  const encFlops = enc.encoderFlopsPerSample();
  out.flops_training = t.trainingFlops / s.test;
  if (method === 'sae-ito') {
    const r = fista(w.Xtest, enc.D, { lambda: ll, iters: s.fistaIters, tol: s.fistaTol, nonneg: true, init: Z, objective: false, gradient: 'gram' });
    Object.assign(out, gapMetrics(w, enc.D, r.Z, s));
    out.fista_iters = r.iterations;
    out.sae_mcc = mcc(Z, w.Stest).mcc;
    out.flops_inference = encFlops + fistaFlopsPerSample(s.sources, s.dim, r.iterations, { samples: s.test });
    out.flops_total = out.flops_training + out.flops_inference;
    Object.assign(out, fistaCurve(w, enc.D, s, out.flops_training + encFlops, Z));
    return out;
  }
  Object.assign(out, gapMetrics(w, enc.D, Z, s));
  out.flops_inference = encFlops;
  out.flops_total = out.flops_training + encFlops;
  t.curve.forEach((c, i) => {
    out[`ckpt${i}_step`] = c.step;
    out[`ckpt${i}_mcc`] = c.mcc;
    out[`ckpt${i}_flops`] = c.flops;
  });
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface AmortisationGapRunOptions {
  out: string;
  preset?: 'quick' | 'full';
  seeds?: number[];
  methods?: string[];
  /** which settings to run (default both: known, learned) */
  settings?: AmortisationSetting[];
  /** hyperparameter overrides (they must match what an existing `out` was made with) */
  overrides?: Partial<AmortisationSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

/** Run (or resume) the protocol into `out`, then write report.md and the MCC-vs-FLOPs plots. */
export async function runAmortisationGap(o: AmortisationGapRunOptions): Promise<ExperimentRun<AmortisationSettings>> {
  return runExperiment({
    name: 'amortisation-gap',
    presets: AG_PRESETS,
    cells: (preset) => amortisationCells(
      o.settings?.length ? o.settings : [...AMORTISATION_SETTINGS],
      o.seeds?.length ? o.seeds : preset.seeds,
      o.methods?.length ? o.methods : [...preset.methods],
    ),
    runCell: runAmortisationCell,
    writeReport: writeAmortisationReport,
  }, { out: o.out, preset: o.preset, overrides: o.overrides, signal: o.signal, onProgress: o.onProgress });
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** Mean checkpoint curve of one summary row: (mean FLOPs, mean MCC ± std) per checkpoint index. */
export function checkpointCurve(lines: ResultLine[], setting: string, method: string): { x: number; y: number; err: number }[] {
  const ok = lines.filter((l) => l.metrics && l.method === method && l.config.setting === setting);
  const pts: { x: number; y: number; err: number }[] = [];
  for (let i = 0; ; i++) {
    const ys = ok.map((l) => l.metrics![`ckpt${i}_mcc`]).filter((v) => Number.isFinite(v));
    const xs = ok.map((l) => l.metrics![`ckpt${i}_flops`]).filter((v) => Number.isFinite(v));
    if (ys.length === 0 || xs.length === 0) break;
    const my = meanStd(ys);
    pts.push({ x: meanStd(xs).mean, y: my.mean, err: my.std });
  }
  return pts;
}

export function writeAmortisationReport(dir: string, lines: ResultLine[], o: { settings?: AmortisationSettings; preset?: string } = {}): string {
  const latest = [...new Map(lines.map((l) => [`${configKey(l.config)}|${l.method}`, l])).values()];
  const rows = aggregate(latest);
  const md: string[] = [];
  md.push('# Compute-optimal inference and the amortisation gap — reproduction report', '');
  md.push('Protocol: docs/papers.md section 2 (arXiv 2411.13117). N = 16 sources, M = 8 dims, K = 3 active, |N(0,1)| magnitudes,');
  md.push('1024 train / 1024 test rows; loss MSE + λ·mean|S|, Adam, full batch. Metrics on the test rows; mean ± sample std over seeds.');
  md.push('FLOPs are per test sample: `inference` = encoder forward (+ FISTA iterations), `total` = inference + training FLOPs spread over');
  md.push('the 1024 test rows. `gap` = mean over test rows of the loss (paper convention) of the codes minus that of the FISTA optimum');
  md.push('on the same decoder; `mcc_optimal` = code MCC of that optimum.');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push('');
  const plots: string[] = [];
  const fmt = (r: SummaryRow | undefined, m: string, digits = 3) => (r ? formatMeanStd(r.mean[m], r.std[m], digits) : '—');
  const fmtFlops = (r: SummaryRow | undefined, m: string) => (r && Number.isFinite(r.mean[m]) ? r.mean[m].toExponential(2) : '—');
  for (const setting of AMORTISATION_SETTINGS) {
    const srows = rows.filter((r) => r.config.setting === setting);
    if (!srows.length) continue;
    md.push(`## ${setting === 'known' ? 'Known D (decoder fixed to the truth)' : 'Learned D'}`, '');
    const methods = AMORTISATION_METHODS.filter((m) => srows.some((r) => r.method === m));
    const header = ['method', 'seeds', 'code MCC', ...(setting === 'learned' ? ['dict |cos|', 'dict MCC'] : []), 'FLOPs inference', 'FLOPs total', 'loss', 'gap', 'gap / optimum', 'MCC at optimum', 'L0', 'seconds'];
    const body = methods.map((m) => {
      const r = srows.find((x) => x.method === m)!;
      const secs = latest.filter((l) => l.method === m && l.config.setting === setting && l.metrics).map((l) => l.seconds);
      return [
        AG_METHOD_LABELS[m] ?? m, `${r.seeds.length}${r.failed ? ` (+${r.failed} failed)` : ''}`, fmt(r, 'mcc'),
        ...(setting === 'learned' ? [fmt(r, 'dict_cos'), fmt(r, 'dict_mcc')] : []),
        fmtFlops(r, 'flops_inference'), fmtFlops(r, 'flops_total'), fmt(r, 'loss', 4), fmt(r, 'gap', 5), fmt(r, 'gap_rel'), fmt(r, 'mcc_optimal'), fmt(r, 'l0', 2),
        secs.length ? meanStd(secs).mean.toFixed(1) : '—',
      ];
    });
    md.push(markdownTable(header, body, ['l', ...header.slice(1).map(() => 'r' as const)]), '');
    if (setting === 'known') {
      const ref = Object.keys(AG_PAPER_MCC_KNOWN).filter((m) => srows.some((r) => r.method === m));
      if (ref.length) {
        md.push('Against the paper (known D, code MCC):', '');
        md.push(markdownTable(['method', 'paper', 'here'], ref.map((m) => [AG_METHOD_LABELS[m], AG_PAPER_MCC_KNOWN[m].toFixed(2), fmt(srows.find((r) => r.method === m), 'mcc')]), ['l', 'r', 'r']), '');
      }
    }
    const series: PlotSeries[] = [];
    for (const m of methods) {
      const pts = checkpointCurve(latest, setting, m);
      if (pts.length) series.push({ name: AG_METHOD_LABELS[m] ?? m, points: pts, color: AG_METHOD_COLORS[m], dashed: m === 'sparse-coding' || m === 'sae-ito' });
    }
    if (series.length) {
      const file = `mcc_vs_flops_${setting}.svg`;
      writeFileAtomic(join(dir, file), linePlot({
        series, logX: true, yMin: 0, yMax: 1, title: `Code MCC vs compute (${setting} D)`,
        xLabel: 'total FLOPs per test sample (training spread over test rows + inference)', yLabel: 'code MCC (test)',
      }));
      plots.push(file);
      md.push(`![Code MCC vs FLOPs per sample, ${setting} D](${file})`, '');
      md.push('Amortised encoders: points along training; sparse coding and SAE + ITO: points along FISTA iteration budgets', `(${(o.settings?.budgets ?? AG_FULL_SETTINGS.budgets).join(', ')}).`, '');
    }
  }
  return finishReport(dir, md, { lines: latest, settings: o.settings, plots });
}
