import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite, assertNumber } from '../core/validate.js';

/**
 * Shared helpers for the alignment metrics. Every metric compares two representations of the
 * same samples: A [n x p] and B [n x q], samples are rows, widths may differ.
 */

/** Validate a pair of representations: same sample count, enough samples, finite values. */
export function checkPair(metric: string, A: Matrix, B: Matrix, minRows = 2): void {
  if (!(A instanceof Matrix) || !(B instanceof Matrix)) fail('E_ARG', `${metric}: A and B must be Matrix objects (samples are rows)`);
  if (A.rows !== B.rows) {
    fail('E_SHAPE', `${metric}: A has ${A.rows} samples (rows) and B has ${B.rows}; both must describe the same samples in the same order (A is [${A.rows} x ${A.cols}], B is [${B.rows} x ${B.cols}])`);
  }
  if (A.rows < minRows) fail('E_SHAPE', `${metric}: needs at least ${minRows} samples (rows), got ${A.rows}`);
  if (A.cols < 1 || B.cols < 1) fail('E_SHAPE', `${metric}: A and B need at least one column, got [${A.rows} x ${A.cols}] and [${B.rows} x ${B.cols}]`);
  assertFinite(`${metric}: A`, A);
  assertFinite(`${metric}: B`, B);
}

/** Column means in float64. */
export function colMeans(X: Matrix): Float64Array {
  const { rows, cols, data } = X;
  const m = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) m[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) m[j] /= rows;
  return m;
}

/** A column-centred float32 copy (means computed in float64). */
export function centerCols(X: Matrix): Matrix {
  const mu = colMeans(X);
  const { rows, cols, data } = X;
  const out = new Matrix(rows, cols);
  const o = out.data;
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) o[r + j] = data[r + j] - mu[j];
  }
  return out;
}

/**
 * A column-standardised float32 copy: each column centred and scaled to unit Euclidean norm,
 * so that Zaᵀ·Zb holds Pearson correlations. Constant columns become all zeros (their
 * correlation with anything is reported as 0). Returns the copy and a mask of constant columns.
 */
export function standardizeCols(X: Matrix): { Z: Matrix; constant: Uint8Array } {
  const mu = colMeans(X);
  const { rows, cols, data } = X;
  const ss = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) {
      const d = data[r + j] - mu[j];
      ss[j] += d * d;
    }
  }
  const scale = new Float64Array(cols);
  const constant = new Uint8Array(cols);
  for (let j = 0; j < cols; j++) {
    // relative test: a column whose spread is at rounding level of its mean is constant
    const tiny = 1e-12 * rows * Math.max(1, mu[j] * mu[j]);
    if (ss[j] <= tiny) constant[j] = 1;
    else scale[j] = 1 / Math.sqrt(ss[j]);
  }
  const Z = new Matrix(rows, cols);
  const o = Z.data;
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) o[r + j] = (data[r + j] - mu[j]) * scale[j];
  }
  return { Z, constant };
}

/** Float64 sum of squares of a float32 buffer. */
export function sumSq(x: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

/** Float64 dot product. */
export function dot(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Pearson correlation of two equally long vectors (float64). Returns NaN if either is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (y.length !== n) fail('E_SHAPE', `pearson: vectors have lengths ${n} and ${y.length}`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/**
 * Ranks 1..n with ties given their average rank (SciPy `rankdata(method='average')`).
 * Sorts a copy of the values, then finds each value's run of equal values by binary search:
 * O(n log n) time, one extra float64 buffer. Writes into `out` (may alias `x`).
 */
export function rankAverage(x: Float64Array, out: Float64Array = new Float64Array(x.length), scratch?: Float64Array): Float64Array {
  const n = x.length;
  if (out.length !== n) fail('E_SHAPE', `rankAverage: out has ${out.length} entries, x has ${n}`);
  for (let i = 0; i < n; i++) if (x[i] !== x[i]) fail('E_NONFINITE', `rankAverage: value ${i} is NaN`);
  const s = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Float64Array(n);
  s.set(x);
  s.sort();
  for (let i = 0; i < n; i++) {
    const v = x[i];
    // first index with s[idx] >= v
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    const first = lo;
    // first index with s[idx] > v (usually first + 1: check before searching)
    let last: number;
    if (first + 1 >= n || s[first + 1] > v) last = first + 1;
    else {
      lo = first + 1;
      hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (s[mid] <= v) lo = mid + 1;
        else hi = mid;
      }
      last = lo;
    }
    out[i] = (first + last + 1) / 2; // mean of 1-based ranks first+1 .. last
  }
  return out;
}

/** Spearman rank correlation (Pearson on average ranks), like scipy.stats.spearmanr. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const rx = rankAverage(Float64Array.from(x));
  const ry = rankAverage(Float64Array.from(y));
  return pearson(rx, ry);
}

/** Median of a float64 array (average of the two middle values for even length); reorders `x`. */
export function medianInPlace(x: Float64Array): number {
  const n = x.length;
  if (n === 0) fail('E_ARG', 'median of an empty array');
  const k = n >> 1;
  const hi = select(x, k);
  if (n % 2 === 1) return hi;
  // largest value below position k: after select, x[0..k) <= x[k]
  let lo = -Infinity;
  for (let i = 0; i < k; i++) if (x[i] > lo) lo = x[i];
  return (lo + hi) / 2;
}

/** Quickselect (Hoare partition, median-of-three pivot): x[k] becomes the k-th smallest. */
function select(x: Float64Array, k: number): number {
  let l = 0;
  let r = x.length - 1;
  while (r > l) {
    const m = (l + r) >>> 1;
    // median of three to x[m]
    if (x[m] < x[l]) swap(x, m, l);
    if (x[r] < x[l]) swap(x, r, l);
    if (x[r] < x[m]) swap(x, r, m);
    const pivot = x[m];
    let i = l;
    let j = r;
    while (i <= j) {
      while (x[i] < pivot) i++;
      while (x[j] > pivot) j--;
      if (i <= j) {
        swap(x, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return x[k];
  }
  return x[k];
}

function swap(x: Float64Array, i: number, j: number): void {
  const t = x[i];
  x[i] = x[j];
  x[j] = t;
}

export function checkPositive(name: string, v: number): void {
  assertNumber(name, v, 0, Infinity, { exclusiveMin: true });
}
