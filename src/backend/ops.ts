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

/**
 * out = A·B + beta·out for a left operand that is often mostly zeros (the iterates of a sparse
 * solver): each call lists A's nonzeros per row (`compressRows`) and, when no row has more than
 * `maxNnz`, multiplies through them (`gatherDecode`: nnz·cols multiply-adds instead of
 * rows·inner·cols); otherwise it runs the dense GEMM. The scan costs one read of A (1/cols of
 * the GEMM). Buffers are allocated once, for A of shape [rows x inner]. The sparse path sums in
 * another order than the GEMM, so results agree to float32 rounding, not bit for bit.
 */
export class SparseLeftProduct {
  readonly maxNnz: number;
  private readonly idx: Int32Array;
  private readonly val: Float32Array;
  /** calls that took the sparse path / all calls (diagnostics) */
  sparseCalls = 0;
  calls = 0;

  /** maxNnz defaults to inner/16: the gather runs well below GEMM speed per multiply-add */
  constructor(readonly rows: number, readonly inner: number, maxNnz = Math.floor(inner / 16)) {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(inner) || inner < 0) fail('E_ARG', `SparseLeftProduct: rows and inner must be non-negative integers, got ${rows}, ${inner}`);
    if (!Number.isInteger(maxNnz) || maxNnz < 0) fail('E_ARG', `SparseLeftProduct: maxNnz must be a non-negative integer, got ${maxNnz}`);
    this.maxNnz = Math.min(maxNnz, inner);
    this.idx = new Int32Array(rows * this.maxNnz);
    this.val = new Float32Array(rows * this.maxNnz);
  }

  /** out = A·B + beta·out; returns true when the sparse path ran. */
  multiply(A: Matrix, B: Matrix, beta: number, out: Matrix, b: Backend = backend()): boolean {
    if (A.rows !== this.rows || A.cols !== this.inner) fail('E_SHAPE', `SparseLeftProduct: A is [${A.rows} x ${A.cols}], built for [${this.rows} x ${this.inner}]`);
    if (B.rows !== this.inner) fail('E_SHAPE', `SparseLeftProduct: A is [${A.rows} x ${A.cols}] but B is [${B.rows} x ${B.cols}]; inner dimensions must agree`);
    if (out.rows !== A.rows || out.cols !== B.cols) fail('E_SHAPE', `SparseLeftProduct: out is [${out.rows} x ${out.cols}], the product is [${A.rows} x ${B.cols}]`);
    this.calls++;
    if (this.maxNnz > 0 && A.rows > 0) {
      const most = b.compressRows(A.data, A.rows, A.cols, this.maxNnz, this.idx, this.val);
      if (most <= this.maxNnz) {
        // gatherDecode's stride is its k: pass the buffer's, padding entries are skipped
        b.gatherDecode(this.idx, this.val, A.rows, this.maxNnz, B.data, B.cols, beta, out.data);
        this.sparseCalls++;
        return true;
      }
    }
    matmul(A, B, { beta, out, backend: b });
    return false;
  }
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
