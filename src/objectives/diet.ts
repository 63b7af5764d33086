import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import type { Backend } from '../backend/types.js';
import { biasUniform, kaimingUniform } from '../nn/init.js';
import type { Param } from '../nn/types.js';

/**
 * The classification head of DIET (Balestriero 2023: every sample its own class) and of the
 * supervised baseline of "Cross-Entropy Is All You Need To Invert the Data Generating Process"
 * (PROTOCOLS.md §2.1): logits = h·Wᵀ (+ b), W [classes x features] as torch.nn.Linear(features,
 * classes) (PyTorch's default initialisation), cross-entropy with optional label smoothing ε:
 *
 *   loss_i = (1 − ε)(lse_i − z_{i,y}) + (ε/C)(C·lse_i − Σ_c z_{i,c}),   loss = mean_i loss_i
 *   dz     = (softmax(z) − (1 − ε)·onehot(y) − ε/C)/n
 *   dW    += dzᵀ·h,  db += Σ_rows dz,  dh = dz·W
 *
 * `lossAndGrad` is fused: the [batch x classes] logits are never held whole. Rows go in blocks
 * of `blockRows`: logits of the block by one backend GEMM into a [block x classes] buffer that
 * stays in cache, softmax and dz in place, then dW += dzᵀ·h and dh = dz·W by two more GEMMs.
 * (PyTorch materialises logits, log-probabilities and their gradients for the whole batch:
 * several passes over batch·classes floats, 40 MB each at DIET's 1024 x 10240.)
 * Sums in float64 where they matter (log-sum-exp, loss).
 */
export interface LinearCEHeadOptions {
  /** a bias vector (default false: DIET's head is bias-free) */
  bias?: boolean;
  rng?: Rng | Seed;
  backend?: Backend;
  /** rows per block in the GEMM path (default 64) */
  blockRows?: number;
}

export interface HeadStep {
  /** mean (smoothed) cross-entropy */
  loss: number;
  /** dL/dh [batch x features] (owned by the head, overwritten by the next call) */
  dh: Matrix;
  /** fraction of rows whose arg-max logit is the label */
  accuracy: number;
}

export class LinearCEHead {
  readonly weight: Matrix;
  readonly gWeight: Matrix;
  readonly bias: Float32Array | null;
  readonly gBias: Float32Array | null;
  backend?: Backend;
  private readonly blockRows: number;
  private dh: Matrix | null = null;
  private block: Matrix | null = null;

  constructor(readonly features: number, readonly classes: number, opts: LinearCEHeadOptions = {}) {
    assertInt('head features', features, 1);
    assertInt('head classes', classes, 1);
    this.weight = new Matrix(classes, features);
    this.gWeight = new Matrix(classes, features);
    const rng = toRng(opts.rng);
    kaimingUniform(this.weight.data, features, rng);
    this.bias = opts.bias ? new Float32Array(classes) : null;
    this.gBias = opts.bias ? new Float32Array(classes) : null;
    if (this.bias) biasUniform(this.bias, features, rng);
    this.backend = opts.backend;
    this.blockRows = opts.blockRows ?? 64;
    assertInt('blockRows', this.blockRows, 1);
  }

  params(): Param[] {
    const p: Param[] = [{ name: 'weight', param: this.weight.data, grad: this.gWeight.data, shape: [this.classes, this.features] }];
    if (this.bias) p.push({ name: 'bias', param: this.bias, grad: this.gBias!, shape: [this.classes] });
    return p;
  }

  zeroGrad(): void {
    this.gWeight.data.fill(0);
    this.gBias?.fill(0);
  }

  /** Logits h·Wᵀ (+ b) [batch x classes] (evaluation; allocates). */
  logits(h: Matrix): Matrix {
    this.check(h);
    const z = matmul(h, this.weight, { transB: true, backend: this.backend });
    if (this.bias) for (let i = 0; i < z.rows; i++) for (let j = 0; j < this.classes; j++) z.data[i * this.classes + j] += this.bias[j];
    return z;
  }

