import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import type { Backend } from '../backend/types.js';
import { EMPTY, checkGrad, checkInput, ensure, type Layer, type Param, type StateTensor } from './types.js';

export interface BatchNormOptions {
  /** running-statistics momentum: running ← (1 − m)·running + m·batch (default 0.1, PyTorch's) */
  momentum?: number;
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** learnable weight γ (ones) and bias β (zeros) (default true) */
  affine?: boolean;
}

/**
 * torch.nn.BatchNorm1d on [batch x features]. Training (`forward(x, true)`): each column is
 * normalised by its batch mean and biased batch variance, x̂ = (x − μ)/√(σ² + eps), y = γ·x̂ + β,
 * and the running statistics move by `momentum` toward the batch mean and the UNBIASED batch
 * variance (σ²·n/(n − 1)), as PyTorch; `num_batches_tracked` counts the updates. Evaluation
 * (`forward(x, false)`): the running statistics replace the batch ones. Statistics in float64.
 *
 * backward (training): dx = γ/(n·√(σ²+eps)) · (n·dy − Σdy − x̂·Σ(dy·x̂)), dγ += Σ dy·x̂, dβ += Σ dy;
 * (evaluation): dx = dy·γ/√(running_var + eps).
 */
export class BatchNorm1d implements Layer {
  readonly kind = 'BatchNorm1d';
  readonly momentum: number;
  readonly eps: number;
  readonly weight: Float32Array | null;
  readonly bias: Float32Array | null;
  readonly gWeight: Float32Array | null;
  readonly gBias: Float32Array | null;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  /** one element: the number of training batches seen (PyTorch's int64 num_batches_tracked) */
  readonly numBatchesTracked = new Float32Array(1);
  backend?: Backend;
  private xhat: Matrix | null = null;
  private out: Matrix | null = null;
  private dx: Matrix | null = null;
  private trained = true;
  private readonly invStd: Float64Array;
  private readonly s1: Float64Array;
  private readonly s2: Float64Array;

  constructor(readonly features: number, opts: BatchNormOptions = {}) {
    assertInt('BatchNorm1d features', features, 1);
    this.momentum = opts.momentum ?? 0.1;
    this.eps = opts.eps ?? 1e-5;
    assertNumber('BatchNorm1d momentum', this.momentum, 0, 1);
    assertNumber('BatchNorm1d eps', this.eps, 0, Infinity, { exclusiveMin: true });
    const affine = opts.affine ?? true;
    this.weight = affine ? new Float32Array(features).fill(1) : null;
    this.bias = affine ? new Float32Array(features) : null;
    this.gWeight = affine ? new Float32Array(features) : null;
    this.gBias = affine ? new Float32Array(features) : null;
    this.runningMean = new Float32Array(features);
    this.runningVar = new Float32Array(features).fill(1);
    this.invStd = new Float64Array(features);
    this.s1 = new Float64Array(features);
    this.s2 = new Float64Array(features);
  }

