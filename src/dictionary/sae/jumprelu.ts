import { backend, matmul } from '../../backend/index.js';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { type LatentActivity, SparseAutoencoder, type SAEWeights, type StepStats } from './base.js';
import type { SAEConfig } from './config.js';
import { activeBackward } from './sparse.js';

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
 *
 * With `sparsityLoss: 'tanh'` (SAELens's tanh mode) the penalty is
 * l0 · (1/n) Σ_i Σ_a tanh(s · z_ia · w_a), w_a = ‖W_dec[a]‖, s = tanhScale, in place of the count:
 * its derivative g_ia = (l0 / n) · s · w_a · (1 − tanh²(s z_ia w_a)) joins dL/dz, so it reaches
 * the encoder through the active codes (dz/dpre = 1 there) and every threshold through the same
 * straight-through estimator (at an inactive band entry z = 0 and g = (l0 / n) · s · w_a), and
 * W_dec[a] gets (l0 / n) Σ_i s z_ia (1 − tanh²) · W_dec[a] / w_a (radial: a unit-norm decoder
 * projects it out).
 */
export class JumpReluSAE extends SparseAutoencoder {
  logTheta = new Float32Array(0);
  gLogTheta = new Float32Array(0);
  private z = new Matrix(0, 0);
  private gz = new Matrix(0, 0);
  private colA = new Float64Array(0);
  private gTheta = new Float64Array(0);
  // the sparse step's lists: active latents (idx/val/gval) and the threshold's band (bandIdx/bandDot)
  private idx = new Int32Array(0);
  private val = new Float32Array(0);
  private gval = new Float32Array(0);
  private bandIdx = new Int32Array(0);
  private bandDot = new Float32Array(0);
  // the tanh penalty's decoder norms and the penalty's gradient with respect to them
  private decNorm = new Float64Array(0);
  private gNorm = new Float64Array(0);
  /**
   * How a training step runs: 'auto' (default) takes the sparse path when no row has more than
   * atoms/4 active latents or threshold-band entries, else the dense one; 'sparse' / 'dense'
   * force one (tests and benchmarks compare them). Not part of the model or its checkpoint.
   */
  stepPath: 'auto' | 'sparse' | 'dense' = 'auto';
  /** which path the last step took */
  lastPath: 'sparse' | 'dense' | null = null;

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

  /** tanh penalty: the decoder row norms w_a (float64), or null in step mode. */
  private tanhNorms(): Float64Array | null {
    if (this.config.sparsityLoss !== 'tanh') return null;
    const A = this.atoms, d = this.dim, W = this.Wdec.data;
    if (this.decNorm.length !== A) this.decNorm = new Float64Array(A);
    for (let a = 0; a < A; a++) {
      let s2 = 0;
      for (let j = a * d; j < (a + 1) * d; j++) s2 += W[j] * W[j];
      this.decNorm[a] = Math.sqrt(s2);
    }
    if (this.gNorm.length !== A) this.gNorm = new Float64Array(A);
    this.gNorm.fill(0);
    return this.decNorm;
  }

  /** tanh penalty: add Σ_i dL/dw_a · W_dec[a] / w_a (from `gNorm`) to the decoder's gradient. */
  private tanhDecoderGrad(w: Float64Array): void {
    const A = this.atoms, d = this.dim, W = this.Wdec.data, G = this.gWdec.data, gn = this.gNorm;
    for (let a = 0; a < A; a++) {
      if (gn[a] === 0 || !(w[a] > 0)) continue;
      const c = gn[a] / w[a];
      for (let j = a * d; j < (a + 1) * d; j++) G[j] += c * W[j];
    }
  }

  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.workspace(n);
    const b = backend();
    const l0coef = this.config.l0 * this.sparsityScale, eps = this.config.bandwidth;
    this.encoderPre(xb, ws.xc, ws.pre);
    const pd = ws.pre.data, zd = this.z.data, lt = this.logTheta;
    const theta = this.colA; // reuse as theta per latent (float64)
    for (let a = 0; a < A; a++) theta[a] = Math.exp(lt[a]);
    if (this.stepPath !== 'dense') {
      const r = this.sparseStep(xb, activity, theta);
      if (r) return r;
    }
    this.lastPath = 'dense';
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
    const w = this.tanhNorms();
    const stepGrad = w ? 0 : l0coef / n / eps;
    const cn = l0coef / n, sc = this.config.tanhScale;
    let penalty = 0;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      for (let a = 0; a < A; a++) {
        const p = pd[o + a], th = theta[a];
        let g = gzd[o + a];
        if (w) {
          const z = zd[o + a];
          if (z === 0) g += cn * sc * w[a]; // tanh(0) = 0, sech²(0) = 1
          else {
            const t = Math.tanh(sc * z * w[a]), sech2 = 1 - t * t;
            penalty += t;
            g += cn * sc * w[a] * sech2;
            this.gNorm[a] += cn * sc * z * sech2;
          }
        }
        if (Math.abs(p - th) < half) gT[a] -= (th / eps) * g + stepGrad;
        gzd[o + a] = p > th ? g : 0;
      }
    }
    for (let a = 0; a < A; a++) this.gLogTheta[a] = theta[a] * gT[a];
    if (w) this.tanhDecoderGrad(w);
    matmul(this.gz, ws.xc, { transA: true, out: this.gWenc });
    b.sumCols(gzd, n, A, this.colA);
    for (let a = 0; a < A; a++) this.gbenc[a] = this.colA[a];
    this.biasDecGrad(ws.gx);
    return { loss: sqErr + l0coef * (w ? penalty / n : l0), sqErr, l0, aux: 0 };
  }

  /**
   * The step through the active latents (z > θ) and the threshold's band (|pre − θ| < ε/2) only,
   * as a TopK step: decode by gather, the backward of the active entries by atom
   * (`activeBackward`), and dL/dz on the band for θ's pseudo-gradient: by `gatherDot` when the
   * band is narrow, else read off one dense GEMM gx·W_decᵀ (a wide band, ~atoms/8 or more per row,
   * is common early in training and with a wide kernel: two GEMMs then instead of the dense
   * step's five). The same gradients as the dense step (test/jumprelu-sparse.test.ts). Returns
   * null (the caller runs the dense step) when a row has more than atoms/4 active latents.
   */
  private sparseStep(xb: Matrix, activity: LatentActivity | undefined, theta: Float64Array): StepStats | null {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.ws!;
    const pd = ws.pre.data;
    const l0coef = this.config.l0 * this.sparsityScale, eps = this.config.bandwidth;
    const half = 0.5 * eps;
    const cap = this.stepPath === 'sparse' ? A : Math.max(1, Math.floor(A / 4));
    const lists = this.selectLists(pd, n, theta, half, cap);
    if (!lists) return null;
    const { kA, kB } = lists;
    const idx = this.idx, val = this.val, bIdx = this.bandIdx, bDot = this.bandDot;
    const b = backend();
    b.gatherDecode(idx, val, n, kA, this.Wdec.data, d, 0, ws.xhat.data);
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredSparse(idx, val, n, kA, this.firedOut(activity));
    const l0 = nnz / n;
    // z = pre > θ > 0 on the active entries: their code gradient passes (dz/dpre = 1)
    activeBackward(idx, val, this.gval, n, kA, ws.gx.data, ws.xc.data, this.Wdec.data, d, this.gWdec.data, this.gWenc.data, this.gbenc, false);
    // the tanh penalty on the active codes: its dL/dz (into gval, then the encoder) and dL/dw
    const w = this.tanhNorms();
    const cn = l0coef / n, sc = this.config.tanhScale;
    let penalty = 0;
    if (w) {
      const extra = this.gval;
      for (let t = 0; t < n * kA; t++) {
        const a = idx[t];
        if (a < 0) {
          extra[t] = 0;
          continue;
        }
        const z = val[t], th = Math.tanh(sc * z * w[a]), sech2 = 1 - th * th;
        penalty += th;
        extra[t] = cn * sc * w[a] * sech2;
        this.gNorm[a] += cn * sc * z * sech2;
        this.gbenc[a] += extra[t];
      }
      b.scatterOuter(idx, extra, n, kA, ws.xc.data, d, this.gWenc.data);
    }
    // dL/dz on the band
    if (kB > Math.max(1, Math.floor(A / 8))) {
      matmul(ws.gx, this.Wdec, { transB: true, out: this.gz });
      const gzd = this.gz.data;
      for (let i = 0; i < n; i++) {
        for (let t = i * kB; t < (i + 1) * kB; t++) bDot[t] = bIdx[t] >= 0 ? gzd[i * A + bIdx[t]] : 0;
      }
    } else b.gatherDot(bIdx, n, kB, ws.gx.data, this.Wdec.data, d, bDot);
    // θ's straight-through pseudo-gradient, in the dense step's order
    const gT = this.gTheta;
    gT.fill(0);
    const stepGrad = w ? 0 : l0coef / n / eps;
    for (let i = 0; i < n; i++) {
      for (let t = i * kB; t < (i + 1) * kB; t++) {
        const a = bIdx[t];
        if (a < 0) continue;
        const th = theta[a];
        let g = bDot[t];
        if (w) {
          const p = pd[i * A + a], z = p > th ? p : 0, tz = Math.tanh(sc * z * w[a]);
          g += cn * sc * w[a] * (1 - tz * tz);
        }
        gT[a] -= (th / eps) * g + stepGrad;
      }
    }
    for (let a = 0; a < A; a++) this.gLogTheta[a] = theta[a] * gT[a];
    if (w) this.tanhDecoderGrad(w);
    this.biasDecGrad(ws.gx);
    this.lastPath = 'sparse';
    return { loss: sqErr + l0coef * (w ? penalty / n : l0), sqErr, l0, aux: 0 };
  }

  /** Grow the list buffers to n·kA / n·kB. */
  private ensureLists(n: number, kA: number, kB: number): void {
    if (this.idx.length < n * kA) {
      this.idx = new Int32Array(n * kA);
      this.val = new Float32Array(n * kA);
      this.gval = new Float32Array(n * kA);
    }
    if (this.bandIdx.length < n * kB) {
      this.bandIdx = new Int32Array(n * kB);
      this.bandDot = new Float32Array(n * kB);
    }
  }

  /**
   * The active and band lists of pre [n x atoms] into idx/val and bandIdx (native `jumpSelect`,
   * or the same two passes here); null when a row has more than `cap` active latents (the band
   * may be as wide as it is).
   */
  private selectLists(pd: Float32Array, n: number, theta: Float64Array, half: number, cap: number): { kA: number; kB: number } | null {
    const A = this.atoms;
    const fast = backend().jumpSelect;
    if (fast) {
      let r = fast(pd, n, A, theta, half, A, this.idx, this.val, this.bandIdx);
      if (r <= -2) {
        const need = -2 - r, kA = Math.floor(need / 1048576);
        if (kA > cap) return null;
        this.ensureLists(n, kA, need % 1048576);
        r = fast(pd, n, A, theta, half, A, this.idx, this.val, this.bandIdx);
      }
      const kA = Math.floor(r / 1048576);
      return r < 0 || kA > cap ? null : { kA, kB: r % 1048576 };
    }
    // pass 1: the widest row of each list
    let kA = 1, kB = 1;
    for (let i = 0; i < n; i++) {
      const o = i * A;
      let ca = 0, cb = 0;
      for (let a = 0; a < A; a++) {
        const p = pd[o + a], th = theta[a];
        if (p > th) ca++;
        if (Math.abs(p - th) < half) cb++;
      }
      if (ca > kA) kA = ca;
      if (cb > kB) kB = cb;
    }
    if (kA > cap) return null;
    this.ensureLists(n, kA, kB);
    const idx = this.idx, val = this.val, bIdx = this.bandIdx;
    // pass 2: the lists, in column order, padded with -1 / 0
    for (let i = 0; i < n; i++) {
      const o = i * A;
      let ca = i * kA, cb = i * kB;
      for (let a = 0; a < A; a++) {
        const p = pd[o + a], th = theta[a];
        if (p > th) {
          idx[ca] = a;
          val[ca++] = p;
        }
        if (Math.abs(p - th) < half) bIdx[cb++] = a;
      }
      for (; ca < (i + 1) * kA; ca++) {
        idx[ca] = -1;
        val[ca] = 0;
      }
      for (; cb < (i + 1) * kB; cb++) bIdx[cb] = -1;
    }
    return { kA, kB };
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
