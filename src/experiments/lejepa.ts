import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { mlp } from '../nn/index.js';
import { OuWorld, latentGrid, checkRho, type LatentLaw, type MixingName } from '../worlds/ou-views.js';
import { MatchedEncoder } from '../worlds/matched-encoder.js';
import { ViewObjective, OBJECTIVES, checkLambda, type ObjectiveName } from '../objectives/views.js';
import { trainViews, embed, type ViewEncoder } from '../objectives/train.js';
import { worldModelMetrics, gridMetrics } from '../metrics/world-model.js';
import { type Cell, checkSeeds, configKey, latestByCell, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, summaryTable, type SummaryRow } from './report.js';
import { linePlot, PALETTE, type PlotSeries } from './svg.js';
import { finishReport, runExperiment, type ExperimentExecutor, type ExperimentRun } from './experiment.js';

/**
 * "When does LeJEPA learn a world model?" (arXiv 2605.26379; docs/papers.md §6, docs/lejepa.md):
 * an encoder trained with a multi-view objective on observations x = g(z) of two OU views of a
 * hidden anchor z; does it recover z up to an orthogonal map (linear identifiability)?
 *
 * Four experiments, as the reference's configs (`klindtlab/lejepa-identifiability`
 * `experiments/configs/*.yaml`):
 *  - `2d`: N = 2, Gaussian latents, ρ = 0.95; spiral, banana, sinusoid mixings with the MLP
 *    encoder, the 8-layer coupling mixing with the matched encoder;
 *  - `gennorm`: the same worlds with generalised-normal latents of shape α (α = 2 Gaussian);
 *    the paper's figure reads `r2_hz_grid` (the 100 × 100 grid over [−3, 3]²: extrapolation for
 *    light tails);
 *  - `scaling`: the 4-layer coupling mixing with the matched encoder at N = 2 … 1024, λ = 1e-6;
 *    for N ≤ 32 the best of `restarts` runs (lowest final training loss) is kept;
 *  - `grid`: spiral + MLP over λ × ρ.
 * Objectives: `sigreg` (LeJEPA: λ·SIGReg + (1 − λ)·align; λ = 1e-3 in 2-D, 1e-6 in the scaling
 * study), `whiten` (λ·mean((Cov − I)²) + (1 − λ)·align, λ = 0.5; "VICReg" in the paper's tables),
 * `infonce` (symmetric, Gaussian kernel, σ = 1).
 *
 * Training: fresh data every step, B = 256 anchors, AdamW (wd 0.01) at 3e-3, constant then cosine
 * (src/objectives/train.ts). The MLP encoder is Linear(N, w) + GELU, (hiddenLayers − 1) ×
 * [Linear(w, w) + GELU], Linear(w, N) (w = 256 and 4 hidden layers in the paper). Each cell is
 * evaluated on `evalPoints` fresh source samples (and the grid for N = 2).
 */

export const LEJEPA_EXPERIMENTS = ['2d', 'gennorm', 'scaling', 'grid'] as const;
export type LejepaExperiment = (typeof LEJEPA_EXPERIMENTS)[number];
export const LEJEPA_OBJECTIVES = OBJECTIVES;

/** The metrics every line carries (and more: the bound quantities, losses, restarts). */
export const LEJEPA_METRICS = ['r2_hz', 'r2_zh', 'r2_xz', 'r2_hz_grid', 'orth_err'] as const;

export interface LejepaConfig {
  experiment: LejepaExperiment;
  mixing: MixingName;
  /** generalised-normal shape of the latent law (2 = Gaussian) */
  alpha: number;
  /** latent dimension N */
  latents: number;
  rho: number;
  /** the objective's λ (null for InfoNCE) */
  lambda: number | null;
  seed: number;
  [key: string]: number | string | null;
}

