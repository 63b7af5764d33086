import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertInt } from '../core/validate.js';
import { backend } from '../backend/registry.js';
import type { Param } from '../nn/types.js';
import type { AdditiveCouplingMixing } from './ou-views.js';

/**
 * The matched encoder of the coupling world (docs/lejepa.md; `MatchedEncoder` of
 * `klindtlab/lejepa-identifiability` `models.py`): the exact inverse architecture of
 * `AdditiveCouplingMixing` with its own weights W_l [half × half], initialised N(0, 1/half).
 * Layers run in reverse order with subtraction: for l = L−1 … 0,
 *     l even: x2 ← x2 − tanh(x1·W_l),   l odd: x1 ← x1 − tanh(x2·W_l)
 * (x1 = first half of the columns, x2 = second half). With W_l equal to the mixing's weights it
 * inverts the mixing exactly. Forward caches each layer's input half and tanh output;
 * `backward` accumulates ∂L/∂W_l and returns ∂L/∂x. Parameter names `Ws.0` … `Ws.{L−1}` as the
 * reference's ParameterList.
 */
export class MatchedEncoder {
  readonly dim: number;
  readonly half: number;
  readonly layers: number;
  readonly W: Float32Array[];
  readonly gW: Float32Array[];
  /** per layer: the input half (a copy) and tanh(input·W) of the last forward pass, [rows × half] */
  private U: Float32Array[] = [];
  private T: Float32Array[] = [];
  private rows = -1;
  private G = new Float32Array(0);
  private dx = new Matrix(0, 0);
  private out = new Matrix(0, 0);

  constructor(dim: number, opts: { layers?: number; seed?: Seed | Rng } = {}) {
    assertInt('latents', dim, 2);
    if (dim % 2 !== 0) fail('E_ARG', `the matched encoder needs an even number of latents, got ${dim}`);
    const layers = opts.layers ?? 4;
    assertInt('layers', layers, 1, 64);
    this.dim = dim;
    this.half = dim / 2;
    this.layers = layers;
    const rng = toRng(opts.seed);
    const h = this.half;
    const s = 1 / Math.sqrt(h);
    this.W = [];
    this.gW = [];
    for (let l = 0; l < layers; l++) {
      const w = new Float32Array(h * h);
      for (let i = 0; i < w.length; i++) w[i] = s * rng.normal();
      this.W.push(w);
      this.gW.push(new Float32Array(h * h));
    }
  }

  /** Copy the weights of a coupling mixing (then the encoder is its exact inverse). */
  setFromMixing(m: AdditiveCouplingMixing): void {
    if (m.dim !== this.dim || m.layers !== this.layers) fail('E_SHAPE', `setFromMixing: mixing has dim ${m.dim}, ${m.layers} layers; the encoder ${this.dim}, ${this.layers}`);
    for (let l = 0; l < this.layers; l++) this.W[l].set(m.weights[l]);
  }

  params(): Param[] {
    const h = this.half;
    return this.W.map((w, l) => ({ name: `Ws.${l}`, param: w, grad: this.gW[l], shape: [h, h] }));
  }

  zeroGrad(): void {
    for (const g of this.gW) g.fill(0);
  }

  private ensure(n: number): void {
    if (this.rows === n) return;
    const h = this.half;
    this.U = this.W.map(() => new Float32Array(n * h));
    this.T = this.W.map(() => new Float32Array(n * h));
    this.G = new Float32Array(n * h);
    this.dx = new Matrix(n, this.dim);
    this.out = new Matrix(n, this.dim);
    this.rows = n;
  }

  /**
   * h = f(x) for X [n × dim]. The returned matrix is a buffer owned by the encoder (overwritten by
   * the next call); `train` is accepted for the layer interface (there is nothing to switch).
   */
  forward(X: Matrix, _train = true): Matrix {
    if (X.cols !== this.dim) fail('E_SHAPE', `matched encoder: input has ${X.cols} columns, the encoder has dim ${this.dim}`);
    const n = X.rows, N = this.dim, h = this.half;
    this.ensure(n);
    const o = this.out;
    o.data.set(X.data);
    const b = backend();
    for (let l = this.layers - 1; l >= 0; l--) {
      const even = l % 2 === 0;
      const src = even ? 0 : h;
      const dst = even ? h : 0;
      const U = this.U[l], T = this.T[l];
      for (let i = 0; i < n; i++) U.set(o.data.subarray(i * N + src, i * N + src + h), i * h);
      if (n > 0) b.sgemm(false, false, n, h, h, 1, U, h, this.W[l], h, 0, T, h);
      for (let i = 0; i < n; i++) {
        const r = i * N + dst, t = i * h;
        for (let k = 0; k < h; k++) {
          const th = Math.tanh(T[t + k]);
          T[t + k] = th;
          o.data[r + k] -= th;
        }
      }
    }
    return o;
  }

  /** ∂L/∂x from ∂L/∂h (dY [n × dim]) after `forward`; accumulates ∂L/∂W_l into the grads. */
  backward(dY: Matrix): Matrix {
    const n = this.rows, N = this.dim, h = this.half;
    if (dY.rows !== n || dY.cols !== N) fail('E_SHAPE', `matched encoder backward: gradient is [${dY.rows} x ${dY.cols}], the forward pass gave [${n} x ${N}]`);
    const g = this.dx;
    g.data.set(dY.data);
    const G = this.G;
    const b = backend();
    // the forward pass ran l = L−1 … 0, so the backward pass runs l = 0 … L−1
    for (let l = 0; l < this.layers; l++) {
      const even = l % 2 === 0;
      const src = even ? 0 : h;
      const dst = even ? h : 0;
      const U = this.U[l], T = this.T[l];
      // out_dst = in_dst − tanh(in_src·W):  G = −g_dst ⊙ (1 − T²) is ∂L/∂(in_src·W)
      for (let i = 0; i < n; i++) {
        const r = i * N + dst, t = i * h;
        for (let k = 0; k < h; k++) G[t + k] = -g.data[r + k] * (1 - T[t + k] * T[t + k]);
      }
      if (n === 0) continue;
      // ∂L/∂W_l += Uᵀ·G;  g_src += G·W_lᵀ
      b.sgemm(true, false, h, h, n, 1, U, h, G, h, 1, this.gW[l], h);
      b.sgemm(false, true, n, h, h, 1, G, h, this.W[l], h, 1, g.data.subarray(src), N);
    }
    return g;
  }
}
