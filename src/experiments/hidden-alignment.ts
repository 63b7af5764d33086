import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { sampleToyFeatures, trainToyModel, type ToyModel } from '../worlds/toy-model.js';
import { createSAE, type SparseAutoencoder } from '../dictionary/sae/index.js';
import { normalizeRows } from '../linalg/rows.js';
import { regression } from '../alignment/regression.js';
import { semiMatching, softMatching } from '../alignment/matching.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, markdownTable, metricPlot, pivotTable, summaryTable, formatMeanStd } from './report.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Superposition disentanglement reveals hidden alignment" (docs/papers.md sec. 5, arXiv 2510.03186).
 *
 * Two toy models of superposition (src/worlds/toy-model.ts: 64 features, hidden 8/16/32,
 * feature probability 0.1, U(0,1) magnitudes, importance (1+2i/64)^(−2), AdamW lr 1e-3,
 * batch 1024) are trained from different initial weights (seeds 2s and 2s+1 for run seed s)
 * on the same batch stream (data seed s). A TopK SAE (k = 7, width 64) is trained on each
 * model's hidden activations. On held-out inputs, units are compared source → target:
 *  - `neuron-neuron`: hidden neurons of model 0 → hidden neurons of model 1;
 *  - `sae-neuron`: SAE latents of model 0 → hidden neurons of model 1;
 *  - `sae-sae`: SAE latents of model 0 → SAE latents of model 1;
 *  - `random-sae`: control — untrained TopK "SAEs" with the same architecture (k = 7, width 64:
 *    random unit-norm decoder rows, encoder = decoder transpose, b_enc = 0, b_dec = the mean
 *    hidden activation of its model, drawn from independent seeds) on each model, latents of
 *    model 0 → latents of model 1. It shows how much of the SAE→SAE score comes from merely
 *    expanding to 64 sparse units (the max over more targets inflates semi-matching).
 * Metrics: semi-matching (mean over source units of the max Pearson r with any target unit),
 * soft-matching (optimal transport between units), 5-fold ridge regression source → target
 * (mean Pearson r of the out-of-fold predictions, and variance-weighted R²).
 * The claim to show: SAE→SAE alignment is higher than neuron→neuron.
 */

export const HIDDEN_ALIGNMENT_METHODS = ['neuron-neuron', 'sae-neuron', 'sae-sae', 'random-sae'] as const;
export type HiddenAlignmentMethod = (typeof HIDDEN_ALIGNMENT_METHODS)[number];

export const HA_METHOD_LABELS: Record<string, string> = {
  'neuron-neuron': 'neuron → neuron',
  'sae-neuron': 'SAE → neuron',
  'sae-sae': 'SAE → SAE',
  'random-sae': 'random SAE → random SAE (control)',
};

export const HA_METHOD_COLORS: Record<string, string> = {
  'neuron-neuron': '#D55E00',
  'sae-neuron': '#E69F00',
  'sae-sae': '#0072B2',
  'random-sae': '#7F7F7F',
};

export const HA_METRICS = ['semi_matching', 'soft_matching', 'regression_r', 'regression_r2'] as const;

export interface HiddenAlignmentConfig {
  hidden: number;
  seed: number;
  [key: string]: number;
}

export interface HiddenAlignmentSettings {
  features: number;
  featureProb: number;
  /** importance: 'paper' = (1 + 2i/F)^(−2), or a decay d giving d^i */
  importance: 'paper' | number;
  hiddenActivation: 'relu' | 'linear';
  /** toy model training */
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
  /** TopK SAE: k, width, training rows (fresh draws through the trained model), steps, batch, lr */
  saeK: number;
  saeWidth: number;
  saeSamples: number;
  saeSteps: number;
  saeBatch: number;
  saeLr: number;
  /** held-out inputs for the metrics */
  evalSamples: number;
  /** ridge penalty and folds of the regression metric */
  regressionAlpha: number;
  folds: number;
}

