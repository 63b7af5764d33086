import { fail, SparsecodeError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertFinite, assertNumber, assertSameRows } from '../core/validate.js';
import type { Backend } from '../backend/types.js';
import { cholesky, choleskySolve } from './cholesky.js';
import { columnMeans, crossProduct, rowGram } from './gram.js';
import { svd } from './svd.js';

/**
 * Linear least squares with and without an L2 penalty, samples as rows.
 *
 *   ridge:  minimise ||Y - X W - 1 b^T||_F^2 + alpha ||W||_F^2   (b only with fitIntercept)
 *
 * the objective of scikit-learn's `Ridge(alpha, fit_intercept)`. X [n x d], Y [n x t];
 * W [d x t] row-major float64, intercept [t] (zeros without fitIntercept).
 *
 * With alpha > 0 the normal equations are solved by Cholesky in the smaller of two forms:
 * primal (Xc^T Xc + alpha I) W = Xc^T Yc when d <= n, else dual
 * W = Xc^T (Xc Xc^T + alpha I)^{-1} Yc. Gram matrices are accumulated in float64 over
 * backend-GEMM blocks (see gram.ts). Xc, Yc are the column-centred data when fitIntercept
 * is set (then b = mean(Y) - mean(X) W).
 *
 * With alpha = 0 `ridge` is `lstsq`: the minimum-norm least-squares solution via the SVD of
 * the centred X (the alpha -> 0 limit of ridge), so singular or under-determined problems
 * are answered, not rejected.
 */
export interface RidgeOptions {
  fitIntercept?: boolean;
  backend?: Backend;
  /**
   * accumulate the normal equations in float64 straight from the (float32) values instead of
   * over backend-GEMM blocks: exact products, O(n·d·min(n, d)) scalar work. For probes and
   * other small problems where the last digits matter (alpha near 0) [false]
   */
  exact?: boolean;
}

export interface RidgeResult {
  /** [d x t] row-major */
  W: Float64Array;
  /** [t] */
  intercept: Float64Array;
}

export interface LstsqResult extends RidgeResult {
  /** effective rank of the (centred) X */
  rank: number;
  /** singular values of the (centred) X, descending */
  singularValues: Float64Array;
}

function validate(fn: string, X: Matrix, Y: Matrix): void {
  assertSameRows('X', X, 'Y', Y);
  if (X.rows === 0) fail('E_SHAPE', `${fn}: X has no rows; at least one sample is needed`);
  assertFinite('X', X);
  assertFinite('Y', Y);
}

export function ridge(X: Matrix, Y: Matrix, alpha: number, opts: RidgeOptions = {}): RidgeResult {
  assertNumber('ridge alpha', alpha, 0);
  validate('ridge', X, Y);
  if (alpha === 0) {
    const { W, intercept } = lstsq(X, Y, opts);
    return { W, intercept };
  }
  const fitIntercept = opts.fitIntercept ?? true;
  const n = X.rows;
  const d = X.cols;
  const t = Y.cols;
  const mx = fitIntercept ? columnMeans(X) : undefined;
  const my = fitIntercept ? columnMeans(Y) : undefined;
  let W: Float64Array;
  if (opts.exact) {
    const Xd = centredF64(X, mx), Yd = centredF64(Y, my);
    W = ridgeF64(Xd, Yd, d, t, allRows(n), alpha);
  } else if (d <= n) {
    const G = crossProduct(X, X, { meanA: mx, backend: opts.backend });
    for (let i = 0; i < d; i++) G[i * d + i] += alpha;
    const R = crossProduct(X, Y, { meanA: mx, meanB: my, backend: opts.backend });
    W = choleskySolve(cholesky(G, d), d, R, t);
  } else {
    const K = rowGram(X, { meanA: mx, backend: opts.backend });
    for (let i = 0; i < n; i++) K[i * n + i] += alpha;
    const Yc = new Float64Array(n * t);
    for (let i = 0; i < n; i++) for (let c = 0; c < t; c++) Yc[i * t + c] = Y.data[i * t + c] - (my ? my[c] : 0);
    const A = choleskySolve(cholesky(K, n), n, Yc, t);
    W = new Float64Array(d * t);
    for (let i = 0; i < n; i++) {
      const xo = i * d;
      const ao = i * t;
      for (let j = 0; j < d; j++) {
        const xij = X.data[xo + j] - (mx ? mx[j] : 0);
        if (xij === 0) continue;
        const wo = j * t;
        for (let c = 0; c < t; c++) W[wo + c] += xij * A[ao + c];
      }
    }
  }
  return { W, intercept: interceptOf(W, d, t, mx, my) };
}

