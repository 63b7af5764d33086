import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { assertInt, checkAborted } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { writeFileAtomic } from '../io/atomic.js';
import { iidSparseWorld, randomMixing } from '../worlds/superposition.js';
import { fista } from '../inference/fista.js';
import { learnDictionaryFista } from '../dictionary/dl-fista.js';
import { createSAE } from '../dictionary/sae/index.js';
import { debiasedCKA, linearCKA } from '../alignment/cka.js';
import { rsa } from '../alignment/rsa.js';
import { regression } from '../alignment/regression.js';
import { semiMatching, softMatching } from '../alignment/matching.js';
import {
  kSparseLatentCovariance, predictedLinearCKA, predictedRegressionR2, randomProjectionCKA, randomProjectionR2,
} from '../alignment/superposition.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';
import { aggregate, metricPlot, pivotTable, summaryTable, type SummaryRow } from './report.js';

/**
 * "Alignment of systems in superposition" (docs/papers.md sec. 4, arXiv 2604.00208).
 *
 * Two systems read the same k-sparse latents z (n latents, U(0,1) magnitudes) through
 * different random maps: y_A = z·A, y_B = z·B, A and B [n x m] with N(0,1) entries and unit-norm
 * rows (`randomMixing`). Alignment between the systems is measured
 *  - `predicted`: closed forms (population linear CKA and regression R² for the exact k-sparse
 *    covariance, `predictedSqEuclideanRSA` below, and the random-projection approximations
 *    m/(m+n) and m/n);
 *  - `raw`: on the activations y_A, y_B of held-out samples;
 *  - on sparse codes extracted from each system separately: `oracle` (FISTA with the true map,
 *    an upper bound), `dl-fista` (dictionary learned by DL-FISTA on the system's training half,
 *    codes by FISTA on the held-out half), `topk-sae` (TopK SAE, k = true k, width n).
 * Metrics: linear CKA, debiased CKA, RSA (squared-Euclidean RDMs compared by Pearson r, the
 * form the closed form describes), 5-fold ridge regression A→B (variance-weighted R² and mean
 * Pearson r), semi-matching and soft-matching of units.
 * The claim to show: raw alignment is low (≈ m/(m+n) for CKA) although both systems hold the
 * same features; alignment of the extracted codes returns near 1.
 */

export const ALIGNMENT_SUPERPOSITION_METHODS = ['predicted', 'raw', 'oracle', 'dl-fista', 'topk-sae'] as const;
export type AlignmentSuperpositionMethod = (typeof ALIGNMENT_SUPERPOSITION_METHODS)[number];

export const AS_METHOD_LABELS: Record<string, string> = {
  predicted: 'closed form (predicted)',
  raw: 'raw activations',
  oracle: 'codes: FISTA oracle (true maps)',
  'dl-fista': 'codes: DL-FISTA',
  'topk-sae': 'codes: TopK SAE',
};

export const AS_METHOD_COLORS: Record<string, string> = {
  predicted: '#7F7F7F',
  raw: '#D55E00',
  oracle: '#000000',
  'dl-fista': '#009E73',
  'topk-sae': '#0072B2',
};

/** Metrics written per method (a method writes the ones it has). */
export const AS_METRICS = ['linear_cka', 'debiased_cka', 'rsa', 'regression_r2', 'regression_r', 'semi_matching', 'soft_matching'] as const;

export interface AlignmentSuperpositionConfig {
  /** n: latents */
  latents: number;
  /** m: width of each system (both systems have the same width) */
  dim: number;
  /** k: active latents per sample */
  active: number;
  /** N: samples (half to learn dictionaries / SAEs, half held out for alignment) */
  samples: number;
  seed: number;
  [key: string]: number;
}

export interface AlignmentSuperpositionSettings {
  /** FISTA λ for codes (oracle and DL-FISTA), non-negative codes */
  lambda: number;
  /** FISTA iterations for the held-out codes */
  fistaIters: number;
  /** DL-FISTA: FISTA steps per outer iteration, max outer iterations, tolerance on ‖ΔD‖/‖D‖ */
  dlFistaIters: number;
  dlMaxOuter: number;
  dlTol: number;
  /** TopK SAE: training steps, batch, learning rate (other settings: sparsecode defaults) */
  saeSteps: number;
  saeBatch: number;
  saeLr: number;
  /** ridge penalty and folds of the regression metric */
  regressionAlpha: number;
  folds: number;
  /** held-out samples used for RSA and debiased CKA (both O(samples²)) */
  pairSamples: number;
  /** compute debiased CKA */
  debiased: boolean;
}