export const HA_FULL_SETTINGS: HiddenAlignmentSettings = {
  features: 64,
  featureProb: 0.1,
  importance: 'paper',
  hiddenActivation: 'relu',
  steps: 10000,
  batch: 1024,
  lr: 1e-3,
  weightDecay: 0.01,
  saeK: 7,
  saeWidth: 64,
  saeSamples: 50000,
  saeSteps: 10000,
  saeBatch: 256,
  saeLr: 1e-3,
  evalSamples: 10000,
  regressionAlpha: 1,
  folds: 5,
};

export const HA_QUICK_SETTINGS: HiddenAlignmentSettings = {
  ...HA_FULL_SETTINGS,
  steps: 2000,
  saeSamples: 20000,
  saeSteps: 3000,
  evalSamples: 5000,
};

export const HA_PRESETS: Record<'quick' | 'full', { settings: HiddenAlignmentSettings; hidden: number[]; seeds: number[] }> = {
  quick: { settings: HA_QUICK_SETTINGS, hidden: [8, 16, 32], seeds: [0] },
  full: { settings: HA_FULL_SETTINGS, hidden: [8, 16, 32], seeds: [0, 1, 2] },
};

export function isHaMethod(s: string): s is HiddenAlignmentMethod {
  return (HIDDEN_ALIGNMENT_METHODS as readonly string[]).includes(s);
}

