import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertInt } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import type { Backend } from '../backend/types.js';
import { biasUniform, kaimingUniform } from './init.js';
import { EMPTY, backendOf, checkGrad, checkInput, ensure, type Layer, type Param, type StateTensor } from './types.js';

export interface LinearOptions {
  /** a bias vector b (default true) */
  bias?: boolean;
  /** draws of the PyTorch default initialisation (default seed 0) */
  rng?: Rng | Seed;
  backend?: Backend;
}

/**
 * y = x·Wᵀ + b, as torch.nn.Linear: x [batch x in], W [out x in], b [out]. Initialised as
 * PyTorch's default (kaiming_uniform_(a = √5) for W, U(±1/√in) for b; see init.ts), W first.
 *
 * forward:  y = x·Wᵀ (+ b)                      one GEMM
 * backward: dW += dyᵀ·x,  db += Σ_rows dy,  dx = dy·W    two GEMMs (one without dx)
 */
export class Linear implements Layer {
  readonly kind = 'Linear';
  readonly weight: Matrix;
  readonly bias: Float32Array | null;
  readonly gWeight: Matrix;
  readonly gBias: Float32Array | null;
  backend?: Backend;
  private x: Matrix | null = null;
  private out: Matrix | null = null;
  private dx: Matrix | null = null;
  private readonly acc: Float64Array;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    assertInt('Linear inFeatures', inFeatures, 1);
    assertInt('Linear outFeatures', outFeatures, 1);
    this.weight = new Matrix(outFeatures, inFeatures);
    this.gWeight = new Matrix(outFeatures, inFeatures);
    const hasBias = opts.bias ?? true;
    this.bias = hasBias ? new Float32Array(outFeatures) : null;
    this.gBias = hasBias ? new Float32Array(outFeatures) : null;
    this.acc = new Float64Array(hasBias ? outFeatures : 0);
    this.backend = opts.backend;
    const rng = toRng(opts.rng);
    kaimingUniform(this.weight.data, inFeatures, rng);
    if (this.bias) biasUniform(this.bias, inFeatures, rng);
  }

  forward(x: Matrix, _train = true): Matrix {
    checkInput('Linear', x, this.inFeatures);
    const b = backendOf(this);
    const y = (this.out = ensure(this.out, x.rows, this.outFeatures));
    matmul(x, this.weight, { transB: true, out: y, backend: b });
    if (this.bias) b.addRowVector(y.data, y.rows, y.cols, this.bias, 1);
    this.x = x;
    return y;
  }

  backward(dy: Matrix, inputGrad = true): Matrix {
    const x = checkGrad('Linear', dy, this.out, this.outFeatures) && this.x!;
    const b = backendOf(this);
    matmul(dy, x, { transA: true, out: this.gWeight, beta: 1, backend: b });
    if (this.gBias) {
      b.sumCols(dy.data, dy.rows, dy.cols, this.acc);
      for (let j = 0; j < this.outFeatures; j++) this.gBias[j] += this.acc[j];
    }
    if (!inputGrad) return EMPTY;
    const dx = (this.dx = ensure(this.dx, dy.rows, this.inFeatures));
    matmul(dy, this.weight, { out: dx, backend: b });
    return dx;
  }

  params(): Param[] {
    const p: Param[] = [{ name: 'weight', param: this.weight.data, grad: this.gWeight.data, shape: [this.outFeatures, this.inFeatures] }];
    if (this.bias) p.push({ name: 'bias', param: this.bias, grad: this.gBias!, shape: [this.outFeatures] });
    return p;
  }

  buffers(): StateTensor[] {
    return [];
  }

  zeroGrad(): void {
    this.gWeight.data.fill(0);
    this.gBias?.fill(0);
  }
}