export const AS_FULL_SETTINGS: AlignmentSuperpositionSettings = {
  lambda: 0.1,
  fistaIters: 200,
  dlFistaIters: 100,
  dlMaxOuter: 300,
  dlTol: 1e-5,
  saeSteps: 10000,
  saeBatch: 64,
  saeLr: 3e-3,
  regressionAlpha: 1e-3,
  folds: 5,
  pairSamples: 2000,
  debiased: true,
};

export const AS_QUICK_SETTINGS: AlignmentSuperpositionSettings = { ...AS_FULL_SETTINGS, dlMaxOuter: 100 };

export type AsSweepName = 'dims' | 'latents';
export interface AsSweepSpec {
  key: 'dim' | 'latents';
  values: number[];
  base: { latents: number; dim: number; active: number; samples: number };
}

export interface AsPreset {
  settings: AlignmentSuperpositionSettings;
  sweeps: Record<AsSweepName, AsSweepSpec>;
  seeds: number[];
}

export const AS_PRESETS: Record<'quick' | 'full', AsPreset> = {
  quick: {
    settings: AS_QUICK_SETTINGS,
    sweeps: {
      dims: { key: 'dim', values: [8, 16, 32, 64], base: { latents: 100, dim: 32, active: 5, samples: 4000 } },
      latents: { key: 'latents', values: [50, 100, 150], base: { latents: 100, dim: 32, active: 5, samples: 4000 } },
    },
    seeds: [0],
  },
  full: {
    settings: AS_FULL_SETTINGS,
    sweeps: {
      dims: { key: 'dim', values: [10, 25, 50, 100, 200], base: { latents: 500, dim: 50, active: 5, samples: 20000 } },
      latents: { key: 'latents', values: [100, 250, 500, 1000], base: { latents: 500, dim: 50, active: 5, samples: 20000 } },
    },
    seeds: [0, 1, 2],
  },
};

/* ---------------------------------------------------------------------------------------- */
/* Closed form for RSA                                                                       */
/* ---------------------------------------------------------------------------------------- */

export interface RsaMomentOptions {
  /** k: active latents per sample (exactly k of n, support uniform) */
  active: number;
  /** E[u], E[u²], E[u³], E[u⁴] of an active magnitude u (default U(0,1): 1/2, 1/3, 1/4, 1/5) */
  moments?: [number, number, number, number];
}

/**
 * Population RSA between y_A = z·A and y_B = z·B (A, B [n x m_A], [n x m_B]) with squared-
 * Euclidean RDMs compared by Pearson r, for exactly-k-sparse latents.
 *
 * Over pairs of independent samples, d_A = uᵀG_A u with u = z_i − z_j and G_A = A·Aᵀ [n x n].
 * u is sign-symmetric; with s₂ = E[u_a²], s₄ = E[u_a⁴], s₂₂ = E[u_a²u_b²] (a ≠ b) and the
 * cross moments E[u_a u_b], E[u_a²u_b u_c], … (a, b, c distinct, O(k/n²)) neglected:
 *   Cov(d_A, d_B) = (s₄ − 3s₂₂)·Σ_a G_A,aa G_B,aa + (s₂₂ − s₂²)·tr G_A·tr G_B + 2s₂₂·tr(G_A G_B)
 * and RSA = Cov(d_A, d_B)/√(Var d_A · Var d_B). For independent Gaussian latents s₄ = 3s₂²,
 * s₂₂ = s₂² and this is linear CKA; for sparse latents the kurtosis term s₄ − 3s₂₂ (the same
 * diagonal Σ_a G_aa² ≈ n in both systems for unit-norm rows) dominates, so RSA is much higher
 * than CKA. Moments of u from those of z (m_r = (k/n)E[u^r], pair activity ρ = k(k−1)/(n(n−1))):
 *   s₂ = 2(m₂ − m₁²),  s₄ = 2m₄ − 8m₃m₁ + 6m₂²,
 *   s₂₂ = 2ρE[u²]² + 2m₂² − 8ρE[u²]E[u]·m₁ + 4ρ²E[u]⁴.
 * The test checks it against simulation.
 */
