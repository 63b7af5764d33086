import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { svd } from '../linalg/svd.js';

/**
 * The frozen, approximately invertible leaky-ReLU mixing of the cross-entropy/DIET paper
 * (PROTOCOLS.md §2.1; `construct_invertible_mlp` of `klindtlab/csi`, after cl-ica and Hyvärinen's
 * PCL): `layers` square n×n linear maps without bias, LeakyReLU(slope) between them (none after
 * the last). Each matrix has U(−1, 1) entries and L2-normalised columns, used as a PyTorch
 * weight (y = x·Wᵀ). Conditioning: a pool of `pool` such matrices is drawn, their 2-norm
 * condition numbers sorted, the one at position ⌊pool·ratio⌋ is the threshold (ratio 0 = the
 * smallest: the paper's setting), and each layer is redrawn until its condition number is at
 * most the threshold.
 */

/** 2-norm condition number σ_max/σ_min of a square row-major matrix (Infinity when singular). */
export function conditionNumber(a: Float64Array, n: number): number {
  const { S } = svd(a, n, n);
  return S[n - 1] > 0 ? S[0] / S[n - 1] : Infinity;
}

/** An n×n matrix with U(−1, 1) entries and unit-norm columns, row-major. */
export function columnNormalizedUniform(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.uniformIn(-1, 1);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i * n + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < n; i++) a[i * n + j] *= inv;
  }
  return a;
}

export interface LeakyMixingOptions {
  n: number;
  /** linear layers (default 4) */
  layers?: number;
  /** LeakyReLU negative slope between layers (default 0.2) */
  slope?: number;
  /** size of the pool that sets the condition-number threshold (default 25000) */
  pool?: number;
  /** position of the threshold in the sorted pool, in [0, 1) (default 0: the best matrix of the pool) */
  ratio?: number;
  /** give up after this many rejected draws per layer (default 50·pool) */
  maxDraws?: number;
  seed?: Seed;
}

export class LeakyMixing {
  readonly n: number;
  readonly slope: number;
  /** layer weights, each [n x n] row-major (PyTorch's [out x in]: y = x·Wᵀ) */
  readonly weights: Float64Array[];
  /** the condition-number threshold and each layer's condition number */
  readonly threshold: number;
  readonly conditions: number[];
  /** draws needed per layer (rejection sampling) */
  readonly draws: number[];

  constructor(o: LeakyMixingOptions) {
    const n = o.n;
    assertInt('mixing dimension n', n, 1);
    const layers = o.layers ?? 4;
    assertInt('mixing layers', layers, 1);
    this.slope = o.slope ?? 0.2;
    assertNumber('LeakyReLU slope', this.slope, 0, 1, { exclusiveMin: true });
    const pool = o.pool ?? 25000;
    assertInt('condition pool size', pool, 1);
    const ratio = o.ratio ?? 0;
    assertNumber('condition threshold ratio', ratio, 0, 1);
    if (ratio >= 1) fail('E_ARG', `condition threshold ratio must be < 1, got ${ratio}`);
    const maxDraws = o.maxDraws ?? 50 * pool;
    const rng = new Rng(o.seed ?? 0);
    const poolRng = rng.fork('pool');
    const conds = new Float64Array(pool);
    for (let i = 0; i < pool; i++) conds[i] = conditionNumber(columnNormalizedUniform(n, poolRng), n);
    conds.sort();
    this.n = n;
    this.threshold = conds[Math.floor(pool * ratio)];
    this.weights = [];
    this.conditions = [];
    this.draws = [];
    const layerRng = rng.fork('layers');
    for (let l = 0; l < layers; l++) {
      let draws = 0;
      for (;;) {
        const w = columnNormalizedUniform(n, layerRng);
        draws++;
        const c = conditionNumber(w, n);
        if (c <= this.threshold) {
          this.weights.push(w);
          this.conditions.push(c);
          this.draws.push(draws);
          break;
        }
        if (draws >= maxDraws) fail('E_NOTCONVERGED', `leaky mixing: no matrix with condition number <= ${this.threshold} in ${maxDraws} draws for layer ${l}; raise ratio or maxDraws`);
      }
    }
  }

  /** x = g(z) for the rows of Z [rows x n] (float64 inside, float32 out). */
  apply(Z: Matrix): Matrix {
    if (Z.cols !== this.n) fail('E_SHAPE', `leaky mixing: the input has ${Z.cols} columns, the mixing maps R^${this.n}`);
    const n = this.n;
    const out = new Matrix(Z.rows, n);
    const h = new Float64Array(n);
    const y = new Float64Array(n);
    const L = this.weights.length;
    for (let i = 0; i < Z.rows; i++) {
      for (let j = 0; j < n; j++) h[j] = Z.data[i * n + j];
      for (let l = 0; l < L; l++) {
        const W = this.weights[l];
        for (let o = 0; o < n; o++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += W[o * n + j] * h[j];
          y[o] = l < L - 1 && s < 0 ? this.slope * s : s;
        }
        h.set(y);
      }
      for (let j = 0; j < n; j++) out.data[i * n + j] = h[j];
    }
    return out;
  }
}