export function hiddenAlignmentCells(hidden: number[], seeds: number[], methods: string[]): Cell[] {
  for (const m of methods) if (!isHaMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${HIDDEN_ALIGNMENT_METHODS.join(', ')}`);
  for (const h of hidden) if (!Number.isInteger(h) || h < 1) fail('E_USAGE', `--hidden values must be positive integers, got ${h}`);
  checkSeeds(seeds);
  const ordered = HIDDEN_ALIGNMENT_METHODS.filter((m) => methods.includes(m));
  const cells: Cell[] = [];
  for (const h of hidden) {
    for (const seed of seeds) {
      const config: HiddenAlignmentConfig = { hidden: h, seed };
      const group = configKey(config);
      for (const method of ordered) cells.push({ config, method, group });
    }
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* Shared state of one config × seed: two models, their SAEs, held-out activations          */
/* ---------------------------------------------------------------------------------------- */

export interface HiddenAlignmentState {
  models: [ToyModel, ToyModel];
  /** held-out inputs [evalSamples x features] */
  X: Matrix;
  /** hidden activations of each model on X */
  H: [Matrix, Matrix];
  /** codes of each model's trained SAE on H */
  S: [Matrix, Matrix];
  /** codes of each model's random SAE on H */
  R: [Matrix, Matrix];
  stats: Record<string, number>;
}

/** A TopK SAE with random unit-norm decoder rows, encoder = decoder transpose, b_dec = mean of H. */
export function randomTopKSAE(H: Matrix, width: number, k: number, seed: string | number): SparseAutoencoder {
  const sae = createSAE('topk', { atoms: width, k: Math.min(k, width) });
  const rng = new Rng(seed);
  const d = H.cols;
  const dec = new Matrix(width, d);
  rng.fillNormal(dec.data);
  normalizeRows(dec);
  const bDec = new Float32Array(d);
  for (let i = 0; i < H.rows; i++) for (let j = 0; j < d; j++) bDec[j] += H.data[i * d + j] / H.rows;
  sae.setWeights({ W_enc: dec.transpose(), b_enc: new Float32Array(width), W_dec: dec, b_dec: bDec });
  return sae;
}

export async function buildHiddenAlignmentState(config: HiddenAlignmentConfig, s: HiddenAlignmentSettings, signal?: AbortSignal): Promise<HiddenAlignmentState> {
  const seed = config.seed;
  const stats: Record<string, number> = {};
  const common = {
    features: s.features, hidden: config.hidden, featureProb: s.featureProb,
    importance: s.importance === 'paper' ? ('paper' as const) : { decay: s.importance }, hiddenActivation: s.hiddenActivation,
    steps: s.steps, batch: s.batch, lr: s.lr, weightDecay: s.weightDecay, dataSeed: `${seed}:data`, signal,
  };
  const models: ToyModel[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await trainToyModel({ ...common, seed: 2 * seed + i });
    models.push(r.model);
    stats[`model${i}_loss`] = r.finalLoss;
    stats.trivial_loss = r.trivialLoss;
  }
  checkAborted(signal);
  const Xs = sampleToyFeatures(s.saeSamples, s.features, s.featureProb, new Rng(`${seed}:sae-data`));
  const X = sampleToyFeatures(s.evalSamples, s.features, s.featureProb, new Rng(`${seed}:eval`));
  const H: Matrix[] = [], S: Matrix[] = [], R: Matrix[] = [];
  for (let i = 0; i < 2; i++) {
    const m = models[i];
    stats[`model${i}_eval_loss`] = m.loss(X);
    const Htrain = m.hiddenActivations(Xs);
    const sae = createSAE('topk', { atoms: s.saeWidth, k: Math.min(s.saeK, s.saeWidth), steps: s.saeSteps, batch: s.saeBatch, lr: s.saeLr });
    const fit = await sae.fit(Htrain, { seed: `${seed}:sae:${i}`, signal });
    stats[`sae${i}_fvu`] = fit.fvu;
    stats[`sae${i}_dead`] = fit.deadFraction;
    const He = m.hiddenActivations(X);
    H.push(He);
    S.push(sae.encode(He));
    R.push(randomTopKSAE(Htrain, s.saeWidth, s.saeK, `${seed}:random-sae:${i}`).encode(He));
    // how well each representation recovers the true features: mean over features of the best |r|
    stats[`neuron${i}_feature_recovery`] = semiMatching(X, He, { abs: true }).value;
    stats[`sae${i}_feature_recovery`] = semiMatching(X, S[i], { abs: true }).value;
  }
  return { models: models as [ToyModel, ToyModel], X, H: H as [Matrix, Matrix], S: S as [Matrix, Matrix], R: R as [Matrix, Matrix], stats };
}

/** Semi-matching, soft-matching and k-fold ridge regression from source P to target Q. */
export function unitAlignment(P: Matrix, Q: Matrix, s: Pick<HiddenAlignmentSettings, 'regressionAlpha' | 'folds'>, seed: number): Record<string, number> {
  const reg = regression(P, Q, { alpha: s.regressionAlpha, folds: s.folds, seed });
  return {
    semi_matching: semiMatching(P, Q).value,
    soft_matching: softMatching(P, Q).value,
    regression_r: reg.meanR,
    regression_r2: reg.r2,
  };
}

export async function runHiddenAlignmentCell(
  config: HiddenAlignmentConfig, method: string, settings: HiddenAlignmentSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  if (!isHaMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${HIDDEN_ALIGNMENT_METHODS.join(', ')}`);
  checkAborted(signal);
  let st = cache.get('state') as HiddenAlignmentState | undefined;
  if (!st) {
    st = await buildHiddenAlignmentState(config, settings, signal);
    cache.set('state', st);
  }
  const [P, Q] =
    method === 'neuron-neuron' ? [st.H[0], st.H[1]]
    : method === 'sae-neuron' ? [st.S[0], st.H[1]]
    : method === 'sae-sae' ? [st.S[0], st.S[1]]
    : [st.R[0], st.R[1]];
  return { ...unitAlignment(P, Q, settings, config.seed), ...st.stats };
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface HiddenAlignmentOptions {
  out: string;
  preset?: 'quick' | 'full';
  hidden?: number[];
  seeds?: number[];
  methods?: string[];
  settings?: Partial<HiddenAlignmentSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

export async function runHiddenAlignment(o: HiddenAlignmentOptions): Promise<ExperimentRun<HiddenAlignmentSettings>> {
  return runExperiment({
    name: 'hidden-alignment',
    presets: HA_PRESETS,
    cells: (preset) => hiddenAlignmentCells(o.hidden?.length ? o.hidden : preset.hidden, o.seeds?.length ? o.seeds : preset.seeds, o.methods?.length ? o.methods : [...HIDDEN_ALIGNMENT_METHODS]),
    runCell: runHiddenAlignmentCell,
    writeReport: writeHiddenAlignmentReport,
  }, { ...o, overrides: o.settings });
}

const HA_PLOT_METRICS: { metric: string; title: string }[] = [
  { metric: 'semi_matching', title: 'Semi-matching' },
  { metric: 'soft_matching', title: 'Soft-matching' },
  { metric: 'regression_r', title: 'Ridge regression (5-fold, mean r)' },
];

export function writeHiddenAlignmentReport(dir: string, lines: ResultLine[], o: { settings?: HiddenAlignmentSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = HIDDEN_ALIGNMENT_METHODS.filter((m) => rows.some((r) => r.method === m));
  const md: string[] = [];
  md.push('# Superposition disentanglement reveals hidden alignment — reproduction report', '');
  md.push('Protocol: docs/papers.md section 5. Two toy models of superposition trained from different initial weights on the same');
  md.push('data; a TopK SAE on each model\'s hidden activations; unit alignment source → target on held-out inputs.');
  md.push('Control `random-sae`: untrained TopK SAEs (random unit-norm decoder, encoder = its transpose, b_dec = mean activation).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const plots: string[] = [];
  const hiddenValues = new Set(rows.map((r) => r.config.hidden));
  for (const pm of HA_PLOT_METRICS) {
    md.push(`## ${pm.title}`, '');
    if (hiddenValues.size >= 2) {
      const file = `${pm.metric}_vs_hidden.svg`;
      writeFileAtomic(join(dir, file), metricPlot(rows, {
        xKey: 'hidden', metric: pm.metric, logX: true, methods, labels: HA_METHOD_LABELS, colors: HA_METHOD_COLORS,
        dashed: (m) => m === 'random-sae', title: `${pm.title} vs hidden width`, xLabel: 'hidden width', yLabel: pm.title, yMin: 0, yMax: 1,
      }));
      plots.push(file);
      md.push(`![${pm.title} vs hidden width](${file})`, '');
    }
    md.push(pivotTable(rows, 'hidden', pm.metric, methods), '');
  }
  md.push('## Regression R² (variance-weighted, 5-fold)', '', pivotTable(rows, 'hidden', 'regression_r2', methods), '');
  // the headline: SAE→SAE vs neuron→neuron per hidden width
  const nn = rows.filter((r) => r.method === 'neuron-neuron');
  if (nn.length) {
    md.push('## Headline: SAE → SAE minus neuron → neuron', '');
    const body: string[][] = [];
    for (const r of nn) {
      const ss = rows.find((x) => x.method === 'sae-sae' && x.config.hidden === r.config.hidden);
      const d = (m: string) => (ss && Number.isFinite(ss.mean[m]) && Number.isFinite(r.mean[m]) ? (ss.mean[m] - r.mean[m] >= 0 ? '+' : '') + (ss.mean[m] - r.mean[m]).toFixed(3) : '—');
      body.push([String(r.config.hidden), ...HA_METRICS.map(d)]);
    }
    md.push(markdownTable(['hidden', ...HA_METRICS], body, ['r', ...HA_METRICS.map(() => 'r' as const)]), '');
  }
  // training diagnostics (the same in every method line of a config)
  const diag = rows.filter((r) => r.method === methods[0]);
  if (diag.length) {
    md.push('## Models and SAEs', '');
    const keys = ['model0_eval_loss', 'model1_eval_loss', 'trivial_loss', 'sae0_fvu', 'sae1_fvu', 'sae0_dead', 'neuron0_feature_recovery', 'sae0_feature_recovery'];
    md.push('Feature recovery = mean over the 64 true features of the best |r| with any unit (neurons or SAE latents).', '');
    md.push(markdownTable(['hidden', ...keys], diag.map((r) => [String(r.config.hidden), ...keys.map((k) => formatMeanStd(r.mean[k], r.std[k], 4))]), ['r', ...keys.map(() => 'r' as const)]), '');
  }
  md.push('## All metrics', '', summaryTable(rows, [...HA_METRICS]), '');
  return finishReport(dir, md, { lines: lines, settings: o.settings, plots });
}
