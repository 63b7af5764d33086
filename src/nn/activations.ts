import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import type { Backend } from '../backend/types.js';
import { backendOf, checkGrad, ensure, type Layer, type Param, type StateTensor } from './types.js';

/**
 * Elementwise activations as PyTorch's (values and gradients; checked against torch in
 * test/nn.test.ts). Each caches its input (and output) in the forward; the backward computes
 * dx = dy ⊙ f'(x) into a buffer allocated once per batch size.
 */
abstract class Elementwise implements Layer {
  abstract readonly kind: string;
  backend?: Backend;
  protected x: Matrix | null = null;
  protected out: Matrix | null = null;
  private dx: Matrix | null = null;

  forward(x: Matrix, _train = true): Matrix {
    if (!x || !(x.data instanceof Float32Array)) fail('E_ARG', `${this.kind}: the input must be a Matrix`);
    const y = (this.out = ensure(this.out, x.rows, x.cols));
    this.apply(x.data, y.data);
    this.x = x;
    return y;
  }

  backward(dy: Matrix, _inputGrad = true): Matrix {
    const y = checkGrad(this.kind, dy, this.out, this.out?.cols ?? dy.cols);
    const dx = (this.dx = ensure(this.dx, dy.rows, dy.cols));
    this.grad(this.x!.data, y.data, dy.data, dx.data);
    return dx;
  }

  protected abstract apply(x: Float32Array, y: Float32Array): void;
  /** dx = dy ⊙ f'(x), given x and y = f(x) */
  protected abstract grad(x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  params(): Param[] {
    return [];
  }

  buffers(): StateTensor[] {
    return [];
  }

  zeroGrad(): void {}
}

/** max(x, 0); the gradient at 0 is 0 (as PyTorch). */
export class ReLU extends Elementwise {
  readonly kind = 'ReLU';
  protected apply(x: Float32Array, y: Float32Array): void {
    backendOf(this).relu(x, y);
  }
  protected grad(_x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    // branch-free: the signs of ReLU outputs are unpredictable
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * +(y[i] > 0);
  }
}

/** x for x > 0, slope·x otherwise (PyTorch's negative_slope, default 0.01). */
export class LeakyReLU extends Elementwise {
  readonly kind = 'LeakyReLU';
  constructor(readonly slope = 0.01) {
    super();
    assertNumber('LeakyReLU slope', slope);
  }
  protected apply(x: Float32Array, y: Float32Array): void {
    const s = this.slope;
    for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : s * x[i];
  }
  protected grad(x: Float32Array, _y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const s = this.slope;
    for (let i = 0; i < dx.length; i++) dx[i] = x[i] > 0 ? dy[i] : s * dy[i];
  }
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * The error function in float64 (JavaScript has none), to about 1e-15: for |x| < 3 the series
 * erf(x) = (2/√π) e^(−x²) Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (all terms positive: no cancellation);
 * for 3 ≤ |x| < 6 the continued fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …))));
 * ±1 beyond (erfc(6) < 2.2e-17). Checked against Python's math.erf in test/nn.test.ts.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 3) {
    const x2 = 2 * a * a;
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum;
  } else if (a < 6) {
    let f = a;
    for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
  } else r = 1;
  return x < 0 ? -r : r;
}

/**
 * GELU as torch.nn.GELU: 'erf' (PyTorch's default, approximate='none') x·Φ(x) with
 * Φ(x) = ½(1 + erf(x/√2)); 'tanh' (approximate='tanh') ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */
export class GELU extends Elementwise {
  readonly kind = 'GELU';
  constructor(readonly approximate: 'erf' | 'tanh' = 'erf') {
    super();
    if (approximate !== 'erf' && approximate !== 'tanh') fail('E_ARG', `GELU approximation must be 'erf' or 'tanh', got ${String(approximate)}`);
  }
  protected apply(x: Float32Array, y: Float32Array): void {
    if (this.approximate === 'tanh') {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
    } else {
      for (let i = 0; i < x.length; i++) y[i] = 0.5 * x[i] * (1 + erf(x[i] * INV_SQRT2));
    }
  }
  protected grad(x: Float32Array, _y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    if (this.approximate === 'tanh') {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
        dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
      }
    } else {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        dx[i] = dy[i] * (0.5 * (1 + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
    }
  }
}

/** tanh(x); the gradient 1 − y² from the cached output. */
export class Tanh extends Elementwise {
  readonly kind = 'Tanh';
  protected apply(x: Float32Array, y: Float32Array): void {
    for (let i = 0; i < x.length; i++) y[i] = Math.tanh(x[i]);
  }
  protected grad(_x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
  }
}

/** 1/(1 + e^(−x)). */
export class Sigmoid extends Elementwise {
  readonly kind = 'Sigmoid';
  protected apply(x: Float32Array, y: Float32Array): void {
    for (let i = 0; i < x.length; i++) y[i] = sigmoid(x[i]);
  }
  protected grad(_x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
  }
}

/**
 * softplus(x) = (1/β) log(1 + e^(βx)), and x itself where βx > threshold (torch.nn.Softplus,
 * β = 1, threshold = 20 by default); the gradient is sigmoid(βx) (1 above the threshold).
 */
export class Softplus extends Elementwise {
  readonly kind = 'Softplus';
  constructor(readonly beta = 1, readonly threshold = 20) {
    super();
    assertNumber('Softplus beta', beta, 0, Infinity, { exclusiveMin: true });
    assertNumber('Softplus threshold', threshold);
  }
  protected apply(x: Float32Array, y: Float32Array): void {
    const b = this.beta, th = this.threshold;
    for (let i = 0; i < x.length; i++) {
      const bx = b * x[i];
      y[i] = bx > th ? x[i] : Math.log1p(Math.exp(bx)) / b;
    }
  }
  protected grad(x: Float32Array, _y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const b = this.beta, th = this.threshold;
    for (let i = 0; i < dx.length; i++) {
      const bx = b * x[i];
      dx[i] = bx > th ? dy[i] : dy[i] * sigmoid(bx);
    }
  }
}

/** y = x (a placeholder where a network has no nonlinearity). */
export class Identity extends Elementwise {
  readonly kind = 'Identity';
  protected apply(x: Float32Array, y: Float32Array): void {
    y.set(x);
  }
  protected grad(_x: Float32Array, _y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    dx.set(dy);
  }
}

/** The numerically stable logistic function in float64. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export type ActivationName = 'relu' | 'leaky-relu' | 'gelu' | 'gelu-tanh' | 'tanh' | 'sigmoid' | 'softplus' | 'identity';
export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'leaky-relu', 'gelu', 'gelu-tanh', 'tanh', 'sigmoid', 'softplus', 'identity'];

/** A new activation layer by name ('gelu' is the erf form, PyTorch's default). */
export function activation(name: ActivationName): Layer {
  switch (name) {
    case 'relu': return new ReLU();
    case 'leaky-relu': return new LeakyReLU();
    case 'gelu': return new GELU('erf');
    case 'gelu-tanh': return new GELU('tanh');
    case 'tanh': return new Tanh();
    case 'sigmoid': return new Sigmoid();
    case 'softplus': return new Softplus();
    case 'identity': return new Identity();
    default: return fail('E_ARG', `unknown activation ${JSON.stringify(name)}; use one of ${ACTIVATIONS.join(', ')}`);
  }
}
