import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { writeFileAtomic } from '../io/atomic.js';
import { batches, type RowSource } from '../io/rows.js';
import { packageVersion } from '../io/model.js';
import type { LoadedModel } from '../dictionary/model-runtime.js';
import type { FeatureDetail, FeatureRow, ModelSummary, ModelView } from './model-data.js';

/**
 * Feature dashboards for non-text activations in the files Neuronpedia and SAEDashboard use
 * (../shared/ECOSYSTEM.md §4.4), and the explorer view of such a folder.
 *
 *   batch-{n}.json        SAEDashboard / Neuronpedia upload batches: {model_id, layer, sae_set,
 *                         features: [...]}, `featuresPerBatch` live features each, with exactly the
 *                         NeuronpediaDashboardFeature fields: frac_nonzero, the activation histogram
 *                         (freq_hist_data_bar_values = bin centres, _heights = counts, 40 bins over the
 *                         non-zero activations), neuron_alignment_* (the decoder row's largest
 *                         entries: which input dimensions the feature writes to, and their share of
 *                         the row's L1 norm), n_prompts_total = samples, n_tokens_in_prompt = 1,
 *                         dataset, and `activations`: a "top activations" group (bin_min −1,
 *                         bin_max = the largest value, bin_contains −1) of the `topActs` largest,
 *                         then `quantiles` equal-width intervals of (0, max] with `perQuantile`
 *                         samples each drawn uniformly (seeded) and bin_contains = the fraction of
 *                         the feature's activations in the interval. Each example is one "prompt" of
 *                         one "token": tokens = ["<label> (#i)"] or ["#i"], values = [activation],
 *                         qualifying_token_index 0. Logit-lens and correlation fields need a
 *                         language model or O(d·atoms) statistics and are left empty.
 *   features.jsonl        one Neuronpedia Neuron row per feature: modelId, layer, index (string),
 *                         maxActApprox, frac_nonzero, topkCosSimIndices / topkCosSimValues (the
 *                         `neighbours` most similar decoder rows by cosine), vector (the decoder row),
 *                         and a `sparsecode` object (mean_active, nearest, nearest_abs_cos)
 *   skipped_indexes.json  features that never fired on the data (SAEDashboard's file for them)
 *   run_settings.json     the settings, the model and data, and `format: "sparsecode-neuronpedia"`
 *
 * Values are rounded to 5 decimals. Decoder norms: Neuronpedia's runner folds them
 * (fold_W_dec_norm) before computing dashboards; callers load the model with foldDecoderNorm
 * where that is allowed, and this records whether it was.
 */
export const NEURONPEDIA_FORMAT = 'sparsecode-neuronpedia';

export interface NeuronpediaOptions {
  /** one label per sample (shown as the example's token); default: the sample index */
  labels?: string[];
  modelId?: string;
  layer?: number;
  saeSet?: string;
  dataset?: string;
  featuresPerBatch?: number;
  quantiles?: number;
  topActs?: number;
  perQuantile?: number;
  histogramBins?: number;
  neighbours?: number;
  seed?: number;
  /** rows encoded at a time */
  batch?: number;
  /** whether the model's decoder norms were folded (recorded in run_settings.json) */
  decoderNormsFolded?: boolean;
  onProgress?: (pass: 1 | 2, done: number, total: number) => void;
}

export interface NeuronpediaResult {
  features: number;
  alive: number;
  dead: number;
  batches: number;
  samples: number;
  files: string[];
}

const r5 = (v: number) => Math.round(v * 1e5) / 1e5;

