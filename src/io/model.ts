import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { backend, matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';
import { spectralNormSquared } from '../linalg/power.js';
import { writeFileAtomic } from './atomic.js';
import { packageRoot } from './paths.js';
import { readSafetensors, writeSafetensors, type TensorInput } from './safetensors.js';

/**
 * Model directories, SAELens-compatible:
 *
 *   cfg.json                  SAELens fields (d_in, d_sae, architecture, activation_fn_str,
 *                             activation_fn_kwargs, apply_b_dec_to_input, normalize_activations,
 *                             dtype, ...) plus a `sparsecode` block (version, kind, k, inference
 *                             settings, whitening, training statistics)
 *   sae_weights.safetensors   W_enc [d_in x d_sae], b_enc [d_sae], W_dec [d_sae x d_in],
 *                             b_dec [d_in], threshold [d_sae] (JumpReLU; BatchTopK's inference
 *                             threshold repeated, exactly as SAELens stores a BatchTopK SAE
 *                             converted to JumpReLU). Classical dictionaries store W_dec only.
 *   whitening.safetensors     (when the model was trained on whitened inputs) mean [d], W [d x d],
 *                             W_inv [d x d] with Xw = (X - mean) W, X = Xw W_inv + mean
 *   whitening.json            the whitening object's own JSON (preprocess/whiten.ts), for refitting
 *
 * `saveModel` deletes an old cfg.json first and writes it last, each file atomically, so a
 * folder with a cfg.json always holds a complete model. `loadModel` validates every field and
 * shape and returns a model whose encode/decode take raw activations (whitening applied and
 * inverted inside).
 */
export type ModelKind = 'relu' | 'topk' | 'batchtopk' | 'jumprelu' | 'mp' | 'dl-fista' | 'online-dl';
export const MODEL_KINDS: readonly ModelKind[] = ['relu', 'topk', 'batchtopk', 'jumprelu', 'mp', 'dl-fista', 'online-dl'];

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
}

export interface LoadedModel extends ModelSpec {
  dir: string;
  cfg: Record<string, any>;
  dim: number;
  atoms: number;
  /** codes Z [n x atoms] for raw activations X [n x dim] */
  encode(X: Matrix): Matrix;
  /** raw-space reconstructions [n x dim] from codes Z [n x atoms] */
  decode(Z: Matrix): Matrix;
}

export const CFG_FILE = 'cfg.json';
export const WEIGHTS_FILE = 'sae_weights.safetensors';
export const WHITENING_FILE = 'whitening.safetensors';
export const WHITENING_JSON = 'whitening.json';

