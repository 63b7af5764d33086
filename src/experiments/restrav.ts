import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { auc } from '../metrics/auc.js';
import { batchStraighteningFeatures, THETA_MEAN_INDEX } from '../metrics/curvature.js';
import { trainStraighteningDetector } from '../metrics/straightening-detector.js';
import { TRAJECTORY_PERTURBATIONS, trajectoryWorld } from '../worlds/trajectories.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, metricPlot } from './report.js';
import { finishReport, runExperiment, type ExperimentExecutor, type ExperimentRun } from './experiment.js';
import { histogramPlot } from './plots.js';

/**
 * ReStraV, "AI-Generated Video Detection via Perceptual Straightening" (docs/probing.md §1–3), on
 * synthetic embedding trajectories (src/worlds/trajectories.ts): natural videos are smooth,
 * low-curvature paths in a 384-dimensional space, generated videos the same law of paths with
 * frame jitter, re-sampled segments or temporal flicker. For each perturbation (the `method`)
 * and strength: the 21 straightening features of every trajectory, the paper's detector (z-score,
 * MLP 21-64-32-1, BCE, Adam, τ* by training F1; src/metrics/straightening-detector.ts), test
 * accuracy / precision / recall / F1 / ROC AUC, and as a reference without training the AUC of
 * the mean curvature alone (lower curvature = natural). The report adds the distribution of the
 * mean curvature per class (SVG histograms), regenerated from the same seeds.
 */

export const RESTRAV_METHODS = [...TRAJECTORY_PERTURBATIONS, 'mixed'] as const;
export type RestravMethod = (typeof RESTRAV_METHODS)[number];

export const RESTRAV_METRICS = ['auroc', 'accuracy', 'f1', 'precision', 'recall', 'auroc_curvature', 'curvature_natural', 'curvature_generated'] as const;

/** The paper's headline on VidProM with DINOv2 features (abstract). */
export const RESTRAV_PAPER = { accuracy: 0.9717, auroc: 0.9863 };

export interface RestravConfig {
  strength: number;
  seed: number;
  [key: string]: number;
}

export interface RestravSettings {
  /** trajectories per class */
  videos: number;
  frames: number;
  dim: number;
  /** detector */
  epochs: number;
  batch: number;
  lr: number;
  hidden: number[];
  zscore: 'all' | 'train';
  /** bins of the curvature histograms */
  histogramBins: number;
}

export const RESTRAV_QUICK_SETTINGS: RestravSettings = {
  videos: 1000, frames: 24, dim: 384, epochs: 10, batch: 32, lr: 1e-3, hidden: [64, 32], zscore: 'all', histogramBins: 36,
};

export const RESTRAV_FULL_SETTINGS: RestravSettings = { ...RESTRAV_QUICK_SETTINGS, videos: 2000 };

export const RESTRAV_PRESETS: Record<'quick' | 'full', { settings: RestravSettings; strengths: number[]; seeds: number[] }> = {
  quick: { settings: RESTRAV_QUICK_SETTINGS, strengths: [1], seeds: [0] },
  full: { settings: RESTRAV_FULL_SETTINGS, strengths: [0.25, 0.5, 1], seeds: [0, 1, 2] },
};

export function isRestravMethod(m: string): m is RestravMethod {
  return (RESTRAV_METHODS as readonly string[]).includes(m);
}

