import { backend, matmul } from '../../backend/index.js';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { assertFinite } from '../../core/validate.js';
import { type ResolvedSAEConfig, type SAEConfig, type SAEKind, resolveConfig } from './config.js';
import { normalizeRows, randomUnitRows } from '../../linalg/rows.js';
import { type FitOptions, type FitResult, trainSAE } from '../trainer.js';
import type { LatentActivity, StepStats, Trainable } from '../trainable.js';
import { firedBuffer } from '../dead-latents.js';
import { saveModel, type ModelSpec } from '../../io/model.js';

export type { LatentActivity, StepStats } from '../trainable.js';

/** SAELens-layout weights, in the raw activation space. */
export interface SAEWeights {
  /** [dim x atoms] */
  W_enc: Matrix;
  /** [atoms] */
  b_enc: Float32Array;
  /** [atoms x dim] */
  W_dec: Matrix;
  /** [dim] */
  b_dec: Float32Array;
  /** [atoms] JumpReLU thresholds (and BatchTopK's inference threshold, one value repeated) */
  threshold?: Float32Array;
}

/** An SAE's per-step buffers: allocated once for the batch size in use, reused every step. */
export class SaeStepBuffers {
  readonly xc: Matrix;
  readonly pre: Matrix;
  readonly xhat: Matrix;
  readonly gx: Matrix;
  readonly colD: Float64Array;
  constructor(readonly n: number, readonly dim: number, readonly atoms: number) {
    this.xc = new Matrix(n, dim);
    this.pre = new Matrix(n, atoms);
    this.xhat = new Matrix(n, dim);
    this.gx = new Matrix(n, dim);
    this.colD = new Float64Array(dim);
  }
}

/** `encode` works through its input in chunks of this many rows (`encodeChunk`). */
export const ENCODE_CHUNK_ROWS = 1024;

/**
 * A sparse autoencoder: encoder `pre = (x - b_dec) W_enc + b_enc`, an activation that picks the
 * sparse code `z`, decoder `xhat = z W_dec + b_dec`. Forward and backward are written by hand in
 * each subclass; this class holds the parameters, their gradients and the shared pieces.
 *
 * The encoder is stored transposed (`Wenc` is [atoms x dim], row a = column a of SAELens'
 * W_enc) so that sparse backward passes touch whole rows. `getWeights()` returns the SAELens
 * layout.
 */
export abstract class SparseAutoencoder implements Trainable {
  readonly kind: SAEKind;
  readonly config: ResolvedSAEConfig;
  dim = 0;
  /** [atoms x dim] encoder (transposed W_enc) */
  Wenc = new Matrix(0, 0);
  benc = new Float32Array(0);
  /** [atoms x dim] decoder */
  Wdec = new Matrix(0, 0);
  bdec = new Float32Array(0);
  gWenc = new Matrix(0, 0);
  gbenc = new Float32Array(0);
  gWdec = new Matrix(0, 0);
  gbdec = new Float32Array(0);
  /** statistics of the last fit (and anything loaded with a model) */
  trainingStats: Record<string, number> = {};
  /** true while fit() runs (training-only statistics are updated only then) */
  training = false;
  /** multiplies the sparsity coefficient (ReLU l1, JumpReLU l0) while training (Trainable.sparsityScale) */
  sparsityScale = 1;
  protected ws: SaeStepBuffers | null = null;
  /** where a step marks the latents that fired when the caller passes no LatentActivity */
  private readonly firedScratch = { buf: new Uint8Array(0) };

  constructor(kind: SAEKind, config: SAEConfig) {
    this.kind = kind;
    this.config = resolveConfig(kind, config);
  }

  get atoms(): number {
    return this.config.atoms;
  }

  get fitted(): boolean {
    return this.dim > 0;
  }

