import { backend, matmul } from '../../backend/index.js';
import { activeBackward } from './sparse.js';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { assertFinite, assertInt } from '../../core/validate.js';
import { normalizeRows, randomUnitRows } from '../../linalg/rows.js';
import type { LatentActivity, StepStats, Trainable, TrainableParam } from '../trainable.js';
import { auxkDeadMask, firedBuffer } from '../dead-latents.js';
import { type ResolvedSAEConfig, type SAEConfig, resolveConfig } from './config.js';
import { type FitOptions, type FitResult, trainSAE } from '../trainer.js';

/** A TopK transcoder's configuration: the SAE fields (atoms, k, training settings) plus the input width and the skip option. */
export interface TranscoderConfig extends SAEConfig {
  k: number;
  /** columns of the input X (the training rows are [x | y], the rest are the target's) */
  inputDim: number;
  /** add a learned linear skip connection W_skip·x to the output [false] */
  skip?: boolean;
}

/** A transcoder's weights in the SAELens transcoder layout. */
export interface TranscoderWeights {
  /** [d_in x atoms] */
  W_enc: Matrix;
  /** [atoms] */
  b_enc: Float32Array;
  /** [atoms x d_out] */
  W_dec: Matrix;
  /** [d_out] */
  b_dec: Float32Array;
  /** [d_out x d_in] (skip transcoders: ŷ += x·W_skipᵀ) */
  W_skip?: Matrix;
}

/**
 * TopK transcoder (Dunefsky et al. 2024; EleutherAI sparsify `transcode=True`, SAELens
 * `transcoder` / `skip_transcoder` layouts): the codes of the input x, the reconstruction of a
 * different target y (e.g. an MLP's output from its input):
 *
 *   pre = x·W_encᵀ + b_enc          (no input centring: sparsify transcoders do not subtract b_dec)
 *   z   = ReLU(TopK_k(pre))
 *   ŷ   = z·W_dec + b_dec (+ x·W_skipᵀ with the skip connection, sparsify `skip_connection`)
 *   loss = (1/n) Σ_i ‖ŷ_i − y_i‖² (+ AuxK: the top auxK dead latents reconstruct y − ŷ)
 *
 * The decode and the whole backward touch only the k active atoms (the backend's gatherDecode,
 * gatherDot, scatterOuter, as the TopK SAE); the skip connection is one dense GEMM each way.
 *
 * Training goes through the SAE trainer (trainer.ts) on joint rows [x | y] of inputDim + d_out
 * columns: `targetColumns` tells the trainer which columns are reconstructed (b_dec's
 * initialisation, the FVU's variance) and `heldOutScore` scores held-out rows on y. The joint
 * rows are scaled by one factor while training; it is folded into b_enc and b_dec afterwards
 * (W_skip is linear in x and y alike, so it is unchanged).
 */
export class TopKTranscoder implements Trainable {
  readonly kind = 'topk-transcoder';
  readonly config: ResolvedSAEConfig;
  readonly inputDim: number;
  readonly skip: boolean;
  /** output width (0 before initParams / setWeights) */
  outDim = 0;
  /** [atoms x d_in] encoder (transposed W_enc) */
  Wenc = new Matrix(0, 0);
  benc = new Float32Array(0);
  /** [atoms x d_out] decoder */
  Wdec = new Matrix(0, 0);
  bdec = new Float32Array(0);
  /** [d_out x d_in] skip connection (empty without skip) */
  Wskip = new Matrix(0, 0);
  gWenc = new Matrix(0, 0);
  gbenc = new Float32Array(0);
  gWdec = new Matrix(0, 0);
  gbdec = new Float32Array(0);
  gWskip = new Matrix(0, 0);
  training = false;
  trainingStats: Record<string, number> = {};
  private n = 0;
  private xb = new Matrix(0, 0);
  private yb = new Matrix(0, 0);
  private pre = new Matrix(0, 0);
  private yhat = new Matrix(0, 0);
  private gy = new Matrix(0, 0);
  private idx = new Int32Array(0);
  private val = new Float32Array(0);
  private gval = new Float32Array(0);
  private auxPre = new Float32Array(0);
  private auxIdx = new Int32Array(0);
  private auxVal = new Float32Array(0);
  private auxGval = new Float32Array(0);
  private auxHat = new Float32Array(0);
  private deadBuf = new Uint8Array(0);
  private readonly firedScratch = { buf: new Uint8Array(0) };