export interface TransposedLinearOptions {
  /** use this [in x out] matrix as the weight (shared, not copied) */
  weight?: Matrix;
  /** and this buffer for its gradient (default: a new one) */
  grad?: Matrix;
  /**
   * share a Linear(out → in)'s weight and gradient (weight tying: that Linear's W [in x out] is
   * this layer's weight); the parameter is then reported by the Linear only
   */
  tiedTo?: Linear;
  /** draws of a new weight, U(±1/√in) as PyTorch's Linear default (default seed 0) */
  rng?: Rng | Seed;
  backend?: Backend;
}

/**
 * y = x·W with W stored [in x out], no bias: the transpose of Linear's layout (PyTorch:
 * `x @ W`, or `F.linear(x, lin.weight.T)` for a tied weight). For a dictionary stored atoms-by-dim
 * (X̂ = S·D) and for encoders tied to a decoder (the toy model of superposition: h = x·W,
 * x̂ = ReLU(h·Wᵀ + b)).
 *
 * forward: y = x·W;  backward: dW += xᵀ·dy, dx = dy·Wᵀ.
 */
export class TransposedLinear implements Layer {
  readonly kind = 'TransposedLinear';
  readonly weight: Matrix;
  readonly gWeight: Matrix;
  backend?: Backend;
  private readonly tied: boolean;
  private x: Matrix | null = null;
  private out: Matrix | null = null;
  private dx: Matrix | null = null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: TransposedLinearOptions = {}) {
    assertInt('TransposedLinear inFeatures', inFeatures, 1);
    assertInt('TransposedLinear outFeatures', outFeatures, 1);
    this.backend = opts.backend;
    this.tied = !!opts.tiedTo;
    if (opts.tiedTo) {
      const l = opts.tiedTo;
      if (l.outFeatures !== inFeatures || l.inFeatures !== outFeatures) {
        fail('E_SHAPE', `TransposedLinear(${inFeatures} → ${outFeatures}) can only tie to a Linear(${outFeatures} → ${inFeatures}), got Linear(${l.inFeatures} → ${l.outFeatures})`);
      }
      this.weight = l.weight;
      this.gWeight = l.gWeight;
      return;
    }
    const chk = (what: string, m: Matrix | undefined): void => {
      if (m !== undefined && (!(m instanceof Matrix) || m.rows !== inFeatures || m.cols !== outFeatures)) {
        fail('E_SHAPE', `TransposedLinear: ${what} must be a Matrix [${inFeatures} x ${outFeatures}] (in x out)`);
      }
    };
    chk('weight', opts.weight);
    chk('grad', opts.grad);
    this.weight = opts.weight ?? kaimingUniformT(inFeatures, outFeatures, toRng(opts.rng));
    this.gWeight = opts.grad ?? new Matrix(inFeatures, outFeatures);
  }

  forward(x: Matrix, _train = true): Matrix {
    checkInput('TransposedLinear', x, this.inFeatures);
    const y = (this.out = ensure(this.out, x.rows, this.outFeatures));
    matmul(x, this.weight, { out: y, backend: backendOf(this) });
    this.x = x;
    return y;
  }

  backward(dy: Matrix, inputGrad = true): Matrix {
    const x = checkGrad('TransposedLinear', dy, this.out, this.outFeatures) && this.x!;
    const b = backendOf(this);
    matmul(x, dy, { transA: true, out: this.gWeight, beta: 1, backend: b });
    if (!inputGrad) return EMPTY;
    const dx = (this.dx = ensure(this.dx, dy.rows, this.inFeatures));
    matmul(dy, this.weight, { transB: true, out: dx, backend: b });
    return dx;
  }

  params(): Param[] {
    return this.tied ? [] : [{ name: 'weight', param: this.weight.data, grad: this.gWeight.data, shape: [this.inFeatures, this.outFeatures] }];
  }

  buffers(): StateTensor[] {
    return [];
  }

  zeroGrad(): void {
    if (!this.tied) this.gWeight.data.fill(0);
  }
}

function kaimingUniformT(inF: number, outF: number, rng: Rng): Matrix {
  const W = new Matrix(inF, outF);
  kaimingUniform(W.data, inF, rng);
  return W;
}