function version(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const ARCH: Record<ModelKind, { architecture: string; activation: string }> = {
  relu: { architecture: 'standard', activation: 'relu' },
  topk: { architecture: 'topk', activation: 'topk' },
  batchtopk: { architecture: 'jumprelu', activation: 'relu' },
  jumprelu: { architecture: 'jumprelu', activation: 'relu' },
  mp: { architecture: 'matching_pursuit', activation: 'matching_pursuit' },
  'dl-fista': { architecture: 'dictionary', activation: 'fista' },
  'online-dl': { architecture: 'dictionary', activation: 'fista' },
};

const isSAE = (k: ModelKind) => k !== 'dl-fista' && k !== 'online-dl';

function checkSpec(m: ModelSpec, where: string): { dim: number; atoms: number } {
  if (!MODEL_KINDS.includes(m.kind)) fail('E_ARG', `${where}: unknown model kind "${m.kind}"; one of ${MODEL_KINDS.join(', ')}`);
  const w = m.weights;
  if (!w || !(w.W_dec instanceof Matrix)) fail('E_FORMAT', `${where}: W_dec [atoms x dim] is required`);
  const atoms = w.W_dec.rows, dim = w.W_dec.cols;
  if (atoms < 1 || dim < 1) fail('E_SHAPE', `${where}: W_dec is [${atoms} x ${dim}]; need at least one atom and one dimension`);
  if (isSAE(m.kind)) {
    if (!(w.W_enc instanceof Matrix) || w.W_enc.rows !== dim || w.W_enc.cols !== atoms) fail('E_SHAPE', `${where}: W_enc must be [d_in x d_sae] = [${dim} x ${atoms}], got [${w.W_enc?.rows} x ${w.W_enc?.cols}]`);
    if (!w.b_enc || w.b_enc.length !== atoms) fail('E_SHAPE', `${where}: b_enc must have d_sae = ${atoms} entries, got ${w.b_enc?.length}`);
    if (!w.b_dec || w.b_dec.length !== dim) fail('E_SHAPE', `${where}: b_dec must have d_in = ${dim} entries, got ${w.b_dec?.length}`);
    if ((m.kind === 'jumprelu' || m.kind === 'batchtopk') && (!w.threshold || w.threshold.length !== atoms)) fail('E_SHAPE', `${where}: threshold must have d_sae = ${atoms} entries for a ${m.kind} model, got ${w.threshold?.length}`);
    if (m.kind === 'topk' || m.kind === 'batchtopk' || m.kind === 'mp') {
      if (!Number.isInteger(m.k) || (m.k as number) < 1 || (m.k as number) > atoms) fail('E_FORMAT', `${where}: a ${m.kind} model needs an integer k in [1, ${atoms}], got ${m.k}`);
    }
  } else {
    const inf = m.inference;
    if (!inf || !(inf.lambda >= 0) || !Number.isInteger(inf.iters) || inf.iters < 1) fail('E_FORMAT', `${where}: a ${m.kind} model needs inference settings {lambda >= 0, nonneg, iters >= 1}`);
    if (inf.tol !== undefined && !(inf.tol >= 0)) fail('E_FORMAT', `${where}: inference tol must be a number >= 0, got ${inf.tol}`);
  }
  for (const [name, a] of Object.entries(w)) if (a) assertFinite(`${where}: ${name}`, a instanceof Matrix ? a : (a as Float32Array));
  if (m.whitening) {
    const wh = m.whitening;
    if (wh.mean.length !== dim || wh.W.rows !== dim || wh.W.cols !== dim || wh.W_inv.rows !== dim || wh.W_inv.cols !== dim) {
      fail('E_SHAPE', `${where}: whitening must be mean [${dim}], W and W_inv [${dim} x ${dim}]`);
    }
  }
  return { dim, atoms };
}

/** Write a model directory (see the module comment). */
export function saveModel(dir: string, m: ModelSpec): void {
  const { dim, atoms } = checkSpec(m, `saveModel(${dir})`);
  const cfgPath = join(dir, CFG_FILE);
  if (existsSync(cfgPath)) unlinkSync(cfgPath);
  const w = m.weights;
  const tensors: Record<string, TensorInput> = {};
  if (isSAE(m.kind)) {
    tensors.W_enc = { shape: [dim, atoms], data: w.W_enc!.data };
    tensors.b_enc = { shape: [atoms], data: w.b_enc! };
  }
  tensors.W_dec = { shape: [atoms, dim], data: w.W_dec.data };
  if (isSAE(m.kind)) tensors.b_dec = { shape: [dim], data: w.b_dec! };
  if (w.threshold && (m.kind === 'jumprelu' || m.kind === 'batchtopk')) tensors.threshold = { shape: [atoms], data: w.threshold };
  writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
  const whPath = join(dir, WHITENING_FILE);
  if (m.whitening) {
    const wh = m.whitening;
    writeSafetensors(whPath, { mean: { shape: [dim], data: wh.mean }, W: { shape: [dim, dim], data: wh.W.data }, W_inv: { shape: [dim, dim], data: wh.W_inv.data } });
    if (wh.json !== undefined) writeFileAtomic(join(dir, WHITENING_JSON), JSON.stringify(wh.json) + '\n');
  } else {
    for (const p of [whPath, join(dir, WHITENING_JSON)]) if (existsSync(p)) unlinkSync(p);
  }
  const arch = ARCH[m.kind];
  const cfg: Record<string, unknown> = {
    architecture: arch.architecture,
    d_in: dim,
    d_sae: atoms,
    dtype: 'float32',
    device: 'cpu',
    activation_fn_str: arch.activation,
    activation_fn_kwargs: m.k !== undefined && m.kind === 'topk' ? { k: m.k } : {},
    apply_b_dec_to_input: isSAE(m.kind) && m.kind !== 'mp' && m.applyBDecToInput !== false,
    finetuning_scaling_factor: false,
    normalize_activations: 'none',
    model_name: null,
    hook_name: null,
    hook_layer: null,
    hook_head_index: null,
    context_size: null,
    dataset_path: null,
    prepend_bos: null,
    sae_lens_training_version: null,
  };
  if (m.k !== undefined) cfg.k = m.k;
  cfg.sparsecode = {
    format: 1,
    version: version(),
    kind: m.kind,
    k: m.k ?? null,
    inference: m.inference ?? null,
    whitening: m.whitening ? { method: m.whitening.method, file: WHITENING_FILE } : null,
    training: m.training ?? {},
  };
  writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + '\n');
}

