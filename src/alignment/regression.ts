import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { ridge } from '../linalg/ridge.js';
import { checkPair } from './common.js';
import { columnMeans } from '../linalg/rows.js';

/**
 * Ridge-regression predictivity (linear encoding model) from A [n x p] to B [n x q] with
 * k-fold cross-validation. Each fold's ridge model is fitted on the other folds (with an
 * intercept unless fitIntercept is false) and predicts the held-out samples; the out-of-fold
 * predictions of all n samples are then pooled and scored, as scikit-learn's
 * `cross_val_predict` followed by a score does:
 *  - `r`: per target column, Pearson r between prediction and target; `meanR` their mean over
 *    non-constant target columns;
 *  - `r2`: variance-weighted R² = 1 − Σ SSE / Σ SST over target columns
 *    (sklearn `r2_score(multioutput='variance_weighted')`).
 * Folds: a seeded random permutation cut into k near-equal contiguous parts (sizes differ by
 * at most one), or the caller's `foldIds`.
 */
export interface RegressionOptions {
  /** number of CV folds (default 5; 2 <= folds <= n) */
  folds?: number;
  /** ridge penalty alpha >= 0 on ‖W‖²_F (default 1; 0 = minimum-norm least squares); sklearn's Ridge(alpha) objective */
  alpha?: number;
  /** seed (or Rng) of the fold assignment (default 0) */
  seed?: Seed | Rng;
  /** explicit fold of each sample, integers in [0, folds): overrides `folds` and `seed` */
  foldIds?: ArrayLike<number>;
  /** fit an intercept (default true) */
  fitIntercept?: boolean;
  /** which score is reported as `value` (default 'pearson': meanR) */
  score?: 'pearson' | 'r2';
}

export interface RegressionResult {
  value: number;
  meanR: number;
  r2: number;
  /** Pearson r per target column (NaN for constant target columns, which meanR skips) */
  r: Float64Array;
  folds: number;
  alpha: number;
  /** out-of-fold predictions [n x q] */
  predictions: Matrix;
}

/** Seeded fold assignment: sample i goes to fold foldIds[i]. */
export function kfoldIds(n: number, folds: number, seed: Seed | Rng = 0): Int32Array {
  assertInt('folds', folds, 2, Math.max(2, n));
  if (n < folds) fail('E_ARG', `folds: cannot cut ${n} samples into ${folds} folds; use folds <= ${n}`);
  const perm = (seed instanceof Rng ? seed : new Rng(seed)).permutation(n);
  const ids = new Int32Array(n);
  const base = Math.floor(n / folds);
  const extra = n % folds;
  let t = 0;
  for (let f = 0; f < folds; f++) {
    const size = base + (f < extra ? 1 : 0);
    for (let s = 0; s < size; s++) ids[perm[t++]] = f;
  }
  return ids;
}

/**
 * Fit ridge (src/linalg/ridge.ts: float64 normal equations, primal or dual form, minimum-norm
 * least squares for alpha = 0) on (X, Y) and predict Xt: Xt·W + intercept (backend GEMM).
 */
function ridgeFitPredict(X: Matrix, Y: Matrix, Xt: Matrix, alpha: number, fitIntercept: boolean): Matrix {
  const { W, intercept } = ridge(X, Y, alpha, { fitIntercept });
  const q = Y.cols;
  const pred = matmul(Xt, new Matrix(X.cols, q, Float32Array.from(W)));
  const d = pred.data;
  for (let i = 0; i < pred.rows; i++) for (let j = 0; j < q; j++) d[i * q + j] += intercept[j];
  return pred;
}

export function regression(A: Matrix, B: Matrix, opts: RegressionOptions = {}): RegressionResult {
  checkPair('regression', A, B, 3);
  const n = A.rows;
  const q = B.cols;
  const alpha = opts.alpha ?? 1;
  assertNumber('regression: alpha', alpha, 0);
  const fitIntercept = opts.fitIntercept ?? true;
  const score = opts.score ?? 'pearson';
  if (score !== 'pearson' && score !== 'r2') fail('E_ARG', `regression: score must be 'pearson' or 'r2', got ${String(score)}`);
  let ids: Int32Array;
  let folds: number;
  if (opts.foldIds) {
    if (opts.foldIds.length !== n) fail('E_SHAPE', `regression: foldIds has ${opts.foldIds.length} entries, A and B have ${n} samples`);
    ids = Int32Array.from(opts.foldIds);
    folds = 0;
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(opts.foldIds[i]) || ids[i] < 0) fail('E_ARG', `regression: foldIds[${i}] = ${opts.foldIds[i]} is not a non-negative integer`);
      folds = Math.max(folds, ids[i] + 1);
    }
    if (folds < 2) fail('E_ARG', 'regression: foldIds must name at least two folds');
  } else {
    folds = opts.folds ?? 5;
    assertInt('regression: folds', folds, 2);
    if (folds > n) fail('E_ARG', `regression: folds = ${folds} exceeds the ${n} samples; use folds <= ${n}`);
    ids = kfoldIds(n, folds, opts.seed ?? 0);
  }
  const predictions = new Matrix(n, q);
  for (let f = 0; f < folds; f++) {
    const tr: number[] = [];
    const te: number[] = [];
    for (let i = 0; i < n; i++) (ids[i] === f ? te : tr).push(i);
    if (te.length === 0) continue;
    if (tr.length < 1) fail('E_ARG', `regression: fold ${f} leaves no training samples`);
    const pred = ridgeFitPredict(A.takeRows(tr), B.takeRows(tr), A.takeRows(te), alpha, fitIntercept);
    for (let t = 0; t < te.length; t++) predictions.data.set(pred.row(t), te[t] * q);
  }
  // pooled scores
  const my = columnMeans(B);
  const r = new Float64Array(q);
  const sse = new Float64Array(q);
  const sst = new Float64Array(q);
  const mp = columnMeans(predictions);
  const spp = new Float64Array(q);
  const sty = new Float64Array(q);
  const b = B.data;
  const pd = predictions.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < q; j++) {
      const y = b[i * q + j];
      const yh = pd[i * q + j];
      const dy = y - my[j];
      const dp = yh - mp[j];
      sse[j] += (y - yh) * (y - yh);
      sst[j] += dy * dy;
      spp[j] += dp * dp;
      sty[j] += dy * dp;
    }
  }
  let sumR = 0;
  let countR = 0;
  let SSE = 0;
  let SST = 0;
  for (let j = 0; j < q; j++) {
    SSE += sse[j];
    SST += sst[j];
    if (!(sst[j] > 0)) {
      r[j] = NaN;
      continue;
    }
    r[j] = spp[j] > 0 ? Math.max(-1, Math.min(1, sty[j] / Math.sqrt(sst[j] * spp[j]))) : 0;
    sumR += r[j];
    countR++;
  }
  if (countR === 0) fail('E_DATA', 'regression: every column of B is constant; there is nothing to predict');
  const meanR = sumR / countR;
  const r2 = 1 - SSE / SST;
  return { value: score === 'pearson' ? meanR : r2, meanR, r2, r, folds, alpha, predictions };
}