export interface LejepaSettings {
  /** optimiser steps per run of the MLP encoder (the paper: 20000) */
  steps: number;
  /** optimiser steps per run of the matched encoder (coupling worlds; the paper: 20000) */
  matchedSteps: number;
  /** anchors per step (256: 512 embeddings) */
  batch: number;
  lr: number;
  weightDecay: number;
  /** MLP width and hidden layers (the paper: 256 and 4) */
  hidden: number;
  hiddenLayers: number;
  /** SIGReg directions per step (the paper: 256) */
  numDirections: number;
  /** evaluation samples (the paper: 10000) */
  evalPoints: number;
  /** coupling layers of the 2-D / gennorm NVP world (8) and of the scaling study (4) */
  couplingLayers2d: number;
  couplingLayersScaling: number;
  /** restarts per scaling cell with N <= restartsMaxLatents (the paper: 3 for N <= 32) */
  restarts: number;
  restartsMaxLatents: number;
  /** InfoNCE kernel width */
  sigma: number;
  /** λ of SIGReg in 2-D / gennorm (1e-3) and in the scaling study (1e-6); of whitening (0.5) */
  sigregLambda2d: number;
  sigregLambdaScaling: number;
  whitenLambda: number;
  /** OU correlation of the 2d / gennorm / scaling worlds (0.95) */
  rho: number;
}

export const LEJEPA_FULL_SETTINGS: LejepaSettings = {
  steps: 20000,
  matchedSteps: 20000,
  batch: 256,
  lr: 3e-3,
  weightDecay: 0.01,
  hidden: 256,
  hiddenLayers: 4,
  numDirections: 256,
  evalPoints: 10000,
  couplingLayers2d: 8,
  couplingLayersScaling: 4,
  restarts: 3,
  restartsMaxLatents: 32,
  sigma: 1,
  sigregLambda2d: 1e-3,
  sigregLambdaScaling: 1e-6,
  whitenLambda: 0.5,
  rho: 0.95,
};

/**
 * Reduced budget for 2 CPU cores (the paper’s 20k steps at width 256 take hours per cell): MLP width 64, 64 directions, 3000 steps of the
 * MLP, 6000 of the matched encoder, one restart.
 */
export const LEJEPA_QUICK_SETTINGS: LejepaSettings = {
  ...LEJEPA_FULL_SETTINGS,
  steps: 3000,
  matchedSteps: 6000,
  hidden: 64,
  numDirections: 64,
  restarts: 1,
};

/** The grid of each experiment in a preset. */
export interface LejepaGrid {
  mixings: MixingName[];
  alphas: number[];
  latents: number[];
  lambdas: number[];
  rhos: number[];
}

export interface LejepaPreset {
  settings: LejepaSettings;
  experiments: LejepaExperiment[];
  objectives: ObjectiveName[];
  seeds: Partial<Record<LejepaExperiment, number[]>>;
  grids: Record<LejepaExperiment, LejepaGrid>;
}

const FULL_GRIDS: Record<LejepaExperiment, LejepaGrid> = {
  '2d': { mixings: ['spiral', 'banana', 'sinusoid', 'coupling'], alphas: [2], latents: [2], lambdas: [], rhos: [] },
  gennorm: { mixings: ['spiral'], alphas: [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32], latents: [2], lambdas: [], rhos: [] },
  scaling: { mixings: ['coupling'], alphas: [2], latents: [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], lambdas: [], rhos: [] },
  grid: { mixings: ['spiral'], alphas: [2], latents: [2], lambdas: [1e-6, 1e-5, 1e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1, 5e-1], rhos: [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99] },
};

export const LEJEPA_PRESETS: Record<'quick' | 'full', LejepaPreset> = {
  quick: {
    settings: LEJEPA_QUICK_SETTINGS,
    experiments: ['2d', 'gennorm', 'scaling'],
    objectives: ['sigreg'],
    seeds: {},
    grids: {
      '2d': { ...FULL_GRIDS['2d'], mixings: ['spiral', 'banana', 'sinusoid'] },
      gennorm: { ...FULL_GRIDS.gennorm, alphas: [2, 16] },
      scaling: { ...FULL_GRIDS.scaling, latents: [2, 8, 32] },
      grid: { ...FULL_GRIDS.grid, lambdas: [1e-4, 1e-3, 1e-2], rhos: [0.5, 0.9, 0.95] },
    },
  },
  full: {
    settings: LEJEPA_FULL_SETTINGS,
    experiments: ['2d', 'gennorm', 'scaling', 'grid'],
    objectives: ['sigreg', 'whiten', 'infonce'],
    seeds: { '2d': [0, 1, 2], gennorm: [0, 1, 2], scaling: [0, 1, 2, 3, 4], grid: [0, 1, 2] },
    grids: FULL_GRIDS,
  },
};

