import { backend } from '../../backend/index.js';
import { Matrix } from '../../core/matrix.js';
import { type LatentActivity, SparseAutoencoder, type StepStats } from './base.js';
import { auxkDeadMask } from '../dead-latents.js';

/**
 * Backward of a sparse code idx/val [n x kk] (values >= 0; padding idx -1) through its active
 * atoms: decoder (gWdec += val·g), code (gval = g·W_dec, 0 where val is not > 0), encoder
 * (gWenc += gval·xc) and encoder-bias (gbenc += gval) gradients, added to the buffers
 * (`accumulate`) or overwriting them. g, Wdec, gWdec have rows of width d; xc, gWenc of width dIn
 * (d for an SAE, the input width for a transcoder). The native backend does it in one pass by
 * atom (`sparseBackward`, the same bits); the row-by-row kernels otherwise.
 */
export function activeBackward(
  idx: Int32Array, val: Float32Array, gval: Float32Array, n: number, kk: number, g: Float32Array, xc: Float32Array,
  Wdec: Float32Array, d: number, gWdec: Float32Array, gWenc: Float32Array, gbenc: Float32Array, accumulate: boolean, dIn = d,
): void {
  const b = backend();
  if (b.sparseBackward) {
    b.sparseBackward(idx, val, n, kk, g, xc, Wdec, d, dIn, accumulate, gWdec, gWenc, gbenc, gval);
    return;
  }
  if (!accumulate) {
    gWdec.fill(0);
    gWenc.fill(0);
    gbenc.fill(0);
  }
  b.scatterOuter(idx, val, n, kk, g, d, gWdec);
  b.gatherDot(idx, n, kk, g, Wdec, d, gval);
  for (let t = 0; t < n * kk; t++) {
    if (!(val[t] > 0) || idx[t] < 0) gval[t] = 0; // ReLU after selection: no gradient where the value is 0
    else gbenc[idx[t]] += gval[t];
  }
  b.scatterOuter(idx, gval, n, kk, xc, dIn, gWenc);
}

/**
 * Shared machinery for SAEs whose codes have few active latents per row (TopK, BatchTopK):
 * the decode and the whole backward pass touch only the active atoms (`gatherDecode`,
 * `gatherDot`, `scatterOuter`), and dead latents get the AuxK loss (Gao et al. 2024): the
 * top-`auxK` dead latents reconstruct the main residual, normalised by its variance, scaled
 * by min(dead / auxK, 1) * auxkCoef.
 */
export abstract class SparseActivationSAE extends SparseAutoencoder {
  protected idx = new Int32Array(0);
  protected val = new Float32Array(0);
  protected gval = new Float32Array(0);
  protected kcap = 0;
  // AuxK buffers
  protected auxPre = new Float32Array(0);
  protected auxIdx = new Int32Array(0);
  protected auxVal = new Float32Array(0);
  protected auxGval = new Float32Array(0);
  protected auxErr = new Float32Array(0);
  protected auxHat = new Float32Array(0);
  protected deadBuf = new Uint8Array(0);

  /** Ensure sparse buffers hold rows x kk entries (grows only; steady state allocates nothing). */
  protected ensureSparse(rows: number, kk: number): void {
    if (rows * kk > this.idx.length) {
      this.idx = new Int32Array(rows * kk);
      this.val = new Float32Array(rows * kk);
      this.gval = new Float32Array(rows * kk);
    }
    this.kcap = kk;
  }

  /**
   * Select the active latents of `pre` [rows x atoms] (training semantics) into this.idx /
   * this.val with row stride kk (padding idx -1, val 0); values are >= 0. Returns kk.
   */
  protected abstract select(pre: Matrix): number;

  protected override onWorkspace(n: number): void {
    this.ensureSparse(n, Math.max(1, this.config.k));
    const kAux = this.auxKFor();
    this.auxPre = new Float32Array(n * this.atoms);
    this.auxIdx = new Int32Array(n * kAux);
    this.auxVal = new Float32Array(n * kAux);
    this.auxGval = new Float32Array(n * kAux);
    this.auxErr = new Float32Array(n * this.dim);
    this.auxHat = new Float32Array(n * this.dim);
    this.deadBuf = new Uint8Array(this.atoms);
  }

