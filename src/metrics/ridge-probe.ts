import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { ridge, ridgeLooErrors } from '../linalg/ridge.js';
import { checkMatrix, checkSameRows } from './util.js';

export const DEFAULT_RIDGE_ALPHAS: readonly number[] = [1e-6, 1e-4, 1e-2, 1, 10];

export interface RidgeProbeOptions {
  /** candidate penalties (default 1e-6, 1e-4, 1e-2, 1, 10) */
  alphas?: readonly number[];
  /**
   * 'loo' (default): exact leave-one-out error, as scikit-learn's RidgeCV (the reference
   * code's probe); an integer k >= 2: k contiguous folds (scikit-learn's KFold without
   * shuffling), the mean over folds of each fold's mean squared error.
   */
  cv?: 'loo' | number;
}

export interface RidgeProbe {
  /** W [d x t]: predictions are X·W (no intercept) */
  weights: Matrix;
  /** the chosen penalty (the first of the smallest CV error) */
  alpha: number;
  alphas: number[];
  /** CV mean squared error per candidate alpha */
  cvErrors: Float64Array;
  predict(X: Matrix): Matrix;
}

/** Ridge without intercept, exact float64 normal equations (linalg/ridge.ts). */
function fit(X: Matrix, Z: Matrix, alpha: number): Float64Array {
  return ridge(X, Z, alpha, { fitIntercept: false, exact: true }).W;
}

/**
 * Linear probe: ridge regression Z ← X without intercept (Ẑ = X·W), the penalty chosen by
 * cross-validation over `alphas` (PAPERS sec. 1: {1e-6, 1e-4, 1e-2, 1, 10}, leave-one-out as
 * scikit-learn's RidgeCV). The fits and the leave-one-out errors are linalg/ridge.ts's exact
 * float64 forms (the smaller of the primal d x d and dual n x n systems, by Cholesky).
 */
export function ridgeProbe(X: Matrix, Z: Matrix, opts: RidgeProbeOptions = {}): RidgeProbe {
  checkMatrix('X', X, 2);
  checkMatrix('Z', Z, 2);
  checkSameRows('X', X, 'Z', Z);
  const alphas = [...(opts.alphas ?? DEFAULT_RIDGE_ALPHAS)];
  if (alphas.length === 0) fail('E_ARG', 'ridgeProbe: alphas is empty; give at least one penalty');
  for (const a of alphas) assertNumber('alpha', a, 0, Infinity, { exclusiveMin: true });
  const cv = opts.cv ?? 'loo';
  const n = X.rows, d = X.cols, t = Z.cols;
  if (cv !== 'loo') assertInt('cv (number of folds)', cv, 2, n);
  let cvErrors: Float64Array = new Float64Array(alphas.length);
  if (alphas.length > 1) {
    if (cv === 'loo') cvErrors = ridgeLooErrors(X, Z, alphas);
    else {
      for (let ai = 0; ai < alphas.length; ai++) {
        let total = 0;
        let start = 0;
        for (let f = 0; f < cv; f++) {
          const size = Math.floor(n / cv) + (f < n % cv ? 1 : 0);
          const trainRows: number[] = [];
          for (let i = 0; i < n; i++) if (i < start || i >= start + size) trainRows.push(i);
          const W = fit(X.takeRows(trainRows), Z.takeRows(trainRows), alphas[ai]);
          let se = 0;
          const pred = new Float64Array(t);
          for (let i = start; i < start + size; i++) {
            pred.fill(0);
            for (let a = 0; a < d; a++) {
              const xa = X.data[i * d + a];
              for (let c = 0; c < t; c++) pred[c] += xa * W[a * t + c];
            }
            for (let c = 0; c < t; c++) {
              const e = Z.data[i * t + c] - pred[c];
              se += e * e;
            }
          }
          total += se / (size * t);
          start += size;
        }
        cvErrors[ai] = total / cv;
      }
    }
  }
  let best = 0;
  for (let i = 1; i < alphas.length; i++) if (cvErrors[i] < cvErrors[best]) best = i;
  const alpha = alphas[best];
  const W64 = fit(X, Z, alpha);
  const weights = new Matrix(d, t, Float32Array.from(W64));
  return {
    weights,
    alpha,
    alphas,
    cvErrors,
    predict(Xn: Matrix): Matrix {
      checkMatrix('X', Xn);
      if (Xn.cols !== d) fail('E_SHAPE', `shape mismatch: the probe was fitted on ${d} columns, X has ${Xn.cols}`);
      const out = new Matrix(Xn.rows, t);
      for (let i = 0; i < Xn.rows; i++) {
        const xo = i * d;
        for (let c = 0; c < t; c++) {
          let s = 0;
          for (let a = 0; a < d; a++) s += Xn.data[xo + a] * W64[a * t + c];
          out.data[i * t + c] = s;
        }
      }
      return out;
    },
  };
}
