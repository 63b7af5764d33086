import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/index.js';
import { assertFinite } from '../core/validate.js';
import { writeFileAtomic } from './atomic.js';
import { packageRoot } from './paths.js';
import { writeSafetensors, type TensorInput } from './safetensors.js';

/**
 * Model folders: the types every layout reader returns, and the writer of sparsecode's own
 * folders, which are SAELens v6 folders (see docs/interop.md for the field list):
 *
 *   cfg.json                  SAELens v6 fields: d_in, d_sae, dtype, device, apply_b_dec_to_input,
 *                             normalize_activations ("none"), reshape_activations, metadata
 *                             {sae_lens_version: "6.0.0" (the cfg schema; it makes SAELens ≥ 6 read
 *                             the file as a v6 config), model_name, hook_name, ...}, architecture,
 *                             and for TopK k and rescale_acts_by_decoder_norm (false); plus a
 *                             `sparsecode` block (format, version, kind, k, inference settings,
 *                             whitening, training statistics) that SAELens ignores
 *   sae_weights.safetensors   exactly the tensors of the SAELens architecture: W_enc [d_in x d_sae],
 *                             b_enc [d_sae], W_dec [d_sae x d_in], b_dec [d_in], and threshold
 *                             [d_sae] for JumpReLU (BatchTopK and Matryoshka are written as
 *                             JumpReLU with their inference threshold repeated, as SAELens does)
 *   sparsity.safetensors      (optional) sparsity [d_sae] = log10(firing fraction + 1e-10) on the
 *                             data given to the writer
 *   whitening.safetensors     (models trained on whitened inputs) mean [d], W [d x d], W_inv [d x d]
 *   whitening.json            with Xw = (X − mean) W, X = Xw W_inv + mean
 *
 * Models SAELens cannot run with the same results get an `architecture` it refuses instead of a
 * silently different model: `sparsecode_matching_pursuit` (SAELens' matching_pursuit stops on a
 * residual threshold), `sparsecode_dictionary` (FISTA codes) and `sparsecode_whitened` (the
 * whitening lives outside the weights; `sparsecode export saelens` folds it in) and
 * `sparsecode_topk_transcoder` (SAELens' `transcoder` is a ReLU one; ours is TopK, as sparsify's).
 *
 * TopK transcoders (`topk-transcoder`): the SAELens transcoder tensors W_enc [d_in x d_sae], b_enc
 * [d_sae], W_dec [d_sae x d_out], b_dec [d_out] and, with the skip connection, W_skip
 * [d_out x d_in] (ŷ = z·W_dec + b_dec + x·W_skipᵀ); cfg.json adds d_out (SAELens), k,
 * skip_connection and transcode: true (sparsify's names); apply_b_dec_to_input is false (the
 * encoder sees x).
 *
 * `saveModel` deletes an old cfg.json first and writes it last, each file atomically, so a
 * folder with a cfg.json always holds a complete model. Reading any layout: `readModel`
 * (io/sae-layouts.ts); a model that encodes: `loadModel` (dictionary/model-runtime.ts).
 */
export type ModelKind = 'relu' | 'topk' | 'batchtopk' | 'jumprelu' | 'mp' | 'dl-fista' | 'online-dl' | 'topk-transcoder';
export const MODEL_KINDS: readonly ModelKind[] = ['relu', 'topk', 'batchtopk', 'jumprelu', 'mp', 'dl-fista', 'online-dl', 'topk-transcoder'];

/** The SAELens-style architecture sparsecode writes TopK transcoders as (SAELens' `transcoder` is a ReLU one: refused there rather than run differently). */
export const TRANSCODER_ARCHITECTURE = 'sparsecode_topk_transcoder';

export interface ModelWeights {
  /** [dim x atoms] (SAEs) */
  W_enc?: Matrix;
  /** [atoms] (SAEs) */
  b_enc?: Float32Array;
  /** [atoms x dim] */
  W_dec: Matrix;
  /** [dim] (SAEs) */
  b_dec?: Float32Array;
  /** [atoms] (JumpReLU, BatchTopK) */
  threshold?: Float32Array;
  /** [d_out x d_in] (skip transcoders: ŷ += x·W_skipᵀ); a transcoder's W_dec is [atoms x d_out] and b_dec [d_out] */
  W_skip?: Matrix;
}

