import type { Matrix } from '../../core/matrix.js';
import type { SAEConfig } from './config.js';
import type { StepStats } from './base.js';
import { BatchTopKSAE } from './batchtopk.js';

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
 * Decoded sparsely: per row the G partial reconstructions are built group by group from the
 * active latents only (O((k + G) d) per row), and latent a in bucket g (m_{g-1} <= a < m_g)
 * receives the suffix sum of the residual gradients of the prefixes that contain it. At
 * inference it is a BatchTopK SAE: one threshold, and it is saved as JumpReLU with that
 * threshold broadcast to every latent (how SAELens stores it).
 */
export class MatryoshkaSAE extends BatchTopKSAE {
  /** prefix widths m_1 < ... < m_G = atoms */
  readonly widths: number[];
  private bucket = new Int32Array(0);
  private resid = new Float64Array(0);
  private acc = new Float64Array(0);

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
    this.resid = new Float64Array(G * this.dim);
    this.acc = new Float64Array(this.dim);
  }

  override forwardBackward(xb: Matrix): StepStats {
    const n = xb.rows, d = this.dim, G = this.widths.length;
    const ws = this.workspace(n);
    this.encoderPre(xb, ws.xc, ws.pre);
    const kk = this.select(ws.pre);
    const idx = this.idx, val = this.val;
    const nnz = this.markFiredSparse(idx, val, n, kk);
    const W = this.Wdec.data, gW = this.gWdec.data, gE = this.gWenc.data, gb = this.gbenc;
    gW.fill(0);
    gE.fill(0);
    gb.fill(0);
    const xd = xb.data, xcd = ws.xc.data, hd = ws.xhat.data, gxd = ws.gx.data, bd = this.bdec;
    const R = this.resid, acc = this.acc, bucket = this.bucket;
    const s = 2 / n;
    let total = 0, full = 0;
    for (let i = 0; i < n; i++) {
      const xo = i * d, ko = i * kk;
      for (let j = 0; j < d; j++) acc[j] = bd[j];
      // partial reconstructions, group by group
      for (let g = 0; g < G; g++) {
        for (let t = ko; t < ko + kk; t++) {
          const a = idx[t];
          if (a < 0 || bucket[a] !== g) continue;
          const v = val[t];
          if (v === 0) continue;
          const wo = a * d;
          for (let j = 0; j < d; j++) acc[j] += v * W[wo + j];
        }
        const ro = g * d;
        let sse = 0;
        for (let j = 0; j < d; j++) {
          const r = acc[j] - xd[xo + j];
          R[ro + j] = r;
          sse += r * r;
        }
        total += sse;
        if (g === G - 1) full += sse;
      }
      for (let j = 0; j < d; j++) hd[xo + j] = acc[j];
      // suffix sums: R[g] <- s * sum_{h >= g} r_h (the gradient reaching a latent of bucket g)
      for (let j = (G - 1) * d; j < G * d; j++) R[j] *= s;
      for (let g = G - 2; g >= 0; g--) {
        const ro = g * d, no = ro + d;
        for (let j = 0; j < d; j++) R[ro + j] = s * R[ro + j] + R[no + j];
      }
      for (let j = 0; j < d; j++) gxd[xo + j] = R[j]; // b_dec is in every prefix
      for (let t = ko; t < ko + kk; t++) {
        const a = idx[t];
        if (a < 0) continue;
        const v = val[t];
        const ro = bucket[a] * d, wo = a * d;
        let gz = 0;
        for (let j = 0; j < d; j++) {
          const r = R[ro + j];
          gz += r * W[wo + j];
          gW[wo + j] += v * r;
        }
        if (!(v > 0)) continue; // ReLU after selection
        gb[a] += gz;
        for (let j = 0; j < d; j++) gE[wo + j] += gz * xcd[xo + j];
      }
    }
    let aux = 0;
    const coef = this.config.auxkCoef;
    if (coef > 0 && Number.isFinite(this.deadAfter)) {
      const dead = this.deadMask(this.deadAfter, this.deadBuf);
      if (dead > 0) aux = this.auxkStep(xb, ws.pre, ws.xhat, ws.xc, dead);
    }
    this.biasDecGrad(ws.gx);
    this.samplesSeen += n;
    const mse = full / n;
    return { loss: total / n + aux, mse, l0: nnz / n, aux };
  }
}
