import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { type ModelSpec, saveModel } from '../io/model.js';
import { batches, type RowSource } from '../io/rows.js';
import { foldWhitening } from './fold.js';
import type { LoadedModel } from './model-runtime.js';

/**
 * Writing a loaded model (any layout) as a SAELens v6 folder that SAELens ≥ 6 loads, with
 * `sparsity.safetensors` when data is given. The model's weights are already canonical (the
 * runtime folded scales and gates); a whitening is folded in here (foldWhitening), so the folder
 * takes raw activations like any SAELens SAE. BatchTopK and Matryoshka models are written as
 * JumpReLU with their threshold per latent (io/model.ts). Matching pursuit and classical
 * dictionaries have no SAELens architecture with the same results and are refused.
 */

/** Per-latent firing counts (codes ≠ 0; SAE codes are ≥ 0, so this is SAELens' > 0) of a model over rows, streamed in batches. */
export function firingCounts(model: Pick<LoadedModel, 'encode' | 'atoms' | 'dim'>, rows: RowSource | Matrix, opts: { batch?: number; onBatch?: (done: number) => void } = {}): { counts: Float64Array; samples: number } {
  const atoms = model.atoms;
  const counts = new Float64Array(atoms);
  const each = (X: Matrix) => {
    const Z = model.encode(X);
    const z = Z.data;
    for (let i = 0; i < Z.rows; i++) {
      const o = i * atoms;
      for (let a = 0; a < atoms; a++) if (z[o + a] !== 0) counts[a]++;
    }
  };
  if ('readRows' in rows) {
    if (rows.cols !== model.dim) fail('E_SHAPE', `shape mismatch: ${rows.name} has ${rows.cols} columns, the model expects d_in = ${model.dim}`);
    let done = 0;
    for (const b of batches(rows, { batch: opts.batch ?? Math.max(64, Math.min(4096, Math.floor(2 ** 22 / Math.max(1, atoms)))), shuffle: 'none' })) {
      each(b.X);
      done += b.X.rows;
      opts.onBatch?.(done);
    }
    return { counts, samples: rows.rows };
  }
  if (rows.cols !== model.dim) fail('E_SHAPE', `shape mismatch: the data has ${rows.cols} columns, the model expects d_in = ${model.dim}`);
  each(rows);
  return { counts, samples: rows.rows };
}

/** SAELens' sparsity tensor: log10(firing fraction + 1e-10) per latent. */
export function logSparsity(counts: Float64Array, samples: number): Float32Array {
  if (!(samples > 0)) fail('E_ARG', 'log sparsity needs at least one sample');
  return Float32Array.from(counts, (c) => Math.log10(c / samples + 1e-10));
}

/** The spec written for SAELens: canonical weights, the whitening folded in; refuses what SAELens cannot run the same way. */
export function saelensSpec(model: LoadedModel): ModelSpec {
  if (model.kind === 'dl-fista' || model.kind === 'online-dl') fail('E_ARG', `${model.dir}: a ${model.kind} dictionary's codes come from FISTA, which no SAELens architecture runs; export its decoder with "sparsecode encode --method fista" instead`);
  if (model.kind === 'mp') fail('E_ARG', `${model.dir}: a matching-pursuit SAE (k greedy non-negative steps) has no SAELens architecture with the same results (SAELens' matching_pursuit stops on a residual threshold)`);
  const spec: ModelSpec = { kind: model.kind, weights: model.weights, training: model.training };
  if (model.k !== undefined) spec.k = model.k;
  if (model.metadata) spec.metadata = model.metadata;
  if (model.reshapeActivations) spec.reshapeActivations = model.reshapeActivations;
  if (model.applyBDecToInput === false) spec.applyBDecToInput = false;
  if (model.whitening) {
    const wh = model.whitening;
    spec.weights = foldWhitening(model.weights, wh.mean, wh.W, wh.W_inv);
    spec.training = { ...(model.training ?? {}), whitening_folded: wh.method };
  }
  return spec;
}

export interface ExportSaelensOptions {
  /** data for sparsity.safetensors */
  data?: RowSource | Matrix;
  batch?: number;
  onBatch?: (done: number) => void;
}

/** Write `model` as a SAELens v6 folder at `dir`; returns what was written. */
export function exportSaelens(model: LoadedModel, dir: string, opts: ExportSaelensOptions = {}): { spec: ModelSpec; logSparsity: Float32Array | null; samples: number } {
  const spec = saelensSpec(model);
  let ls: Float32Array | null = null;
  let samples = 0;
  if (opts.data) {
    const f = firingCounts(model, opts.data, { batch: opts.batch, onBatch: opts.onBatch });
    samples = f.samples;
    ls = logSparsity(f.counts, f.samples);
  }
  saveModel(dir, spec, ls ? { logSparsity: ls } : {});
  return { spec, logSparsity: ls, samples };
}
