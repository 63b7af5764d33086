import { fail } from '../core/errors.js';
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
  if (d <= n) {
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
