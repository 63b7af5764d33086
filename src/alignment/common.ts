import { columnMeans } from '../linalg/rows.js';
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


/** A column-centred float32 copy (means computed in float64). */
export function centerCols(X: Matrix): Matrix {
  const mu = columnMeans(X);
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
  const mu = columnMeans(X);
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
 * Writes into `out` (may alias `x`). NaN is an error.
 *
 * Method: an LSD radix argsort on the order-preserving 64-bit image of each float64 (six
 * passes of 11/10-bit digits, passes whose digit is constant are skipped), then one walk over
 * runs of equal values. O(n) time and about 24 bytes of scratch per value: fast enough for the
 * 5·10⁷ pairs of a 10,000-sample RDM, where a comparison sort would take minutes in JS.
 */
export function rankAverage(x: Float64Array, out: Float64Array = new Float64Array(x.length)): Float64Array {
  const n = x.length;
  if (out.length !== n) fail('E_SHAPE', `rankAverage: out has ${out.length} entries, x has ${n}`);
  if (n === 0) return out;
  // order-preserving keys: flip all bits of negatives, only the sign bit of the rest
  let hi = new Uint32Array(n);
  let lo = new Uint32Array(n);
  const bits = new Uint32Array(x.buffer, x.byteOffset, 2 * n); // little-endian: [lo, hi] per value
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v !== v) fail('E_NONFINITE', `rankAverage: value ${i} is NaN`);
    const h = bits[2 * i + 1];
    const l = bits[2 * i];
    if (h & 0x80000000) {
      hi[i] = ~h >>> 0;
      lo[i] = ~l >>> 0;
    } else {
      hi[i] = (h | 0x80000000) >>> 0;
      lo[i] = l;
    }
  }
  let idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let hi2 = new Uint32Array(n);
  let lo2 = new Uint32Array(n);
  let idx2 = new Int32Array(n);
  // digits: [word (0 = lo, 1 = hi), shift, width]
  const digits: [number, number, number][] = [[0, 0, 11], [0, 11, 11], [0, 22, 10], [1, 0, 11], [1, 11, 11], [1, 22, 10]];
  const count = new Int32Array(2048);
  for (const [word, shift, width] of digits) {
    const mask = (1 << width) - 1;
    const src = word === 0 ? lo : hi;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i] >>> shift) & mask]++;
    if (count[(src[0] >>> shift) & mask] === n) continue; // constant digit: order unchanged
    let sum = 0;
    for (let b = 0; b <= mask; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const d = (src[i] >>> shift) & mask;
      const t = count[d]++;
      hi2[t] = hi[i];
      lo2[t] = lo[i];
      idx2[t] = idx[i];
    }
    [hi, hi2] = [hi2, hi];
    [lo, lo2] = [lo2, lo];
    [idx, idx2] = [idx2, idx];
  }
  // runs of equal values get the mean of their 1-based positions; twice the rank (an integer)
  // goes to a scratch array first, because `out` may alias `x`, which the walk still reads
  const twice = hi2;
  let start = 0;
  while (start < n) {
    const v = x[idx[start]];
    let end = start + 1;
    while (end < n && x[idx[end]] === v) end++;
    const r2 = start + end + 1; // 2 × mean of positions start+1 .. end
    for (let t = start; t < end; t++) twice[t] = r2;
    start = end;
  }
  for (let t = 0; t < n; t++) out[idx[t]] = twice[t] / 2;
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
