import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { conceptWorld, silentFraction } from '../worlds/concepts.js';
import { sampleToyFeatures, trainToyModel } from '../worlds/toy-model.js';
import { createSAE } from '../dictionary/sae/index.js';
import type { SparseAutoencoder } from '../dictionary/sae/base.js';
import { cosineSimilarity, mis, type SimilarityModel } from '../metrics/interpretability.js';
import { kmeansActivations, kmeansDirections } from '../metrics/kmeans.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, metricPlot, pivotTable, summaryTable, type SummaryRow } from './report.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Identifying Interpretable Visual Features in Artificial and Biological Neural Systems"
 * (Klindt et al., arXiv 2310.11431; PROTOCOLS.md §6) at CPU scale: is a layer's unit basis as
 * interpretable as directions found by k-means (or an SAE) when the layer holds more concepts
 * than it has units?
 *
 * Two worlds, each with F concepts read by U units (the superposition ratio is F/U):
 *  - `concepts`: stimuli are sparse combinations of F concepts (`active` on, magnitudes U(0,1)),
 *    the layer is ReLU(z·P) with a random projection P [F x U] (src/worlds/concepts.ts);
 *  - `toy`: the toy model of superposition (src/worlds/toy-model.ts) with F features and U
 *    hidden ReLU units, trained on features on with probability active/F; the layer is its
 *    hidden activations on fresh stimuli.
 * The observer is an oracle: cosine similarity of stimuli in concept space. The directions:
 *  - `units`: the U units themselves;
 *  - `kmeans-u`: k-means on L2-normalised activations with k = U, started at the identity
 *    ("aligned with neurons", one start, as the prototype does when k equals the units);
 *  - `kmeans-f`: k-means with k = F (k-means++, `restarts` starts);
 *  - `sae`: the latents of a TopK SAE (F latents, k = active) trained on the layer;
 *  - `sae-dir`: the same SAE's latents as directions: a latent's activation is its encoder
 *    pre-activation (h − b_dec)·w_j + b_j, the projection on the direction it reads, before TopK
 *    zeroes all but k latents per stimulus (`sae` scores the codes, `sae-dir` the directions).
 * k-means and the SAE are fitted on `trainSamples` further stimuli of the same world; MIS is
 * measured on the `samples` evaluation stimuli.
 * A k-means direction's activation is −distance to its centroid. The score of each method is
 * the mean MIS over its directions (`mis`; PROTOCOLS.md §6.2, src/metrics/interpretability.ts).
 *
 * The quantile: a concept is on in about active/F of the stimuli, so the top set of even a
 * perfectly monosemantic direction is all of one concept only when quantile <= active/F. At
 * the reference's 0.25 every direction's top set is mostly stimuli without its concept and the
 * index cannot tell methods apart in a sparse world; the presets use quantile 0.01 (< 2/128).
 *
 * Sparse directions: a TopK SAE latent is exactly 0 on most stimuli, and some latents fire on
 * fewer than L = ceil(samples · quantile) of them. `mis` scores every method with the
 * sparse-direction rule (`activeTop` in src/metrics/interpretability.ts: the top set holds only
 * stimuli above the direction's floor; directions on fewer than k + 1 stimuli are left out of
 * the mean and counted in `untestable`); it changes nothing for the dense directions (units,
 * k-means). `mis_ref` is the reference rule (top set padded with floor stimuli by the
 * tie-breaking shuffle), `rare` the fraction of directions above their floor on fewer than L
 * stimuli. Diagnostics on the `sae` row: `mis_pre`, the MIS of the SAE encoder's dense
 * pre-activations (the latent before TopK); `mis_oracle`, the MIS of an oracle TopK SAE whose
 * decoder and encoder rows are the layer's response to each concept alone (normalised), k = active.
 */

