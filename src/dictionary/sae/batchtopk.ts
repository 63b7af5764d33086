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
  private candPos = new Int32Array(0);
  private candVal = new Float32Array(0);
  /** pre-activations sampled for the threshold's lower bound (select) */
  private static readonly SAMPLE = 8192;
  private static readonly PRIME = 2654435761;

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

  /**
   * The training selection, exact and in O(n·atoms) with one pass: a lower bound L for the
   * threshold from a fixed pseudo-random sample of `SAMPLE` pre-activations (the value whose
   * sample rank corresponds to about twice the wanted count, plus a margin), then one pass that
   * keeps the positive entries >= L (in row-major order, with their positions), a quickselect on
   * those candidates only, and the packing from the candidate list. When the bound turns out too
   * high (fewer than n·k candidates) the pass is redone with L = 0 (every positive entry), so
   * the kept set is always exactly the n·k largest positive pre-activations, ties taken in
   * row-major order.
   */
  protected select(pre: Matrix): number {
    const n = pre.rows, A = this.atoms, pd = pre.data;
    const N = n * A;
    const want = n * this.config.k;
    if (this.scratch.length < N) this.scratch = new Float32Array(N);
    if (this.candPos.length < N) this.candPos = new Int32Array(N);
    if (this.candVal.length < N) this.candVal = new Float32Array(N);
    if (this.rowCount.length < n) this.rowCount = new Int32Array(n);
    // 1. a lower bound for the threshold from a sample (positions j·P mod N, P prime: distinct while j < N)
    let lower = 0;
    const m = Math.min(N, BatchTopKSAE.SAMPLE);
    if (m === BatchTopKSAE.SAMPLE && want * 8 < N) {
      const sc = this.scratch;
      let pos = 0, ms = 0;
      const step = BatchTopKSAE.PRIME % N;
      for (let j = 0; j < m; j++) {
        const v = pd[pos];
        if (v > 0) sc[ms++] = v;
        pos += step;
        if (pos >= N) pos -= N;
      }
      const rank = Math.ceil((2 * want * m) / N) + 16; // ~2x the wanted share of the sample, plus a margin
      if (rank < ms) lower = BatchTopKSAE.selectDesc(sc, ms, rank);
    }
    // 2. candidates: positive entries >= lower, in row-major order
    let c = this.gather(pd, N, lower);
    if (c < want && lower > 0) c = this.gather(pd, N, 0);
    const cp = this.candPos, cv = this.candVal;
    let thr: number;
    let ties = 0; // how many entries equal to thr may still be taken
    if (c <= want) thr = 0;
    else {
      const sc = this.scratch;
      sc.set(cv.subarray(0, c));
      thr = BatchTopKSAE.selectDesc(sc, c, want - 1);
      let above = 0;
      for (let t = 0; t < c; t++) if (cv[t] > thr) above++;
      ties = want - above;
    }
    // 3. count per row, then pack with stride kk = max row count (from the candidates only)
    const rc = this.rowCount;
    rc.fill(0, 0, n);
    let tiesLeft = ties;
    let kept = 0;
    for (let t = 0; t < c; t++) {
      const v = cv[t];
      if (v > thr || (v === thr && v > 0 && tiesLeft > 0 && (tiesLeft--, true))) {
        cp[kept] = cp[t];
        cv[kept] = v;
        kept++;
        rc[(cp[t] / A) | 0]++;
      }
    }
    let kk = 1;
    for (let i = 0; i < n; i++) if (rc[i] > kk) kk = rc[i];
    this.ensureSparse(n, kk);
    const idx = this.idx, val = this.val;
    idx.fill(-1, 0, n * kk);
    val.fill(0, 0, n * kk);
    let minKept = Infinity;
    let row = -1, col = 0;
    for (let t = 0; t < kept; t++) {
      const p = cp[t], i = (p / A) | 0;
      if (i !== row) {
        row = i;
        col = 0;
      }
      const v = cv[t];
      idx[i * kk + col] = p - i * A;
      val[i * kk + col] = v;
      col++;
      if (v < minKept) minKept = v;
    }
    if (this.training && Number.isFinite(minKept)) {
      const beta = this.config.thresholdBeta;
      this.threshold = Number.isNaN(this.threshold) ? minKept : beta * this.threshold + (1 - beta) * minKept;
    }
    return kk;
  }

  /** Positive entries of pd[0..N) that are >= lower into candPos/candVal (row-major order); returns their count. */
  private gather(pd: Float32Array, N: number, lower: number): number {
    const cp = this.candPos, cv = this.candVal;
    let c = 0;
    if (lower > 0) {
      for (let t = 0; t < N; t++) {
        const v = pd[t];
        if (v >= lower) {
          cp[c] = t;
          cv[c++] = v;
        }
      }
    } else {
      for (let t = 0; t < N; t++) {
        const v = pd[t];
        if (v > 0) {
          cp[c] = t;
          cv[c++] = v;
        }
      }
    }
    return c;
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