export function restravCells(strengths: number[], seeds: number[], methods: string[]): Cell[] {
  for (const m of methods) if (!isRestravMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${RESTRAV_METHODS.join(', ')}`);
  for (const s of strengths) if (!(s >= 0 && Number.isFinite(s))) fail('E_USAGE', `perturbation strengths must be finite and >= 0, got ${s}`);
  checkSeeds(seeds);
  const cells: Cell[] = [];
  for (const strength of strengths) {
    for (const seed of seeds) {
      const config: RestravConfig = { strength, seed };
      for (const method of RESTRAV_METHODS.filter((m) => methods.includes(m))) cells.push({ config, method, group: configKey({ ...config, method }) });
    }
  }
  return cells;
}

/** Features [2·videos × 21] (natural first) and the mean curvature of every trajectory, for one cell's world. */
export function restravFeatures(config: RestravConfig, method: RestravMethod, s: RestravSettings): { features: Matrix; labels: number[]; curvature: Float64Array; kinds: Int8Array } {
  const w = trajectoryWorld({ videos: s.videos, frames: s.frames, dim: s.dim, perturbation: method, strength: config.strength, seed: `${config.seed}:${method}` });
  const fn = batchStraighteningFeatures(w.natural, w.videos, w.frames, w.dim, { label: 'natural trajectory' });
  const fg = batchStraighteningFeatures(w.generated, w.videos, w.frames, w.dim, { label: 'generated trajectory' });
  const n = w.videos;
  const features = new Matrix(2 * n, 21);
  features.data.set(fn, 0);
  features.data.set(fg, n * 21);
  const curvature = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    curvature[i] = fn[i * 21 + THETA_MEAN_INDEX];
    curvature[n + i] = fg[i * 21 + THETA_MEAN_INDEX];
  }
  return { features, labels: [...new Array(n).fill(1), ...new Array(n).fill(0)], curvature, kinds: w.kinds };
}

function meanSd(x: ArrayLike<number>): [number, number] {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const m = s / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - m) ** 2;
  return [m, Math.sqrt(ss / Math.max(1, x.length - 1))];
}

export async function runRestravCell(config: RestravConfig, method: string, s: RestravSettings, _cache?: Map<string, unknown>, signal?: AbortSignal): Promise<Record<string, number>> {
  if (!isRestravMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${RESTRAV_METHODS.join(', ')}`);
  checkAborted(signal);
  const { features, labels, curvature, kinds } = restravFeatures(config, method, s);
  checkAborted(signal);
  const r = trainStraighteningDetector(features, labels, { epochs: s.epochs, batch: s.batch, lr: s.lr, hidden: s.hidden, zscore: s.zscore, seed: `${config.seed}:detector`, signal });
  const testLabels = Array.from(r.testIndex, (i) => labels[i]);
  // mean curvature alone as a score for "natural": its negative
  const aurocCurv = auc(Array.from(r.testIndex, (i) => -curvature[i]), testLabels);
  const n = s.videos;
  const [cn, cnSd] = meanSd(curvature.subarray(0, n));
  const [cg, cgSd] = meanSd(curvature.subarray(n));
  const out: Record<string, number> = {
    auroc: r.auroc, accuracy: r.accuracy, f1: r.f1, precision: r.precision, recall: r.recall, threshold: r.threshold, train_f1: r.trainF1,
    auroc_curvature: aurocCurv, curvature_natural: cn, curvature_generated: cg, curvature_natural_sd: cnSd, curvature_generated_sd: cgSd,
    n_train: r.trainIndex.length, n_test: r.testIndex.length, final_loss: r.losses[r.losses.length - 1],
  };
  if (method === 'mixed') {
    // the AUROC of the trained detector on natural vs each kind of generated test video
    TRAJECTORY_PERTURBATIONS.forEach((kind, k) => {
      const rows: number[] = [];
      r.testIndex.forEach((i, t) => {
        if (labels[i] === 1 || kinds[i - n] === k) rows.push(t);
      });
      const y = rows.map((t) => labels[r.testIndex[t]]);
      if (y.includes(0) && y.includes(1)) out[`auroc_${kind}`] = auc(rows.map((t) => r.testProbabilities[t]), y);
    });
  }
  return out;
}

export interface RestravOptions {
  out: string;
  preset?: 'quick' | 'full';
  strengths?: number[];
  seeds?: number[];
  methods?: string[];
  settings?: Partial<RestravSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  executor?: ExperimentExecutor;
}

export async function runRestrav(o: RestravOptions): Promise<ExperimentRun<RestravSettings>> {
  return runExperiment({
    name: 'restrav',
    presets: RESTRAV_PRESETS,
    cells: (preset) => restravCells(o.strengths?.length ? o.strengths : preset.strengths, o.seeds?.length ? o.seeds : preset.seeds, o.methods?.length ? o.methods : [...RESTRAV_METHODS]),
    runCell: runRestravCell,
    writeReport: writeRestravReport,
  }, { ...o, overrides: o.settings });
}

const LABELS: Record<string, string> = {
  jitter: 'frame jitter', resample: 're-sampled segment', flicker: 'temporal flicker', mixed: 'mixed (one of the three per video)',
};