export function predictedSqEuclideanRSA(A: Matrix, B: Matrix, opts: RsaMomentOptions): number {
  if (A.rows !== B.rows) fail('E_SHAPE', `predictedSqEuclideanRSA: A is [${A.rows} x ${A.cols}], B is [${B.rows} x ${B.cols}]; both need one row per latent`);
  const n = A.rows;
  assertInt('active', opts.active, 1, n);
  const [e1, e2, e3, e4] = opts.moments ?? [1 / 2, 1 / 3, 1 / 4, 1 / 5];
  const f = opts.active / n;
  const rho = n > 1 ? (opts.active * (opts.active - 1)) / (n * (n - 1)) : 0;
  const m1 = f * e1, m2 = f * e2, m3 = f * e3, m4 = f * e4;
  const s2 = 2 * (m2 - m1 * m1);
  const s4 = 2 * m4 - 8 * m3 * m1 + 6 * m2 * m2;
  const s22 = 2 * rho * e2 * e2 + 2 * m2 * m2 - 8 * rho * e2 * e1 * m1 + 4 * (rho * e1 * e1) ** 2;
  const rowSq = (X: Matrix): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < X.cols; j++) s += X.data[i * X.cols + j] ** 2;
      out[i] = s;
    }
    return out;
  };
  const frob2 = (M: Matrix): number => {
    let s = 0;
    for (const v of M.data) s += v * v;
    return s;
  };
  const dA = rowSq(A), dB = rowSq(B);
  let tA = 0, tB = 0, dAA = 0, dBB = 0, dAB = 0;
  for (let i = 0; i < n; i++) {
    tA += dA[i];
    tB += dB[i];
    dAA += dA[i] * dA[i];
    dBB += dB[i] * dB[i];
    dAB += dA[i] * dB[i];
  }
  // tr(G_X G_Y) = ‖Xᵀ Y‖²_F
  const tAB = frob2(matmul(A, B, { transA: true }));
  const tAA = frob2(matmul(A, A, { transA: true }));
  const tBB = frob2(matmul(B, B, { transA: true }));
  const cov = (d: number, ta: number, tb: number, t: number) => (s4 - 3 * s22) * d + (s22 - s2 * s2) * ta * tb + 2 * s22 * t;
  const vA = cov(dAA, tA, tA, tAA);
  const vB = cov(dBB, tB, tB, tBB);
  if (!(vA > 0) || !(vB > 0)) fail('E_ARG', 'predictedSqEuclideanRSA: a map gives zero variance (all-zero A or B)');
  return cov(dAB, tA, tB, tAB) / Math.sqrt(vA * vB);
}

/* ---------------------------------------------------------------------------------------- */
/* Configs and cells                                                                         */
/* ---------------------------------------------------------------------------------------- */

export interface AsGridOptions {
  preset?: 'quick' | 'full';
  /** which sweeps (default both) */
  sweeps?: AsSweepName[];
  /** explicit values: replace the sweeps by the cartesian product of these (missing ones from the preset's base) */
  latents?: number[];
  dims?: number[];
  active?: number[];
  samples?: number[];
}

/** The configs (without seed) of a run: the union of the chosen sweeps, or an explicit grid. */
export function alignmentSuperpositionGrid(o: AsGridOptions = {}): Omit<AlignmentSuperpositionConfig, 'seed'>[] {
  const preset = AS_PRESETS[o.preset ?? 'quick'];
  if (!preset) fail('E_USAGE', `unknown preset "${o.preset}"; use quick or full`);
  const base = preset.sweeps.dims.base;
  const out: Omit<AlignmentSuperpositionConfig, 'seed'>[] = [];
  const seen = new Set<string>();
  const push = (c: Omit<AlignmentSuperpositionConfig, 'seed'>) => {
    for (const [k, v] of Object.entries(c)) if (!Number.isInteger(v) || v < 1) fail('E_USAGE', `--${k === 'dim' ? 'dims' : k} values must be positive integers, got ${v}`);
    if (c.active > c.latents) fail('E_USAGE', `active (k = ${c.active}) cannot exceed latents (n = ${c.latents})`);
    if (c.samples < 20) fail('E_USAGE', `--samples must be >= 20 (half of them are held out for the metrics), got ${c.samples}`);
    const key = configKey(c);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(c);
    }
  };
  if (o.latents?.length || o.dims?.length || o.active?.length || o.samples?.length) {
    for (const n of o.latents?.length ? o.latents : [base.latents]) {
      for (const m of o.dims?.length ? o.dims : [base.dim]) {
        for (const k of o.active?.length ? o.active : [base.active]) {
          for (const N of o.samples?.length ? o.samples : [base.samples]) push({ latents: n, dim: m, active: k, samples: N });
        }
      }
    }
    return out;
  }
  for (const name of o.sweeps?.length ? o.sweeps : (['dims', 'latents'] as AsSweepName[])) {
    const spec = preset.sweeps[name];
    if (!spec) fail('E_USAGE', `unknown sweep "${name}"; use dims or latents`);
    for (const v of spec.values) push({ ...spec.base, [spec.key]: v });
  }
  return out;
}