  forward(x: Matrix, train = true): Matrix {
    checkInput('BatchNorm1d', x, this.features);
    const n = x.rows, F = this.features, xd = x.data;
    if (train && n < 2) fail('E_SHAPE', `BatchNorm1d: training needs more than 1 row per batch (got ${n}), as PyTorch; use a larger batch or forward(x, false)`);
    const xh = (this.xhat = ensure(this.xhat, n, F));
    const y = (this.out = ensure(this.out, n, F));
    const mean = this.s1, inv = this.invStd;
    if (train) {
      const sq = this.s2;
      mean.fill(0);
      sq.fill(0);
      for (let i = 0; i < n; i++) {
        const o = i * F;
        for (let j = 0; j < F; j++) mean[j] += xd[o + j];
      }
      for (let j = 0; j < F; j++) mean[j] /= n;
      for (let i = 0; i < n; i++) {
        const o = i * F;
        for (let j = 0; j < F; j++) {
          const c = xd[o + j] - mean[j];
          sq[j] += c * c;
        }
      }
      const m = this.momentum;
      for (let j = 0; j < F; j++) {
        const v = sq[j] / n;
        inv[j] = 1 / Math.sqrt(v + this.eps);
        this.runningMean[j] = (1 - m) * this.runningMean[j] + m * mean[j];
        this.runningVar[j] = (1 - m) * this.runningVar[j] + (m * sq[j]) / (n - 1);
      }
      this.numBatchesTracked[0]++;
    } else {
      for (let j = 0; j < F; j++) {
        mean[j] = this.runningMean[j];
        inv[j] = 1 / Math.sqrt(this.runningVar[j] + this.eps);
      }
    }
    const w = this.weight, b = this.bias, hd = xh.data, yd = y.data;
    for (let i = 0; i < n; i++) {
      const o = i * F;
      for (let j = 0; j < F; j++) {
        const h = (xd[o + j] - mean[j]) * inv[j];
        hd[o + j] = h;
        yd[o + j] = w ? w[j] * h + b![j] : h;
      }
    }
    this.trained = train;
    return y;
  }

  backward(dy: Matrix, inputGrad = true): Matrix {
    checkGrad('BatchNorm1d', dy, this.out, this.features);
    const n = dy.rows, F = this.features, g = dy.data, hd = this.xhat!.data;
    const sdy = this.s1, sdyh = this.s2;
    sdy.fill(0);
    sdyh.fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * F;
      for (let j = 0; j < F; j++) {
        sdy[j] += g[o + j];
        sdyh[j] += g[o + j] * hd[o + j];
      }
    }
    if (this.gWeight) {
      for (let j = 0; j < F; j++) {
        this.gWeight[j] += sdyh[j];
        this.gBias![j] += sdy[j];
      }
    }
    if (!inputGrad) return EMPTY;
    const dx = (this.dx = ensure(this.dx, n, F));
    const w = this.weight, inv = this.invStd, dd = dx.data;
    for (let i = 0; i < n; i++) {
      const o = i * F;
      for (let j = 0; j < F; j++) {
        const scale = (w ? w[j] : 1) * inv[j];
        dd[o + j] = this.trained ? (scale / n) * (n * g[o + j] - sdy[j] - hd[o + j] * sdyh[j]) : scale * g[o + j];
      }
    }
    return dx;
  }

  params(): Param[] {
    if (!this.weight) return [];
    return [
      { name: 'weight', param: this.weight, grad: this.gWeight!, shape: [this.features] },
      { name: 'bias', param: this.bias!, grad: this.gBias!, shape: [this.features] },
    ];
  }

  buffers(): StateTensor[] {
    return [
      { name: 'running_mean', param: this.runningMean, shape: [this.features] },
      { name: 'running_var', param: this.runningVar, shape: [this.features] },
      { name: 'num_batches_tracked', param: this.numBatchesTracked, shape: [] },
    ];
  }

  zeroGrad(): void {
    this.gWeight?.fill(0);
    this.gBias?.fill(0);
  }
}

export interface LayerNormOptions {
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** learnable weight (ones) and bias (zeros) (default true, PyTorch's elementwise_affine) */
  elementwiseAffine?: boolean;
}

/**
 * torch.nn.LayerNorm over the last dimension of [batch x features]: each row is normalised by
 * its own mean and biased variance, x̂ = (x − μ)/√(σ² + eps), y = w·x̂ + b (float64 statistics).
 * backward per row: with g = dy·w, dx = (g − mean(g) − x̂·mean(g·x̂))/√(σ² + eps);
 * dw += Σ_rows dy·x̂, db += Σ_rows dy.
 */
export class LayerNorm implements Layer {
  readonly kind = 'LayerNorm';
  readonly eps: number;
  readonly weight: Float32Array | null;
  readonly bias: Float32Array | null;
  readonly gWeight: Float32Array | null;
  readonly gBias: Float32Array | null;
  backend?: Backend;
  private xhat: Matrix | null = null;
  private out: Matrix | null = null;
  private dx: Matrix | null = null;
  private invStd = new Float64Array(0);
  private readonly sw: Float64Array;
  private readonly sb: Float64Array;

