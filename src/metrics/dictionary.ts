import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { linearSumAssignment } from '../linalg/hungarian.js';
import { checkMatrix } from './util.js';
import { matmul } from '../backend/ops.js';

/** Above this many multiply-adds the cosines go through the backend GEMM (exact float64 loop below). */
const GEMM_ABOVE = 1 << 24;

export interface DictionaryRecovery {
  /** mean |cosine| over the matched (true atom, learned atom) pairs */
  meanCos: number;
  /** fraction of matched pairs with |cosine| > threshold (default 0.9) */
  frac090: number;
  /** matched pairs: truth[i] <-> learned[i], min(truth.rows, learned.rows) of them, sorted by truth row */
  matching: { truth: Int32Array; learned: Int32Array };
  /** |cosine| of each matched pair, aligned with `matching` */
  cosines: Float64Array;
}

function rowNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    const o = i * m.cols;
    for (let j = 0; j < m.cols; j++) s += m.data[o + j] * m.data[o + j];
    out[i] = Math.max(Math.sqrt(s), 1e-8);
  }
  return out;
}

/**
 * How well a learned dictionary [atoms x d] recovers the true one [latents x d] (rows are
 * atoms; their norms do not matter): |cosine| between every pair of rows, a one-to-one
 * matching that maximises the summed |cosine| (Hungarian), then the mean matched |cosine|
 * and the fraction above 0.9. Row norms below 1e-8 count as 1e-8. Float64 inside.
 */
export function dictionaryRecovery(learned: Matrix, truth: Matrix, opts: { threshold?: number } = {}): DictionaryRecovery {
  checkMatrix('learned dictionary', learned);
  checkMatrix('true dictionary', truth);
  if (learned.cols !== truth.cols) {
    fail('E_SHAPE', `shape mismatch: the learned dictionary has atoms of dimension ${learned.cols}, the true one ${truth.cols}; both must be [atoms x dim] with the same dim (transpose a [dim x atoms] file)`);
  }
  const thr = opts.threshold ?? 0.9;
  const d = truth.cols;
  const nt = rowNorms(truth);
  const nl = rowNorms(learned);
  const T = truth.rows;
  const Lr = learned.rows;
  const cos = new Float64Array(T * Lr);
  if (T * Lr * d > GEMM_ABOVE) {
    // large dictionaries: the inner products through the backend GEMM (float32, ~1e-6 relative)
    const P = matmul(truth, learned, { transB: true });
    for (let i = 0; i < T; i++) for (let j = 0; j < Lr; j++) cos[i * Lr + j] = Math.abs(P.data[i * Lr + j]) / (nt[i] * nl[j]);
  } else {
    for (let i = 0; i < T; i++) {
      const oi = i * d;
      for (let j = 0; j < Lr; j++) {
        const oj = j * d;
        let s = 0;
        for (let c = 0; c < d; c++) s += truth.data[oi + c] * learned.data[oj + c];
        cos[i * Lr + j] = Math.abs(s) / (nt[i] * nl[j]);
      }
    }
  }
  const { rowInd, colInd } = linearSumAssignment(cos, T, Lr, { maximize: true });
  const cosines = new Float64Array(rowInd.length);
  let sum = 0;
  let above = 0;
  for (let t = 0; t < rowInd.length; t++) {
    const c = cos[rowInd[t] * Lr + colInd[t]];
    cosines[t] = c;
    sum += c;
    if (c > thr) above++;
  }
  return {
    meanCos: sum / rowInd.length,
    frac090: above / rowInd.length,
    matching: { truth: rowInd, learned: colInd },
    cosines,
  };
}