/** Top `k` cosine neighbours of every decoder row (signed, largest first) and the largest |cos|. */
export function decoderNeighbours(W_dec: Matrix, k: number): { idx: Int32Array; val: Float32Array; nearest: Int32Array; nearestAbs: Float64Array; k: number } {
  const A = W_dec.rows, d = W_dec.cols;
  const U = new Matrix(A, d);
  for (let a = 0; a < A; a++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += W_dec.data[a * d + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) U.data[a * d + j] = W_dec.data[a * d + j] * inv;
  }
  const kk = Math.max(0, Math.min(k, A - 1));
  const idx = new Int32Array(A * kk).fill(-1), val = new Float32Array(A * kk);
  const nearest = new Int32Array(A).fill(-1), nearestAbs = new Float64Array(A);
  const B = Math.max(1, Math.min(A, Math.floor(4_000_000 / Math.max(1, A))));
  for (let r0 = 0; r0 < A; r0 += B) {
    const r1 = Math.min(A, r0 + B);
    const G = matmul(U.rowSlice(r0, r1), U, { transB: true });
    for (let i = r0; i < r1; i++) {
      const g = G.data.subarray((i - r0) * A, (i - r0 + 1) * A);
      const order: number[] = [];
      let bestAbs = -1, best = -1;
      for (let j = 0; j < A; j++) {
        if (j === i) continue;
        const c = Math.abs(g[j]);
        if (c > bestAbs) { bestAbs = c; best = j; }
        if (kk === 0) continue;
        // insertion into a short sorted list of the kk largest signed cosines
        if (order.length < kk || g[j] > g[order[order.length - 1]]) {
          let p = order.length < kk ? order.length : order.length - 1;
          if (order.length < kk) order.push(j);
          while (p > 0 && g[order[p - 1]] < g[j]) { order[p] = order[p - 1]; p--; }
          order[p] = j;
        }
      }
      for (let t = 0; t < order.length; t++) { idx[i * kk + t] = order[t]; val[i * kk + t] = g[order[t]]; }
      nearest[i] = best;
      nearestAbs[i] = Math.max(0, bestAbs);
    }
  }
  return { idx, val, nearest, nearestAbs, k: kk };
}

function label(i: number, labels?: string[]): string {
  return labels ? `${labels[i]} (#${i})` : `#${i}`;
}