/** The objectives each experiment runs by default (the paper's configs): 2d has no InfoNCE, grid only SIGReg. */
const EXPERIMENT_OBJECTIVES: Record<LejepaExperiment, ObjectiveName[]> = {
  '2d': ['sigreg', 'whiten'],
  gennorm: ['sigreg', 'whiten', 'infonce'],
  scaling: ['sigreg', 'whiten', 'infonce'],
  grid: ['sigreg'],
};

/** λ of an objective in an experiment (null for InfoNCE). */
export function objectiveLambda(experiment: LejepaExperiment, objective: ObjectiveName, s: LejepaSettings): number | null {
  if (objective === 'infonce') return null;
  if (objective === 'whiten') return s.whitenLambda;
  return experiment === 'scaling' ? s.sigregLambdaScaling : s.sigregLambda2d;
}

export interface LejepaCellsOptions {
  experiments: LejepaExperiment[];
  objectives: ObjectiveName[];
  /** the caller's seeds for every experiment (default: the preset's per experiment, else [0]) */
  seeds?: number[];
  /** whether the objectives were chosen explicitly (otherwise each experiment runs the paper's subset) */
  objectivesGiven?: boolean;
  /** the latent dimensions N of the scaling experiment (default: the preset's) */
  latents?: number[];
  /** the generalised-normal shapes α of the gennorm experiment (default: the preset's) */
  alphas?: number[];
}

/** The cells of a run: experiment × world × objective × seed, in that order. */
export function lejepaCells(preset: LejepaPreset, settings: LejepaSettings, o: LejepaCellsOptions): Cell[] {
  for (const e of o.experiments) if (!(LEJEPA_EXPERIMENTS as readonly string[]).includes(e)) fail('E_USAGE', `--experiment: unknown experiment "${e}"; choose from ${LEJEPA_EXPERIMENTS.join(', ')}`);
  for (const ob of o.objectives) if (!(OBJECTIVES as readonly string[]).includes(ob)) fail('E_USAGE', `--objectives: unknown objective "${ob}"; choose from ${OBJECTIVES.join(', ')}`);
  checkSeeds(o.seeds);
  for (const n of o.latents ?? []) if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) fail('E_USAGE', `--latents: the scaling experiment's coupling world needs even N >= 2, got ${n}`);
  if (o.latents?.length && !o.experiments.includes('scaling')) fail('E_USAGE', '--latents sets N of the scaling experiment; add --experiment scaling');
  for (const a of o.alphas ?? []) if (!(typeof a === 'number' && Number.isFinite(a) && a >= 0.05 && a <= 1000)) fail('E_USAGE', `--alphas: the generalised-normal shape must be a number in [0.05, 1000] (2 = Gaussian), got ${a}`);
  if (o.alphas?.length && !o.experiments.includes('gennorm')) fail('E_USAGE', '--alphas sets α of the gennorm experiment; add --experiment gennorm');
  const cells: Cell[] = [];
  for (const experiment of o.experiments) {
    const g = preset.grids[experiment];
    const seeds = o.seeds?.length ? o.seeds : (preset.seeds[experiment] ?? [0]);
    const objectives = o.objectivesGiven ? o.objectives : o.objectives.filter((x) => EXPERIMENT_OBJECTIVES[experiment].includes(x));
    const worlds: { experiment: LejepaExperiment; mixing: MixingName; alpha: number; latents: number; rho: number }[] = [];
    if (experiment === 'grid') {
      for (const rho of g.rhos) worlds.push({ experiment, mixing: 'spiral', alpha: 2, latents: 2, rho });
    } else {
      const Ns = experiment === 'scaling' && o.latents?.length ? o.latents : g.latents;
      const alphas = experiment === 'gennorm' && o.alphas?.length ? o.alphas : g.alphas;
      for (const mixing of g.mixings) for (const alpha of alphas) for (const latents of Ns) worlds.push({ experiment, mixing, alpha, latents, rho: settings.rho });
    }
    for (const w of worlds) {
      checkRho(w.rho);
      for (const objective of objectives) {
        const lambdas = experiment === 'grid' && objective === 'sigreg' ? g.lambdas : [objectiveLambda(experiment, objective, settings)];
        for (const lambda of lambdas) {
          if (lambda !== null) checkLambda(lambda);
          for (const seed of seeds) {
            const config: LejepaConfig = { ...w, lambda, seed };
            cells.push({ config, method: objective, group: configKey(config) });
          }
        }
      }
    }
  }
  if (cells.length === 0) fail('E_USAGE', `no cells to run: the objectives ${o.objectives.join(', ')} are not part of ${o.experiments.join(', ')}; name them with --objectives`);
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/** The latent law of a config: the gennorm experiment samples gennorm(α), the others Gaussian (α = 2). */
export function configLaw(c: LejepaConfig): LatentLaw {
  if (c.experiment === 'gennorm') return { kind: 'gennorm', alpha: c.alpha };
  if (c.alpha !== 2) fail('E_ARG', `experiment ${c.experiment} uses Gaussian latents (alpha = 2), got alpha = ${c.alpha}`);
  return { kind: 'gaussian' };
}

