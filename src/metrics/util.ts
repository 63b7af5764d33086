import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';

/** Shared helpers for the metrics: float64 column statistics and input checks. */

export function checkMatrix(name: string, m: Matrix, minRows = 1): void {
  if (m.rows < minRows) fail('E_SHAPE', `${name} has ${m.rows} rows; at least ${minRows} needed`);
  if (m.cols < 1) fail('E_SHAPE', `${name} has no columns`);
  assertFinite(name, m);
}

export function checkSameRows(nameA: string, a: Matrix, nameB: string, b: Matrix): void {
  if (a.rows !== b.rows) {
    fail('E_SHAPE', `shape mismatch: ${nameA} has ${a.rows} rows, ${nameB} has ${b.rows}; both must hold the same samples in the same order`);
  }
}

/** Population variance of each column (float64, two passes). */
export function columnVariances(m: Matrix): Float64Array {
  const { rows, cols, data } = m;
  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  const v = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      const d = data[o + j] - mean[j];
      v[j] += d * d;
    }
  }
  for (let j = 0; j < cols; j++) v[j] /= rows;
  return v;
}

/**
 * Selected columns of m (or extra columns taken from `pad`), centred and scaled to unit
 * Euclidean norm, stored column-major in float64: out[c * rows + i]. A column whose centred
 * norm is below 1e-8 is only centred (so its correlations are ~0), as in the reference code.
 */
export function normalizedColumns(m: Matrix, index: ArrayLike<number>, pad?: Float64Array, padCols = 0): Float64Array {
  const rows = m.rows;
  const w = index.length + padCols;
  const out = new Float64Array(w * rows);
  for (let c = 0; c < index.length; c++) {
    const j = index[c];
    const o = c * rows;
    for (let i = 0; i < rows; i++) out[o + i] = m.data[i * m.cols + j];
  }
  if (pad && padCols > 0) {
    // pad is row-major [rows x padCols]
    for (let c = 0; c < padCols; c++) {
      const o = (index.length + c) * rows;
      for (let i = 0; i < rows; i++) out[o + i] = pad[i * padCols + c];
    }
  }
  for (let c = 0; c < w; c++) {
    const o = c * rows;
    let s = 0;
    for (let i = 0; i < rows; i++) s += out[o + i];
    const mu = s / rows;
    let ss = 0;
    for (let i = 0; i < rows; i++) {
      const d = out[o + i] - mu;
      out[o + i] = d;
      ss += d * d;
    }
    let nrm = Math.sqrt(ss);
    if (nrm < 1e-8) nrm = 1;
    for (let i = 0; i < rows; i++) out[o + i] /= nrm;
  }
  return out;
}

/** C[a, b] = dot(colsA[a], colsB[b]) for column-major float64 blocks of `rows` rows. */
export function crossDots(colsA: Float64Array, wa: number, colsB: Float64Array, wb: number, rows: number): Float64Array {
  const C = new Float64Array(wa * wb);
  for (let a = 0; a < wa; a++) {
    const oa = a * rows;
    for (let b = 0; b < wb; b++) {
      const ob = b * rows;
      let s = 0;
      for (let i = 0; i < rows; i++) s += colsA[oa + i] * colsB[ob + i];
      C[a * wb + b] = s;
    }
  }
  return C;
}

/** Indices 0..n-1 sorted by descending value; ties keep the lower index first. */
export function argsortDesc(v: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: v.length }, (_, i) => i);
  idx.sort((a, b) => (v[b] - v[a]) || (a - b));
  return Int32Array.from(idx);
}

/** Validate a 0/1 label vector of the given length. */
export function checkLabels(name: string, y: ArrayLike<number>, n: number): void {
  if (y.length !== n) fail('E_SHAPE', `shape mismatch: ${name} has ${y.length} labels, the data has ${n} rows`);
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) fail('E_ARG', `${name} must hold binary labels 0 or 1; entry ${i} is ${y[i]}`);
  }
}
