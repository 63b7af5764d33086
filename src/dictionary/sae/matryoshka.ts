import type { Matrix } from '../../core/matrix.js';
import type { SAEConfig } from './config.js';
import type { LatentActivity, StepStats } from './base.js';
import { BatchTopKSAE } from './batchtopk.js';
import { backend } from '../../backend/index.js';

/**
 * Matryoshka BatchTopK SAE (Bussmann et al. 2025; Nabeshima 2024; SAELens
 * `matryoshka_batchtopk`). The codes are chosen by BatchTopK over all latents; the loss sums
 * the squared reconstruction error of every nested prefix of the dictionary:
 *
 *   loss = (1/n) sum_i sum_g || b_dec + sum_{a < m_g} z_ia W_dec[a] - x_i ||^2  (+ AuxK)
 *
 * for prefix widths m_1 < ... < m_G = atoms (`matryoshkaWidths`), so early latents must
 * reconstruct on their own and the general features settle in the first groups.
 *
 * Decoded sparsely: per row the G partial reconstructions come from the active latents only
 * (O((k + G) d) per row: the full decode, then one bucket's decode subtracted per prefix, in
 * reverse order), and latent a in bucket g (m_{g-1} <= a < m_g) receives the suffix sum of the
 * residual gradients of the prefixes that contain it, accumulated in one running buffer. At
 * inference it is a BatchTopK SAE: one threshold, and it is saved as JumpReLU with that
 * threshold broadcast to every latent (how SAELens stores it).
 */
export class MatryoshkaSAE extends BatchTopKSAE {
  /** prefix widths m_1 < ... < m_G = atoms */
  readonly widths: number[];
  private bucket = new Int32Array(0);

  constructor(config: SAEConfig) {
    super(config, 'matryoshka');
    this.widths = this.config.matryoshkaWidths!.slice();
  }

  protected override onWorkspace(n: number): void {
    super.onWorkspace(n);
    const A = this.atoms, G = this.widths.length;
    this.bucket = new Int32Array(A);
    let g = 0;
    for (let a = 0; a < A; a++) {
      while (a >= this.widths[g]) g++;
      this.bucket[a] = g;
    }
  }

  private idxG: Int32Array[] = [];
  private cur = new Float32Array(0);
  private suffix = new Float32Array(0);
  private negVal = new Float32Array(0);
  private tmpDot = new Float32Array(0);

  /**
   * Forward and backward over the prefixes in reverse order, so that one partial decode and one
   * running gradient suffice (no per-prefix buffers): with P_g the decode of the latents of
   * buckets <= g (P_{G-1} the full decode, one gatherDecode), for g = G-1 down to 0
   *   r_g = P_g + b_dec − x,  S += (2/n)·r_g   (S: the gradient reaching a latent of bucket g),
   *   bucket g's decoder rows and codes get their gradients from S (scatterOuter, gatherDot),
   *   P_{g-1} = P_g − (bucket g's decode)  (a gatherDecode of that bucket with negated codes).
   * At g = 0, S is the gradient of b_dec's decoder role (b_dec is in every prefix).
   */
  override forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim, G = this.widths.length;
    const ws = this.workspace(n);
    const b = backend();
    this.encoderPre(xb, ws.xc, ws.pre);
    const kk = this.select(ws.pre);
    const idx = this.idx, val = this.val, gval = this.gval;
    const fired = this.firedOut(activity);
    const nnz = this.markFiredSparse(idx, val, n, kk, fired);
    const bucket = this.bucket;
    // per-group index lists (padding -1 outside the group), grown only
    if (this.idxG.length !== G || this.idxG[0].length < n * kk) this.idxG = Array.from({ length: G }, () => new Int32Array(n * kk));
    if (this.cur.length < n * d) {
      this.cur = new Float32Array(n * d);
      this.suffix = new Float32Array(n * d);
    }
    if (this.tmpDot.length < n * kk) {
      this.tmpDot = new Float32Array(n * kk);
      this.negVal = new Float32Array(n * kk);
    }
    for (let g = 0; g < G; g++) this.idxG[g].fill(-1, 0, n * kk);
    const negVal = this.negVal;
    for (let t = 0; t < n * kk; t++) {
      const a = idx[t];
      if (a >= 0) this.idxG[bucket[a]][t] = a;
      negVal[t] = -val[t];
    }
    const hd = ws.xhat.data, xd = xb.data, bd = this.bdec, W = this.Wdec.data;
    const cur = this.cur, S = this.suffix;
    b.gatherDecode(idx, val, n, kk, W, d, 0, cur); // P_{G-1}
    hd.set(cur.subarray(0, n * d));
    b.addRowVector(hd, n, d, bd, 1); // the full reconstruction (AuxK's residual)
    S.fill(0, 0, n * d);
    // native: each atom is in one group, so per group one sparseBackward (the same bits as below);
    // the first call overwrites every atom's rows (zeroes included), the others add to their own
    const fused = b.sparseBackward;
    if (!fused) {
      this.gWdec.data.fill(0);
      this.gWenc.data.fill(0);
      this.gbenc.fill(0);
      gval.fill(0, 0, n * kk);
    }
    const tmp = this.tmpDot;
    const s = 2 / n;
    let total = 0, full = 0;
    const residual = b.suffixResidual; // native: the same loop, the same bits
    for (let g = G - 1; g >= 0; g--) {
      let sse = 0;
      if (residual) sse = residual(cur, bd, xd, n, d, s, S);
      else for (let i = 0; i < n; i++) {
        const o = i * d;
        for (let j = 0; j < d; j++) {
          const r = cur[o + j] + bd[j] - xd[o + j];
          sse += r * r;
          S[o + j] += s * r;
        }
      }
      total += sse;
      if (g === G - 1) full = sse;
      const ig = this.idxG[g];
      if (fused) {
        // the group's atoms see S as it is now: all four gradients of their entries in one pass by atom
        fused(ig, val, n, kk, S, ws.xc.data, W, d, d, g !== G - 1, this.gWdec.data, this.gWenc.data, this.gbenc, tmp);
      } else {
        b.scatterOuter(ig, val, n, kk, S, d, this.gWdec.data);
        b.gatherDot(ig, n, kk, S, W, d, tmp);
        for (let t = 0; t < n * kk; t++) if (ig[t] >= 0) gval[t] = tmp[t];
      }
      if (g > 0) b.gatherDecode(ig, negVal, n, kk, W, d, 1, cur); // P_{g-1}
    }
    if (!fused) {
      const gb = this.gbenc;
      for (let t = 0; t < n * kk; t++) {
        if (!(val[t] > 0) || idx[t] < 0) gval[t] = 0; // ReLU after selection
        else gb[idx[t]] += gval[t];
      }
      b.scatterOuter(idx, gval, n, kk, ws.xc.data, d, this.gWenc.data);
    }
    ws.gx.data.set(S.subarray(0, n * d)); // b_dec is in every prefix
    const aux = this.auxk(xb, activity, fired);
    this.biasDecGrad(ws.gx);
    return { loss: total / n + aux, sqErr: full / n, l0: nnz / n, aux };
  }
}
