import { columnMeans } from './rows.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/ops.js';
import type { Backend } from '../backend/types.js';

/**
 * Products of centred data matrices with float64 accumulation, computed with the backend
 * GEMM on blocks. Inside a block the backend multiplies float32 values (each centred in
 * float64 and then rounded once to float32); the block results are summed in float64. So
 * the error is that of the backend's float32 GEMM over one block (default 1024 rows), not
 * over all n samples, and centring never loses precision to a large mean.
 */
export interface GramOptions {
  /** subtract this mean (length = cols) from every row of A first */
  meanA?: ArrayLike<number>;
  /** subtract this mean from every row of B first */
  meanB?: ArrayLike<number>;
  /** rows (or columns, for rowGram) per block; default chosen so a block holds ~2^20 values, clamped to [64, 4096] */
  block?: number;
  backend?: Backend;
}


function blockSize(width: number, given?: number): number {
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1) fail('E_ARG', `gram: block must be a positive integer, got ${given}`);
    return given;
  }
  return Math.max(64, Math.min(4096, Math.floor((1 << 20) / Math.max(1, width))));
}

function copyCentred(src: Float32Array, srcCols: number, r0: number, r1: number, mean: ArrayLike<number> | undefined, dst: Float32Array): void {
  const len = (r1 - r0) * srcCols;
  const base = r0 * srcCols;
  if (!mean) {
    dst.set(src.subarray(base, base + len));
    return;
  }
  for (let i = 0; i < r1 - r0; i++) {
    const o = i * srcCols;
    for (let j = 0; j < srcCols; j++) dst[o + j] = src[base + o + j] - mean[j];
  }
}

/**
 * (A - 1 meanA^T)^T (B - 1 meanB^T) in float64, [A.cols x B.cols] row-major. Pass B = A
 * (or omit it) for the Gram / scatter matrix X^T X. A and B must have the same rows.
 */
export function crossProduct(A: Matrix, B: Matrix = A, opts: GramOptions = {}): Float64Array {
  if (A.rows !== B.rows) fail('E_SHAPE', `crossProduct: A has ${A.rows} rows, B has ${B.rows}; they must describe the same samples`);
  const same = B === A && opts.meanB === undefined;
  const meanB = same ? opts.meanA : opts.meanB;
  if (opts.meanA && opts.meanA.length !== A.cols) fail('E_SHAPE', `crossProduct: meanA has ${opts.meanA.length} entries, A has ${A.cols} columns`);
  if (meanB && meanB.length !== B.cols) fail('E_SHAPE', `crossProduct: meanB has ${meanB.length} entries, B has ${B.cols} columns`);
  const da = A.cols;
  const db = B.cols;
  const acc = new Float64Array(da * db);
  if (A.rows === 0 || da === 0 || db === 0) return acc;
  const blk = Math.min(A.rows, blockSize(Math.max(da, db), opts.block));
  const bufA = new Float32Array(blk * da);
  const bufB = same ? bufA : new Float32Array(blk * db);
  const out = new Matrix(da, db);
  for (let r0 = 0; r0 < A.rows; r0 += blk) {
    const r1 = Math.min(A.rows, r0 + blk);
    const h = r1 - r0;
    copyCentred(A.data, da, r0, r1, opts.meanA, bufA);
    if (!same) copyCentred(B.data, db, r0, r1, meanB, bufB);
    const Ab = new Matrix(h, da, bufA.subarray(0, h * da));
    const Bb = same ? Ab : new Matrix(h, db, bufB.subarray(0, h * db));
    matmul(Ab, Bb, { transA: true, out, backend: opts.backend });
    const o = out.data;
    for (let i = 0; i < o.length; i++) acc[i] += o[i];
  }
  if (same) {
    // exact symmetry (the backend need not produce it bitwise)
    for (let i = 0; i < da; i++) {
      for (let j = 0; j < i; j++) {
        const m = 0.5 * (acc[i * da + j] + acc[j * da + i]);
        acc[i * da + j] = m;
        acc[j * da + i] = m;
      }
    }
  }
  return acc;
}

/**
 * (A - 1 mean^T)(A - 1 mean^T)^T in float64, [A.rows x A.rows]: the kernel (dual) Gram
 * matrix, accumulated over blocks of columns.
 */
export function rowGram(A: Matrix, opts: Pick<GramOptions, 'meanA' | 'block' | 'backend'> = {}): Float64Array {
  const n = A.rows;
  const d = A.cols;
  if (opts.meanA && opts.meanA.length !== d) fail('E_SHAPE', `rowGram: mean has ${opts.meanA.length} entries, A has ${d} columns`);
  const acc = new Float64Array(n * n);
  if (n === 0 || d === 0) return acc;
  const blk = Math.min(d, blockSize(n, opts.block));
  const buf = new Float32Array(n * blk);
  const out = new Matrix(n, n);
  const mean = opts.meanA;
  for (let c0 = 0; c0 < d; c0 += blk) {
    const c1 = Math.min(d, c0 + blk);
    const w = c1 - c0;
    for (let i = 0; i < n; i++) {
      const src = i * d;
      const dst = i * w;
      for (let j = 0; j < w; j++) buf[dst + j] = mean ? A.data[src + c0 + j] - mean[c0 + j] : A.data[src + c0 + j];
    }
    const Cb = new Matrix(n, w, buf.subarray(0, n * w));
    matmul(Cb, Cb, { transB: true, out, backend: opts.backend });
    const o = out.data;
    for (let i = 0; i < o.length; i++) acc[i] += o[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const m = 0.5 * (acc[i * n + j] + acc[j * n + i]);
      acc[i * n + j] = m;
      acc[j * n + i] = m;
    }
  }
  return acc;
}

export { columnMeans };