export const INTERPRETABILITY_METHODS = ['units', 'kmeans-u', 'kmeans-f', 'sae', 'sae-dir'] as const;
export type InterpretabilityMethod = (typeof INTERPRETABILITY_METHODS)[number];
export const INTERPRETABILITY_WORLDS = ['concepts', 'toy'] as const;
export type InterpretabilityWorld = (typeof INTERPRETABILITY_WORLDS)[number];
export const INTERPRETABILITY_METRICS = ['mis', 'mis_ref', 'mis_sd', 'mis_alpha', 'frac_mis090', 'rare', 'untestable', 'silent', 'dead', 'fvu', 'mis_pre', 'mis_oracle', 'toy_loss_ratio'] as const;

export interface InterpretabilityConfig {
  world: string;
  /** F / U */
  ratio: number;
  concepts: number;
  units: number;
  seed: number;
  [key: string]: string | number;
}

export interface InterpretabilitySettings {
  /** U */
  units: number;
  /** stimuli the index is measured on */
  samples: number;
  /** further stimuli (same world) that k-means and the SAE are fitted on */
  trainSamples: number;
  /** concepts on per stimulus (concept world); expected features on per stimulus (toy world) */
  active: number;
  /** MIS: tasks per direction, explanations per side, quantile, α of the graded score */
  tasks: number;
  k: number;
  quantile: number;
  alpha: number;
  /** k-means++ starts for kmeans-f */
  restarts: number;
  /** TopK SAE on the layer: steps, batch, learning rate */
  saeSteps: number;
  saeBatch: number;
  saeLr: number;
  /** toy model training: steps, batch, learning rate */
  toySteps: number;
  toyBatch: number;
  toyLr: number;
}

export const INTERPRETABILITY_QUICK: InterpretabilitySettings = {
  units: 16,
  samples: 5000,
  trainSamples: 20000,
  active: 2,
  tasks: 100,
  k: 9,
  quantile: 0.01,
  alpha: 4,
  restarts: 4,
  saeSteps: 3000,
  saeBatch: 256,
  saeLr: 3e-3,
  toySteps: 4000,
  toyBatch: 256,
  toyLr: 3e-3,
};

export const INTERPRETABILITY_FULL: InterpretabilitySettings = {
  ...INTERPRETABILITY_QUICK,
  samples: 20000,
  trainSamples: 50000,
  quantile: 0.005,
  restarts: 10,
  saeSteps: 10000,
  toySteps: 10000,
  toyBatch: 1024,
  toyLr: 1e-3,
};

export const INTERPRETABILITY_PRESETS: Record<'quick' | 'full', { settings: InterpretabilitySettings; ratios: number[]; worlds: InterpretabilityWorld[]; seeds: number[] }> = {
  quick: { settings: INTERPRETABILITY_QUICK, ratios: [1, 4, 8], worlds: ['concepts', 'toy'], seeds: [0, 1, 2] },
  full: { settings: INTERPRETABILITY_FULL, ratios: [1, 2, 4, 8, 16], worlds: ['concepts', 'toy'], seeds: [0, 1, 2, 3, 4] },
};

export const INTERPRETABILITY_LABELS: Record<string, string> = {
  units: 'units (neurons)',
  'kmeans-u': 'k-means, k = U (identity start)',
  'kmeans-f': 'k-means, k = F',
  sae: 'TopK SAE latents (F)',
  'sae-dir': 'TopK SAE latents as directions (pre-activations)',
};
const COLORS: Record<string, string> = { units: '#D55E00', 'kmeans-u': '#E69F00', 'kmeans-f': '#0072B2', sae: '#009E73', 'sae-dir': '#CC79A7' };