  constructor(config: TranscoderConfig) {
    if (!config || typeof config !== 'object') fail('E_ARG', 'a transcoder config must be an object {atoms, k, inputDim}');
    assertInt('inputDim', config.inputDim, 1);
    const { inputDim, skip, ...rest } = config;
    this.config = resolveConfig('topk', rest);
    this.inputDim = inputDim;
    this.skip = !!skip;
  }

  get atoms(): number {
    return this.config.atoms;
  }

  get fitted(): boolean {
    return this.outDim > 0;
  }

  /** The columns of a joint training row [x | y] that are reconstructed (y). */
  get targetColumns(): { start: number; end: number } {
    return { start: this.inputDim, end: this.inputDim + this.outDim };
  }

  /** `dim` is the joint width inputDim + d_out. Decoder rows random unit-norm, encoder rows random unit-norm, W_skip 0, biases 0. */
  initParams(dim: number, rng: Rng): void {
    const dOut = dim - this.inputDim;
    if (dOut < 1) fail('E_SHAPE', `transcoder: training rows have ${dim} columns, need the input's ${this.inputDim} plus at least one target column`);
    this.outDim = dOut;
    this.Wdec = randomUnitRows(this.atoms, dOut, rng.fork('dec'));
    this.Wenc = randomUnitRows(this.atoms, this.inputDim, rng.fork('enc'));
    this.benc = new Float32Array(this.atoms);
    this.bdec = new Float32Array(dOut);
    this.Wskip = this.skip ? new Matrix(dOut, this.inputDim) : new Matrix(0, 0);
    this.allocGrads();
  }

  private allocGrads(): void {
    const A = this.atoms;
    this.gWenc = new Matrix(A, this.inputDim);
    this.gbenc = new Float32Array(A);
    this.gWdec = new Matrix(A, this.outDim);
    this.gbdec = new Float32Array(this.outDim);
    this.gWskip = new Matrix(this.Wskip.rows, this.Wskip.cols);
    this.n = 0;
  }

  paramList(): TrainableParam[] {
    const p: TrainableParam[] = [
      { name: 'W_encT', param: this.Wenc.data, grad: this.gWenc.data, decay: true },
      { name: 'b_enc', param: this.benc, grad: this.gbenc, decay: false },
      { name: 'W_dec', param: this.Wdec.data, grad: this.gWdec.data, decay: true },
      { name: 'b_dec', param: this.bdec, grad: this.gbdec, decay: false },
    ];
    if (this.skip) p.push({ name: 'W_skip', param: this.Wskip.data, grad: this.gWskip.data, decay: true });
    return p;
  }

  private workspace(n: number): void {
    if (this.n === n) return;
    const A = this.atoms, k = this.config.k, dIn = this.inputDim, dOut = this.outDim;
    const kAux = this.auxK();
    this.n = n;
    this.xb = new Matrix(n, dIn);
    this.yb = new Matrix(n, dOut);
    this.pre = new Matrix(n, A);
    this.yhat = new Matrix(n, dOut);
    this.gy = new Matrix(n, dOut);
    this.idx = new Int32Array(n * k);
    this.val = new Float32Array(n * k);
    this.gval = new Float32Array(n * k);
    this.auxPre = new Float32Array(n * A);
    this.auxIdx = new Int32Array(n * kAux);
    this.auxVal = new Float32Array(n * kAux);
    this.auxGval = new Float32Array(n * kAux);
    this.auxHat = new Float32Array(n * dOut);
    this.deadBuf = new Uint8Array(A);
  }

  private auxK(): number {
    return Math.max(1, Math.min(this.atoms, this.config.auxK ?? Math.max(1, Math.floor(this.outDim / 2))));
  }

  /** pre = x·W_encᵀ + b_enc into `pre` [n x atoms]. */
  private encoderPre(x: Matrix, pre: Matrix): void {
    matmul(x, this.Wenc, { transB: true, out: pre });
    backend().addRowVector(pre.data, x.rows, this.atoms, this.benc, 1);
  }

  /** ŷ = z·W_dec + b_dec (+ x·W_skipᵀ) from the sparse codes (idx, val) [n x k]. */
  private decodeSparse(idx: Int32Array, val: Float32Array, k: number, x: Matrix, out: Matrix): void {
    const b = backend(), n = x.rows;
    if (this.skip) {
      matmul(x, this.Wskip, { transB: true, out });
      b.gatherDecode(idx, val, n, k, this.Wdec.data, this.outDim, 1, out.data);
    } else b.gatherDecode(idx, val, n, k, this.Wdec.data, this.outDim, 0, out.data);
    b.addRowVector(out.data, n, this.outDim, this.bdec, 1);
  }

