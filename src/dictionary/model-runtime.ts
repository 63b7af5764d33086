import { backend, matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';
import { encode as inferCodes } from '../inference/index.js';
import { checkSpec, DEFAULT_INFERENCE, isSAEKind, type ModelSpec, type ModelWeights } from '../io/model.js';
import { type LayoutInfo, readModel, type ReadModelOptions } from '../io/sae-layouts.js';
import { decoderNorms, foldActivationScale, foldDecoderNorm, foldDecoderNormIntoGate, foldFeatureScale, foldInputBias, hasUnitDecoder } from './fold.js';
import type { SparseAutoencoder } from './sae/base.js';
import { createSAE } from './sae/index.js';
import { TopKTranscoder } from './sae/transcoder.js';

/**
 * The one model runtime: a model read from any layout (io/sae-layouts.ts) becomes an object
 * whose encode/decode take raw activations, built from the real SAE classes (createSAE(kind)
 * + setWeights) and, for classical dictionaries, `inference/`'s FISTA with the stored λ,
 * iteration cap and tolerance (DEFAULT_INFERENCE: a converged solve unless the model stores its own).
 *
 * What a layout means beyond the plain SAELens forward pass is folded into the weights
 * explicitly (dictionary/fold.ts), in this order, each recorded in `layout.notes`:
 *   1. a decoder-norm gate (TopK rescale_acts_by_decoder_norm, Llama Scope
 *      sparsity_include_decoder_norm) by foldDecoderNormIntoGate, with the norms of the stored
 *      (training-scale) decoder the gate was defined with;
 *   2. a legacy feature scale (SAELens finetuning_scaling_factor) into W_dec rows;
 *   3. activation scales (Llama Scope's dataset norm, SAELens' expected_average_only_in) by
 *      foldActivationScale; when the encoder does not subtract b_dec, or input and output
 *      scales differ, the input bias is folded into b_enc first;
 *   4. with `{ foldDecoderNorm: true }`, unit-norm decoder rows by foldDecoderNorm (refused for
 *      TopK and matching pursuit, where it would change which latents are chosen, and for
 *      classical dictionaries, where it changes the Lasso problem).
 * The resulting `weights` are those the encoder uses (with `applyBDecToInput: false` kept as a
 * flag: the SAE instance gets b_enc + b_dec·W_enc); `model.decode(model.encode(x))` equals the
 * layout's own reconstruction.
 */
export interface LoadedModel extends ModelSpec {
  /** the path given */
  dir: string;
  /** the stored configuration (cfg.json / hyperparams.json; {} for Gemma Scope) */
  cfg: Record<string, any>;
  dim: number;
  atoms: number;
  /** output width: dim for SAEs and dictionaries, d_out for transcoders */
  dOut: number;
  /** which layout was found, the files read and what was folded */
  layout: LayoutInfo;
  /** sparsity.safetensors, when the folder has one */
  logSparsity?: Float32Array;
  /** codes Z [n x atoms] for raw activations X [n x dim] */
  encode(X: Matrix): Matrix;
  /** raw-space reconstructions [n x dim] from codes Z [n x atoms] (transcoders: Z·W_dec + b_dec [n x d_out], the sparse part of the output) */
  decode(Z: Matrix): Matrix;
  /**
   * SAEs only (kinds with an encoder, and MP): the encoder's dense pre-activations [n x atoms] for raw
   * activations X, each latent's value before its activation function (SparseAutoencoder.preActivations)
   */
  preActivations?(X: Matrix): Matrix;
  /** transcoders only: the output ŷ [n x d_out] for inputs X [n x d_in] (the skip term x·W_skipᵀ included) */
  predict?(X: Matrix): Matrix;
}

export interface LoadModelOptions extends ReadModelOptions {
  /** fold decoder norms into the encoder so W_dec rows have unit norm (see the module comment) [false] */
  foldDecoderNorm?: boolean;
}

/** Read any supported layout and return a model that encodes and decodes raw activations. */
export function loadModel(path: string, opts: LoadModelOptions = {}): LoadedModel {
  const r = readModel(path, opts);
  const notes = [...r.layout.notes];
  const spec = canonicalSpec(r.spec, notes, !!opts.foldDecoderNorm, r.layout.root);
  const model = makeModel(path, r.cfg, spec, { ...r.layout, notes });
  if (r.logSparsity) model.logSparsity = r.logSparsity;
  return model;
}

/**
 * The spec with every layout-specific meaning folded into the weights (module comment, steps
 * 1–4): plain SAELens semantics, scales 1, no gate, no feature scale. `notes` gets one line per fold.
 */
export function canonicalSpec(spec: ModelSpec, notes: string[] = [], unitDecoder = false, where = 'model'): ModelSpec {
  checkSpec(spec, where);
  const out: ModelSpec = { ...spec };
  let w: ModelWeights = spec.weights;
  const sae = isSAEKind(spec.kind);
  if (spec.gateOnDecoderNorm) {
    w = foldDecoderNormIntoGate(w);
    delete out.gateOnDecoderNorm;
    notes.push('decoder norms folded into the encoder (the gate saw pre·‖W_dec row‖; W_dec rows now unit-norm in the training scale)');
  }
  if (spec.featureScale) {
    w = foldFeatureScale(w, spec.featureScale);
    delete out.featureScale;
    notes.push('feature scale folded into the decoder rows');
  }
  const sIn = spec.inputScale ?? 1, sOut = spec.outputScale ?? 1;
  if (sIn !== 1 || sOut !== 1) {
    if (!sae) fail('E_FORMAT', `${where}: activation scales apply to SAEs only`);
    if (spec.applyBDecToInput === false || sIn !== sOut) {
      // the encoder's input bias cannot follow a different output scale: make it part of b_enc
      if (spec.applyBDecToInput !== false) w = { ...w, b_enc: subtractBias(w) };
      w = foldActivationScale(w, sIn, sOut);
      // now pre = x·W_enc + b_enc; the SAE classes compute (x − b_dec)·W_enc + b_enc
      w = foldInputBias(w);
      out.applyBDecToInput = true;
      notes.push(`activation scales folded (input ×${sIn}, output ÷${sOut}; the input bias moved into b_enc)`);
    } else {
      w = foldActivationScale(w, sIn, sOut);
      notes.push(`activation scale ${sIn} folded into W_enc, W_dec, b_dec`);
    }
    delete out.inputScale;
    delete out.outputScale;
  }
  if (unitDecoder && !hasUnitDecoder(w.W_dec, 1e-6)) {
    if (!sae) fail('E_ARG', `${where}: folding decoder norms changes a classical dictionary's Lasso problem; normalise the dictionary and refit the codes instead`);
    if (spec.kind === 'topk' || spec.kind === 'mp' || spec.kind === 'topk-transcoder') fail('E_ARG', `${where}: folding decoder norms into a ${spec.kind} encoder changes which latents it picks (its decoder rows have norms ${normRange(w.W_dec)}); load it without foldDecoderNorm`);
    w = foldDecoderNorm(w);
    notes.push('decoder norms folded (foldDecoderNorm: W_dec rows unit-norm; W_enc, b_enc and thresholds scaled; codes scaled by the norms)');
  }
  out.weights = w;
  checkSpec(out, where);
  return out;
}

/** b_enc − b_dec·W_enc (the bias of an encoder that takes x, from one that takes x − b_dec). */
function subtractBias(w: ModelWeights): Float32Array {
  const E = w.W_enc!, bd = w.b_dec!, d = E.rows, A = E.cols;
  const acc = new Float64Array(A);
  for (let j = 0; j < d; j++) for (let a = 0; a < A; a++) acc[a] += bd[j] * E.data[j * A + a];
  return Float32Array.from(w.b_enc!, (v, a) => v - acc[a]);
}

function normRange(W: Matrix): string {
  const n = decoderNorms(W);
  let lo = Infinity, hi = 0;
  for (const v of n) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return `${lo.toPrecision(4)}..${hi.toPrecision(4)}`;
}

/**
 * A warning for evaluations that assume unit-norm decoder rows (code magnitudes compared across
 * latents, projections a_i·cos_i as SAEBench's absorption, Neuronpedia dashboards), or null when
 * the model's rows are unit-norm (zero rows, dead latents, aside).
 */
export function unitNormWarning(model: { weights: ModelWeights; kind: string }, what: string): string | null {
  if (hasUnitDecoder(model.weights.W_dec, 1e-3)) return null;
  return `warning: ${what} assumes unit-norm decoder rows, and this ${model.kind} model's rows have norms ${normRange(model.weights.W_dec)}; load it with foldDecoderNorm (--fold-decoder-norm) to compare code magnitudes across latents`;
}

function buildSAE(spec: ModelSpec, atoms: number): SparseAutoencoder {
  const w = spec.weights;
  const sae = createSAE(spec.kind as 'relu', { atoms, ...(spec.k !== undefined ? { k: spec.k } : {}) });
  if (spec.kind === 'mp') {
    sae.setWeights({ W_enc: w.W_dec.transpose(), b_enc: new Float32Array(atoms), W_dec: w.W_dec, b_dec: w.b_dec! });
    return sae;
  }
  if (spec.kind === 'batchtopk') {
    const t = w.threshold!;
    for (let a = 1; a < t.length; a++) {
      if (t[a] !== t[0]) fail('E_FORMAT', `a batchtopk model has one inference threshold, but threshold[${a}] = ${t[a]} differs from threshold[0] = ${t[0]}; it is a per-latent JumpReLU (read it as kind jumprelu)`);
    }
  }
  // the SAE classes subtract b_dec before the encoder; an encoder of x itself gets b_dec·W_enc added to b_enc (foldInputBias)
  const e = spec.applyBDecToInput === false ? foldInputBias(w) : w;
  sae.setWeights({ W_enc: e.W_enc!, b_enc: e.b_enc!, W_dec: w.W_dec, b_dec: w.b_dec!, ...(w.threshold ? { threshold: w.threshold } : {}) });
  return sae;
}

/** Finite weights can still overflow float32 in a product (a corrupt file with entries near 3e38): refuse rather than return Inf. */
function overflow(M: Matrix, what: string): Matrix {
  const d = M.data;
  for (let i = 0; i < d.length; i++) {
    if (d[i] - d[i] !== 0) fail('E_NONFINITE', `the model's ${what} overflow float32 (a non-finite value at row ${Math.floor(i / M.cols)}, column ${i % M.cols}); its weights are too large for these inputs, or the file is corrupt`);
  }
  return M;
}

/** A model object over a canonical spec (see canonicalSpec): encode/decode in the raw activation space. */
export function makeModel(dir: string, cfg: Record<string, any>, spec: ModelSpec, layout: LayoutInfo): LoadedModel {
  const { dim, atoms, dOut } = checkSpec(spec, dir);
  if (spec.kind === 'topk-transcoder') return makeTranscoder(dir, cfg, spec, layout, dim, atoms, dOut);
  if (spec.inputScale !== undefined && spec.inputScale !== 1) fail('E_ARG', `${dir}: makeModel needs a canonical spec (canonicalSpec folds the activation scale)`);
  if (spec.gateOnDecoderNorm || spec.featureScale) fail('E_ARG', `${dir}: makeModel needs a canonical spec (canonicalSpec folds gates and feature scales)`);
  const wh = spec.whitening;
  /** Raw activations checked (a Matrix, d_in columns, finite) and taken into the model's input space. */
  const toInput = (X: Matrix, what: string): Matrix => {
    if (!(X instanceof Matrix)) fail('E_ARG', `${what}: X must be a Matrix`);
    if (X.cols !== dim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the model expects d_in = ${dim}`);
    assertFinite('X', X);
    if (!wh) return X;
    const C = X.clone();
    backend().addRowVector(C.data, C.rows, dim, wh.mean, -1);
    return matmul(C, wh.W);
  };
  const sae = isSAEKind(spec.kind) ? buildSAE(spec, atoms) : null;
  const inf = spec.inference;
  return {
    ...spec,
    dir,
    cfg,
    dim,
    atoms,
    dOut,
    layout,
    encode(X: Matrix): Matrix {
      const U = toInput(X, 'encode');
      const Z = sae ? sae.encode(U) : inferCodes(U, spec.weights.W_dec, { method: 'fista', lambda: inf!.lambda, iters: inf!.iters, tol: inf!.tol ?? DEFAULT_INFERENCE.tol, nonneg: inf!.nonneg }).Z;
      overflow(Z, 'codes');
      return Z;
    },
    ...(sae ? {
      preActivations(X: Matrix): Matrix {
        return overflow(sae.preActivations(toInput(X, 'preActivations')), 'pre-activations');
      },
    } : {}),
    decode(Z: Matrix): Matrix {
      if (!(Z instanceof Matrix)) fail('E_ARG', 'decode: Z must be a Matrix');
      if (Z.cols !== atoms) fail('E_SHAPE', `shape mismatch: Z has ${Z.cols} columns, the model has d_sae = ${atoms} latents`);
      const out = matmul(Z, spec.weights.W_dec);
      if (spec.weights.b_dec) backend().addRowVector(out.data, out.rows, dim, spec.weights.b_dec, 1);
      if (!wh) return overflow(out, 'reconstructions');
      const raw = matmul(out, wh.W_inv);
      backend().addRowVector(raw.data, raw.rows, dim, wh.mean, 1);
      return overflow(raw, 'reconstructions');
    },
  };
}

/** A transcoder model: encode X [n x d_in], decode the sparse part, predict the full output ŷ [n x d_out]. */
function makeTranscoder(dir: string, cfg: Record<string, any>, spec: ModelSpec, layout: LayoutInfo, dim: number, atoms: number, dOut: number): LoadedModel {
  const w = spec.weights;
  const tc = new TopKTranscoder({ atoms, k: spec.k!, inputDim: dim, skip: !!w.W_skip });
  tc.setWeights({ W_enc: w.W_enc!, b_enc: w.b_enc!, W_dec: w.W_dec, b_dec: w.b_dec!, ...(w.W_skip ? { W_skip: w.W_skip } : {}) });
  const checkX = (X: Matrix) => {
    if (!(X instanceof Matrix)) fail('E_ARG', 'encode: X must be a Matrix');
    if (X.cols !== dim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the transcoder takes d_in = ${dim}`);
    assertFinite('X', X);
  };
  return {
    ...spec, dir, cfg, dim, atoms, dOut, layout,
    encode(X: Matrix): Matrix {
      checkX(X);
      return overflow(tc.encode(X), 'codes');
    },
    decode(Z: Matrix): Matrix {
      if (!(Z instanceof Matrix)) fail('E_ARG', 'decode: Z must be a Matrix');
      if (Z.cols !== atoms) fail('E_SHAPE', `shape mismatch: Z has ${Z.cols} columns, the model has d_sae = ${atoms} latents`);
      return overflow(tc.decode(Z), 'reconstructions');
    },
    predict(X: Matrix): Matrix {
      checkX(X);
      return overflow(tc.predict(X), 'outputs');
    },
  };
}