/** The encoder of a config: the matched inverse for the coupling world, else the GELU MLP. */
export function makeLejepaEncoder(c: LejepaConfig, s: LejepaSettings, seed: number): ViewEncoder {
  const rng = new Rng(seed).fork('encoder');
  if (c.mixing === 'coupling') {
    const layers = c.experiment === 'scaling' ? s.couplingLayersScaling : s.couplingLayers2d;
    return new MatchedEncoder(c.latents, { layers, seed: rng });
  }
  const sizes = [c.latents, ...Array.from({ length: s.hiddenLayers }, () => s.hidden), c.latents];
  const net = mlp({ sizes, activation: 'gelu', rng });
  return { forward: (x, train) => net.forward(x, train), backward: (dy) => net.backward(dy, false), params: () => net.params(), zeroGrad: () => net.zeroGrad() };
}

/** Train one encoder of a cell (one restart). */
async function trainOnce(c: LejepaConfig, objective: ObjectiveName, s: LejepaSettings, seed: number, signal?: AbortSignal) {
  const world = new OuWorld({
    latents: c.latents, mixing: c.mixing, law: configLaw(c), rho: c.rho,
    layers: c.experiment === 'scaling' ? s.couplingLayersScaling : s.couplingLayers2d, seed: c.seed,
  });
  const encoder = makeLejepaEncoder(c, s, seed);
  const obj = new ViewObjective({ kind: objective, lambda: c.lambda ?? undefined, sigma: s.sigma, numDirections: s.numDirections });
  const r = await trainViews({
    encoder, world, objective: obj, steps: c.mixing === 'coupling' ? s.matchedSteps : s.steps, batch: s.batch, lr: s.lr, weightDecay: s.weightDecay, seed: new Rng(seed).fork('train'), signal,
  });
  return { world, encoder, result: r };
}