  /** Top-k selection of `pre` into (idx, val), values clipped at 0. */
  private selectTopK(pre: Matrix, idx: Int32Array, val: Float32Array): void {
    const k = this.config.k;
    backend().topkRows(pre.data, pre.rows, this.atoms, k, idx, val);
    for (let t = 0; t < pre.rows * k; t++) if (!(val[t] > 0)) val[t] = 0;
  }

  /** One step on joint rows [x | y] [n x (inputDim + d_out)]: fills every gradient, returns the loss parts. */
  forwardBackward(rows: Matrix, activity?: LatentActivity): StepStats {
    const n = rows.rows, dIn = this.inputDim, dOut = this.outDim, k = this.config.k;
    if (rows.cols !== dIn + dOut) fail('E_SHAPE', `transcoder: training rows have ${rows.cols} columns, expected ${dIn} + ${dOut}`);
    this.workspace(n);
    const b = backend();
    const x = this.xb, y = this.yb;
    splitRows(rows, dIn, x, y);
    this.encoderPre(x, this.pre);
    const idx = this.idx, val = this.val, gval = this.gval;
    this.selectTopK(this.pre, idx, val);
    this.decodeSparse(idx, val, k, x, this.yhat);
    // gy = 2 (ŷ − y) / n
    const hd = this.yhat.data, yd = y.data, gd = this.gy.data, s = 2 / n;
    let sse = 0;
    for (let t = 0; t < n * dOut; t++) {
      const e = hd[t] - yd[t];
      sse += e * e;
      gd[t] = s * e;
    }
    // mark the latents that fired (in the trainer's activity.fired, or a scratch buffer)
    const fired = firedBuffer(activity, this.atoms, this.firedScratch);
    fired.fill(0);
    let nnz = 0;
    for (let t = 0; t < n * k; t++) if (val[t] !== 0) {
      nnz++;
      fired[idx[t]] = 1;
    }
    this.gWdec.data.fill(0);
    this.gWenc.data.fill(0);
    this.gbenc.fill(0);
    this.backwardActive(idx, val, gval, n, k, gd, x.data);
    // AuxK on the latents dead before this batch that did not fire in it (the trainer's mask)
    let aux = 0;
    if (activity && this.config.auxkCoef > 0) {
      const dead = auxkDeadMask(activity, fired, this.deadBuf);
      if (dead > 0) aux = this.auxkStep(x, y, dead);
    }
    // b_dec: column sums of gy; W_skip: gyᵀ·x
    const colD = new Float64Array(dOut);
    b.sumCols(gd, n, dOut, colD);
    for (let j = 0; j < dOut; j++) this.gbdec[j] = colD[j];
    if (this.skip) matmul(this.gy, x, { transA: true, out: this.gWskip });
    return { loss: sse / n + aux, sqErr: sse / n, l0: nnz / n, aux };
  }

  /** Backward through the active atoms (decoder, code, encoder, encoder bias) for the output gradient g [n x d_out], adding. */
  private backwardActive(idx: Int32Array, val: Float32Array, gval: Float32Array, n: number, k: number, g: Float32Array, x: Float32Array): void {
    activeBackward(idx, val, gval, n, k, g, x, this.Wdec.data, this.outDim, this.gWdec.data, this.gWenc.data, this.gbenc, true, this.inputDim);
  }

  /**
   * AuxK (Gao et al. 2024), as the TopK SAE's: the top-auxK dead latents' decode reconstructs the
   * residual e = y − ŷ (a constant), loss scale·‖ê − e‖² / Σ‖e − mean e‖², scale =
   * auxkCoef·min(dead / auxK, 1); its gradients are added to the encoder's and decoder's.
   */
  private auxkStep(x: Matrix, y: Matrix, dead: number): number {
    const n = x.rows, dOut = this.outDim, A = this.atoms, b = backend();
    const kAux = Math.min(this.auxK(), dead);
    const ap = this.auxPre, dm = this.deadBuf, pd = this.pre.data;
    for (let i = 0; i < n; i++) for (let a = 0; a < A; a++) ap[i * A + a] = dm[a] ? pd[i * A + a] : -Infinity;
    const aIdx = this.auxIdx, aVal = this.auxVal;
    b.topkRows(ap, n, A, kAux, aIdx, aVal);
    for (let t = 0; t < n * kAux; t++) if (!(aVal[t] > 0)) aVal[t] = 0;
    const e = new Float32Array(n * dOut), yd = y.data, hd = this.yhat.data;
    for (let t = 0; t < n * dOut; t++) e[t] = yd[t] - hd[t];
    let tv = 0;
    for (let j = 0; j < dOut; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += e[i * dOut + j];
      m /= n;
      for (let i = 0; i < n; i++) tv += (e[i * dOut + j] - m) ** 2;
    }
    if (!(tv > 0)) return 0;
    const eh = this.auxHat;
    b.gatherDecode(aIdx, aVal, n, kAux, this.Wdec.data, dOut, 0, eh);
    const scale = this.config.auxkCoef * Math.min(dead / kAux, 1);
    const s2 = (2 * scale) / tv;
    let sse = 0;
    for (let t = 0; t < n * dOut; t++) {
      const r = eh[t] - e[t];
      sse += r * r;
      eh[t] = s2 * r;
    }
    this.backwardActive(aIdx, aVal, this.auxGval, n, kAux, eh, x.data);
    return (scale * sse) / tv;
  }