  /** Allocate parameters for inputs of width `dim`: random unit-norm decoder rows, encoder = decoder transpose, zero biases. */
  initParams(dim: number, rng: Rng): void {
    const A = this.atoms;
    this.dim = dim;
    this.Wdec = randomUnitRows(A, dim, rng);
    this.Wenc = this.Wdec.clone();
    this.benc = new Float32Array(A);
    this.bdec = new Float32Array(dim);
    this.allocGrads();
  }

  protected allocGrads(): void {
    const A = this.atoms, d = this.dim;
    this.gWenc = new Matrix(A, d);
    this.gbenc = new Float32Array(A);
    this.gWdec = new Matrix(A, d);
    this.gbdec = new Float32Array(d);
    this.ws = null;
  }

  /** Parameter buffers Adam updates, in a fixed order, with names (checkpoints) and weight-decay flags. */
  paramList(): { name: string; param: Float32Array; grad: Float32Array; decay: boolean }[] {
    return [
      { name: 'W_encT', param: this.Wenc.data, grad: this.gWenc.data, decay: true },
      { name: 'b_enc', param: this.benc, grad: this.gbenc, decay: false },
      { name: 'W_dec', param: this.Wdec.data, grad: this.gWdec.data, decay: true },
      { name: 'b_dec', param: this.bdec, grad: this.gbdec, decay: false },
    ];
  }

  protected workspace(n: number): SaeStepBuffers {
    if (!this.ws || this.ws.n !== n) {
      this.ws = new SaeStepBuffers(n, this.dim, this.atoms);
      this.onWorkspace(n);
    }
    return this.ws;
  }

  /** Subclasses allocate their own per-batch buffers here. */
  protected onWorkspace(_n: number): void {}

  /**
   * One forward and backward pass on a batch (already in the training space). Fills the
   * gradient buffers (overwriting them). With `activity` (the trainer's), marks the latents that
   * fired in `activity.fired` and gives the AuxK kinds the dead latents; without it, no AuxK.
   */
  abstract forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats;

  /** The buffer a step marks fired latents in: the trainer's, or a scratch one. */
  protected firedOut(activity: LatentActivity | undefined): Uint8Array {
    return firedBuffer(activity, this.atoms, this.firedScratch);
  }

  /** Codes for a chunk of rows into a dense `out` [rows x atoms] (overwritten). */
  protected abstract encodeChunk(x: Matrix, out: Matrix): void;

  /** After an optimiser step (e.g. keep thresholds in range). */
  afterStep(): void {}

  /** Divide the training-space scale out of the parameters (see `foldScale` in the docs). */
  foldScale(c: number): void {
    if (c === 1) return;
    for (let a = 0; a < this.benc.length; a++) this.benc[a] /= c;
    for (let j = 0; j < this.bdec.length; j++) this.bdec[j] /= c;
  }

  /** Extra state saved in checkpoints (numbers only). */
  extraState(): Record<string, number> {
    return {};
  }

  setExtraState(_s: Record<string, number>): void {}

  /** xc = x - b_dec; pre = xc Wenc^T + b_enc. */
  protected encoderPre(x: Matrix, xc: Matrix, pre: Matrix): void {
    const b = backend();
    xc.data.set(x.data);
    b.addRowVector(xc.data, x.rows, this.dim, this.bdec, -1);
    matmul(xc, this.Wenc, { transB: true, out: pre });
    b.addRowVector(pre.data, x.rows, this.atoms, this.benc, 1);
  }

  /** gx = 2 (xhat - x) / n; returns sqErr = sum ||xhat - x||^2 / n (the squared error per row). */
  protected reconstructionGrad(x: Matrix, xhat: Matrix, gx: Matrix): number {
    const n = x.rows;
    const xd = x.data, hd = xhat.data, gd = gx.data;
    const s = 2 / n;
    let sse = 0;
    for (let i = 0; i < xd.length; i++) {
      const e = hd[i] - xd[i];
      sse += e * e;
      gd[i] = s * e;
    }
    return sse / n;
  }