/** Train (with restarts where the protocol has them) and evaluate one cell. */
export async function runLejepaCell(c: LejepaConfig, objective: string, s: LejepaSettings, _cache?: Map<string, unknown>, signal?: AbortSignal): Promise<Record<string, number>> {
  if (!(OBJECTIVES as readonly string[]).includes(objective)) fail('E_ARG', `unknown objective "${objective}"; choose from ${OBJECTIVES.join(', ')}`);
  const restarts = c.experiment === 'scaling' && c.latents <= s.restartsMaxLatents ? s.restarts : 1;
  let best: Awaited<ReturnType<typeof trainOnce>> | null = null;
  for (let k = 0; k < restarts; k++) {
    checkAborted(signal);
    // restart k uses seed + 1000·k, as the reference
    const run = await trainOnce(c, objective as ObjectiveName, s, c.seed + 1000 * k, signal);
    if (!best || run.result.finalLoss < best.result.finalLoss) best = run;
  }
  const { world, encoder, result } = best!;
  const ev = world.evalSet(new Rng(c.seed).fork('eval'), s.evalPoints);
  const h = embed(encoder, ev.x);
  const hPrime = embed(encoder, ev.xPrime);
  const m: Record<string, number> = { ...worldModelMetrics({ z: ev.z, x: ev.x, h, hPrime, rho: c.rho }) };
  if (c.latents === 2) {
    const zg = latentGrid();
    Object.assign(m, gridMetrics(zg, embed(encoder, world.mixing.apply(zg))));
  }
  m.final_loss = result.finalLoss;
  for (const [k, v] of Object.entries(result.parts)) m[`final_${k}`] = v;
  m.restarts = restarts;
  m.steps = result.steps;
  return m;
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface LejepaReproOptions {
  out: string;
  preset?: 'quick' | 'full';
  experiments?: string[];
  objectives?: string[];
  seeds?: number[];
  /** N of the scaling experiment (default: the preset's) */
  latents?: number[];
  /** α of the gennorm experiment (default: the preset's) */
  alphas?: number[];
  settings?: Partial<LejepaSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  onNote?: (message: string) => void;
  /** where the cells run (default here; experiments/queue: on workers) */
  executor?: ExperimentExecutor;
}

/** Run (or resume) the cells into `out`, then write report.md and the plots. */
export async function runLejepaRepro(o: LejepaReproOptions): Promise<ExperimentRun<LejepaSettings>> {
  return runExperiment<LejepaSettings, LejepaPreset, LejepaConfig>({
    name: 'lejepa',
    presets: LEJEPA_PRESETS,
    cells: (preset, settings) => lejepaCells(preset, settings, {
      experiments: (o.experiments?.length ? o.experiments : preset.experiments) as LejepaExperiment[],
      objectives: (o.objectives?.length ? o.objectives : preset.objectives) as ObjectiveName[],
      objectivesGiven: !!o.objectives?.length,
      seeds: o.seeds,
      latents: o.latents,
      alphas: o.alphas,
    }),
    runCell: runLejepaCell,
    methodField: 'objective',
    writeReport: writeLejepaReport,
  }, { out: o.out, preset: o.preset, overrides: o.settings, signal: o.signal, onProgress: o.onProgress, onNote: o.onNote, executor: o.executor });
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** The paper's scaling table (gh-pages index.html, mean of 5 seeds): N → [R²(x→z), SIGReg, whiten, InfoNCE] R²(h→z). */
export const PAPER_SCALING: Record<number, [number, number, number, number]> = {
  2: [0.781, 0.999998, 0.999996, 0.950961],
  4: [0.727, 0.999996, 0.999987, 0.910871],
  8: [0.728, 0.999993, 0.999988, 0.886818],
  16: [0.734, 0.999988, 0.999987, 0.99988],
  32: [0.737, 0.999981, 0.999981, 0.907809],
  64: [0.737, 0.999966, 0.999968, 0.648496],
  128: [0.739, 0.999938, 0.999942, 0.566955],
  256: [0.742, 0.999884, 0.999889, 0.696587],
  512: [0.749, 0.999775, 0.999785, 0.704393],
  1024: [0.763, 0.999561, 0.999582, 0.720241],
};

/** The generalised-normal figure (spiral, r2_hz_grid), read off the paper's plot (±0.02). */
export const PAPER_GENNORM: { alphas: number[]; rows: Record<ObjectiveName, number[]> } = {
  alphas: [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
  rows: {
    sigreg: [0.02, 0.75, 0.95, 0.97, 0.98, 0.94, 0.76, 0.61, 0.55],
    whiten: [0.04, 0.0, 0.17, 0.5, 0.99, 0.93, 0.7, 0.5, 0.44],
    infonce: [0.14, 0.84, 0.99, 1.0, 1.0, 0.98, 0.78, 0.53, 0.66],
  },
};

const OBJECTIVE_LABELS: Record<string, string> = { sigreg: 'SIGReg (LeJEPA)', whiten: 'whitening ("VICReg")', infonce: 'InfoNCE' };

function fmt(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function scalingSection(rows: SummaryRow[], md: string[]): void {
  const sc = rows.filter((r) => r.config.experiment === 'scaling');
  if (!sc.length) return;
  const Ns = [...new Set(sc.map((r) => r.config.latents as number))].sort((a, b) => a - b);
  const get = (n: number, ob: string) => sc.find((r) => r.config.latents === n && r.method === ob);
  md.push('## Scaling: R²(h → z) against the latent dimension N (coupling mixing, matched encoder)', '');
  md.push('Ours: mean over seeds; paper: the table of the project page (mean of 5 seeds, 20k steps, best of 3 restarts for N ≤ 32).', '');
  const body = Ns.map((n) => {
    const p = PAPER_SCALING[n];
    const any = get(n, 'sigreg') ?? get(n, 'whiten') ?? get(n, 'infonce');
    const cells: string[] = [String(n), fmt(any?.mean.r2_xz, 3), p ? p[0].toFixed(3) : '—'];
    (['sigreg', 'whiten', 'infonce'] as const).forEach((ob, i) => {
      const r = get(n, ob);
      const seeds = r ? ` (${r.seeds.length})` : '';
      cells.push(r ? `${fmt(r.mean.r2_hz, 6)}${seeds}` : '—', p ? p[i + 1].toFixed(6) : '—');
    });
    return cells;
  });
  md.push(markdownTable(['N', 'R²(x→z) ours', 'paper', 'SIGReg ours (seeds)', 'paper', 'whiten ours', 'paper', 'InfoNCE ours', 'paper'], body, ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']), '');
}

function gennormSection(dir: string, rows: SummaryRow[], md: string[], plots: string[]): void {
  const gn = rows.filter((r) => r.config.experiment === 'gennorm');
  if (!gn.length) return;
  const mixings = [...new Set(gn.map((r) => r.config.mixing as string))];
  md.push('## Generalised-normal latents: linear identifiability against the shape α', '');
  md.push('`r2_hz_grid` is R²(h → z) on the 100 × 100 grid over [−3, 3]² (what the paper plots; it extrapolates beyond the support of light-tailed laws),');
  md.push('`r2_hz` on 10,000 source samples. Paper: read off its figure (spiral, ±0.02).', '');
  for (const mixing of mixings) {
    const sub = gn.filter((r) => r.config.mixing === mixing);
    const alphas = [...new Set(sub.map((r) => r.config.alpha as number))].sort((a, b) => a - b);
    const objectives = OBJECTIVES.filter((ob) => sub.some((r) => r.method === ob));
    const body: string[][] = [];
    for (const ob of objectives) {
      for (const metric of ['r2_hz_grid', 'r2_hz'] as const) {
        body.push([`${ob} ${metric}`, ...alphas.map((a) => {
          const r = sub.find((x) => x.method === ob && x.config.alpha === a);
          return r ? formatMeanStd(r.mean[metric], r.std[metric]) : '—';
        })]);
      }
      if (mixing === 'spiral') {
        body.push([`${ob} paper (grid)`, ...alphas.map((a) => {
          const i = PAPER_GENNORM.alphas.indexOf(a);
          return i >= 0 ? PAPER_GENNORM.rows[ob][i].toFixed(2) : '—';
        })]);
      }
    }
    md.push(`### ${mixing}`, '');
    md.push(markdownTable(['objective / metric \\ α', ...alphas.map(String)], body, ['l', ...alphas.map(() => 'r' as const)]), '');
    for (const ob of objectives) {
      const mine = sub.filter((r) => r.method === ob).sort((a, b) => (a.config.alpha as number) - (b.config.alpha as number));
      const series: PlotSeries[] = [
        { name: 'ours: r2_hz_grid', color: PALETTE[0], points: mine.filter((r) => Number.isFinite(r.mean.r2_hz_grid)).map((r) => ({ x: r.config.alpha as number, y: r.mean.r2_hz_grid, err: r.std.r2_hz_grid })) },
        { name: 'ours: r2_hz (source samples)', color: PALETTE[2], dashed: true, points: mine.filter((r) => Number.isFinite(r.mean.r2_hz)).map((r) => ({ x: r.config.alpha as number, y: r.mean.r2_hz, err: r.std.r2_hz })) },
      ];
      if (mixing === 'spiral') series.push({ name: 'paper: r2_hz_grid', color: PALETTE[1], dashed: true, points: PAPER_GENNORM.alphas.map((a, i) => ({ x: a, y: PAPER_GENNORM.rows[ob][i] })) });
      const file = `gennorm_${mixing}_${ob}.svg`;
      writeFileAtomic(join(dir, file), linePlot({
        series: series.filter((x) => x.points.length), logX: true, yMin: 0, yMax: 1,
        title: `${OBJECTIVE_LABELS[ob]}: linear identifiability vs latent shape α (${mixing})`, xLabel: 'generalised-normal shape α (2 = Gaussian)', yLabel: 'R²(h → z)',
      }));
      plots.push(file);
      md.push(`![${ob} R² vs α (${mixing})](${file})`, '');
    }
  }
}

function twoDSection(rows: SummaryRow[], md: string[]): void {
  const r2 = rows.filter((r) => r.config.experiment === '2d');
  if (!r2.length) return;
  md.push('## 2-D worlds (Gaussian latents, ρ = 0.95)', '');
  md.push('The paper shows these only as figures. A reduced NumPy re-implementation (width 64, 64 slices, 2000 steps; docs/lejepa.md) gave R²(h → z) 0.979 (spiral), 0.985 (banana), 0.984 (sinusoid).', '');
  const body = r2.map((r) => [
    String(r.config.mixing), r.method, String(r.seeds.length), formatMeanStd(r.mean.r2_xz, r.std.r2_xz), formatMeanStd(r.mean.r2_hz, r.std.r2_hz, 4),
    formatMeanStd(r.mean.r2_zh, r.std.r2_zh, 4), formatMeanStd(r.mean.r2_hz_grid, r.std.r2_hz_grid), formatMeanStd(r.mean.orth_err, r.std.orth_err),
  ]);
  md.push(markdownTable(['mixing', 'objective', 'seeds', 'R²(x→z)', 'R²(h→z)', 'R²(z→h)', 'R²(h→z) grid', 'orth_err'], body, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']), '');
}

/** The paper's figure (a): the approximate bound lies above the Procrustes error for Gaussian-source runs (runs with R²(h → z) < 0.5 dropped). */
function boundSection(lines: ResultLine[], md: string[]): void {
  const ok = lines.filter((l) => l.metrics && l.config.alpha === 2 && Number.isFinite(l.metrics.approx_bound) && Number.isFinite(l.metrics.procrustes_mse) && (l.metrics.r2_hz ?? 0) >= 0.5);
  if (!ok.length) return;
  const above = ok.filter((l) => l.metrics!.approx_bound >= l.metrics!.procrustes_mse);
  md.push('## The world-model bound', '');
  md.push(`Gaussian-source runs with R²(h → z) ≥ 0.5: the approximate bound D + (ε + D)² is at or above the Procrustes error mean‖h − Qz‖² in ${above.length} of ${ok.length} (the paper: all).`, '');
  const body = ok.map((l) => [String(l.config.experiment), String(l.config.mixing), String(l.config.latents), l.method, String(l.config.seed),
    fmt(l.metrics!.procrustes_mse, 4), fmt(l.metrics!.approx_bound, 4), fmt(l.metrics!.epsilon, 4), fmt(l.metrics!.D_bound, 4)]);
  md.push(markdownTable(['experiment', 'mixing', 'N', 'objective', 'seed', 'Procrustes error', 'bound', 'ε', 'D'], body, ['l', 'l', 'r', 'l', 'r', 'r', 'r', 'r', 'r']), '');
}

function gridSection(rows: SummaryRow[], md: string[]): void {
  const g = rows.filter((r) => r.config.experiment === 'grid');
  if (!g.length) return;
  const lambdas = [...new Set(g.map((r) => r.config.lambda as number))].sort((a, b) => a - b);
  const rhos = [...new Set(g.map((r) => r.config.rho as number))].sort((a, b) => a - b);
  md.push('## λ × ρ grid (spiral, SIGReg): R²(h → z)', '');
  const body = lambdas.map((l) => [String(l), ...rhos.map((rho) => {
    const r = g.find((x) => x.config.lambda === l && x.config.rho === rho);
    return r ? formatMeanStd(r.mean.r2_hz, r.std.r2_hz) : '—';
  })]);
  md.push(markdownTable(['λ \\ ρ', ...rhos.map(String)], body, ['r', ...rhos.map(() => 'r' as const)]), '');
}

export function writeLejepaReport(dir: string, lines: ResultLine[], o: { settings?: LejepaSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const md: string[] = [];
  md.push('# When does LeJEPA learn a world model? — reproduction report', '');
  md.push('Protocol: docs/papers.md §6 (arXiv 2605.26379; `klindtlab/lejepa-identifiability`): encoders trained on observations of two OU views');
  md.push('of a hidden anchor, evaluated for linear identifiability of the latents (R² of a linear fit with intercept, pooled over dimensions).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`${o.settings ? ` (${o.settings.steps} steps of the MLP and ${o.settings.matchedSteps} of the matched encoder, MLP width ${o.settings.hidden}, ${o.settings.numDirections} SIGReg directions, ${o.settings.restarts} restart(s) for N ≤ ${o.settings.restartsMaxLatents})` : ''}.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const plots: string[] = [];
  scalingSection(rows, md);
  twoDSection(rows, md);
  gennormSection(dir, rows, md, plots);
  gridSection(rows, md);
  boundSection([...latestByCell(lines).values()], md);
  md.push('## All cells', '', summaryTable(rows, ['r2_hz', 'r2_zh', 'r2_xz', 'r2_hz_grid', 'orth_err', 'procrustes_mse', 'approx_bound', 'final_loss']), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