function matrixFrom(t: { shape: number[]; data: Float32Array | Float64Array } | undefined, name: string, rows: number, cols: number, where: string): Matrix {
  if (!t) fail('E_FORMAT', `${where}: tensor ${name} is missing`);
  if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== cols) fail('E_SHAPE', `${where}: ${name} has shape [${t.shape.join(', ')}], expected [${rows}, ${cols}]`);
  return new Matrix(rows, cols, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
}

function vectorFrom(t: { shape: number[]; data: Float32Array | Float64Array } | undefined, name: string, len: number, where: string): Float32Array {
  if (!t) fail('E_FORMAT', `${where}: tensor ${name} is missing`);
  if (t.shape.length !== 1 || t.shape[0] !== len) fail('E_SHAPE', `${where}: ${name} has shape [${t.shape.join(', ')}], expected [${len}]`);
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
}

/** Read and validate a model directory; the result encodes and decodes raw activations. */
export function loadModel(dir: string): LoadedModel {
  const cfgPath = join(dir, CFG_FILE);
  if (!existsSync(cfgPath)) fail('E_IO', `${dir} holds no ${CFG_FILE}; is it a model directory written by sparsecode fit (or SAELens)?`);
  let cfg: Record<string, any>;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    fail('E_FORMAT', `${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null) fail('E_FORMAT', `${cfgPath}: must hold a JSON object`);
  const dim = cfg.d_in, atoms = cfg.d_sae;
  if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(atoms) || atoms < 1) fail('E_FORMAT', `${cfgPath}: d_in and d_sae must be positive integers, got ${dim} and ${atoms}`);
  const sc = cfg.sparsecode ?? {};
  let kind: ModelKind;
  if (typeof sc.kind === 'string') kind = sc.kind;
  else if (cfg.architecture === 'standard') kind = 'relu';
  else if (cfg.architecture === 'jumprelu') kind = 'jumprelu';
  else if (cfg.architecture === 'topk') kind = 'topk';
  else fail('E_FORMAT', `${cfgPath}: architecture "${cfg.architecture}" is not supported (standard, topk, jumprelu, or a sparsecode model)`);
  if (!MODEL_KINDS.includes(kind)) fail('E_FORMAT', `${cfgPath}: unknown model kind "${kind}"`);
  const where = join(dir, WEIGHTS_FILE);
  const f = readSafetensors(where);
  const t = f.tensors;
  const weights: ModelWeights = { W_dec: matrixFrom(t.W_dec, 'W_dec', atoms, dim, where) };
  if (isSAE(kind)) {
    weights.W_enc = matrixFrom(t.W_enc, 'W_enc', dim, atoms, where);
    weights.b_enc = vectorFrom(t.b_enc, 'b_enc', atoms, where);
    weights.b_dec = vectorFrom(t.b_dec, 'b_dec', dim, where);
    if (kind === 'jumprelu' || kind === 'batchtopk') weights.threshold = vectorFrom(t.threshold, 'threshold', atoms, where);
  }
  const k = sc.k ?? cfg.k ?? cfg.activation_fn_kwargs?.k;
  const norm = cfg.normalize_activations;
  if (norm !== undefined && norm !== null && norm !== 'none' && !cfg.sparsecode) {
    fail('E_FORMAT', `${cfgPath}: normalize_activations "${norm}" needs a scaling factor that is not stored in the model; fold it into the weights (scale W_enc rows, b_dec) and set normalize_activations to "none"`);
  }
  const spec: ModelSpec = { kind, weights, training: sc.training ?? {} };
  if (cfg.apply_b_dec_to_input === false) spec.applyBDecToInput = false;
  if (k !== undefined && k !== null) spec.k = k;
  if (!isSAE(kind)) {
    // models from before the inference settings had a tolerance stored the training iterations: use a converged solve
    spec.inference = sc.inference && sc.inference.tol === undefined ? { ...sc.inference, ...DEFAULT_INFERENCE } : sc.inference;
  }
  if (sc.whitening) {
    const wp = join(dir, WHITENING_FILE);
    const wt = readSafetensors(wp).tensors;
    spec.whitening = {
      method: String(sc.whitening.method),
      mean: vectorFrom(wt.mean, 'mean', dim, wp),
      W: matrixFrom(wt.W, 'W', dim, dim, wp),
      W_inv: matrixFrom(wt.W_inv, 'W_inv', dim, dim, wp),
    };
    const jp = join(dir, WHITENING_JSON);
    if (existsSync(jp)) spec.whitening.json = JSON.parse(readFileSync(jp, 'utf8'));
  }
  checkSpec(spec, dir);
  return makeModel(dir, cfg, spec, dim, atoms);
}

/**
 * The dictionary in the space of the raw activations, [atoms x dim]: W_dec itself, or for a model
 * trained on whitened inputs W_dec·W_inv (the whitened-space atoms mapped back through the
 * inverse whitening, X = Xw·W_inv + mean). The rows are the directions each feature adds to a
 * raw activation (not renormalised). This is what any comparison with directions in the data's
 * space (a true dictionary, another model) must use: W_dec of a whitened model lives elsewhere.
 */
export function inputSpaceDecoder(m: ModelSpec): Matrix {
  const D = m.weights.W_dec;
  return m.whitening ? matmul(D, m.whitening.W_inv) : D;
}

/** A model object over validated weights (encode/decode in the raw activation space). */
export function makeModel(dir: string, cfg: Record<string, any>, spec: ModelSpec, dim: number, atoms: number): LoadedModel {
  const wh = spec.whitening;
  const toInput = (X: Matrix): Matrix => {
    if (!wh) return X;
    const C = X.clone();
    backend().addRowVector(C.data, C.rows, dim, wh.mean, -1);
    return matmul(C, wh.W);
  };
  return {
    ...spec,
    dir,
    cfg,
    dim,
    atoms,
    encode(X: Matrix): Matrix {
      if (!(X instanceof Matrix)) fail('E_ARG', 'encode: X must be a Matrix');
      if (X.cols !== dim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the model expects d_in = ${dim}`);
      assertFinite('X', X);
      return encodeWith(spec, toInput(X));
    },
    decode(Z: Matrix): Matrix {
      if (!(Z instanceof Matrix)) fail('E_ARG', 'decode: Z must be a Matrix');
      if (Z.cols !== atoms) fail('E_SHAPE', `shape mismatch: Z has ${Z.cols} columns, the model has d_sae = ${atoms} latents`);
      const out = matmul(Z, spec.weights.W_dec);
      if (spec.weights.b_dec) backend().addRowVector(out.data, out.rows, dim, spec.weights.b_dec, 1);
      if (!wh) return out;
      const raw = matmul(out, wh.W_inv);
      backend().addRowVector(raw.data, raw.rows, dim, wh.mean, 1);
      return raw;
    },
  };
}

