import { backend } from '../../backend/index.js';
import { columnMeans } from '../../linalg/rows.js';
import { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';

/**
 * Geometric median of the rows of X (the point minimising the sum of Euclidean distances),
 * by Weiszfeld's iteration in float64, started at the mean. Stops when the point moves less
 * than `tol` times its scale, or after `maxIter` iterations. Used to initialise b_dec.
 */
export function geometricMedian(X: Matrix, opts: { maxIter?: number; tol?: number } = {}): Float64Array {
  const { rows: n, cols: d, data } = X;
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-7;
  const y = columnMeans(X);
  const next = new Float64Array(d);
  for (let it = 0; it < maxIter; it++) {
    next.fill(0);
    let wsum = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = data[i * d + j] - y[j];
        s += t * t;
      }
      const w = 1 / Math.max(Math.sqrt(s), 1e-12);
      wsum += w;
      for (let j = 0; j < d; j++) next[j] += w * data[i * d + j];
    }
    let move = 0, scale = 0;
    for (let j = 0; j < d; j++) {
      const v = next[j] / wsum;
      move += (v - y[j]) ** 2;
      scale += v * v;
      y[j] = v;
    }
    if (Math.sqrt(move) <= tol * Math.max(1, Math.sqrt(scale))) break;
  }
  return y;
}




/**
 * Remove from each row's gradient its component along that (unit-norm) row, so a gradient
 * step moves along the sphere to first order: g_a -= (g_a . w_a) w_a.
 */
export function projectRadial(w: Float32Array, g: Float32Array, rows: number, cols: number): void {
  const fast = backend().projectRadial;
  if (fast && rows * cols >= 4096) return fast(w, g, rows, cols); // the same bits, on every core
  for (let a = 0; a < rows; a++) {
    const o = a * cols;
    let dot = 0, nn = 0;
    for (let j = 0; j < cols; j++) {
      dot += g[o + j] * w[o + j];
      nn += w[o + j] * w[o + j];
    }
    if (nn <= 0) continue;
    const c = dot / nn;
    for (let j = 0; j < cols; j++) g[o + j] -= c * w[o + j];
  }
}

/** Squared Euclidean norms of the rows, mean over rows (float64). */
export function meanSquaredRowNorm(X: Matrix): number {
  let s = 0;
  const { data } = X;
  for (let i = 0; i < data.length; i++) s += data[i] * data[i];
  return X.rows > 0 ? s / X.rows : 0;
}