export function writeRestravReport(dir: string, lines: ResultLine[], o: { settings?: RestravSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = RESTRAV_METHODS.filter((m) => rows.some((r) => r.method === m));
  const md: string[] = [];
  md.push('# ReStraV (perceptual straightening) on synthetic trajectories — reproduction report', '');
  md.push('Protocol: docs/probing.md §1–3. Natural = smooth low-curvature paths in a high-dimensional embedding space; generated = the same');
  md.push('law of paths with frame jitter, a re-sampled segment or temporal flicker. The 21 straightening features, the paper\'s MLP');
  md.push('detector (z-score over the balanced set, 21-64-32-1, BCE, Adam 1e-3, batch 32, 10 epochs, τ* by training F1), test metrics on');
  md.push('a stratified half. `auroc_curvature`: the mean curvature alone as the score (no training).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Paper (VidProM, DINOv2 ViT-S/14 features of real videos): accuracy ${RESTRAV_PAPER.accuracy}, AUROC ${RESTRAV_PAPER.auroc}.`, '');
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const body = rows
    .slice()
    .sort((a, b) => Number(a.config.strength) - Number(b.config.strength) || RESTRAV_METHODS.indexOf(a.method as RestravMethod) - RESTRAV_METHODS.indexOf(b.method as RestravMethod))
    .map((r) => [String(r.config.strength), LABELS[r.method] ?? r.method, String(r.seeds.length), ...RESTRAV_METRICS.map((m) => formatMeanStd(r.mean[m], r.std[m], m.startsWith('curvature') ? 1 : 3))]);
  md.push('## Detection', '');
  md.push(markdownTable(['strength', 'generated by', 'seeds', ...RESTRAV_METRICS], body, ['r', 'l', 'r', ...RESTRAV_METRICS.map(() => 'r' as const)]), '');
  const mixed = rows.filter((r) => r.method === 'mixed' && r.mean.auroc_jitter !== undefined);
  if (mixed.length) {
    md.push('## Which perturbations are hard (detector trained on the mixed set, AUROC per kind of generated video)', '');
    md.push(markdownTable(['strength', ...TRAJECTORY_PERTURBATIONS], mixed.map((r) => [String(r.config.strength), ...TRAJECTORY_PERTURBATIONS.map((k) => formatMeanStd(r.mean[`auroc_${k}`], r.std[`auroc_${k}`]))]), ['r', ...TRAJECTORY_PERTURBATIONS.map(() => 'r' as const)]), '');
  }
  const plots: string[] = [];
  const strengths = [...new Set(rows.map((r) => Number(r.config.strength)))].sort((a, b) => a - b);
  if (strengths.length >= 2) {
    for (const metric of ['auroc', 'auroc_curvature']) {
      const file = `${metric}_vs_strength.svg`;
      writeFileAtomic(join(dir, file), metricPlot(rows, { xKey: 'strength', metric, methods, labels: LABELS, title: `${metric === 'auroc' ? 'Detector' : 'Mean curvature alone'}: AUROC vs perturbation strength`, xLabel: 'perturbation strength', yLabel: 'AUROC', yMin: 0.4, yMax: 1 }));
      plots.push(file);
      md.push(`![${metric} vs strength](${file})`, '');
    }
  }
  // curvature distributions per class, regenerated from the first seed of each cell
  if (o.settings) {
    md.push('## Curvature distributions (mean curvature per trajectory, first seed)', '');
    for (const strength of strengths) {
      for (const method of methods) {
        const line = lines.find((l) => l.method === method && Number(l.config.strength) === strength && l.metrics);
        if (!line) continue;
        const { curvature } = restravFeatures(line.config as RestravConfig, method, o.settings);
        const n = o.settings.videos;
        const file = `curvature_${method}${strengths.length > 1 ? `_s${strength}` : ''}.svg`;
        writeFileAtomic(join(dir, file), histogramPlot({
          series: [{ name: 'natural', values: curvature.subarray(0, n), color: '#0072B2' }, { name: `generated (${method})`, values: curvature.subarray(n), color: '#D55E00' }],
          bins: o.settings.histogramBins, lo: 0, normalize: 'count',
          title: `Mean curvature per trajectory: natural vs ${LABELS[method]} (strength ${strength})`, xLabel: 'mean curvature angle (degrees)', yLabel: 'trajectories',
        }));
        plots.push(file);
        md.push(`![curvature ${method} strength ${strength}](${file})`, '');
      }
    }
  }
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
