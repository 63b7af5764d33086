import { saeKindOf } from '../dictionary/sae/config.js';
import { columnMeans } from '../linalg/rows.js';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { checkAborted } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { writeFileAtomic } from '../io/atomic.js';
import { anisotropicWorld, meanAbsCoherence, type AnisotropicWorld } from '../worlds/anisotropic.js';
import type { Magnitude } from '../worlds/superposition.js';
import { fitWhitening, type Whitening } from '../preprocess/whiten.js';
import { createSAE } from '../dictionary/sae/index.js';
import { mcc } from '../metrics/mcc.js';
import { dictionaryRecovery } from '../metrics/dictionary.js';
import { fve, l0, mse } from '../metrics/reconstruction.js';
import { auc, unitAucs } from '../metrics/auc.js';
import { logisticProbe } from '../metrics/logistic-probe.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, metricPlot, pivotTable, summaryTable, type SummaryRow } from './report.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Data whitening improves SAE learning" (docs/papers.md sec. 3, arXiv 2511.13981), on synthetic
 * worlds with correlated (anisotropic) activations (src/worlds/anisotropic.ts): k-sparse
 * latents mixed so that the activations' covariance has condition number κ.
 *
 * For each SAE kind (ReLU + L1, TopK) × input preprocessing × κ × seed, one SAE is trained with
 * the same budget (steps, batch, learning rate, width, sparsity hyperparameters):
 *  - `none`: the raw activations (the SAE's own b_dec and input scaling handle offset and scale);
 *  - `center`: the training mean removed, nothing else (a control: whitening also centres, and the
 *    SAE scales its inputs to unit mean squared norm, so with an offset `none` and the whitened
 *    runs differ in effective L1 strength for reasons that are not whitening);
 *  - `pca`, `zca`: PCA / ZCA whitening fitted on the training rows (`fitWhitening`, relative eps).
 * Every metric is measured on held-out rows in the ORIGINAL activation space:
 *  - `fve`, `mse`: reconstructions mapped back (whitening inverted, mean added);
 *  - `fve_white`: the same reconstructions scored in one reference PCA-whitened space (every
 *    direction weighted equally: what a whitened SAE optimises; shows the reconstruction
 *    trade-off from the other side);
 *  - `l0`: mean active latents per row; `dead`: fraction of latents that never fire on held-out rows;
 *  - `mcc`: mean correlation coefficient of the codes with the true latents (Hungarian matching);
 *  - `dict_cos`, `dict_frac090`: dictionary recovery of the decoder directions mapped back to the
 *    original space. An SAE trained on x_w = (x − μ)·W decodes x_w ≈ z·W_dec + b_dec, so
 *    x ≈ z·(W_dec·W⁻¹) + (b_dec·W⁻¹ + μ): the un-whitened atoms are the rows of W_dec·W⁻¹, which
 *    are compared (normalised, |cos|, Hungarian) with the true atoms A. `dict_cos_train` is the
 *    same in the space the SAE was trained in (true atoms mapped there: rows of A·W), for reference;
 *  - sparse probing, for labels [r_j > 0.5] of the first `probeLatents` latents (r = the base
 *    magnitude): `probe_auc1`, the best single unit's AUC (unit chosen on the first `probeRows`
 *    training rows, AUC on
 *    held-out rows, sign-invariant), and `probe_auck`, a logistic probe on the `probeK` units with
 *    the highest training AUC (held-out AUC of its probabilities); both averaged over the latents.
 */

export const WHITENING_KINDS = ['relu-sae', 'topk-sae'] as const;
export type WhiteningKind = (typeof WHITENING_KINDS)[number];
export const PREPROCESSINGS = ['none', 'center', 'pca', 'zca'] as const;
export type Preprocessing = (typeof PREPROCESSINGS)[number];

/** Every method name: `<kind>/<preprocessing>`, e.g. `relu-sae/zca`. */
export const WHITENING_METHODS: readonly string[] = WHITENING_KINDS.flatMap((k) => PREPROCESSINGS.map((p) => `${k}/${p}`));

export const WHITENING_METRICS = [
  'mcc', 'dict_cos', 'dict_frac090', 'probe_auc1', 'probe_auck', 'fve', 'fve_white', 'mse', 'l0', 'dead', 'dict_cos_train',
] as const;

export interface WhiteningConfig {
  condition: number;
  seed: number;
  [key: string]: number;
}

