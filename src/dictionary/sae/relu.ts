import { backend, matmul } from '../../backend/index.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import { type LatentActivity, SparseAutoencoder, type StepStats } from './base.js';
import type { SAEConfig } from './config.js';
import { activeBackward } from './sparse.js';

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
  // the sparse step's list of active latents (idx/val/gval, row stride kcap) and the L1 term per entry
  private idx = new Int32Array(0);
  private val = new Float32Array(0);
  private gval = new Float32Array(0);
  private l1val = new Float32Array(0);
  private kcap = 0;
  /**
   * How a training step runs: 'auto' (default) takes the sparse path when no row has more than
   * atoms/4 active latents, else the dense one; 'sparse' / 'dense' force one (tests and
   * benchmarks compare them). Not part of the model or its checkpoint.
   */
  stepPath: 'auto' | 'sparse' | 'dense' = 'auto';
  /** which path the last step took */
  lastPath: 'sparse' | 'dense' | null = null;

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
    const l1 = this.l1Coef();
    this.encoderPre(xb, ws.xc, ws.pre);
    const z = this.z, gz = this.gz, pd = ws.pre.data, zd = z.data;
    b.relu(pd, zd);
    const w = this.l1Weights();
    if (this.stepPath !== 'dense') {
      const r = this.sparseStep(xb, activity, w);
      if (r) return r;
    }
    this.lastPath = 'dense';
    matmul(z, this.Wdec, { out: ws.xhat });
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredDense(z, this.firedOut(activity));
    b.sumCols(zd, n, A, this.colA);
    let l1sum = 0;
    for (let a = 0; a < A; a++) l1sum += this.colA[a] * w[a];
    const sparsity = (l1 * l1sum) / n;
    // decoder gradient
    matmul(z, ws.gx, { transA: true, out: this.gWdec });
    this.decoderNormGrad(n, w);
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

  /** The L1 coefficient of this step: config.l1 times the trainer's warm-up and L0-controller factor. */
  private l1Coef(): number {
    return this.config.l1 * this.sparsityScale;
  }

  /** The L1 weight per latent: ||W_dec[a]|| with `l1DecoderNorm`, else 1 (in this.rowNorm). */
  private l1Weights(): Float64Array {
    const A = this.atoms, d = this.dim, w = this.rowNorm, W = this.Wdec.data;
    for (let a = 0; a < A; a++) {
      if (this.config.l1DecoderNorm) {
        let s = 0;
        for (let j = 0; j < d; j++) s += W[a * d + j] * W[a * d + j];
        w[a] = Math.sqrt(s);
      } else w[a] = 1;
    }
    return w;
  }

  /** With `l1DecoderNorm`: the L1 term's decoder gradient, (l1 · Σ_i z_ia / n) · W_dec[a] / ||W_dec[a]|| (Σ_i z_ia in this.colA). */
  private decoderNormGrad(n: number, w: Float64Array): void {
    const l1 = this.l1Coef();
    if (!this.config.l1DecoderNorm || !(l1 > 0)) return;
    const A = this.atoms, d = this.dim, g = this.gWdec.data, W = this.Wdec.data;
    for (let a = 0; a < A; a++) {
      if (!(w[a] > 0)) continue;
      const c = (l1 * this.colA[a]) / n / w[a];
      for (let j = 0; j < d; j++) g[a * d + j] += c * W[a * d + j];
    }
  }

  /**
   * The step through the active latents (z = ReLU(pre) > 0) only, as a TopK step: the codes'
   * nonzeros listed per row (`compressRows`), decode by gather, the reconstruction's backward by
   * atom (`activeBackward`), and the L1 term's code gradient l1·w_a/n on each active entry added
   * to the encoder's gradients by one more scatter. The dense step's loss and gradients up to
   * float32 summation order (test/relu-sparse.test.ts), with one GEMM instead of four. Returns
   * null (the caller runs the dense step) when a row has more than atoms/4 active latents.
   */
  private sparseStep(xb: Matrix, activity: LatentActivity | undefined, w: Float64Array): StepStats | null {
    const n = xb.rows, d = this.dim, A = this.atoms;
    const ws = this.ws!;
    const b = backend();
    const l1 = this.l1Coef();
    const cap = this.stepPath === 'sparse' ? A : Math.max(1, Math.floor(A / 4));
    this.ensureList(n, this.kcap > 0 ? Math.min(cap, this.kcap) : Math.min(cap, 64));
    const widest = b.compressRows(this.z.data, n, A, this.kcap, this.idx, this.val);
    if (widest > cap) return null;
    if (widest > this.kcap) {
      // a wider row than the list holds: grow (with headroom) and list again
      this.ensureList(n, Math.min(cap, Math.max(widest, 2 * this.kcap)));
      b.compressRows(this.z.data, n, A, this.kcap, this.idx, this.val);
    }
    const kk = this.kcap, idx = this.idx, val = this.val;
    b.gatherDecode(idx, val, n, kk, this.Wdec.data, d, 0, ws.xhat.data);
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredSparse(idx, val, n, kk, this.firedOut(activity));
    // Σ_i z_ia per latent (the dense step's column sums: the same additions in the same order)
    const colA = this.colA;
    colA.fill(0);
    for (let t = 0; t < n * kk; t++) if (idx[t] >= 0) colA[idx[t]] += val[t];
    let l1sum = 0;
    for (let a = 0; a < A; a++) l1sum += colA[a] * w[a];
    const sparsity = (l1 * l1sum) / n;
    activeBackward(idx, val, this.gval, n, kk, ws.gx.data, ws.xc.data, this.Wdec.data, d, this.gWdec.data, this.gWenc.data, this.gbenc, false);
    this.decoderNormGrad(n, w);
    if (l1 > 0) {
      // the L1 term's code gradient on the active entries: encoder rows and biases
      const c = this.l1val;
      for (let t = 0; t < n * kk; t++) {
        const a = idx[t];
        c[t] = a >= 0 && val[t] > 0 ? (l1 * w[a]) / n : 0;
        if (c[t] !== 0) this.gbenc[a] += c[t];
      }
      b.scatterOuter(idx, c, n, kk, ws.xc.data, d, this.gWenc.data);
    }
    this.biasDecGrad(ws.gx);
    this.lastPath = 'sparse';
    return { loss: sqErr + sparsity, sqErr, l0: nnz / n, aux: 0 };
  }

  /** Grow the list buffers to n rows of kk entries. */
  private ensureList(n: number, kk: number): void {
    if (this.idx.length < n * kk) {
      this.idx = new Int32Array(n * kk);
      this.val = new Float32Array(n * kk);
      this.gval = new Float32Array(n * kk);
      this.l1val = new Float32Array(n * kk);
    }
    this.kcap = kk;
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