export interface ModelWhitening {
  method: string;
  mean: Float32Array;
  /** [d x d]: Xw = (X - mean) W */
  W: Matrix;
  /** [d x d]: X = Xw W_inv + mean */
  W_inv: Matrix;
  /** the whitening's own JSON (preprocess/whiten.ts toJSON) */
  json?: unknown;
}

/**
 * Sparse-inference settings for classical dictionaries (codes by FISTA on W_dec): the lasso
 * weight and sign constraint, and how far FISTA runs: at most `iters` iterations, stopping once
 * no code moved by more than tol · max(max|z|, 1e-12) in an iteration. Stored apart from the
 * training's per-step FISTA iterations (cfg.json sparsecode.training.fistaIters), so a model
 * encodes with a converged solve whatever it was trained with.
 */
export interface DictionaryInference {
  lambda: number;
  nonneg: boolean;
  iters: number;
  /** relative change tolerance (absent in models written before it existed: see DEFAULT_INFERENCE) */
  tol?: number;
}

/**
 * The inference settings of new dictionary models (a converged solve). Models written before
 * `tol` existed stored the training's per-step iterations as `iters` (e.g. 5); they are read
 * with these iteration and tolerance settings too.
 */
export const DEFAULT_INFERENCE: { iters: number; tol: number } = { iters: 10000, tol: 1e-6 };

export interface ModelSpec {
  kind: ModelKind;
  weights: ModelWeights;
  /** active latents (topk, batchtopk, mp) */
  k?: number;
  inference?: DictionaryInference;
  whitening?: ModelWhitening;
  /** training statistics and settings recorded in cfg.json */
  training?: Record<string, unknown>;
  /**
   * SAELens' `apply_b_dec_to_input`: subtract b_dec before the encoder (default true; some
   * published SAEs, e.g. Gemma Scope's JumpReLU models, set it false).
   */
  applyBDecToInput?: boolean;
  /**
   * The model was trained on scaled activations: the encoder takes inputScale·x and the decoder
   * reconstructs outputScale·x (Llama Scope's dataset norm √d / avg‖x‖, SAELens'
   * expected_average_only_in with its activation_scaler.json). Readers report it; the runtime
   * folds it into the weights (dictionary/fold.ts foldActivationScale).
   */
  inputScale?: number;
  outputScale?: number;
  /**
   * The activation (TopK selection, JumpReLU gate) acts on pre_a·‖W_dec[a]‖: SAELens TopK with
   * rescale_acts_by_decoder_norm, Llama Scope with sparsity_include_decoder_norm. Folded by the
   * runtime (foldDecoderNormIntoGate).
   */
  gateOnDecoderNorm?: boolean;
  /** SAELens' legacy finetuning_scaling_factor [atoms]: codes times this before decoding (folded by the runtime) */
  featureScale?: Float32Array;
  /** SAELens `reshape_activations` ("hook_z": inputs are flattened [n_heads · d_head]) */
  reshapeActivations?: 'none' | 'hook_z';
  /** SAELens cfg metadata (model_name, hook_name, neuronpedia_id, ...), written back to cfg.json */
  metadata?: Record<string, unknown>;
}

export const CFG_FILE = 'cfg.json';
export const WEIGHTS_FILE = 'sae_weights.safetensors';
export const SPARSITY_FILE = 'sparsity.safetensors';
export const WHITENING_FILE = 'whitening.safetensors';
export const WHITENING_JSON = 'whitening.json';
/** The cfg schema version written into metadata.sae_lens_version (SAELens parses ≥ 6.0.0-rc.0 as v6). */
export const SAELENS_SCHEMA_VERSION = '6.0.0';

export function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export const isSAEKind = (k: ModelKind) => k !== 'dl-fista' && k !== 'online-dl';

