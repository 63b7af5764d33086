import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { backend } from './registry.js';
import type { Backend } from './types.js';

/**
 * Matrix-level operations: validate shapes once, then call the active backend (or the one
 * given). This is what algorithms use; backends themselves trust their arguments.
 */
export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  out?: Matrix;
  backend?: Backend;
}

/** out = alpha * op(A) * op(B) + beta * out. Allocates `out` when not given (then beta is ignored). */
export function matmul(A: Matrix, B: Matrix, opts: GemmOptions = {}): Matrix {
  const tA = !!opts.transA;
  const tB = !!opts.transB;
  const m = tA ? A.cols : A.rows;
  const k = tA ? A.rows : A.cols;
  const kB = tB ? B.cols : B.rows;
  const n = tB ? B.rows : B.cols;
  if (k !== kB) {
    fail('E_SHAPE', `matmul: op(A) is [${m} x ${k}] but op(B) is [${kB} x ${n}]; inner dimensions must agree`);
  }
  let out = opts.out;
  let beta = opts.beta ?? 0;
  if (!out) {
    out = new Matrix(m, n);
    beta = 0;
  } else if (out.rows !== m || out.cols !== n) {
    fail('E_SHAPE', `matmul: out is [${out.rows} x ${out.cols}], the product is [${m} x ${n}]`);
  }
  if (m === 0 || n === 0) return out;
  (opts.backend ?? backend()).sgemm(tA, tB, m, n, k, opts.alpha ?? 1, A.data, Math.max(1, A.cols), B.data, Math.max(1, B.cols), beta, out.data, Math.max(1, n));
  return out;
}

/** Per-row top-k (values and column indices, descending). */
export function topkRows(X: Matrix, k: number, out?: { idx: Int32Array; val: Float32Array }, b: Backend = backend()) {
  if (!Number.isInteger(k) || k < 0) fail('E_ARG', `top-k: k must be a non-negative integer, got ${k}`);
  const kk = Math.min(k, X.cols);
  const idx = out?.idx ?? new Int32Array(X.rows * kk);
  const val = out?.val ?? new Float32Array(X.rows * kk);
  if (idx.length < X.rows * kk || val.length < X.rows * kk) fail('E_SHAPE', `top-k: output buffers need ${X.rows * kk} entries`);
  if (kk > 0) b.topkRows(X.data, X.rows, X.cols, kk, idx, val);
  return { idx, val, k: kk };
}

export function softThreshold(X: Matrix, t: number, nonneg = false, out: Matrix = X, b: Backend = backend()): Matrix {
  if (out.size !== X.size) fail('E_SHAPE', 'softThreshold: out and X differ in size');
  b.softThreshold(X.data, t, nonneg, out.data);
  return out;
}

/** Column sums in float64. */
export function colSums(X: Matrix, b: Backend = backend()): Float64Array {
  const out = new Float64Array(X.cols);
  b.sumCols(X.data, X.rows, X.cols, out);
  return out;
}

/** Row sums in float64. */
export function rowSums(X: Matrix, b: Backend = backend()): Float64Array {
  const out = new Float64Array(X.rows);
  b.sumRows(X.data, X.rows, X.cols, out);
  return out;
}

/** Squared Frobenius norm in float64. */
export function sumSquares(X: Matrix | Float32Array, b: Backend = backend()): number {
  return b.sumSquares(X instanceof Matrix ? X.data : X);
}