export function isAsMethod(s: string): s is AlignmentSuperpositionMethod {
  return (ALIGNMENT_SUPERPOSITION_METHODS as readonly string[]).includes(s);
}

export function alignmentSuperpositionCells(configs: Omit<AlignmentSuperpositionConfig, 'seed'>[], seeds: number[], methods: string[]): Cell[] {
  for (const m of methods) if (!isAsMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${ALIGNMENT_SUPERPOSITION_METHODS.join(', ')}`);
  const ordered = ALIGNMENT_SUPERPOSITION_METHODS.filter((m) => methods.includes(m));
  const cells: Cell[] = [];
  for (const c of configs) {
    for (const seed of seeds) {
      const config: AlignmentSuperpositionConfig = { latents: c.latents, dim: c.dim, active: c.active, samples: c.samples, seed };
      const group = configKey(config);
      for (const method of ordered) cells.push({ config, method, group });
    }
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/** The two systems of a config: shared latents, maps A and B, activations split train / held-out. */
export interface TwoSystems {
  A: Matrix;
  B: Matrix;
  Z: { train: Matrix; val: Matrix };
  YA: { train: Matrix; val: Matrix };
  YB: { train: Matrix; val: Matrix };
}

export function makeTwoSystems(c: AlignmentSuperpositionConfig): TwoSystems {
  const w = iidSparseWorld({ latents: c.latents, active: c.active, samples: c.samples, dim: c.dim, seed: `${c.seed}:alignment:A`, valFraction: 0.5 });
  const B = randomMixing(c.latents, c.dim, new Rng(`${c.seed}:alignment:B`));
  return {
    A: w.A,
    B,
    Z: { train: w.Z.train, val: w.Z.val },
    YA: { train: w.X.train, val: w.X.val },
    YB: { train: matmul(w.Z.train, B), val: matmul(w.Z.val, B) },
  };
}

function getSystems(c: AlignmentSuperpositionConfig, cache: Map<string, unknown>): TwoSystems {
  let s = cache.get('systems') as TwoSystems | undefined;
  if (!s) {
    s = makeTwoSystems(c);
    cache.set('systems', s);
  }
  return s;
}

/** Every alignment metric between representations P and Q of the same held-out samples. */
export function alignmentMetricsBetween(P: Matrix, Q: Matrix, s: AlignmentSuperpositionSettings, seed: number): Record<string, number> {
  const nPair = Math.min(P.rows, s.pairSamples);
  const Pp = P.rowSlice(0, nPair), Qp = Q.rowSlice(0, nPair);
  const reg = regression(P, Q, { alpha: s.regressionAlpha, folds: s.folds, seed });
  const out: Record<string, number> = {
    linear_cka: linearCKA(P, Q).value,
    rsa: rsa(Pp, Qp, { rdm: 'sqeuclidean', compare: 'pearson' }).value,
    regression_r2: reg.r2,
    regression_r: reg.meanR,
    semi_matching: semiMatching(P, Q).value,
    soft_matching: softMatching(P, Q).value,
  };
  if (s.debiased) out.debiased_cka = debiasedCKA(Pp, Qp).value;
  return out;
}

/** Run one method on one config × seed. */
export async function runAlignmentSuperpositionCell(
  config: AlignmentSuperpositionConfig, method: string, settings: AlignmentSuperpositionSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  if (!isAsMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${ALIGNMENT_SUPERPOSITION_METHODS.join(', ')}`);
  checkAborted(signal);
  const sys = getSystems(config, cache);
  const n = config.latents, m = config.dim, k = config.active;
  if (method === 'predicted') {
    const cov = kSparseLatentCovariance({ nLatents: n, k });
    return {
      linear_cka: predictedLinearCKA(sys.A, sys.B, cov),
      regression_r2: predictedRegressionR2(sys.A, sys.B, cov),
      rsa: predictedSqEuclideanRSA(sys.A, sys.B, { active: k }),
      rp_cka: randomProjectionCKA(n, m),
      rp_r2: randomProjectionR2(n, m),
    };
  }
  if (method === 'raw') return alignmentMetricsBetween(sys.YA.val, sys.YB.val, settings, config.seed);
  const fistaOpts = { lambda: settings.lambda, iters: settings.fistaIters, tol: 1e-6, nonneg: true, objective: false };
  let cA: Matrix, cB: Matrix;
  const extra: Record<string, number> = {};
  if (method === 'oracle') {
    cA = fista(sys.YA.val, sys.A, fistaOpts).Z;
    cB = fista(sys.YB.val, sys.B, fistaOpts).Z;
  } else if (method === 'dl-fista') {
    const learn = (Y: Matrix, tag: string) => learnDictionaryFista(Y, {
      atoms: n, lambda: settings.lambda, fistaIters: settings.dlFistaIters, maxOuter: settings.dlMaxOuter, tol: settings.dlTol,
      nonneg: true, seed: `${config.seed}:dl-fista:${tag}`, signal,
    });
    const dA = await learn(sys.YA.train, 'A');
    const dB = await learn(sys.YB.train, 'B');
    checkAborted(signal);
    cA = fista(sys.YA.val, dA.D, fistaOpts).Z;
    cB = fista(sys.YB.val, dB.D, fistaOpts).Z;
    extra.dl_outer = (dA.iterations + dB.iterations) / 2;
  } else {
    const fit = async (Y: Matrix, tag: string) => {
      const sae = createSAE('topk', { atoms: n, k, steps: settings.saeSteps, batch: settings.saeBatch, lr: settings.saeLr });
      await sae.fit(Y, { seed: `${config.seed}:topk-sae:${tag}`, signal });
      return sae;
    };
    const sA = await fit(sys.YA.train, 'A');
    const sB = await fit(sys.YB.train, 'B');
    checkAborted(signal);
    cA = sA.encode(sys.YA.val);
    cB = sB.encode(sys.YB.val);
  }
  // how well system A's codes recover the true latents (mean over latents of the best |r|)
  extra.codes_vs_latents = semiMatching(sys.Z.val, cA, { abs: true }).value;
  return { ...alignmentMetricsBetween(cA, cB, settings, config.seed), ...extra };
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export { checkManifest, type ExperimentRun } from './experiment.js';

export interface AlignmentSuperpositionOptions extends AsGridOptions {
  out: string;
  seeds?: number[];
  methods?: string[];
  settings?: Partial<AlignmentSuperpositionSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

/** Run (or resume) the protocol into `out`, then write report.md and the plots. */
export async function runAlignmentSuperposition(o: AlignmentSuperpositionOptions): Promise<ExperimentRun<AlignmentSuperpositionSettings>> {
  return runExperiment({
    name: 'alignment-superposition',
    presets: AS_PRESETS,
    cells: (preset) => {
      const configs = alignmentSuperpositionGrid(o);
      const seeds = o.seeds?.length ? o.seeds : preset.seeds;
      checkSeeds(seeds);
      return alignmentSuperpositionCells(configs, seeds, o.methods?.length ? o.methods : [...ALIGNMENT_SUPERPOSITION_METHODS]);
    },
    runCell: runAlignmentSuperpositionCell,
    writeReport: writeAlignmentSuperpositionReport,
  }, { ...o, overrides: o.settings });
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/**
 * Rows grouped for plotting against `xKey`: one group per combination of the other config keys,
 * kept only when it has at least two distinct x values.
 */
export function sweepGroups(rows: SummaryRow[], xKey: string, keys: string[]): { label: string; rows: SummaryRow[] }[] {
  const groups = new Map<string, SummaryRow[]>();
  for (const r of rows) {
    const label = keys.filter((k) => k !== xKey).map((k) => `${k} = ${r.config[k]}`).join(', ');
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label)!.push(r);
  }
  return [...groups].map(([label, rs]) => ({ label, rows: rs })).filter((g) => new Set(g.rows.map((r) => r.config[xKey])).size >= 2);
}

export function fileSafe(s: string): string {
  return s.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '');
}

const AS_AXES: { key: 'dim' | 'latents'; label: string }[] = [
  { key: 'dim', label: 'm (width of each system)' },
  { key: 'latents', label: 'n (latents)' },
];

const AS_PLOT_METRICS: { metric: string; title: string }[] = [
  { metric: 'linear_cka', title: 'Linear CKA' },
  { metric: 'regression_r2', title: 'Regression R² (A→B)' },
  { metric: 'rsa', title: 'RSA (squared-Euclidean RDMs, Pearson)' },
];

/** Write DIR/report.md and the SVG plots beside it; returns the report's path. */
export function writeAlignmentSuperpositionReport(dir: string, lines: ResultLine[], o: { settings?: AlignmentSuperpositionSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = ALIGNMENT_SUPERPOSITION_METHODS.filter((m) => rows.some((r) => r.method === m));
  const md: string[] = [];
  md.push('# Alignment of systems in superposition — reproduction report', '');
  md.push('Protocol: docs/papers.md section 4. Two systems y_A = z·A, y_B = z·B read the same k-sparse U(0,1) latents through');
  md.push('independent random maps (N(0,1), unit-norm rows). Alignment on raw held-out activations vs the closed form, and on');
  md.push('sparse codes extracted from each system separately (FISTA with the true maps, DL-FISTA, TopK SAE).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const keys = ['latents', 'dim', 'active', 'samples'];
  const plots: string[] = [];
  for (const axis of AS_AXES) {
    for (const g of sweepGroups(rows, axis.key, keys)) {
      md.push(`## Against ${axis.label} (${g.label})`, '');
      for (const pm of AS_PLOT_METRICS) {
        const file = `${pm.metric}_vs_${axis.key}_${fileSafe(g.label)}.svg`;
        const svg = metricPlot(g.rows, {
          xKey: axis.key, metric: pm.metric, logX: true, methods, labels: AS_METHOD_LABELS, colors: AS_METHOD_COLORS,
          dashed: (mm) => mm === 'predicted', title: `${pm.title} vs ${axis.key} (${g.label})`, xLabel: axis.label, yLabel: pm.title, yMin: 0, yMax: 1,
        });
        writeFileAtomic(join(dir, file), svg);
        plots.push(file);
        md.push(`![${pm.title} vs ${axis.key}](${file})`, '');
        md.push(pivotTable(g.rows, axis.key, pm.metric, methods), '');
      }
      md.push(pivotTable(g.rows, axis.key, 'semi_matching', methods), '');
      md.push(pivotTable(g.rows, axis.key, 'codes_vs_latents', methods.filter((mm) => mm !== 'predicted' && mm !== 'raw')), '');
    }
  }
  // closed form vs simulation, per config
  const pred = rows.filter((r) => r.method === 'predicted');
  if (pred.length) {
    md.push('## Closed form vs simulation (raw activations)', '');
    const body: string[][] = [];
    for (const p of pred) {
      const raw = rows.find((r) => r.method === 'raw' && configKey(r.config) === configKey(p.config));
      const f = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(3) : '—');
      body.push([
        String(p.config.latents), String(p.config.dim), String(p.config.active),
        f(p.mean.rp_cka), f(p.mean.linear_cka), f(raw?.mean.linear_cka), f(raw?.mean.debiased_cka),
        f(p.mean.rp_r2), f(p.mean.regression_r2), f(raw?.mean.regression_r2),
        f(p.mean.rsa), f(raw?.mean.rsa),
      ]);
    }
    md.push('| n | m | k | m/(m+n) | CKA predicted | CKA raw | debiased CKA raw | m/n | R² predicted | R² raw (5-fold CV) | RSA predicted | RSA raw |');
    md.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const b of body) md.push(`| ${b.join(' | ')} |`);
    md.push('');
  }
  md.push('## All metrics', '');
  md.push(summaryTable(rows, [...AS_METRICS, 'codes_vs_latents']), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
