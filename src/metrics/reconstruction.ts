import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { checkMatrix } from './util.js';

function checkPair(X: Matrix, Xhat: Matrix): void {
  checkMatrix('X', X);
  checkMatrix('reconstruction', Xhat);
  if (X.rows !== Xhat.rows || X.cols !== Xhat.cols) {
    fail('E_SHAPE', `shape mismatch: X is [${X.rows} x ${X.cols}], the reconstruction is [${Xhat.rows} x ${Xhat.cols}]; they must match`);
  }
}

/** Mean squared error over all entries: mean((X − X̂)²). Float64 accumulation. */
export function mse(X: Matrix, Xhat: Matrix): number {
  checkPair(X, Xhat);
  let s = 0;
  const a = X.data, b = Xhat.data;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / a.length;
}

/**
 * Fraction of variance explained: 1 − ‖X − X̂‖²_F / ‖X − mean(X)‖²_F, the mean taken per
 * column (so 0 for predicting each column's mean, 1 for a perfect reconstruction; it can
 * be negative). Fails when X has no variance at all.
 */
export function fve(X: Matrix, Xhat: Matrix): number {
  checkPair(X, Xhat);
  const { rows, cols } = X;
  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += X.data[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      const x = X.data[o + j];
      const e = x - Xhat.data[o + j];
      const c = x - mean[j];
      sse += e * e;
      sst += c * c;
    }
  }
  if (!(sst > 0)) fail('E_DATA', 'fve: X has zero variance, so the fraction of variance explained is undefined; use mse instead');
  return 1 - sse / sst;
}

function checkTol(tol: number): void {
  assertNumber('tol', tol, 0);
}

/** How many rows each column is active in (|z| > tol). */
export function activationCounts(Z: Matrix, tol = 0): Float64Array {
  checkMatrix('codes', Z);
  checkTol(tol);
  const counts = new Float64Array(Z.cols);
  for (let i = 0; i < Z.rows; i++) {
    const o = i * Z.cols;
    for (let j = 0; j < Z.cols; j++) if (Math.abs(Z.data[o + j]) > tol) counts[j]++;
  }
  return counts;
}

/** Mean number of active entries (|z| > tol) per row. */
export function l0(Z: Matrix, tol = 0): number {
  checkMatrix('codes', Z);
  checkTol(tol);
  let c = 0;
  const d = Z.data;
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]) > tol) c++;
  return c / Z.rows;
}

/** Fraction of columns (latents) never active (|z| <= tol in every row). */
export function deadLatents(Z: Matrix, tol = 0): number {
  const counts = activationCounts(Z, tol);
  let dead = 0;
  for (let j = 0; j < counts.length; j++) if (counts[j] === 0) dead++;
  return dead / counts.length;
}
