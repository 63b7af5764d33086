import type { Matrix } from '../../core/matrix.js';
import type { SAEConfig, SAEKind } from './config.js';
import type { SAEWeights } from './base.js';
import { SparseActivationSAE } from './sparse.js';

/**
 * BatchTopK SAE (Bussmann et al. 2024): during training the n*k largest positive
 * pre-activations of the whole batch are kept, so k is the mean number of active latents per
 * row. For inference a single threshold replaces the batch selection (z = pre where
 * pre > threshold, as a JumpReLU); it is estimated during training as an exponential moving
 * average (factor `thresholdBeta`) of the smallest kept activation of each batch.
 */
export class BatchTopKSAE extends SparseActivationSAE {
  /** inference threshold (training space during fit, raw space afterwards); NaN before training */
  threshold = NaN;
  private scratch = new Float32Array(0);
  private rowCount = new Int32Array(0);

  constructor(config: SAEConfig, kind: SAEKind = 'batchtopk') {
    super(kind, config);
  }

  protected override onWorkspace(n: number): void {
    super.onWorkspace(n);
    this.scratch = new Float32Array(n * this.atoms);
    this.rowCount = new Int32Array(n);
  }

  /** The value of rank `m` (0-based, descending) among buf[0..len), by quickselect (reorders buf). */
  private static selectDesc(buf: Float32Array, len: number, m: number): number {
    let lo = 0, hi = len - 1;
    while (lo < hi) {
      const pivot = buf[(lo + hi) >>> 1];
      let i = lo, j = hi;
      while (i <= j) {
        while (buf[i] > pivot) i++;
        while (buf[j] < pivot) j--;
        if (i <= j) {
          const t = buf[i];
          buf[i] = buf[j];
          buf[j] = t;
          i++;
          j--;
        }
      }
      if (m <= j) hi = j;
      else if (m >= i) lo = i;
      else return buf[m];
    }
    return buf[m];
  }

  protected select(pre: Matrix): number {
    const n = pre.rows, A = this.atoms, pd = pre.data;
    const want = n * this.config.k;
    // candidates: positive pre-activations
    if (this.scratch.length < n * A) this.scratch = new Float32Array(n * A);
    if (this.rowCount.length < n) this.rowCount = new Int32Array(n);
    let len = 0;
    const sc = this.scratch;
    for (let t = 0; t < n * A; t++) if (pd[t] > 0) sc[len++] = pd[t];
    let thr: number;
    let ties = 0; // how many entries equal to thr may still be taken
    if (len <= want) {
      thr = 0;
      ties = 0;
    } else {
      thr = BatchTopKSAE.selectDesc(sc, len, want - 1);
      let above = 0;
      for (let t = 0; t < len; t++) if (sc[t] > thr) above++;
      ties = want - above;
    }
    // count per row, then pack with stride kk = max row count
    const rc = this.rowCount;
    let kk = 1;
    let tiesLeft = ties;
    for (let i = 0; i < n; i++) {
      let c = 0;
      const o = i * A;
      for (let a = 0; a < A; a++) {
        const v = pd[o + a];
        if (v > thr || (v === thr && v > 0 && tiesLeft > 0 && (tiesLeft--, true))) c++;
      }
      rc[i] = c;
      if (c > kk) kk = c;
    }
    this.ensureSparse(n, kk);
    const idx = this.idx, val = this.val;
    tiesLeft = ties;
    let minKept = Infinity;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      let c = 0;
      for (let a = 0; a < A; a++) {
        const v = pd[o + a];
        if (v > thr || (v === thr && v > 0 && tiesLeft > 0 && (tiesLeft--, true))) {
          idx[i * kk + c] = a;
          val[i * kk + c] = v;
          if (v < minKept) minKept = v;
          c++;
        }
      }
      for (; c < kk; c++) {
        idx[i * kk + c] = -1;
        val[i * kk + c] = 0;
      }
    }
    if (this.training && Number.isFinite(minKept)) {
      const beta = this.config.thresholdBeta;
      this.threshold = Number.isNaN(this.threshold) ? minKept : beta * this.threshold + (1 - beta) * minKept;
    }
    return kk;
  }

  protected inferenceCodes(pre: Matrix, out: Matrix): void {
    const pd = pre.data, od = out.data;
    if (Number.isNaN(this.threshold)) {
      // no threshold estimate yet: fall back to the batch selection on this chunk
      const kk = this.select(pre);
      od.fill(0);
      for (let i = 0; i < pre.rows; i++) {
        for (let j = 0; j < kk; j++) {
          const a = this.idx[i * kk + j];
          if (a >= 0) od[i * this.atoms + a] = this.val[i * kk + j];
        }
      }
      return;
    }
    const thr = Math.max(this.threshold, 0);
    for (let t = 0; t < pd.length; t++) od[t] = pd[t] > thr ? pd[t] : 0;
  }

  override foldScale(c: number): void {
    super.foldScale(c);
    this.threshold /= c;
  }

  override extraState(): Record<string, number> {
    return { threshold: this.threshold };
  }

  override setExtraState(s: Record<string, number>): void {
    if (typeof s.threshold === 'number') this.threshold = s.threshold;
  }

  override getWeights(): SAEWeights {
    const w = super.getWeights();
    w.threshold = new Float32Array(this.atoms).fill(Number.isNaN(this.threshold) ? 0 : this.threshold);
    return w;
  }

  override setWeights(w: SAEWeights): void {
    super.setWeights(w);
    if (w.threshold && w.threshold.length > 0) this.threshold = w.threshold[0];
  }
}