/* ---------------------------------------------------------------------------------------- */
/* Exact float64 forms (opts.exact, and the leave-one-out errors)                            */
/* ---------------------------------------------------------------------------------------- */

function centredF64(M: Matrix, mean?: Float64Array): Float64Array {
  const out = Float64Array.from(M.data);
  if (mean) for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) out[i * M.cols + j] -= mean[j];
  return out;
}

function allRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** G = Σ x_i x_iᵀ (d x d) and B = Σ x_i y_iᵀ (d x t) over the selected rows, in float64. */
function normalEquationsF64(X: Float64Array, Y: Float64Array, d: number, t: number, rows: ArrayLike<number>): { G: Float64Array; B: Float64Array } {
  const G = new Float64Array(d * d);
  const B = new Float64Array(d * t);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    const xo = i * d;
    const yo = i * t;
    for (let a = 0; a < d; a++) {
      const xa = X[xo + a];
      if (xa === 0) continue;
      const ga = a * d;
      for (let b = 0; b <= a; b++) G[ga + b] += xa * X[xo + b];
      const ba = a * t;
      for (let c = 0; c < t; c++) B[ba + c] += xa * Y[yo + c];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) G[b * d + a] = G[a * d + b];
  return { G, B };
}

/** K = X_s X_sᵀ + alpha·I over the selected rows (n_s x n_s), float64. */
function kernelF64(X: Float64Array, d: number, rows: ArrayLike<number>, alpha: number): Float64Array {
  const n = rows.length;
  const K = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    const op = rows[p] * d;
    for (let q = 0; q <= p; q++) {
      const oq = rows[q] * d;
      let s = 0;
      for (let a = 0; a < d; a++) s += X[op + a] * X[oq + a];
      K[p * n + q] = s;
      K[q * n + p] = s;
    }
    K[p * n + p] += alpha;
  }
  return K;
}

function spdFactor(A: Float64Array, n: number, alpha: number): Float64Array {
  try {
    return cholesky(A, n);
  } catch (e) {
    if (e instanceof SparsecodeError) {
      fail('E_ARG', `ridge: the regularised normal equations are not positive definite at alpha = ${alpha} (the data may be rank-deficient); use a larger alpha`);
    }
    throw e;
  }
}

/** Ridge weights W [d x t] (no intercept) from the selected rows; primal when d <= rows, dual otherwise. */
function ridgeF64(X: Float64Array, Y: Float64Array, d: number, t: number, rows: ArrayLike<number>, alpha: number): Float64Array {
  const n = rows.length;
  if (d <= n) {
    const { G, B } = normalEquationsF64(X, Y, d, t, rows);
    for (let a = 0; a < d; a++) G[a * d + a] += alpha;
    return choleskySolve(spdFactor(G, d, alpha), d, B, t);
  }
  // dual: W = X_sᵀ (X_s X_sᵀ + αI)⁻¹ Y_s
  const Ys = new Float64Array(n * t);
  for (let p = 0; p < n; p++) Ys.set(Y.subarray(rows[p] * t, rows[p] * t + t), p * t);
  const C = choleskySolve(spdFactor(kernelF64(X, d, rows, alpha), n, alpha), n, Ys, t);
  const W = new Float64Array(d * t);
  for (let p = 0; p < n; p++) {
    const op = rows[p] * d;
    for (let a = 0; a < d; a++) {
      const xa = X[op + a];
      if (xa === 0) continue;
      for (let c = 0; c < t; c++) W[a * t + c] += xa * C[p * t + c];
    }
  }
  return W;
}

/**
 * Exact leave-one-out mean squared error of ridge without intercept, per alpha: the mean over
 * rows i and targets c of (y_ic − ŷ_{−i,c})², where ŷ_{−i} is the prediction of the fit on the
 * other n − 1 rows. Closed forms (no refits), in float64 from the float32 values:
 *
 *   primal (d <= n): e_i = (y_i − x_iᵀW) / (1 − h_ii),  h_ii = x_iᵀ(XᵀX + αI)⁻¹x_i
 *   dual (d > n):    e_i = [(K + αI)⁻¹Y]_i / [(K + αI)⁻¹]_ii,  K = XXᵀ
 *
 * the quantity scikit-learn's RidgeCV (cv=None, fit_intercept=False) minimises.
 */
