import { backend, matmul } from '../../backend/index.js';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { type LatentActivity, SparseAutoencoder, type SAEWeights, type StepStats } from './base.js';
import type { SAEConfig } from './config.js';

/**
 * JumpReLU SAE (Rajamanoharan et al. 2024; Gemma Scope): z = pre * H(pre - theta_a), with a
 * learned per-latent threshold theta = exp(logTheta). Loss = sqErr + l0 * mean_i ||z_i||_0. The
 * step function has no useful gradient, so theta learns through straight-through estimators
 * with a rectangle kernel K(u) = 1{|u| < 1/2} of bandwidth eps:
 *   d z / d theta      = -(theta / eps) K((pre - theta) / eps)
 *   d H(pre-theta)/d theta = -(1 / eps) K((pre - theta) / eps)
 * and d z / d pre = H(pre - theta). Threshold init and bandwidth default to 0.05 and the L0
 * coefficient to 0.02 in the scaled input space (see SAEConfig; the paper's 1e-3 / 1e-3 are
 * for ~10⁵-step runs and must be passed explicitly).
 */
export class JumpReluSAE extends SparseAutoencoder {
  logTheta = new Float32Array(0);
  gLogTheta = new Float32Array(0);
  private z = new Matrix(0, 0);
  private gz = new Matrix(0, 0);
  private colA = new Float64Array(0);
  private gTheta = new Float64Array(0);

  constructor(config: SAEConfig) {
    super('jumprelu', config);
  }

  override initParams(dim: number, rng: Rng): void {
    super.initParams(dim, rng);
    this.logTheta = new Float32Array(this.atoms).fill(Math.log(this.config.thresholdInit));
    this.gLogTheta = new Float32Array(this.atoms);
  }

  override paramList() {
    return [...super.paramList(), { name: 'log_threshold', param: this.logTheta, grad: this.gLogTheta, decay: false }];
  }

  protected override onWorkspace(n: number): void {
    this.z = new Matrix(n, this.atoms);
    this.gz = new Matrix(n, this.atoms);
    this.colA = new Float64Array(this.atoms);
    this.gTheta = new Float64Array(this.atoms);
    if (this.gLogTheta.length !== this.atoms) this.gLogTheta = new Float32Array(this.atoms);
  }

  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.workspace(n);
    const b = backend();
    const { l0: l0coef, bandwidth: eps } = this.config;
    this.encoderPre(xb, ws.xc, ws.pre);
    const pd = ws.pre.data, zd = this.z.data, lt = this.logTheta;
    const theta = this.colA; // reuse as theta per latent (float64)
    for (let a = 0; a < A; a++) theta[a] = Math.exp(lt[a]);
    for (let i = 0; i < n; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) zd[o + a] = pd[o + a] > theta[a] ? pd[o + a] : 0;
    }
    matmul(this.z, this.Wdec, { out: ws.xhat });
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredDense(this.z, this.firedOut(activity));
    const l0 = nnz / n;
    matmul(this.z, ws.gx, { transA: true, out: this.gWdec });
    matmul(ws.gx, this.Wdec, { transB: true, out: this.gz });
    const gzd = this.gz.data, gT = this.gTheta;
    gT.fill(0);
    const half = 0.5 * eps;
    const stepGrad = l0coef / n / eps;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) {
        const p = pd[o + a], th = theta[a];
        const g = gzd[o + a];
        if (Math.abs(p - th) < half) gT[a] -= (th / eps) * g + stepGrad;
        gzd[o + a] = p > th ? g : 0;
      }
    }
    for (let a = 0; a < A; a++) this.gLogTheta[a] = theta[a] * gT[a];
    matmul(this.gz, ws.xc, { transA: true, out: this.gWenc });
    b.sumCols(gzd, n, A, this.colA);
    for (let a = 0; a < A; a++) this.gbenc[a] = this.colA[a];
    this.biasDecGrad(ws.gx);
    return { loss: sqErr + l0coef * l0, sqErr, l0, aux: 0 };
  }

  protected encodeChunk(x: Matrix, out: Matrix): void {
    const xc = new Matrix(x.rows, this.dim);
    this.encoderPre(x, xc, out);
    const A = this.atoms, od = out.data;
    const th = new Float64Array(A);
    for (let a = 0; a < A; a++) th[a] = Math.exp(this.logTheta[a]);
    for (let i = 0; i < x.rows; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) if (!(od[o + a] > th[a])) od[o + a] = 0;
    }
  }

  override foldScale(c: number): void {
    super.foldScale(c);
    if (c === 1) return;
    const lc = Math.log(c);
    for (let a = 0; a < this.atoms; a++) this.logTheta[a] -= lc;
  }

  override getWeights(): SAEWeights {
    const w = super.getWeights();
    w.threshold = Float32Array.from(this.logTheta, (v) => Math.exp(v));
    return w;
  }

  override setWeights(w: SAEWeights): void {
    super.setWeights(w);
    const A = this.atoms;
    this.logTheta = new Float32Array(A).fill(Math.log(this.config.thresholdInit));
    this.gLogTheta = new Float32Array(A);
    if (w.threshold) {
      if (w.threshold.length !== A) fail('E_SHAPE', `threshold has ${w.threshold.length} entries, expected ${A} (one per latent)`);
      for (let a = 0; a < A; a++) this.logTheta[a] = Math.log(Math.max(w.threshold[a], 1e-30));
    }
  }
}
