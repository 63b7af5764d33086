import { backend, matmul } from '../../backend/index.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { type LatentActivity, SparseAutoencoder, type StepStats } from './base.js';
import type { SAEConfig } from './config.js';

/**
 * ReLU SAE with an L1 penalty (Bricken et al. 2023; SAELens "standard"): z = ReLU(pre),
 * loss = sqErr + l1 * mean_i sum_a z_ia * w_a, where w_a = ||W_dec[a]|| when `l1DecoderNorm`
 * (the penalty then cannot be dodged by shrinking codes and growing decoder rows), else 1.
 * Dead latents can be resampled (`resampleEvery`): each gets the direction of a batch row
 * drawn with probability proportional to its squared reconstruction error.
 */
export class ReluSAE extends SparseAutoencoder {
  private z = new Matrix(0, 0);
  private gz = new Matrix(0, 0);
  private colA = new Float64Array(0);
  private rowNorm = new Float64Array(0);

  constructor(config: SAEConfig) {
    super('relu', config);
  }

  protected override onWorkspace(n: number): void {
    this.z = new Matrix(n, this.atoms);
    this.gz = new Matrix(n, this.atoms);
    this.colA = new Float64Array(this.atoms);
    this.rowNorm = new Float64Array(this.atoms);
  }

  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.workspace(n);
    const b = backend();
    const { l1, l1DecoderNorm } = this.config;
    this.encoderPre(xb, ws.xc, ws.pre);
    const z = this.z, gz = this.gz, pd = ws.pre.data, zd = z.data;
    b.relu(pd, zd);
    matmul(z, this.Wdec, { out: ws.xhat });
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredDense(z, this.firedOut(activity));
    // L1 weights
    const w = this.rowNorm, W = this.Wdec.data;
    for (let a = 0; a < A; a++) {
      if (l1DecoderNorm) {
        let s = 0;
        for (let j = 0; j < d; j++) s += W[a * d + j] * W[a * d + j];
        w[a] = Math.sqrt(s);
      } else w[a] = 1;
    }
    b.sumCols(zd, n, A, this.colA);
    let l1sum = 0;
    for (let a = 0; a < A; a++) l1sum += this.colA[a] * w[a];
    const sparsity = (l1 * l1sum) / n;
    // decoder gradient
    matmul(z, ws.gx, { transA: true, out: this.gWdec });
    if (l1DecoderNorm && l1 > 0) {
      const g = this.gWdec.data;
      for (let a = 0; a < A; a++) {
        if (!(w[a] > 0)) continue;
        const c = (l1 * this.colA[a]) / n / w[a];
        for (let j = 0; j < d; j++) g[a * d + j] += c * W[a * d + j];
      }
    }
    // code gradient, then through the ReLU
    matmul(ws.gx, this.Wdec, { transB: true, out: gz });
    const gzd = gz.data;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) gzd[o + a] = pd[o + a] > 0 ? gzd[o + a] + (l1 * w[a]) / n : 0;
    }
    matmul(gz, ws.xc, { transA: true, out: this.gWenc });
    b.sumCols(gzd, n, A, this.colA);
    for (let a = 0; a < A; a++) this.gbenc[a] = this.colA[a];
    this.biasDecGrad(ws.gx);
    return { loss: sqErr + sparsity, sqErr, l0: nnz / n, aux: 0 };
  }

  protected encodeChunk(x: Matrix, out: Matrix): void {
    const xc = new Matrix(x.rows, this.dim);
    this.encoderPre(x, xc, out);
    backend().relu(out.data, out.data);
  }

  /**
   * Resample dead latents from a batch (training space): decoder row = the unit direction of
   * (x_i - b_dec) for a row drawn with probability proportional to its squared error; encoder
   * row = that direction times 0.2 times the mean alive encoder-row norm; b_enc = 0. Returns
   * the resampled latents so the trainer can reset their optimiser state.
   */
  resampleDead(xb: Matrix, dead: Uint8Array, rng: Rng): number[] {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.workspace(n);
    // reconstruction errors with the current weights
    this.encoderPre(xb, ws.xc, ws.pre);
    backend().relu(ws.pre.data, this.z.data);
    matmul(this.z, this.Wdec, { out: ws.xhat });
    backend().addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const p = new Float64Array(n);
    let tot = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (ws.xhat.data[i * d + j] - xb.data[i * d + j]) ** 2;
      p[i] = s;
      tot += s;
    }
    let aliveNorm = 0, alive = 0;
    const We = this.Wenc.data, Wd = this.Wdec.data;
    for (let a = 0; a < A; a++) {
      if (dead[a]) continue;
      let s = 0;
      for (let j = 0; j < d; j++) s += We[a * d + j] ** 2;
      aliveNorm += Math.sqrt(s);
      alive++;
    }
    const encScale = 0.2 * (alive > 0 ? aliveNorm / alive : 1);
    const out: number[] = [];
    for (let a = 0; a < A; a++) {
      if (!dead[a]) continue;
      let i = 0;
      if (tot > 0) {
        let u = rng.uniform() * tot;
        while (i < n - 1 && u >= p[i]) u -= p[i++];
      } else i = rng.int(n);
      let s = 0;
      for (let j = 0; j < d; j++) s += ws.xc.data[i * d + j] ** 2;
      if (!(s > 0)) continue;
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < d; j++) {
        const v = ws.xc.data[i * d + j] * inv;
        Wd[a * d + j] = v;
        We[a * d + j] = v * encScale;
      }
      this.benc[a] = 0;
      out.push(a);
    }
    return out;
  }
}