  afterStep(): void {}

  normalizeDecoder(): void {
    normalizeRows(this.Wdec);
  }

  foldScale(c: number): void {
    if (c === 1) return;
    for (let a = 0; a < this.benc.length; a++) this.benc[a] /= c;
    for (let j = 0; j < this.bdec.length; j++) this.bdec[j] /= c;
  }


  extraState(): Record<string, number> {
    return {};
  }

  setExtraState(_s: Record<string, number>): void {}

  private requireFitted(): void {
    if (!this.fitted) fail('E_ARG', 'this transcoder has no weights yet; fit it or load a model first');
  }

  private checkInput(name: string, X: Matrix, cols: number, what: string): void {
    if (!(X instanceof Matrix)) fail('E_ARG', `${name} must be a Matrix`);
    if (X.cols !== cols) fail('E_SHAPE', `shape mismatch: ${name} has ${X.cols} columns, the transcoder expects ${cols} (${what})`);
    assertFinite(name, X);
  }

  /** Sparse codes Z [n x atoms] of inputs X [n x d_in]. */
  encode(X: Matrix): Matrix {
    this.requireFitted();
    this.checkInput('X', X, this.inputDim, 'd_in');
    const n = X.rows, A = this.atoms, k = this.config.k;
    const pre = new Matrix(n, A);
    this.encoderPre(X, pre);
    const idx = new Int32Array(n * k), val = new Float32Array(n * k);
    this.selectTopK(pre, idx, val);
    const Z = new Matrix(n, A);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) {
      const v = val[i * k + j];
      if (v > 0) Z.data[i * A + idx[i * k + j]] = v;
    }
    return Z;
  }

  /** The sparse part of the output, Z·W_dec + b_dec [n x d_out] (without the skip term, which needs x: see predict). */
  decode(Z: Matrix): Matrix {
    this.requireFitted();
    this.checkInput('Z', Z, this.atoms, 'latents');
    const out = matmul(Z, this.Wdec);
    backend().addRowVector(out.data, out.rows, this.outDim, this.bdec, 1);
    return out;
  }

  /** The transcoder's output ŷ [n x d_out] for inputs X [n x d_in] (skip term included). */
  predict(X: Matrix): Matrix {
    const out = this.decode(this.encode(X));
    if (this.skip) {
      const s = matmul(X, this.Wskip, { transB: true });
      for (let t = 0; t < out.data.length; t++) out.data[t] += s.data[t];
    }
    return out;
  }

  /**
   * Train on inputs X [n x d_in] and targets Y [n x d_out] (the same rows in the same order), as
   * the SAEs train (trainer.ts: epochs 'auto', progress, checkpoints, resume) on joint rows [x | y].
   */
  fit(X: Matrix, Y: Matrix, opts: FitOptions = {}): Promise<FitResult> {
    if (!(X instanceof Matrix) || !(Y instanceof Matrix)) fail('E_ARG', 'transcoder fit: X and Y must be Matrices');
    if (X.cols !== this.inputDim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the transcoder was made with inputDim ${this.inputDim}`);
    return trainSAE(this, jointRows(X, Y), { ...opts, seed: opts.seed ?? this.config.seed });
  }

  /** The trainer's held-out score on joint rows [x | y]: FVU of y and the codes' mean L0. */
  heldOutScore(rows: Matrix): { fvu: number; l0: number } {
    const x = new Matrix(rows.rows, this.inputDim), y = new Matrix(rows.rows, this.outDim);
    splitRows(rows, this.inputDim, x, y);
    const Z = this.encode(x);
    let nnz = 0;
    for (const v of Z.data) if (v !== 0) nnz++;
    const yhat = this.decode(Z);
    if (this.skip) {
      const s = matmul(x, this.Wskip, { transB: true });
      for (let t = 0; t < yhat.data.length; t++) yhat.data[t] += s.data[t];
    }
    let sse = 0, sst = 0;
    const d = this.outDim, n = rows.rows, mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += y.data[i * d + j] / n;
    for (let t = 0; t < n * d; t++) {
      sse += (y.data[t] - yhat.data[t]) ** 2;
      sst += (y.data[t] - mean[t % d]) ** 2;
    }
    return { fvu: sst > 0 ? sse / sst : NaN, l0: nnz / n };
  }

  /** The weights in the SAELens transcoder layout (copies). */
  getWeights(): TranscoderWeights {
    this.requireFitted();
    const w: TranscoderWeights = { W_enc: this.Wenc.transpose(), b_enc: this.benc.slice(), W_dec: this.Wdec.clone(), b_dec: this.bdec.slice() };
    if (this.skip) w.W_skip = this.Wskip.clone();
    return w;
  }

  /** Load weights in the SAELens transcoder layout (shapes checked; W_skip given iff the transcoder has skip). */
  setWeights(w: TranscoderWeights): void {
    const A = this.atoms, dIn = this.inputDim;
    if (!(w.W_enc instanceof Matrix) || w.W_enc.rows !== dIn || w.W_enc.cols !== A) fail('E_SHAPE', `W_enc must be [d_in x atoms] = [${dIn} x ${A}], got [${w.W_enc?.rows} x ${w.W_enc?.cols}]`);
    if (!(w.W_dec instanceof Matrix) || w.W_dec.rows !== A) fail('E_SHAPE', `W_dec must be [atoms x d_out] = [${A} x d_out], got [${w.W_dec?.rows} x ${w.W_dec?.cols}]`);
    const dOut = w.W_dec.cols;
    if (w.b_enc.length !== A) fail('E_SHAPE', `b_enc must have ${A} entries, got ${w.b_enc.length}`);
    if (w.b_dec.length !== dOut) fail('E_SHAPE', `b_dec must have d_out = ${dOut} entries, got ${w.b_dec.length}`);
    if (this.skip !== !!w.W_skip) fail('E_ARG', this.skip ? 'this skip transcoder needs W_skip [d_out x d_in]' : 'W_skip given to a transcoder without skip connection; create it with skip: true');
    if (w.W_skip && (w.W_skip.rows !== dOut || w.W_skip.cols !== dIn)) fail('E_SHAPE', `W_skip must be [d_out x d_in] = [${dOut} x ${dIn}], got [${w.W_skip.rows} x ${w.W_skip.cols}]`);
    this.outDim = dOut;
    this.Wenc = w.W_enc.transpose();
    this.benc = Float32Array.from(w.b_enc);
    this.Wdec = w.W_dec.clone();
    this.bdec = Float32Array.from(w.b_dec);
    this.Wskip = w.W_skip ? w.W_skip.clone() : new Matrix(0, 0);
    this.allocGrads();
  }
}

/** Split joint rows [x | y] into x [n x dIn] and y [n x (cols − dIn)]. */
export function splitRows(rows: Matrix, dIn: number, x: Matrix, y: Matrix): void {
  const n = rows.rows, d = rows.cols, dOut = d - dIn, r = rows.data;
  for (let i = 0; i < n; i++) {
    x.data.set(r.subarray(i * d, i * d + dIn), i * dIn);
    y.data.set(r.subarray(i * d + dIn, (i + 1) * d), i * dOut);
  }
}

/** Joint rows [x | y] [n x (d_in + d_out)] from X [n x d_in] and Y [n x d_out] (the same n). */
export function jointRows(X: Matrix, Y: Matrix, names: { input: string; target: string } = { input: 'X', target: 'Y' }): Matrix {
  if (X.rows !== Y.rows) fail('E_SHAPE', `the target ${names.target} has ${Y.rows} rows and the input ${names.input} has ${X.rows} rows; a transcoder needs one target row per input row, in the same order`);
  const n = X.rows, a = X.cols, b = Y.cols, J = new Matrix(n, a + b);
  for (let i = 0; i < n; i++) {
    J.data.set(X.data.subarray(i * a, (i + 1) * a), i * (a + b));
    J.data.set(Y.data.subarray(i * b, (i + 1) * b), i * (a + b) + a);
  }
  return J;
}