/** The SAELens architecture a sparsecode model is written as (see the module comment). */
export function saelensArchitecture(m: Pick<ModelSpec, 'kind' | 'whitening'>): string {
  if (m.kind === 'dl-fista' || m.kind === 'online-dl') return 'sparsecode_dictionary';
  if (m.kind === 'topk-transcoder') return TRANSCODER_ARCHITECTURE;
  if (m.kind === 'mp') return 'sparsecode_matching_pursuit';
  if (m.whitening) return 'sparsecode_whitened';
  if (m.kind === 'relu') return 'standard';
  if (m.kind === 'topk') return 'topk';
  return 'jumprelu';
}

/** Validate a spec's kind, shapes, finiteness and settings; returns its dimensions. */
export function checkSpec(m: ModelSpec, where: string): { dim: number; atoms: number; dOut: number } {
  if (!m || typeof m !== 'object') fail('E_ARG', `${where}: a model spec must be an object {kind, weights, ...}`);
  if (!MODEL_KINDS.includes(m.kind)) fail('E_ARG', `${where}: unknown model kind "${m.kind}"; one of ${MODEL_KINDS.join(', ')}`);
  const w = m.weights;
  if (!w || !(w.W_dec instanceof Matrix)) fail('E_FORMAT', `${where}: W_dec [atoms x dim] is required`);
  const atoms = w.W_dec.rows;
  const transcoder = m.kind === 'topk-transcoder';
  // a transcoder's decoder writes d_out columns; its input width is W_enc's rows
  const dOut = w.W_dec.cols;
  if (transcoder && !(w.W_enc instanceof Matrix)) fail('E_SHAPE', `${where}: a transcoder needs W_enc [d_in x d_sae]`);
  const dim = transcoder ? w.W_enc!.rows : w.W_dec.cols;
  if (atoms < 1 || dim < 1 || dOut < 1) fail('E_SHAPE', `${where}: W_dec is [${atoms} x ${dOut}]${transcoder ? `, W_enc [${dim} x ${w.W_enc!.cols}]` : ''}; need at least one atom and one dimension`);
  if (!transcoder && w.W_skip) fail('E_FORMAT', `${where}: W_skip belongs to skip transcoders, not to a ${m.kind} model`);
  if (transcoder) {
    if (w.W_enc!.cols !== atoms) fail('E_SHAPE', `${where}: W_enc must be [d_in x d_sae] = [${dim} x ${atoms}], got [${w.W_enc!.rows} x ${w.W_enc!.cols}]`);
    if (!(w.b_enc instanceof Float32Array) || w.b_enc.length !== atoms) fail('E_SHAPE', `${where}: b_enc must have d_sae = ${atoms} entries, got ${w.b_enc?.length}`);
    if (!(w.b_dec instanceof Float32Array) || w.b_dec.length !== dOut) fail('E_SHAPE', `${where}: a transcoder's b_dec must have d_out = ${dOut} entries, got ${w.b_dec?.length}`);
    if (w.W_skip && (!(w.W_skip instanceof Matrix) || w.W_skip.rows !== dOut || w.W_skip.cols !== dim)) fail('E_SHAPE', `${where}: W_skip must be [d_out x d_in] = [${dOut} x ${dim}], got [${w.W_skip?.rows} x ${w.W_skip?.cols}]`);
    if (!Number.isInteger(m.k) || (m.k as number) < 1 || (m.k as number) > atoms) fail('E_FORMAT', `${where}: a topk-transcoder model needs an integer k in [1, ${atoms}], got ${m.k}`);
    if (m.whitening || m.gateOnDecoderNorm || m.featureScale || (m.inputScale ?? 1) !== 1 || (m.outputScale ?? 1) !== 1) fail('E_FORMAT', `${where}: a transcoder carries no whitening, activation scale, decoder-norm gate or feature scale`);
  } else if (isSAEKind(m.kind)) {
    if (!(w.W_enc instanceof Matrix) || w.W_enc.rows !== dim || w.W_enc.cols !== atoms) fail('E_SHAPE', `${where}: W_enc must be [d_in x d_sae] = [${dim} x ${atoms}], got [${w.W_enc?.rows} x ${w.W_enc?.cols}]`);
    if (!(w.b_enc instanceof Float32Array) || w.b_enc.length !== atoms) fail('E_SHAPE', `${where}: b_enc must have d_sae = ${atoms} entries, got ${w.b_enc?.length}`);
    if (!(w.b_dec instanceof Float32Array) || w.b_dec.length !== dim) fail('E_SHAPE', `${where}: b_dec must have d_in = ${dim} entries, got ${w.b_dec?.length}`);
    if ((m.kind === 'jumprelu' || m.kind === 'batchtopk') && (!(w.threshold instanceof Float32Array) || w.threshold.length !== atoms)) fail('E_SHAPE', `${where}: threshold must have d_sae = ${atoms} entries for a ${m.kind} model, got ${w.threshold?.length}`);
    if (m.kind === 'topk' || m.kind === 'batchtopk' || m.kind === 'mp') {
      if (!Number.isInteger(m.k) || (m.k as number) < 1 || (m.k as number) > atoms) fail('E_FORMAT', `${where}: a ${m.kind} model needs an integer k in [1, ${atoms}], got ${m.k}`);
    }
  } else {
    const inf = m.inference;
    if (!inf || !(inf.lambda >= 0) || !Number.isInteger(inf.iters) || inf.iters < 1) fail('E_FORMAT', `${where}: a ${m.kind} model needs inference settings {lambda >= 0, nonneg, iters >= 1}`);
    if (inf.tol !== undefined && !(inf.tol >= 0)) fail('E_FORMAT', `${where}: inference tol must be a number >= 0, got ${inf.tol}`);
  }
  for (const [name, a] of Object.entries(w)) if (a) assertFinite(`${where}: ${name}`, a instanceof Matrix ? a : (a as Float32Array));
  for (const key of ['inputScale', 'outputScale'] as const) {
    const s = m[key];
    if (s !== undefined && !(typeof s === 'number' && Number.isFinite(s) && s > 0)) fail('E_FORMAT', `${where}: ${key} must be a finite positive number, got ${s}`);
  }
  if (m.featureScale !== undefined) {
    if (!(m.featureScale instanceof Float32Array) || m.featureScale.length !== atoms) fail('E_SHAPE', `${where}: the feature scale must have d_sae = ${atoms} entries, got ${m.featureScale?.length}`);
    assertFinite(`${where}: feature scale`, m.featureScale);
  }
  if (m.whitening) {
    const wh = m.whitening;
    if (wh.mean.length !== dim || wh.W.rows !== dim || wh.W.cols !== dim || wh.W_inv.rows !== dim || wh.W_inv.cols !== dim) {
      fail('E_SHAPE', `${where}: whitening must be mean [${dim}], W and W_inv [${dim} x ${dim}]`);
    }
  }
  return { dim, atoms, dOut };
}