export function interpretabilityCells(
  s: InterpretabilitySettings, ratios: number[], worlds: string[], seeds: number[], methods: string[],
): Cell[] {
  for (const r of ratios) if (!Number.isInteger(r) || r < 1) fail('E_USAGE', `--ratios must be integers >= 1 (F = ratio · U), got ${r}`);
  for (const w of worlds) if (!(INTERPRETABILITY_WORLDS as readonly string[]).includes(w)) fail('E_USAGE', `unknown world "${w}"; choose ${INTERPRETABILITY_WORLDS.join(' or ')}`);
  checkSeeds(seeds);
  for (const m of methods) if (!(INTERPRETABILITY_METHODS as readonly string[]).includes(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${INTERPRETABILITY_METHODS.join(', ')}`);
  const ordered = INTERPRETABILITY_METHODS.filter((m) => methods.includes(m));
  if (!ordered.length) fail('E_USAGE', `no methods to run; name at least one of ${INTERPRETABILITY_METHODS.join(', ')}`);
  const cells: Cell[] = [];
  for (const world of worlds) {
    for (const ratio of ratios) {
      for (const seed of seeds) {
        const config: InterpretabilityConfig = { world, ratio, concepts: ratio * s.units, units: s.units, seed };
        const group = configKey(config);
        for (const method of ordered) cells.push({ config, method, group });
      }
    }
  }
  return cells;
}

interface Layer {
  /** the layer's activations on the evaluation stimuli [samples x U] */
  H: Matrix;
  /** the layer's activations on the training stimuli [trainSamples x U] (k-means and SAEs are fitted here) */
  Htrain: Matrix;
  /** the oracle */
  sim: SimilarityModel;
  /** the layer's response to each concept alone at magnitude 1 [F x U] */
  responses: Matrix;
  stats: Record<string, number>;
}

async function buildLayer(c: InterpretabilityConfig, s: InterpretabilitySettings, signal?: AbortSignal): Promise<Layer> {
  const F = c.concepts, U = c.units;
  if (c.world === 'concepts') {
    const w = conceptWorld({ concepts: F, units: U, samples: s.samples + s.trainSamples, active: s.active, seed: `interp:${c.seed}:${F}:${U}` });
    const H = w.H.rowSlice(0, s.samples);
    const responses = w.P.clone();
    for (let i = 0; i < responses.data.length; i++) if (!(responses.data[i] > 0)) responses.data[i] = 0;
    return {
      H, Htrain: w.H.rowSlice(s.samples, s.samples + s.trainSamples), responses,
      sim: cosineSimilarity(w.Z.rowSlice(0, s.samples), 'concept space'), stats: { silent: silentFraction(H) },
    };
  }
  if (c.world === 'toy') {
    const featureProb = Math.min(0.5, s.active / F);
    const trained = await trainToyModel({
      features: F, hidden: U, featureProb, steps: s.toySteps, batch: s.toyBatch, lr: s.toyLr,
      seed: `interp:toy:${c.seed}:${F}:${U}`, dataSeed: `interp:toy-data:${c.seed}:${F}:${U}`, signal,
    });
    const X = sampleToyFeatures(s.samples, F, featureProb, new Rng(`interp:toy-eval:${c.seed}:${F}:${U}`));
    const Xtrain = sampleToyFeatures(s.trainSamples, F, featureProb, new Rng(`interp:toy-fit:${c.seed}:${F}:${U}`));
    const H = trained.model.hiddenActivations(X);
    return {
      H, Htrain: trained.model.hiddenActivations(Xtrain), sim: cosineSimilarity(X, 'feature space'),
      responses: trained.model.hiddenActivations(Matrix.identity(F)),
      stats: { silent: silentFraction(H), toy_loss_ratio: trained.finalLoss / trained.trivialLoss },
    };
  }
  return fail('E_USAGE', `unknown world "${c.world}"`);
}

/** MIS (sparse-direction rule), the reference rule's MIS, the graded score and the spread over directions. */
function misStats(acts: Matrix, sim: SimilarityModel, s: InterpretabilitySettings, seed: number): Record<string, number> {
  const o = { tasks: s.tasks, k: s.k, quantile: s.quantile, seed: `mis:${seed}` };
  const r = mis(acts, sim, { ...o, activeTop: true });
  const ra = mis(acts, sim, { ...o, activeTop: true, alpha: s.alpha });
  const ref = mis(acts, sim, o);
  let ss = 0, hi = 0, rare = 0;
  const tested = r.scores.length - r.untestable;
  for (const v of r.scores) {
    if (Number.isNaN(v)) continue;
    ss += (v - r.mean) ** 2;
    if (v >= 0.9) hi++;
  }
  for (const m of r.tasks.topSize) if (m < r.tasks.subset) rare++;
  const n = r.scores.length;
  return {
    mis: r.mean, mis_ref: ref.mean, mis_sd: tested > 1 ? Math.sqrt(ss / (tested - 1)) : 0, mis_alpha: ra.mean,
    frac_mis090: tested ? hi / tested : 0, rare: rare / n, untestable: r.untestable / n, directions: n,
  };
}

/** An oracle TopK SAE: decoder and encoder rows = the layer's (normalised) response to each concept alone. */
function oracleSAECodes(responses: Matrix, H: Matrix, k: number): Matrix {
  const F = responses.rows, U = responses.cols;
  const D = responses.clone();
  for (let i = 0; i < F; i++) {
    let n2 = 0;
    for (let j = 0; j < U; j++) n2 += D.data[i * U + j] ** 2;
    const inv = n2 > 0 ? 1 / Math.sqrt(n2) : 0;
    for (let j = 0; j < U; j++) D.data[i * U + j] *= inv;
  }
  const sae = createSAE('topk', { atoms: F, k });
  sae.setWeights({ W_enc: D.transpose(), W_dec: D, b_enc: new Float32Array(F), b_dec: new Float32Array(U) });
  return sae.encode(H);
}

/**
 * The TopK SAE of a config's layer (F latents, k = active), trained once and shared by the `sae`
 * and `sae-dir` cells, with its pre-activations on the evaluation stimuli H (the latents as directions).
 */
async function layerSAE(cache: Map<string, unknown>, c: InterpretabilityConfig, s: InterpretabilitySettings, layer: Layer, signal?: AbortSignal): Promise<{ sae: SparseAutoencoder; fvu: number; pre: Matrix }> {
  let got = cache.get('sae') as { sae: SparseAutoencoder; fvu: number; pre: Matrix } | undefined;
  if (!got) {
    const F = c.concepts, U = c.units;
    const sae = createSAE('topk', { atoms: F, k: Math.min(F, s.active), steps: s.saeSteps, batch: s.saeBatch, lr: s.saeLr });
    const fit = await sae.fit(layer.Htrain, { seed: `sae:${c.seed}:${F}:${U}`, signal });
    got = { sae, fvu: fit.fvu, pre: sae.preActivations(layer.H) };
    cache.set('sae', got);
  }
  return got;
}

export async function runInterpretabilityCell(
  c: InterpretabilityConfig, method: string, s: InterpretabilitySettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  checkAborted(signal);
  let layer = cache.get('layer') as Layer | undefined;
  if (!layer) {
    layer = await buildLayer(c, s, signal);
    cache.set('layer', layer);
  }
  const { H, Htrain, sim } = layer;
  const F = c.concepts, U = c.units;
  switch (method as InterpretabilityMethod) {
    case 'units':
      return { ...misStats(H, sim, s, c.seed), ...layer.stats };
    case 'kmeans-u': {
      const d = kmeansDirections(Htrain, { k: U, seed: `kmeans-u:${c.seed}`, signal });
      return { ...misStats(kmeansActivations(H, d.centroids), sim, s, c.seed), inertia: d.fit.inertia / Htrain.rows };
    }
    case 'kmeans-f': {
      const d = kmeansDirections(Htrain, { k: F, init: F === U ? 'k-means++' : undefined, restarts: s.restarts, seed: `kmeans-f:${c.seed}`, signal });
      return { ...misStats(kmeansActivations(H, d.centroids), sim, s, c.seed), inertia: d.fit.inertia / Htrain.rows };
    }
    case 'sae': {
      const { sae, fvu, pre } = await layerSAE(cache, c, s, layer, signal);
      const Zs = sae.encode(H);
      let dead = 0;
      for (let a = 0; a < Zs.cols; a++) {
        let fired = false;
        for (let i = 0; i < Zs.rows && !fired; i++) fired = Zs.data[i * Zs.cols + a] !== 0;
        if (!fired) dead++;
      }
      // diagnostics: the latents before TopK (as the `sae-dir` row scores them), and an oracle SAE
      const o = { tasks: s.tasks, k: s.k, quantile: s.quantile, seed: `mis:${c.seed}`, activeTop: true };
      return {
        ...misStats(Zs, sim, s, c.seed), dead: dead / Zs.cols, fvu,
        mis_pre: mis(pre, sim, o).mean, mis_oracle: mis(oracleSAECodes(layer.responses, H, Math.min(F, s.active)), sim, o).mean,
      };
    }
    case 'sae-dir': {
      const { fvu, pre } = await layerSAE(cache, c, s, layer, signal);
      return { ...misStats(pre, sim, s, c.seed), fvu };
    }
    default:
      return fail('E_USAGE', `unknown method "${method}"; choose from ${INTERPRETABILITY_METHODS.join(', ')}`);
  }
}

export interface InterpretabilityReproOptions {
  out: string;
  preset?: 'quick' | 'full';
  ratios?: number[];
  worlds?: string[];
  seeds?: number[];
  methods?: string[];
  settings?: Partial<InterpretabilitySettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

/** Run (or resume) the sweep into `out`, then write report.md and the plots. */
export async function runInterpretabilityRepro(o: InterpretabilityReproOptions): Promise<ExperimentRun<InterpretabilitySettings>> {
  return runExperiment({
    name: 'interpretability',
    presets: INTERPRETABILITY_PRESETS,
    cells: (preset, settings) => interpretabilityCells(
      settings,
      o.ratios?.length ? o.ratios : preset.ratios,
      o.worlds?.length ? o.worlds : preset.worlds,
      o.seeds?.length ? o.seeds : preset.seeds,
      o.methods?.length ? o.methods : [...INTERPRETABILITY_METHODS],
    ),
    runCell: runInterpretabilityCell,
    writeReport: writeInterpretabilityReport,
  }, { ...o, overrides: o.settings });
}

/** Per world × ratio: each direction method's `metric` (default `mis`) minus the units' (mean over seeds) and how many seeds agree. */
export function interpretabilityMargins(lines: ResultLine[], metric = 'mis'): { world: string; ratio: number; method: string; margin: number; std: number; seedsAbove: number; seeds: number }[] {
  const ok = lines.filter((l) => l.metrics && l.error === undefined);
  const out: { world: string; ratio: number; method: string; margin: number; std: number; seedsAbove: number; seeds: number }[] = [];
  const keys = [...new Set(ok.map((l) => `${l.config.world}|${l.config.ratio}`))];
  for (const key of keys) {
    const [world, ratioS] = key.split('|');
    const ratio = Number(ratioS);
    const at = ok.filter((l) => l.config.world === world && l.config.ratio === ratio);
    for (const method of INTERPRETABILITY_METHODS.filter((m) => m !== 'units')) {
      const diffs: number[] = [];
      for (const l of at.filter((x) => x.method === method)) {
        const u = at.find((x) => x.method === 'units' && x.config.seed === l.config.seed);
        if (u && Number.isFinite(l.metrics![metric]) && Number.isFinite(u.metrics![metric])) diffs.push(l.metrics![metric] - u.metrics![metric]);
      }
      if (!diffs.length) continue;
      const m = diffs.reduce((a, b) => a + b, 0) / diffs.length;
      const sd = diffs.length > 1 ? Math.sqrt(diffs.reduce((a, b) => a + (b - m) ** 2, 0) / (diffs.length - 1)) : 0;
      out.push({ world, ratio, method, margin: m, std: sd, seedsAbove: diffs.filter((d) => d > 0).length, seeds: diffs.length });
    }
  }
  return out.sort((a, b) => a.world.localeCompare(b.world) || a.ratio - b.ratio);
}

export function writeInterpretabilityReport(dir: string, lines: ResultLine[], o: { settings?: InterpretabilitySettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const md: string[] = [];
  md.push('# Interpretable directions beyond neurons — reproduction report', '');
  md.push('Protocol: docs/evidence.md (Klindt et al., arXiv 2310.11431; MIS as in klindtlab/MachInterp) on synthetic worlds with an');
  md.push('oracle observer (cosine similarity of stimuli in concept space). Claim to check: under superposition (F/U ≥ 4) k-means');
  md.push('directions (and SAE latents) are more interpretable than single units; without superposition (F = U) units are already good.');
  md.push('The paper reports the direction of the effect on CNNs and neural data, no number for this synthetic setting (none to print beside ours).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const margins = interpretabilityMargins(lines);
  if (margins.length) {
    md.push('## Margin over units (MIS of the method − MIS of the units, same seed)', '');
    const graded = interpretabilityMargins(lines, 'mis_alpha');
    const reference = interpretabilityMargins(lines, 'mis_ref');
    const find = (list: typeof margins, m: (typeof margins)[number]) => list.find((x) => x.world === m.world && x.ratio === m.ratio && x.method === m.method);
    const cell = (x: (typeof margins)[number] | undefined) => (x ? `${formatMeanStd(x.margin, x.std)} (${x.seedsAbove}/${x.seeds})` : '—');
    md.push('`mis`: the fraction of tasks with Δ > 0 under the sparse-direction rule; `mis_ref`: the same under the reference rule; `mis_alpha`: the graded score mean sigmoid(αΔ). In brackets: seeds with margin > 0.', '');
    md.push(markdownTable(['world', 'F/U', 'method', 'margin (mis)', 'seeds with margin > 0', 'margin (mis_ref)', 'margin (mis_alpha)'], margins.map((m) => [
      m.world, String(m.ratio), m.method, formatMeanStd(m.margin, m.std), `${m.seedsAbove}/${m.seeds}`, cell(find(reference, m)), cell(find(graded, m)),
    ]), ['l', 'r', 'l', 'r', 'r', 'r', 'r']), '');
  }
  const plots: string[] = [];
  for (const world of INTERPRETABILITY_WORLDS) {
    const wr = rows.filter((r) => r.config.world === world);
    if (!wr.length) continue;
    md.push(`## World \`${world}\``, '');
    const ratios = new Set(wr.map((r) => r.config.ratio));
    if (ratios.size >= 2) {
      const file = `mis_vs_ratio_${world}.svg`;
      writeFileAtomic(join(dir, file), metricPlot(wr, {
        xKey: 'ratio', metric: 'mis', logX: true, methods: [...INTERPRETABILITY_METHODS], labels: INTERPRETABILITY_LABELS, colors: COLORS,
        title: `MIS vs superposition ratio (${world} world)`, xLabel: 'superposition ratio F / U', yLabel: 'MIS (fraction of 2-AFC tasks correct)', yMax: 1,
      }));
      plots.push(file);
      md.push(`![MIS vs F/U, ${world}](${file})`, '');
    }
    md.push(pivotTable(wr, 'ratio', 'mis', [...INTERPRETABILITY_METHODS]), '');
    md.push(pivotTable(wr, 'ratio', 'mis_ref', [...INTERPRETABILITY_METHODS]), '');
    md.push(pivotTable(wr, 'ratio', 'mis_alpha', [...INTERPRETABILITY_METHODS]), '');
    if (wr.some((r) => r.method === 'sae')) {
      md.push('SAE diagnostics: `rare` = latents above their floor on fewer than L stimuli, `mis_pre` = MIS of the encoder pre-activations, `mis_oracle` = MIS of an oracle TopK SAE (rows = the layer\'s response to each concept alone).', '');
      for (const m of ['rare', 'mis_pre', 'mis_oracle']) md.push(pivotTable(wr, 'ratio', m, ['sae']), '');
    }
  }
  md.push('## All metrics', '', summaryTable(rows, [...INTERPRETABILITY_METRICS]), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}

export type { SummaryRow };