  /** gbdec = colsum(gx) - gbenc . Wenc (b_dec enters as the decoder bias and, negated, in the encoder input). */
  protected biasDecGrad(gx: Matrix, encoderUsed = true): void {
    const ws = this.ws!;
    backend().sumCols(gx.data, gx.rows, this.dim, ws.colD);
    const d = this.dim, g = this.gbdec;
    for (let j = 0; j < d; j++) g[j] = ws.colD[j];
    if (!encoderUsed) return;
    const W = this.Wenc.data, gb = this.gbenc;
    for (let a = 0; a < this.atoms; a++) {
      const c = gb[a];
      if (c === 0) continue;
      const o = a * d;
      for (let j = 0; j < d; j++) g[j] -= c * W[o + j];
    }
  }

  /** Mark (in `fired`, overwritten) the latents with a nonzero value in a dense code block; returns the number of nonzeros. */
  protected markFiredDense(z: Matrix, fired: Uint8Array): number {
    const A = this.atoms, zd = z.data;
    fired.fill(0);
    let nnz = 0;
    for (let i = 0; i < z.rows; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) {
        if (zd[o + a] !== 0) {
          nnz++;
          fired[a] = 1;
        }
      }
    }
    return nnz;
  }

  /** Mark (in `fired`, overwritten) the latents of a sparse block (idx/val [rows x k]); returns the number of nonzeros. */
  protected markFiredSparse(idx: Int32Array, val: Float32Array, rows: number, k: number, fired: Uint8Array): number {
    fired.fill(0);
    let nnz = 0;
    for (let t = 0; t < rows * k; t++) {
      const a = idx[t];
      if (a >= 0 && val[t] !== 0) {
        nnz++;
        fired[a] = 1;
      }
    }
    return nnz;
  }

  protected checkInput(name: string, X: Matrix, cols: number): void {
    if (!(X instanceof Matrix)) fail('E_ARG', `${name} must be a Matrix`);
    if (X.cols !== cols) fail('E_SHAPE', `shape mismatch: ${name} has ${X.cols} columns, the SAE expects ${cols}`);
    assertFinite(name, X);
  }

  protected requireFitted(): void {
    if (!this.fitted) fail('E_ARG', `this ${this.kind} SAE has no weights yet; call fit(X) or load a model first`);
  }

  /** Sparse codes Z [n x atoms] for raw activations X [n x dim]. */
  encode(X: Matrix): Matrix {
    this.requireFitted();
    this.checkInput('X', X, this.dim);
    const Z = new Matrix(X.rows, this.atoms);
    const chunk = Math.max(1, Math.min(X.rows, ENCODE_CHUNK_ROWS));
    for (let s = 0; s < X.rows; s += chunk) {
      const e = Math.min(X.rows, s + chunk);
      this.encodeChunk(X.rowSlice(s, e), Z.rowSlice(s, e));
    }
    return Z;
  }

  /**
   * The encoder's dense pre-activations [n x atoms] for raw activations X [n x dim]: the value of
   * each latent before its activation function (TopK, ReLU, the JumpReLU gate),
   * (x - b_dec) W_enc^T + b_enc. Row j of W_enc is the direction latent j reads; these are the
   * latents as directions (e.g. for the interpretability index, which only ranks stimuli).
   */
  preActivations(X: Matrix): Matrix {
    this.requireFitted();
    this.checkInput('X', X, this.dim);
    const pre = new Matrix(X.rows, this.atoms);
    const chunk = Math.max(1, Math.min(X.rows, ENCODE_CHUNK_ROWS));
    const xc = new Matrix(chunk, this.dim);
    for (let s = 0; s < X.rows; s += chunk) {
      const e = Math.min(X.rows, s + chunk);
      this.encoderPre(X.rowSlice(s, e), e - s === chunk ? xc : new Matrix(e - s, this.dim), pre.rowSlice(s, e));
    }
    return pre;
  }

  /** Same as encode (scikit-learn naming). */
  transform(X: Matrix): Matrix {
    return this.encode(X);
  }

  /** Reconstructions Z W_dec + b_dec [n x dim]. */
  decode(Z: Matrix): Matrix {
    this.requireFitted();
    this.checkInput('Z', Z, this.atoms);
    const out = matmul(Z, this.Wdec);
    backend().addRowVector(out.data, out.rows, this.dim, this.bdec, 1);
    return out;
  }

  reconstruct(X: Matrix): Matrix {
    return this.decode(this.encode(X));
  }

  /**
   * Train on X [n x dim] (raw activations; see trainer.ts): async, cancellable through
   * `opts.signal`, reports progress, checkpoints and resumes. Returns training statistics.
   */
  fit(X: Matrix, opts: FitOptions = {}): Promise<FitResult> {
    return trainSAE(this, X, { ...opts, seed: opts.seed ?? this.config.seed });
  }

  /** fit, then the codes of X (scikit-learn's fit_transform). */
  async fitTransform(X: Matrix, opts: FitOptions = {}): Promise<Matrix> {
    await this.fit(X, opts);
    return this.encode(X);
  }

  /** The model as a spec for io/model.ts (SAELens layout weights, k, training statistics). */
  toSpec(): ModelSpec {
    // a Matryoshka SAE is stored as SAELens stores it: a JumpReLU with its (shared) threshold
    const matryoshka = this.kind === 'matryoshka';
    const spec: ModelSpec = {
      kind: matryoshka ? 'jumprelu' : this.kind,
      weights: this.getWeights(),
      training: { ...this.trainingStats, config: this.config, ...(matryoshka ? { architecture: 'matryoshka_batchtopk' } : {}) },
    };
    if (this.kind === 'topk' || this.kind === 'batchtopk' || this.kind === 'mp') spec.k = this.config.k;
    return spec;
  }

  /** Write a model folder (SAELens v6 cfg.json + sae_weights.safetensors) that `loadModel`, `encode --model` and SAELens read. */
  save(dir: string): void {
    saveModel(dir, this.toSpec());
  }

  /** The weights in SAELens layout (copies). */
  getWeights(): SAEWeights {
    this.requireFitted();
    return {
      W_enc: this.Wenc.transpose(),
      b_enc: this.benc.slice(),
      W_dec: this.Wdec.clone(),
      b_dec: this.bdec.slice(),
    };
  }

  /** Load weights in SAELens layout (shapes checked). */
  setWeights(w: SAEWeights): void {
    const A = this.atoms;
    if (!(w.W_dec instanceof Matrix) || w.W_dec.rows !== A) fail('E_SHAPE', `W_dec must be [atoms x dim] = [${A} x dim], got [${w.W_dec?.rows} x ${w.W_dec?.cols}]`);
    const d = w.W_dec.cols;
    if (!(w.W_enc instanceof Matrix) || w.W_enc.rows !== d || w.W_enc.cols !== A) fail('E_SHAPE', `W_enc must be [dim x atoms] = [${d} x ${A}], got [${w.W_enc?.rows} x ${w.W_enc?.cols}]`);
    if (w.b_enc.length !== A) fail('E_SHAPE', `b_enc must have ${A} entries, got ${w.b_enc.length}`);
    if (w.b_dec.length !== d) fail('E_SHAPE', `b_dec must have ${d} entries, got ${w.b_dec.length}`);
    this.dim = d;
    this.Wenc = w.W_enc.transpose();
    this.benc = Float32Array.from(w.b_enc);
    this.Wdec = w.W_dec.clone();
    this.bdec = Float32Array.from(w.b_dec);
    this.allocGrads();
  }

  /** Renormalise decoder rows (used after each step when normalizeDecoder). */
  normalizeDecoder(): void {
    normalizeRows(this.Wdec);
  }
}