/** SAELens inference semantics per architecture (inputs already whitened when the model is). */
function encodeWith(m: ModelSpec, X: Matrix): Matrix {
  const w = m.weights;
  const b = backend();
  const n = X.rows, A = w.W_dec.rows, d = w.W_dec.cols;
  if (m.kind === 'dl-fista' || m.kind === 'online-dl') return fistaCodes(X, w.W_dec, m.inference!);
  if (m.kind === 'mp') return pursuit(X, w.W_dec, w.b_dec!, m.k!);
  const xc = X.clone();
  if (m.applyBDecToInput !== false) b.addRowVector(xc.data, n, d, w.b_dec!, -1);
  const pre = matmul(xc, w.W_enc!);
  b.addRowVector(pre.data, n, A, w.b_enc!, 1);
  const pd = pre.data;
  if (m.kind === 'relu') b.relu(pd, pd);
  else if (m.kind === 'jumprelu' || m.kind === 'batchtopk') {
    const th = w.threshold!;
    for (let i = 0; i < n; i++) for (let a = 0; a < A; a++) if (!(pd[i * A + a] > th[a])) pd[i * A + a] = 0;
  } else {
    const k = m.k!;
    const idx = new Int32Array(n * k), val = new Float32Array(n * k);
    b.topkRows(pd, n, A, k, idx, val);
    pd.fill(0);
    for (let t = 0; t < n * k; t++) if (val[t] > 0) pd[Math.floor(t / k) * A + idx[t]] = val[t];
  }
  return pre;
}