export interface SaveModelOptions {
  /** sparsity [d_sae] for sparsity.safetensors: log10(firing fraction + 1e-10) on some data */
  logSparsity?: Float32Array;
}

/** Write a model folder (see the module comment). The spec must be plain: scales, decoder-norm gates and feature scales folded (dictionary/fold.ts). */
export function saveModel(dir: string, m: ModelSpec, opts: SaveModelOptions = {}): void {
  const where = `saveModel(${dir})`;
  const { dim, atoms, dOut } = checkSpec(m, where);
  if ((m.inputScale !== undefined && m.inputScale !== 1) || (m.outputScale !== undefined && m.outputScale !== 1) || m.gateOnDecoderNorm || m.featureScale) {
    fail('E_ARG', `${where}: the model still carries an activation scale, a decoder-norm gate or a feature scale; fold them into the weights first (loadModel does, or dictionary/fold.ts)`);
  }
  if (opts.logSparsity !== undefined) {
    if (!(opts.logSparsity instanceof Float32Array) || opts.logSparsity.length !== atoms) fail('E_SHAPE', `${where}: the sparsity must have d_sae = ${atoms} entries, got ${opts.logSparsity?.length}`);
    assertFinite(`${where}: sparsity`, opts.logSparsity);
  }
  const cfgPath = join(dir, CFG_FILE);
  if (existsSync(cfgPath)) unlinkSync(cfgPath);
  const w = m.weights;
  const sae = isSAEKind(m.kind);
  const tensors: Record<string, TensorInput> = {};
  if (sae) {
    tensors.W_enc = { shape: [dim, atoms], data: w.W_enc!.data };
    tensors.b_enc = { shape: [atoms], data: w.b_enc! };
  }
  tensors.W_dec = { shape: [atoms, dOut], data: w.W_dec.data };
  if (sae) tensors.b_dec = { shape: [dOut], data: w.b_dec! };
  if (w.W_skip) tensors.W_skip = { shape: [dOut, dim], data: w.W_skip.data };
  if (m.kind === 'jumprelu' || m.kind === 'batchtopk') tensors.threshold = { shape: [atoms], data: w.threshold! };
  writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
  const spPath = join(dir, SPARSITY_FILE);
  if (opts.logSparsity) writeSafetensors(spPath, { sparsity: { shape: [atoms], data: opts.logSparsity } }, { format: 'pt' });
  else if (existsSync(spPath)) unlinkSync(spPath);
  const whPath = join(dir, WHITENING_FILE);
  if (m.whitening) {
    const wh = m.whitening;
    writeSafetensors(whPath, { mean: { shape: [dim], data: wh.mean }, W: { shape: [dim, dim], data: wh.W.data }, W_inv: { shape: [dim, dim], data: wh.W_inv.data } });
    if (wh.json !== undefined) writeFileAtomic(join(dir, WHITENING_JSON), JSON.stringify(wh.json) + '\n');
  } else {
    for (const p of [whPath, join(dir, WHITENING_JSON)]) if (existsSync(p)) unlinkSync(p);
  }
  const architecture = saelensArchitecture(m);
  const metadata: Record<string, unknown> = {
    model_name: null,
    hook_name: null,
    hook_head_index: null,
    context_size: null,
    dataset_path: null,
    prepend_bos: null,
    ...(m.metadata ?? {}),
  };
  metadata.sae_lens_version = SAELENS_SCHEMA_VERSION;
  metadata.sae_lens_training_version = null;
  metadata.sparsecode_version = packageVersion();
  const cfg: Record<string, unknown> = {
    d_in: dim,
    d_sae: atoms,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: sae && m.kind !== 'mp' && m.kind !== 'topk-transcoder' && m.applyBDecToInput !== false,
    normalize_activations: 'none',
    reshape_activations: m.reshapeActivations ?? 'none',
    metadata,
    architecture,
  };
  if (architecture === 'topk') {
    cfg.k = m.k;
    cfg.rescale_acts_by_decoder_norm = false;
  }
  if (architecture === TRANSCODER_ARCHITECTURE) {
    // SAELens' transcoder fields (d_out; skip transcoders add W_skip) and sparsify's (k, skip_connection, transcode)
    cfg.d_out = dOut;
    cfg.k = m.k;
    cfg.skip_connection = !!w.W_skip;
    cfg.transcode = true;
  }
  cfg.sparsecode = {
    format: 2,
    version: packageVersion(),
    kind: m.kind,
    k: m.k ?? null,
    inference: m.inference ?? null,
    whitening: m.whitening ? { method: m.whitening.method, file: WHITENING_FILE } : null,
    training: m.training ?? {},
  };
  writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + '\n');
}

/**
 * The dictionary in the space of the raw activations, [atoms x dim]: W_dec itself, or for a model
 * trained on whitened inputs W_dec·W_inv (the whitened-space atoms mapped back through the
 * inverse whitening, X = Xw·W_inv + mean). The rows are the directions each feature adds to a
 * raw activation (not renormalised). This is what any comparison with directions in the data's
 * space (a true dictionary, another model) must use: W_dec of a whitened model lives elsewhere.
 */
export function inputSpaceDecoder(m: Pick<ModelSpec, 'weights' | 'whitening'>): Matrix {
  const D = m.weights.W_dec;
  return m.whitening ? matmul(D, m.whitening.W_inv) : D;
}