export interface WhiteningSettings {
  /** world: latents, active per row, observation dim, rows (train + val), val fraction, offset, noise, magnitudes */
  latents: number;
  active: number;
  dim: number;
  samples: number;
  valFraction: number;
  offset: number;
  noise: number;
  magnitude: Magnitude;
  /** SAE width */
  atoms: number;
  /** TopK's k */
  k: number;
  /** ReLU SAE's L1 coefficient (in the SAE's scaled input space) */
  l1: number;
  steps: number;
  batch: number;
  lr: number;
  /** whitening eps, relative to the mean eigenvalue */
  eps: number;
  /** sparse probing: latents 0 … probeLatents−1, units in the k-sparse probe */
  probeLatents: number;
  probeK: number;
  /** training rows used to choose the probing units and fit the probe */
  probeRows: number;
}

export const WHITENING_QUICK_SETTINGS: WhiteningSettings = {
  latents: 64,
  active: 3,
  dim: 32,
  samples: 12000,
  valFraction: 1 / 3,
  offset: 1,
  noise: 0.05,
  magnitude: 'uniform',
  atoms: 64,
  k: 3,
  l1: 0.3,
  steps: 1500,
  batch: 256,
  lr: 1e-3,
  eps: 1e-5,
  probeLatents: 8,
  probeK: 4,
  probeRows: 4000,
};

export const WHITENING_FULL_SETTINGS: WhiteningSettings = {
  ...WHITENING_QUICK_SETTINGS,
  latents: 256,
  active: 5,
  dim: 96,
  samples: 60000,
  atoms: 256,
  k: 5,
  steps: 20000,
  probeLatents: 16,
  probeRows: 10000,
};

export const WHITENING_PRESETS: Record<'quick' | 'full', { settings: WhiteningSettings; conditions: number[]; seeds: number[] }> = {
  quick: { settings: WHITENING_QUICK_SETTINGS, conditions: [1, 10, 100, 1000], seeds: [0] },
  full: { settings: WHITENING_FULL_SETTINGS, conditions: [1, 10, 100, 1000, 10000], seeds: [0, 1, 2] },
};

export const WHITENING_METHOD_LABELS: Record<string, string> = Object.fromEntries(
  WHITENING_METHODS.map((m) => {
    const [k, p] = m.split('/');
    return [m, `${k === 'relu-sae' ? 'ReLU' : 'TopK'} SAE, ${p === 'none' ? 'raw' : p === 'center' ? 'centred' : p.toUpperCase() + '-whitened'}`];
  }),
);

const PREP_COLORS: Record<Preprocessing, string> = { none: '#D55E00', center: '#E69F00', pca: '#009E73', zca: '#0072B2' };
export const WHITENING_METHOD_COLORS: Record<string, string> = Object.fromEntries(WHITENING_METHODS.map((m) => [m, PREP_COLORS[m.split('/')[1] as Preprocessing]]));

/** Split `relu-sae/zca` into its kind and preprocessing (E_USAGE on unknown names). */
export function parseWhiteningMethod(method: string): { kind: WhiteningKind; prep: Preprocessing } {
  const [kind, prep] = method.split('/');
  if (!(WHITENING_KINDS as readonly string[]).includes(kind) || !(PREPROCESSINGS as readonly string[]).includes(prep)) {
    fail('E_USAGE', `unknown whitening method "${method}"; methods are <kind>/<preprocessing> with kind ${WHITENING_KINDS.join(' or ')} and preprocessing ${PREPROCESSINGS.join(', ')}`);
  }
  return { kind: kind as WhiteningKind, prep: prep as Preprocessing };
}

/**
 * The sweep's cells: κ × seed × kind × preprocessing. `methods` may name kinds (`relu-sae`:
 * every preprocessing in `preps`) or full names (`relu-sae/zca`).
 */