  constructor(readonly features: number, opts: LayerNormOptions = {}) {
    assertInt('LayerNorm features', features, 1);
    this.eps = opts.eps ?? 1e-5;
    assertNumber('LayerNorm eps', this.eps, 0, Infinity, { exclusiveMin: true });
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? new Float32Array(features).fill(1) : null;
    this.bias = affine ? new Float32Array(features) : null;
    this.gWeight = affine ? new Float32Array(features) : null;
    this.gBias = affine ? new Float32Array(features) : null;
    this.sw = new Float64Array(features);
    this.sb = new Float64Array(features);
  }

  forward(x: Matrix, _train = true): Matrix {
    checkInput('LayerNorm', x, this.features);
    const n = x.rows, F = this.features, xd = x.data;
    const xh = (this.xhat = ensure(this.xhat, n, F));
    const y = (this.out = ensure(this.out, n, F));
    if (this.invStd.length !== n) this.invStd = new Float64Array(n);
    const w = this.weight, b = this.bias, hd = xh.data, yd = y.data;
    for (let i = 0; i < n; i++) {
      const o = i * F;
      let s = 0;
      for (let j = 0; j < F; j++) s += xd[o + j];
      const mu = s / F;
      let q = 0;
      for (let j = 0; j < F; j++) {
        const c = xd[o + j] - mu;
        q += c * c;
      }
      const inv = 1 / Math.sqrt(q / F + this.eps);
      this.invStd[i] = inv;
      for (let j = 0; j < F; j++) {
        const h = (xd[o + j] - mu) * inv;
        hd[o + j] = h;
        yd[o + j] = w ? w[j] * h + b![j] : h;
      }
    }
    return y;
  }

  backward(dy: Matrix, inputGrad = true): Matrix {
    checkGrad('LayerNorm', dy, this.out, this.features);
    const n = dy.rows, F = this.features, g = dy.data, hd = this.xhat!.data;
    const w = this.weight;
    if (this.gWeight) {
      const sw = this.sw, sb = this.sb;
      sw.fill(0);
      sb.fill(0);
      for (let i = 0; i < n; i++) {
        const o = i * F;
        for (let j = 0; j < F; j++) {
          sw[j] += g[o + j] * hd[o + j];
          sb[j] += g[o + j];
        }
      }
      for (let j = 0; j < F; j++) {
        this.gWeight[j] += sw[j];
        this.gBias![j] += sb[j];
      }
    }
    if (!inputGrad) return EMPTY;
    const dx = (this.dx = ensure(this.dx, n, F));
    const dd = dx.data;
    for (let i = 0; i < n; i++) {
      const o = i * F;
      let sg = 0, sgh = 0;
      for (let j = 0; j < F; j++) {
        const gj = w ? g[o + j] * w[j] : g[o + j];
        sg += gj;
        sgh += gj * hd[o + j];
      }
      const mg = sg / F, mgh = sgh / F, inv = this.invStd[i];
      for (let j = 0; j < F; j++) {
        const gj = w ? g[o + j] * w[j] : g[o + j];
        dd[o + j] = (gj - mg - hd[o + j] * mgh) * inv;
      }
    }
    return dx;
  }

  params(): Param[] {
    if (!this.weight) return [];
    return [
      { name: 'weight', param: this.weight, grad: this.gWeight!, shape: [this.features] },
      { name: 'bias', param: this.bias!, grad: this.gBias!, shape: [this.features] },
    ];
  }

  buffers(): StateTensor[] {
    return [];
  }

  zeroGrad(): void {
    this.gWeight?.fill(0);
    this.gBias?.fill(0);
  }
}