export function ridgeLooErrors(X: Matrix, Y: Matrix, alphas: readonly number[]): Float64Array {
  validate('ridgeLooErrors', X, Y);
  for (const a of alphas) assertNumber('ridge alpha', a, 0, Infinity, { exclusiveMin: true });
  const n = X.rows, d = X.cols, t = Y.cols;
  const Xd = Float64Array.from(X.data), Yd = Float64Array.from(Y.data);
  const ne = d <= n ? normalEquationsF64(Xd, Yd, d, t, allRows(n)) : null;
  const out = new Float64Array(alphas.length);
  for (let ai = 0; ai < alphas.length; ai++) {
    const alpha = alphas[ai];
    let sum = 0;
    if (ne) {
      const G = ne.G.slice();
      for (let a = 0; a < d; a++) G[a * d + a] += alpha;
      const L = spdFactor(G, d, alpha);
      const W = choleskySolve(L, d, ne.B, t);
      const v = new Float64Array(d);
      const pred = new Float64Array(t);
      for (let i = 0; i < n; i++) {
        const xo = i * d;
        // h_ii = ‖L⁻¹ x_i‖²
        let h = 0;
        for (let r = 0; r < d; r++) {
          let s = Xd[xo + r];
          const lr = r * d;
          for (let c = 0; c < r; c++) s -= L[lr + c] * v[c];
          v[r] = s / L[lr + r];
          h += v[r] * v[r];
        }
        const denom = 1 - h;
        pred.fill(0);
        for (let a = 0; a < d; a++) {
          const xa = Xd[xo + a];
          if (xa === 0) continue;
          const wa = a * t;
          for (let c = 0; c < t; c++) pred[c] += xa * W[wa + c];
        }
        const yo = i * t;
        for (let c = 0; c < t; c++) {
          const e = (Yd[yo + c] - pred[c]) / denom;
          sum += e * e;
        }
      }
    } else {
      const L = spdFactor(kernelF64(Xd, d, allRows(n), alpha), n, alpha);
      const C = choleskySolve(L, n, Yd, t);
      const I = new Float64Array(n * n);
      for (let p = 0; p < n; p++) I[p * n + p] = 1;
      const Kinv = choleskySolve(L, n, I, n);
      for (let i = 0; i < n; i++) {
        const gi = Kinv[i * n + i];
        for (let c = 0; c < t; c++) {
          const e = C[i * t + c] / gi;
          sum += e * e;
        }
      }
    }
    out[ai] = sum / (n * t);
  }
  return out;
}

function interceptOf(W: Float64Array, d: number, t: number, mx?: Float64Array, my?: Float64Array): Float64Array {
  const b = new Float64Array(t);
  if (!mx || !my) return b;
  for (let c = 0; c < t; c++) {
    let s = my[c];
    for (let j = 0; j < d; j++) s -= mx[j] * W[j * t + c];
    b[c] = s;
  }
  return b;
}

/**
 * Minimum-norm least squares min ||Y - X W - 1 b^T||_F (like numpy.linalg.lstsq on centred
 * data when fitIntercept). Singular values below rcond * S[0] are treated as zero
 * (default rcond = max(n, d) * 2^-52, numpy's default). Works on a float64 copy of X
 * ([n x d] doubles): SVD cost ~ n d min(n, d).
 */
export function lstsq(X: Matrix, Y: Matrix, opts: RidgeOptions & { rcond?: number } = {}): LstsqResult {
  validate('lstsq', X, Y);
  const fitIntercept = opts.fitIntercept ?? true;
  const n = X.rows;
  const d = X.cols;
  const t = Y.cols;
  const rcond = opts.rcond ?? Math.max(n, d) * 2 ** -52;
  assertNumber('lstsq rcond', rcond, 0);
  const mx = fitIntercept ? columnMeans(X) : undefined;
  const my = fitIntercept ? columnMeans(Y) : undefined;
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Xc[i * d + j] = X.data[i * d + j] - (mx ? mx[j] : 0);
  const W = new Float64Array(d * t);
  if (d === 0) return { W, intercept: my ? Float64Array.from(my) : new Float64Array(t), rank: 0, singularValues: new Float64Array(0) };
  const { U, S, Vt } = svd(Xc, n, d);
  const r = S.length;
  const cut = rcond * S[0];
  let rank = 0;
  // W = V diag(1/S) U^T Yc over the kept singular values
  const tmp = new Float64Array(t);
  for (let k = 0; k < r; k++) {
    if (!(S[k] > cut) || S[k] === 0) continue;
    rank++;
    tmp.fill(0);
    for (let i = 0; i < n; i++) {
      const u = U[i * r + k];
      if (u === 0) continue;
      for (let c = 0; c < t; c++) tmp[c] += u * (Y.data[i * t + c] - (my ? my[c] : 0));
    }
    const inv = 1 / S[k];
    for (let j = 0; j < d; j++) {
      const v = Vt[k * d + j] * inv;
      for (let c = 0; c < t; c++) W[j * t + c] += v * tmp[c];
    }
  }
  return { W, intercept: interceptOf(W, d, t, mx, my), rank, singularValues: S };
}