/** Compute the dashboards of `model` on `data` and write them to `outDir` (see the module comment). */
export function writeNeuronpediaExport(model: LoadedModel, data: RowSource, outDir: string, o: NeuronpediaOptions = {}): NeuronpediaResult {
  const A = model.atoms, d = model.dim, n = data.rows;
  if (data.cols !== d) fail('E_SHAPE', `shape mismatch: ${data.name} has ${data.cols} columns, the model expects d_in = ${d}; pass activations of the layer the model was trained on`);
  if (n < 1) fail('E_ARG', `${data.name} has no rows`);
  if (o.labels && o.labels.length !== n) fail('E_SHAPE', `the labels give ${o.labels.length} entries for ${n} samples; give one label per row of the data`);
  const perBatch = o.featuresPerBatch ?? 128, Q = o.quantiles ?? 5, TOP = o.topActs ?? 20, PQ = o.perQuantile ?? 5, BINS = o.histogramBins ?? 40, NB = o.neighbours ?? 10;
  for (const [name, v, lo] of [['featuresPerBatch', perBatch, 1], ['quantiles', Q, 0], ['topActs', TOP, 0], ['perQuantile', PQ, 0], ['histogramBins', BINS, 1], ['neighbours', NB, 0]] as const) {
    if (!Number.isInteger(v) || v < lo) fail('E_ARG', `${name} must be an integer >= ${lo}, got ${v}`);
  }
  const rowsPerBatch = o.batch ?? Math.max(64, Math.min(4096, Math.floor(2 ** 22 / Math.max(1, A))));

  // pass 1: counts, sums, max, min non-zero, top activations
  const count = new Float64Array(A), sum = new Float64Array(A), maxv = new Float64Array(A).fill(-Infinity), minv = new Float64Array(A).fill(Infinity);
  const topVal = new Float64Array(A * TOP).fill(-Infinity), topIdx = new Int32Array(A * TOP).fill(-1), topMin = new Int32Array(A); // position of the smallest kept
  const topLen = new Int32Array(A);
  let done = 0;
  for (const b of batches(data, { batch: rowsPerBatch, shuffle: 'none' })) {
    const Z = model.encode(b.X), z = Z.data;
    for (let i = 0; i < Z.rows; i++) {
      const sample = done + i, o0 = i * A;
      for (let a = 0; a < A; a++) {
        const v = z[o0 + a];
        if (v === 0) continue;
        count[a]++;
        sum[a] += v;
        if (v > maxv[a]) maxv[a] = v;
        if (v < minv[a]) minv[a] = v;
        if (TOP === 0) continue;
        const base = a * TOP;
        if (topLen[a] < TOP) {
          topVal[base + topLen[a]] = v;
          topIdx[base + topLen[a]] = sample;
          topLen[a]++;
          if (topLen[a] === TOP) {
            let m = 0;
            for (let t = 1; t < TOP; t++) if (topVal[base + t] < topVal[base + m]) m = t;
            topMin[a] = m;
          }
        } else if (v > topVal[base + topMin[a]]) {
          topVal[base + topMin[a]] = v;
          topIdx[base + topMin[a]] = sample;
          let m = 0;
          for (let t = 1; t < TOP; t++) if (topVal[base + t] < topVal[base + m]) m = t;
          topMin[a] = m;
        }
      }
    }
    done += Z.rows;
    o.onProgress?.(1, done, n);
  }

  // pass 2: histograms, interval counts and seeded reservoir samples per interval
  const hist = new Float64Array(A * BINS);
  const qCount = new Float64Array(A * Q), qSeen = new Float64Array(A * Q);
  const qIdx = new Int32Array(A * Q * PQ).fill(-1), qVal = new Float64Array(A * Q * PQ);
  const rng = new Rng(o.seed ?? 0).fork('neuronpedia-intervals');
  done = 0;
  for (const b of batches(data, { batch: rowsPerBatch, shuffle: 'none' })) {
    const Z = model.encode(b.X), z = Z.data;
    for (let i = 0; i < Z.rows; i++) {
      const sample = done + i, o0 = i * A;
      for (let a = 0; a < A; a++) {
        const v = z[o0 + a];
        if (v === 0) continue;
        const lo = minv[a], hi = maxv[a];
        const hb = hi > lo ? Math.min(BINS - 1, Math.floor(((v - lo) / (hi - lo)) * BINS)) : 0;
        hist[a * BINS + hb]++;
        if (Q === 0 || !(v > 0) || !(hi > 0)) continue;
        const q = Math.min(Q - 1, Math.floor((v / hi) * Q));
        const cq = a * Q + q;
        qCount[cq]++;
        if (PQ === 0) continue;
        const t = qSeen[cq]++;
        const slot = t < PQ ? t : rng.int(t + 1);
        if (slot < PQ) {
          qIdx[cq * PQ + slot] = sample;
          qVal[cq * PQ + slot] = v;
        }
      }
    }
    done += Z.rows;
    o.onProgress?.(2, done, n);
  }

  const nb = decoderNeighbours(model.weights.W_dec, NB);
  const md = (model.metadata ?? {}) as Record<string, unknown>;
  const modelId = o.modelId ?? (typeof md.model_name === 'string' ? md.model_name : 'sparsecode');
  const layer = o.layer ?? (typeof md.hook_name === 'string' && /\.(\d+)\./.test(md.hook_name) ? Number(/\.(\d+)\./.exec(md.hook_name)![1]) : 0);
  const saeSet = o.saeSet ?? 'sparsecode';
  const dataset = o.dataset ?? basename(data.path);
  const W = model.weights.W_dec.data;

  const featureJson = (a: number) => {
    const row = W.subarray(a * d, (a + 1) * d);
    let l1 = 0;
    for (let j = 0; j < d; j++) l1 += Math.abs(row[j]);
    const align = [...row.keys()].sort((p, q) => Math.abs(row[q]) - Math.abs(row[p]) || p - q).slice(0, Math.min(3, d));
    const centres: number[] = [], heights: number[] = [];
    const lo = minv[a], hi = maxv[a];
    for (let t = 0; t < BINS; t++) {
      centres.push(r5(hi > lo ? lo + ((t + 0.5) * (hi - lo)) / BINS : lo));
      heights.push(hist[a * BINS + t]);
    }
    const activations: Record<string, unknown>[] = [];
    const top = [...Array(topLen[a]).keys()].map((t) => ({ v: topVal[a * TOP + t], i: topIdx[a * TOP + t] })).sort((p, q) => q.v - p.v || p.i - q.i);
    for (const t of top) activations.push({ bin_min: -1, bin_max: r5(maxv[a]), bin_contains: -1, tokens: [label(t.i, o.labels)], values: [r5(t.v)], qualifying_token_index: 0 });
    for (let q = Q - 1; q >= 0; q--) {
      const cq = a * Q + q;
      const bmin = r5((q * maxv[a]) / Q), bmax = r5(((q + 1) * maxv[a]) / Q);
      const got: { v: number; i: number }[] = [];
      for (let s = 0; s < Math.min(PQ, qSeen[cq]); s++) got.push({ v: qVal[cq * PQ + s], i: qIdx[cq * PQ + s] });
      got.sort((p, r) => r.v - p.v || p.i - r.i);
      for (const g of got) activations.push({ bin_min: bmin, bin_max: bmax, bin_contains: r5(qCount[cq] / count[a]), tokens: [label(g.i, o.labels)], values: [r5(g.v)], qualifying_token_index: 0 });
    }
    return {
      feature_index: a,
      neuron_alignment_indices: align,
      neuron_alignment_values: align.map((j) => r5(row[j])),
      neuron_alignment_l1: align.map((j) => r5(l1 > 0 ? row[j] / l1 : 0)),
      correlated_neurons_indices: [], correlated_neurons_l1: [], correlated_neurons_pearson: [],
      correlated_features_indices: [], correlated_features_l1: [], correlated_features_pearson: [],
      neg_str: [], neg_values: [], pos_str: [], pos_values: [],
      frac_nonzero: r5(count[a] / n),
      freq_hist_data_bar_values: centres,
      freq_hist_data_bar_heights: heights,
      logits_hist_data_bar_heights: [], logits_hist_data_bar_values: [],
      n_prompts_total: n,
      n_tokens_in_prompt: 1,
      dataset,
      decoder_weights_dist: [],
      activations,
    };
  };

  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const alive: number[] = [], dead: number[] = [];
  for (let a = 0; a < A; a++) (count[a] > 0 ? alive : dead).push(a);
  const nBatches = Math.ceil(alive.length / perBatch);
  const keep = new Set<string>();
  for (let bi = 0; bi < nBatches; bi++) {
    const f = `batch-${bi}.json`;
    const feats = alive.slice(bi * perBatch, (bi + 1) * perBatch).map(featureJson);
    writeFileAtomic(join(outDir, f), JSON.stringify({ model_id: modelId, layer, sae_set: saeSet, features: feats }));
    files.push(f);
    keep.add(f);
  }
  for (const f of readdirSync(outDir)) if (/^batch-\d+\.json$/.test(f) && !keep.has(f)) unlinkSync(join(outDir, f)); // a previous export's extra batches
  const lines: string[] = [];
  for (let a = 0; a < A; a++) {
    lines.push(JSON.stringify({
      modelId, layer: `${layer}-${saeSet}`, index: String(a),
      maxActApprox: count[a] > 0 ? r5(maxv[a]) : 0,
      frac_nonzero: r5(count[a] / n),
      topkCosSimIndices: Array.from(nb.idx.subarray(a * nb.k, (a + 1) * nb.k)),
      topkCosSimValues: Array.from(nb.val.subarray(a * nb.k, (a + 1) * nb.k), r5),
      vector: Array.from(W.subarray(a * d, (a + 1) * d), r5),
      sparsecode: { mean_active: count[a] > 0 ? r5(sum[a] / count[a]) : null, nearest: nb.nearest[a], nearest_abs_cos: r5(nb.nearestAbs[a]) },
    }));
  }
  writeFileAtomic(join(outDir, 'features.jsonl'), lines.join('\n') + '\n');
  files.push('features.jsonl');
  writeFileAtomic(join(outDir, 'skipped_indexes.json'), JSON.stringify({ model_id: modelId, layer: String(layer), sae_set: saeSet, log_sparsity: null, skipped_indexes: dead }));
  files.push('skipped_indexes.json');
  const settings = {
    format: NEURONPEDIA_FORMAT,
    sparsecode_version: packageVersion(),
    model_id: modelId, layer, sae_set: saeSet, dataset,
    model: { path: model.dir, layout: model.layout.name, kind: model.kind, atoms: A, dim: d, k: model.k ?? null, decoder_norms_folded: !!o.decoderNormsFolded },
    data: { path: data.path, samples: n },
    labels: !!o.labels,
    n_features_at_a_time: perBatch, n_quantiles: Q, top_acts_group_size: TOP, quantile_group_size: PQ, histogram_bins: BINS, neighbours: nb.k, seed: o.seed ?? 0,
    alive: alive.length, dead: dead.length, batches: nBatches,
  };
  writeFileAtomic(join(outDir, 'run_settings.json'), JSON.stringify(settings, null, 2) + '\n');
  files.push('run_settings.json');
  return { features: A, alive: alive.length, dead: dead.length, batches: nBatches, samples: n, files };
}