/** k steps of non-negative matching pursuit with the decoder (the MP-SAE encoder). */
function pursuit(X: Matrix, D: Matrix, bdec: Float32Array, k: number): Matrix {
  const n = X.rows, A = D.rows, d = D.cols;
  const r = X.clone();
  backend().addRowVector(r.data, n, d, bdec, -1);
  const Z = new Matrix(n, A);
  const done = new Uint8Array(n);
  for (let t = 0; t < k; t++) {
    const c = matmul(r, D, { transB: true });
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      let best = 0, bj = -1;
      for (let a = 0; a < A; a++) if (c.data[i * A + a] > best) {
        best = c.data[i * A + a];
        bj = a;
      }
      if (bj < 0) {
        done[i] = 1;
        continue;
      }
      let alpha = 0;
      for (let q = 0; q < d; q++) alpha += D.data[bj * d + q] * r.data[i * d + q];
      Z.data[i * A + bj] += alpha;
      for (let q = 0; q < d; q++) r.data[i * d + q] -= alpha * D.data[bj * d + q];
    }
  }
  return Z;
}

/** Codes min 1/2||x - zD||^2 + lambda ||z||_1 (optionally z >= 0) by FISTA, step 1/||D||_2^2. */
function fistaCodes(X: Matrix, D: Matrix, inf: DictionaryInference): Matrix {
  const n = X.rows, A = D.rows;
  const L = spectralNormSquared(D);
  const Z = new Matrix(n, A);
  if (!(L > 0)) return Z;
  const b = backend();
  const XDt = matmul(X, D, { transB: true });
  const G = matmul(D, D, { transB: true });
  const Y = new Matrix(n, A), Zprev = new Matrix(n, A), grad = new Matrix(n, A);
  let tk = 1;
  const tol = inf.tol ?? 0;
  for (let it = 0; it < inf.iters; it++) {
    // grad = Y G - X D^T
    matmul(Y, G, { out: grad });
    b.axpby(-1, XDt.data, 1, grad.data);
    Zprev.data.set(Z.data);
    b.axpby(1, Y.data, -1 / L, grad.data); // grad <- Y - grad / L
    b.softThreshold(grad.data, inf.lambda / L, inf.nonneg, Z.data);
    const tn = (1 + Math.sqrt(1 + 4 * tk * tk)) / 2;
    b.extrapolate(Z.data, Zprev.data, (tk - 1) / tn, Y.data);
    tk = tn;
    if (tol > 0) {
      let change = 0, top = 0;
      const zd = Z.data, pd = Zprev.data;
      for (let i = 0; i < zd.length; i++) {
        const v = Math.abs(zd[i] - pd[i]);
        if (v > change) change = v;
        const a = Math.abs(zd[i]);
        if (a > top) top = a;
      }
      if (change <= tol * Math.max(top, 1e-12)) break;
    }
  }
  return Z;
}