  protected auxKFor(): number {
    return Math.max(1, Math.min(this.atoms, this.config.auxK ?? Math.max(1, Math.floor(this.dim / 2))));
  }

  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim;
    const ws = this.workspace(n);
    const b = backend();
    this.encoderPre(xb, ws.xc, ws.pre);
    const kk = this.select(ws.pre);
    const idx = this.idx, val = this.val, gval = this.gval;
    b.gatherDecode(idx, val, n, kk, this.Wdec.data, d, 0, ws.xhat.data);
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const fired = this.firedOut(activity);
    const nnz = this.markFiredSparse(idx, val, n, kk, fired);

    this.backwardActive(idx, val, gval, n, kk, ws.gx.data, ws.xc.data, false);

    const aux = this.auxk(xb, activity, fired);
    this.biasDecGrad(ws.gx);
    const l0 = nnz / n;
    return { loss: sqErr + aux, sqErr, l0, aux };
  }

  /**
   * The AuxK term of a step (0 without the trainer's activity, or with auxkCoef 0): its latents
   * are those dead before the batch that did not fire in it (the mask after this batch's firing,
   * as Gao et al.'s reference computes it).
   */
  protected auxk(xb: Matrix, activity: LatentActivity | undefined, fired: Uint8Array): number {
    if (!activity || !(this.config.auxkCoef > 0)) return 0;
    const dead = auxkDeadMask(activity, fired, this.deadBuf);
    const ws = this.ws!;
    return dead > 0 ? this.auxkStep(xb, ws.pre, ws.xhat, ws.xc, dead) : 0;
  }

  /** Backward through the active atoms into this SAE's gradient buffers (`activeBackward`). */
  protected backwardActive(idx: Int32Array, val: Float32Array, gval: Float32Array, n: number, kk: number, g: Float32Array, xc: Float32Array, accumulate = true): void {
    activeBackward(idx, val, gval, n, kk, g, xc, this.Wdec.data, this.dim, this.gWdec.data, this.gWenc.data, this.gbenc, accumulate);
  }

  /** AuxK loss and its gradients (added to the gradient buffers); returns the loss term. */
  protected auxkStep(xb: Matrix, pre: Matrix, xhat: Matrix, xc: Matrix, dead: number): number {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const b = backend();
    const kAux = Math.min(this.auxKFor(), dead);
    const ap = this.auxPre, dm = this.deadBuf, pd = pre.data;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) ap[o + a] = dm[a] ? pd[o + a] : -Infinity;
    }
    const aIdx = this.auxIdx, aVal = this.auxVal;
    b.topkRows(ap, n, A, kAux, aIdx, aVal);
    for (let t = 0; t < n * kAux; t++) if (!(aVal[t] > 0)) aVal[t] = 0;
    // residual e = x - xhat (a constant target) and its total variance
    const e = this.auxErr, xd = xb.data, hd = xhat.data;
    for (let t = 0; t < n * d; t++) e[t] = xd[t] - hd[t];
    let tv = 0;
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += e[i * d + j];
      m /= n;
      for (let i = 0; i < n; i++) tv += (e[i * d + j] - m) ** 2;
    }
    if (!(tv > 0)) return 0;
    const eh = this.auxHat;
    b.gatherDecode(aIdx, aVal, n, kAux, this.Wdec.data, d, 0, eh);
    const scale = this.config.auxkCoef * Math.min(dead / kAux, 1);
    let sse = 0;
    const s2 = (2 * scale) / tv;
    for (let t = 0; t < n * d; t++) {
      const r = eh[t] - e[t];
      sse += r * r;
      eh[t] = s2 * r; // reuse as the gradient wrt ehat
    }
    this.backwardActive(aIdx, aVal, this.auxGval, n, kAux, eh, xc.data);
    return (scale * sse) / tv;
  }

  protected encodeChunk(x: Matrix, out: Matrix): void {
    const n = x.rows, A = this.atoms;
    const xc = new Matrix(n, this.dim);
    const pre = new Matrix(n, A);
    this.encoderPre(x, xc, pre);
    this.inferenceCodes(pre, out);
  }

  /** Inference-time codes from pre-activations into dense out. */
  protected abstract inferenceCodes(pre: Matrix, out: Matrix): void;
}