export function whiteningCells(conditions: number[], seeds: number[], methods: string[], preps: string[] = [...PREPROCESSINGS]): Cell[] {
  for (const c of conditions) if (!Number.isFinite(c) || c < 1) fail('E_USAGE', `condition numbers must be >= 1, got ${c}`);
  checkSeeds(seeds);
  for (const p of preps) if (!(PREPROCESSINGS as readonly string[]).includes(p)) fail('E_USAGE', `unknown preprocessing "${p}"; choose from ${PREPROCESSINGS.join(', ')}`);
  const chosen = new Set<string>();
  for (const m of methods) {
    if ((WHITENING_KINDS as readonly string[]).includes(m)) for (const p of preps) chosen.add(`${m}/${p}`);
    else chosen.add(`${parseWhiteningMethod(m).kind}/${parseWhiteningMethod(m).prep}`);
  }
  const ordered = WHITENING_METHODS.filter((m) => chosen.has(m));
  if (ordered.length === 0) fail('E_USAGE', 'no methods to run; name at least one of relu-sae, topk-sae');
  const cells: Cell[] = [];
  for (const condition of conditions) {
    for (const seed of seeds) {
      const config: WhiteningConfig = { condition, seed };
      const group = configKey(config);
      for (const method of ordered) cells.push({ config, method, group });
    }
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/** An invertible affine input map x → (x − μ)·W, with W⁻¹ (identity for `none`). */
export interface InputMap {
  prep: Preprocessing;
  apply(X: Matrix): Matrix;
  invert(Xw: Matrix): Matrix;
  /** W [d x d] (null = identity) */
  W: Matrix | null;
  /** W⁻¹ [d x d] (null = identity) */
  Winv: Matrix | null;
}


/** Fit the preprocessing on training rows. */
export function fitInputMap(prep: Preprocessing, Xtrain: Matrix, eps: number): InputMap {
  if (prep === 'none') return { prep, apply: (X) => X, invert: (X) => X, W: null, Winv: null };
  if (prep === 'center') {
    const mu = Float32Array.from(columnMeans(Xtrain));
    const shift = (X: Matrix, s: number) => {
      const out = X.clone();
      for (let i = 0; i < X.rows; i++) for (let j = 0; j < X.cols; j++) out.data[i * X.cols + j] += s * mu[j];
      return out;
    };
    return { prep, apply: (X) => shift(X, -1), invert: (X) => shift(X, 1), W: null, Winv: null };
  }
  const wh: Whitening = fitWhitening(Xtrain, { method: prep, eps });
  return { prep, apply: (X) => wh.apply(X), invert: (X) => wh.invert(X), W: wh.transformMatrix(), Winv: wh.inverseMatrix() };
}

interface WorldState {
  world: AnisotropicWorld;
  /** reference PCA whitening (for fve_white) */
  ref: Whitening;
  Xref: Matrix;
  labels: { train: Float32Array; val: Float32Array }[];
  stats: Record<string, number>;
  maps: Map<Preprocessing, InputMap>;
}

function buildWorld(config: WhiteningConfig, s: WhiteningSettings): WorldState {
  const world = anisotropicWorld({
    latents: s.latents, active: s.active, dim: s.dim, samples: s.samples, valFraction: s.valFraction,
    condition: config.condition, offset: s.offset, noise: s.noise, magnitude: s.magnitude, seed: config.seed,
  });
  const ref = fitWhitening(world.X.train, { method: 'pca', eps: s.eps });
  const ev = ref.eigenvalues;
  const labels: { train: Float32Array; val: Float32Array }[] = [];
  for (let j = 0; j < Math.min(s.probeLatents, s.latents); j++) {
    const yt = world.labelFor('train', j).subarray(0, Math.min(s.probeRows, world.sizes.train));
    const yv = world.labelFor('val', j);
    // a label needs both classes in both splits to be probed
    const pos = (y: Float32Array) => y.reduce((a, b) => a + b, 0);
    if (pos(yt) > 0 && pos(yt) < yt.length && pos(yv) > 0 && pos(yv) < yv.length) labels.push({ train: yt, val: yv });
  }
  return {
    world, ref, Xref: ref.apply(world.X.val), labels, maps: new Map(),
    stats: {
      cond_sample: ev[0] / Math.max(ev[ev.length - 1], 1e-300),
      atom_coherence: meanAbsCoherence(world.A),
      probe_labels: labels.length,
    },
  };
}

/**
 * Per-unit AUCs on training rows → the best unit's held-out AUC, and a logistic probe on the top
 * `probeK` units (held-out AUC of its probabilities); both averaged over the labels.
 */
function sparseProbing(Ctrain: Matrix, Cval: Matrix, labels: WorldState['labels'], probeK: number): { auc1: number; auck: number } {
  let s1 = 0;
  let sk = 0;
  for (const { train, val } of labels) {
    const per = unitAucs(Ctrain, train);
    const order = Array.from(per.keys()).sort((a, b) => per[b] - per[a] || a - b).slice(0, Math.min(probeK, per.length));
    const best = Cval.takeCols([order[0]]);
    s1 += unitAucs(best, val)[0];
    const probe = logisticProbe(Ctrain.takeCols(order), train, undefined, undefined, { solver: 'newton', l2: 1e-4, maxIter: 50 });
    sk += auc(probe.predictProba(Cval.takeCols(order)), val);
  }
  const n = Math.max(labels.length, 1);
  return { auc1: s1 / n, auck: sk / n };
}

export async function runWhiteningCell(
  config: WhiteningConfig, method: string, s: WhiteningSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  const { kind, prep } = parseWhiteningMethod(method);
  checkAborted(signal);
  let st = cache.get('world') as WorldState | undefined;
  if (!st) {
    st = buildWorld(config, s);
    cache.set('world', st);
  }
  const { world } = st;
  let map = st.maps.get(prep);
  if (!map) {
    map = fitInputMap(prep, world.X.train, s.eps);
    st.maps.set(prep, map);
  }
  const Xt = map.apply(world.X.train);
  const Xv = map.apply(world.X.val);
  const sae = createSAE(saeKindOf(kind)!, {
    atoms: s.atoms, k: kind === 'topk-sae' ? s.k : undefined, l1: s.l1, steps: s.steps, batch: s.batch, lr: s.lr,
  });
  const fit = await sae.fit(Xt, { seed: `${config.seed}:${kind}`, signal });
  const Cv = sae.encode(Xv);
  const probeRows = Math.min(Xt.rows, s.probeRows);
  const Ct = sae.encode(Xt.rowSlice(0, probeRows));
  const rec = map.invert(sae.decode(Cv));
  const Wdec = sae.getWeights().W_dec;
  const Dorig = map.Winv ? matmul(Wdec, map.Winv) : Wdec;
  const Atrain = map.W ? matmul(world.A, map.W) : world.A;
  const rec0 = dictionaryRecovery(Dorig, world.A);
  const probe = sparseProbing(Ct, Cv, st.labels, s.probeK);
  let dead = 0;
  for (let a = 0; a < Cv.cols; a++) {
    let fired = false;
    for (let i = 0; i < Cv.rows && !fired; i++) fired = Cv.data[i * Cv.cols + a] !== 0;
    if (!fired) dead++;
  }
  return {
    mcc: mcc(Cv, world.Z.val).mcc,
    dict_cos: rec0.meanCos,
    dict_frac090: rec0.frac090,
    dict_cos_train: dictionaryRecovery(Wdec, Atrain).meanCos,
    probe_auc1: probe.auc1,
    probe_auck: probe.auck,
    fve: fve(world.X.val, rec),
    fve_white: fve(st.Xref, st.ref.apply(rec)),
    mse: mse(world.X.val, rec),
    l0: l0(Cv),
    dead: dead / Cv.cols,
    train_fvu: fit.fvu,
    ...st.stats,
  };
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface WhiteningReproOptions {
  out: string;
  preset?: 'quick' | 'full';
  /** condition numbers κ (default: the preset's) */
  conditions?: number[];
  seeds?: number[];
  /** kinds (`relu-sae`, `topk-sae`) or full method names (`relu-sae/zca`) */
  methods?: string[];
  /** preprocessings for the kinds named in `methods` (default all: none, center, pca, zca) */
  preprocessings?: string[];
  settings?: Partial<WhiteningSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

/** Run (or resume) the sweep into `out`, then write report.md and the plots. */
export async function runWhiteningRepro(o: WhiteningReproOptions): Promise<ExperimentRun<WhiteningSettings>> {
  return runExperiment({
    name: 'whitening',
    presets: WHITENING_PRESETS,
    cells: (preset) => whiteningCells(
      o.conditions?.length ? o.conditions : preset.conditions,
      o.seeds?.length ? o.seeds : preset.seeds,
      o.methods?.length ? o.methods : [...WHITENING_KINDS],
      o.preprocessings?.length ? o.preprocessings : [...PREPROCESSINGS],
    ),
    runCell: runWhiteningCell,
    writeReport: writeWhiteningReport,
  }, { ...o, overrides: o.settings });
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

const PLOTS: { metric: string; title: string; yMin?: number; yMax?: number }[] = [
  { metric: 'mcc', title: 'MCC of codes vs true latents', yMin: 0, yMax: 1 },
  { metric: 'dict_cos', title: 'Dictionary recovery (un-whitened decoder, mean |cos|)', yMin: 0, yMax: 1 },
  { metric: 'probe_auc1', title: 'Sparse probing: best single unit AUC' },
  { metric: 'probe_auck', title: 'Sparse probing: k-sparse logistic probe AUC' },
  { metric: 'fve', title: 'FVE of reconstructions (original space)' },
  { metric: 'fve_white', title: 'FVE in the whitened space (all directions equal)' },
  { metric: 'l0', title: 'L0 (active latents per row)' },
];

function delta(a: SummaryRow | undefined, b: SummaryRow | undefined, m: string): string {
  if (!a || !b || !Number.isFinite(a.mean[m]) || !Number.isFinite(b.mean[m])) return '—';
  const d = a.mean[m] - b.mean[m];
  return `${d >= 0 ? '+' : ''}${d.toFixed(3)}`;
}

/** Whitened minus baseline, per kind × κ × whitening, for the headline metrics. */
export function whiteningDeltas(rows: SummaryRow[], baseline: 'none' | 'center' = 'none'): string {
  const metrics = ['mcc', 'dict_cos', 'probe_auc1', 'probe_auck', 'fve', 'fve_white', 'l0'];
  const body: string[][] = [];
  const conds = [...new Set(rows.map((r) => r.config.condition as number))].sort((a, b) => a - b);
  for (const kind of WHITENING_KINDS) {
    for (const w of ['pca', 'zca'] as const) {
      for (const c of conds) {
        const base = rows.find((r) => r.method === `${kind}/${baseline}` && r.config.condition === c);
        const wr = rows.find((r) => r.method === `${kind}/${w}` && r.config.condition === c);
        if (!base || !wr) continue;
        body.push([kind, w, String(c), ...metrics.map((m) => delta(wr, base, m))]);
      }
    }
  }
  if (!body.length) return '';
  return markdownTable(['kind', 'whitening', 'κ', ...metrics.map((m) => `Δ ${m}`)], body, ['l', 'l', 'r', ...metrics.map(() => 'r' as const)]);
}

export function writeWhiteningReport(dir: string, lines: ResultLine[], o: { settings?: WhiteningSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = WHITENING_METHODS.filter((m) => rows.some((r) => r.method === m));
  const md: string[] = [];
  md.push('# Data whitening improves SAE learning — reproduction report', '');
  md.push('Protocol: docs/papers.md section 3 on anisotropic synthetic worlds (src/worlds/anisotropic.ts): k-sparse latents mixed so the');
  md.push('activation covariance has condition number κ (geometric spectrum, random rotation, an offset). Each SAE kind is trained with');
  md.push('the same budget on raw (`none`), centred (`center`), PCA- and ZCA-whitened inputs; every metric is measured on held-out rows');
  md.push('in the original space (decoder rows un-whitened: W_dec·W⁻¹). Claim to check: whitening gives better sparse probing and');
  md.push('disentanglement (MCC, dictionary recovery), slightly worse reconstruction (FVE), with larger gains for ReLU than for TopK.');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  md.push('## Headline: whitened minus raw', '', whiteningDeltas(rows, 'none') || '(no pairs yet)', '');
  md.push('## Whitened minus centred (the control without the offset/scale confound)', '', whiteningDeltas(rows, 'center') || '(no pairs yet)', '');
  const plots: string[] = [];
  const conds = new Set(rows.map((r) => r.config.condition));
  for (const p of PLOTS) {
    md.push(`## ${p.title}`, '');
    if (conds.size >= 2) {
      const file = `${p.metric}_vs_condition.svg`;
      writeFileAtomic(join(dir, file), metricPlot(rows, {
        xKey: 'condition', metric: p.metric, logX: true, methods, labels: WHITENING_METHOD_LABELS, colors: WHITENING_METHOD_COLORS,
        dashed: (m) => m.startsWith('topk'), title: `${p.title} vs condition number`, xLabel: 'condition number κ of the activation covariance', yLabel: p.metric, yMin: p.yMin, yMax: p.yMax,
      }));
      plots.push(file);
      md.push(`![${p.title}](${file})`, '');
    }
    md.push(pivotTable(rows, 'condition', p.metric, methods), '');
  }
  const diag = rows.filter((r) => r.method === methods[0]);
  if (diag.length) {
    md.push('## Worlds', '', 'Sample condition number of the training covariance and mean |cos| between true atoms.', '');
    md.push(markdownTable(['κ', 'cond_sample', 'atom_coherence'], diag.map((r) => [String(r.config.condition), formatMeanStd(r.mean.cond_sample, r.std.cond_sample, 1), formatMeanStd(r.mean.atom_coherence, r.std.atom_coherence)]), ['r', 'r', 'r']), '');
  }
  md.push('## All metrics', '', summaryTable(rows, [...WHITENING_METRICS]), '');
  return finishReport(dir, md, { lines: lines, settings: o.settings, plots });
}
