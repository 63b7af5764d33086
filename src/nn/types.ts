import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { backend as activeBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';

/**
 * A trainable parameter: its float32 values, a gradient buffer of the same length that
 * `backward` ACCUMULATES into, its PyTorch name (`weight`, `bias`; `0.weight` inside a
 * Sequential) and its PyTorch shape (`[out, in]` for a Linear weight). The same
 * {name, param, grad} the SAEs' paramList() gives, so optimisers and gradcheck take either.
 */
export interface Param {
  name: string;
  param: Float32Array;
  grad: Float32Array;
  shape: number[];
}

/** A named tensor of a model's state: parameters and non-trainable buffers (running statistics). */
export interface StateTensor {
  name: string;
  param: Float32Array;
  shape: number[];
}

/**
 * A layer, llm.c style: an explicit forward that caches what its backward needs, and an explicit
 * backward; no hidden tape.
 *
 * - `forward(x, train)` returns the output in a buffer the layer owns (allocated once per batch
 *   size, overwritten by the next forward): copy it to keep it. It keeps a reference to `x`
 *   for the backward, so `x` must not change in between.
 * - `backward(dy)` ACCUMULATES parameter gradients (call `zeroGrad()` first) and returns dL/dx
 *   in a buffer the layer owns. With `inputGrad = false` it may skip dL/dx (the first layer of a
 *   network: saves a GEMM) and then returns an empty matrix.
 */
export interface Layer {
  /** PyTorch class name, e.g. 'Linear', 'ReLU', 'BatchNorm1d' */
  readonly kind: string;
  forward(x: Matrix, train?: boolean): Matrix;
  backward(dy: Matrix, inputGrad?: boolean): Matrix;
  /** trainable parameters, with names local to the layer ('weight', 'bias') */
  params(): Param[];
  /** non-trainable state saved with the parameters (BatchNorm1d's running statistics) */
  buffers(): StateTensor[];
  zeroGrad(): void;
  /** the backend its GEMMs and kernels run on (undefined: the active backend at call time) */
  backend?: Backend;
}

export const EMPTY = new Matrix(0, 0);

/** `m` if it is [rows x cols], else a new matrix of that shape (allocation once per batch size). */
export function ensure(m: Matrix | null, rows: number, cols: number): Matrix {
  return m && m.rows === rows && m.cols === cols ? m : new Matrix(rows, cols);
}

export function backendOf(l: { backend?: Backend }): Backend {
  return l.backend ?? activeBackend();
}

export function checkInput(where: string, x: Matrix, cols: number): void {
  if (!(x instanceof Matrix)) fail('E_ARG', `${where}: the input must be a Matrix [batch x ${cols}]`);
  if (x.cols !== cols) fail('E_SHAPE', `${where}: the input has ${x.cols} columns, the layer expects ${cols} features`);
}

export function checkGrad(where: string, dy: Matrix, cached: Matrix | null, cols: number): Matrix {
  if (!(dy instanceof Matrix)) fail('E_ARG', `${where}.backward: dy must be a Matrix [batch x ${cols}]`);
  if (!cached) fail('E_ARG', `${where}.backward: call forward first (backward uses what the forward cached)`);
  if (dy.rows !== cached.rows || dy.cols !== cols) {
    fail('E_SHAPE', `${where}.backward: dy is [${dy.rows} x ${dy.cols}], the last forward's output is [${cached.rows} x ${cols}]`);
  }
  return cached;
}