/** Whether `dir` holds a sparsecode Neuronpedia export (run_settings.json with its format). */
export function isNeuronpediaExport(dir: string): boolean {
  const p = join(dir, 'run_settings.json');
  if (!existsSync(p)) return false;
  try {
    return JSON.parse(readFileSync(p, 'utf8')).format === NEURONPEDIA_FORMAT;
  } catch {
    return false;
  }
}

function readJsonFile(p: string): any {
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    fail('E_IO', `cannot read ${p}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    fail('E_FORMAT', `${p}: not valid JSON (${(e as Error).message})`);
  }
}

const sampleOf = (token: unknown): number => {
  const m = typeof token === 'string' ? /#(\d+)\)?$/.exec(token) : null;
  return m ? Number(m[1]) : -1;
};

/** The explorer's model view of an export folder: the same files Neuronpedia reads, no model or data needed. */
export function readNeuronpediaView(dir: string): ModelView {
  const s = readJsonFile(join(dir, 'run_settings.json'));
  if (s.format !== NEURONPEDIA_FORMAT) fail('E_FORMAT', `${dir}/run_settings.json: not a sparsecode Neuronpedia export`);
  const A = s.model?.atoms, dim = s.model?.dim, n = s.data?.samples;
  if (!Number.isInteger(A) || A < 1 || !Number.isInteger(dim) || dim < 1 || !Number.isInteger(n) || n < 1) fail('E_FORMAT', `${dir}/run_settings.json: model.atoms, model.dim and data.samples must be positive integers`);
  const neuron: any[] = new Array(A);
  const text = readFileSync(join(dir, 'features.jsonl'), 'utf8');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    const i = Number(r.index);
    if (!Number.isInteger(i) || i < 0 || i >= A) fail('E_FORMAT', `${dir}/features.jsonl: index ${r.index} outside [0, ${A - 1}]`);
    neuron[i] = r;
  }
  for (let a = 0; a < A; a++) if (!neuron[a]) fail('E_FORMAT', `${dir}/features.jsonl: feature ${a} is missing`);
  const dash: any[] = new Array(A).fill(null);
  for (let b = 0; b < (s.batches ?? 0); b++) {
    const batch = readJsonFile(join(dir, `batch-${b}.json`));
    if (!Array.isArray(batch.features)) fail('E_FORMAT', `${dir}/batch-${b}.json: no features array`);
    for (const f of batch.features) {
      if (!Number.isInteger(f.feature_index) || f.feature_index < 0 || f.feature_index >= A) fail('E_FORMAT', `${dir}/batch-${b}.json: feature_index ${f.feature_index} outside [0, ${A - 1}]`);
      dash[f.feature_index] = f;
    }
  }
  let dead = 0, l0 = 0;
  const features: FeatureRow[] = [];
  for (let a = 0; a < A; a++) {
    const r = neuron[a], f = dash[a];
    const freq = typeof r.frac_nonzero === 'number' ? r.frac_nonzero : 0;
    if (!(freq > 0)) dead++;
    l0 += freq;
    features.push({
      index: a,
      frequency: freq,
      meanActive: r.sparsecode?.mean_active ?? NaN,
      max: f ? r.maxActApprox : 0,
      nearestCos: r.sparsecode?.nearest_abs_cos ?? NaN,
      nearest: r.sparsecode?.nearest ?? -1,
      latent: null, corr: null, cos: null,
    });
  }
  const summary: ModelSummary = {
    kind: String(s.model.kind), atoms: A, dim, k: s.model.k ?? null, whitened: false, dir,
    data: { path: String(s.data.path), samples: n }, truth: null,
    metrics: { samples: n, l0, dead },
  };
  function detail(index: number): FeatureDetail {
    if (!Number.isInteger(index) || index < 0 || index >= A) fail('E_ARG', `feature index must be an integer in [0, ${A - 1}], got ${index}`);
    const r = neuron[index], f = dash[index];
    const neighbours = (r.topkCosSimIndices ?? []).map((j: number, t: number) => ({ index: j, cos: r.topkCosSimValues[t] }));
    let histogram: FeatureDetail['histogram'] = null;
    const top: FeatureDetail['top'] = [];
    if (f) {
      const c: number[] = f.freq_hist_data_bar_values, h: number[] = f.freq_hist_data_bar_heights;
      if (c.length) {
        const w = c.length > 1 ? c[1] - c[0] : 1;
        histogram = { edges: [...c.map((v) => v - w / 2), c[c.length - 1] + w / 2], counts: h };
      }
      for (const e of f.activations) if (e.bin_min === -1) top.push({ sample: sampleOf(e.tokens?.[0]), value: e.values?.[0] });
    }
    return { index, row: features[index], atom: r.vector ?? [], neighbours, histogram, top, trueAtom: null };
  }
  return { summary, features, detail };
}