  private check(h: Matrix): void {
    if (!(h instanceof Matrix)) fail('E_ARG', `LinearCEHead: the input must be a Matrix [batch x ${this.features}]`);
    if (h.cols !== this.features) fail('E_SHAPE', `LinearCEHead: the input has ${h.cols} columns, the head expects ${this.features} features`);
    if (h.rows === 0) fail('E_SHAPE', 'LinearCEHead: empty batch');
  }

  /** Loss and gradients for labels y (class indices); ACCUMULATES dW (and db), returns dh. */
  lossAndGrad(h: Matrix, labels: ArrayLike<number>, opts: { labelSmoothing?: number } = {}): HeadStep {
    this.check(h);
    const n = h.rows, C = this.classes, F = this.features;
    if (labels.length !== n) fail('E_SHAPE', `LinearCEHead: ${labels.length} labels for ${n} rows; give one class index per row`);
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0 || y >= C) fail('E_ARG', `LinearCEHead: label ${i} is ${y}; labels must be class indices in [0, ${C - 1}]`);
    }
    const eps = opts.labelSmoothing ?? 0;
    assertNumber('labelSmoothing', eps, 0, 1);
    for (let i = 0; i < h.data.length; i++) if (!Number.isFinite(h.data[i])) fail('E_NONFINITE', `LinearCEHead: the features have a non-finite value at row ${Math.floor(i / F)}; the encoder diverged (lower the learning rate)`);
    const dh = (this.dh = this.dh && this.dh.rows === n ? this.dh : new Matrix(n, F));
    const r = this.blocked(h, labels, eps, dh);
    return { loss: r.loss, dh, accuracy: r.correct / n };
  }

  /** Blocks of rows through backend GEMMs. */
  private blocked(h: Matrix, labels: ArrayLike<number>, eps: number, dh: Matrix): { loss: number; correct: number } {
    const n = h.rows, C = this.classes, F = this.features;
    const R = Math.min(this.blockRows, n);
    let loss = 0, correct = 0;
    for (let r0 = 0; r0 < n; r0 += R) {
      const rows = Math.min(R, n - r0);
      const hb = h.rowSlice(r0, r0 + rows);
      const Z = (this.block = this.block && this.block.rows === rows ? this.block : new Matrix(rows, C));
      matmul(hb, this.weight, { transB: true, out: Z, backend: this.backend });
      const z = Z.data;
      for (let i = 0; i < rows; i++) {
        const o = i * C, y = labels[r0 + i];
        let mx = -Infinity, arg = 0, sz = 0;
        for (let j = 0; j < C; j++) {
          const v = this.bias ? (z[o + j] += this.bias[j]) : z[o + j];
          sz += v;
          if (v > mx) {
            mx = v;
            arg = j;
          }
        }
        if (arg === y) correct++;
        const zy = z[o + y];
        let se = 0;
        for (let j = 0; j < C; j++) {
          const e = Math.exp(z[o + j] - mx);
          z[o + j] = e;
          se += e;
        }
        const lse = mx + Math.log(se);
        loss += (1 - eps) * (lse - zy) + (eps / C) * (C * lse - sz);
        const inv = 1 / (se * n), off = eps / (C * n);
        for (let j = 0; j < C; j++) z[o + j] = z[o + j] * inv - off;
        z[o + y] -= (1 - eps) / n;
        if (this.gBias) for (let j = 0; j < C; j++) this.gBias[j] += z[o + j];
      }
      matmul(Z, hb, { transA: true, out: this.gWeight, beta: 1, backend: this.backend });
      matmul(Z, this.weight, { out: dh.rowSlice(r0, r0 + rows), backend: this.backend }); // a view: writes dh in place
    }
    return { loss: loss / n, correct };
  }
}
