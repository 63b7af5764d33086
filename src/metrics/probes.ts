import { fail, SparsecodeError } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { checkLabels, checkMatrix, checkSameRows } from './util.js';

/* ------------------------------------------------------------------------------------ */
/* Ridge regression probe                                                                */
/* ------------------------------------------------------------------------------------ */

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

function toF64(m: Matrix): Float64Array {
  return Float64Array.from(m.data);
}

/** Gram of the selected rows: G = Σ x_i x_iᵀ (d x d) and B = Σ x_i z_iᵀ (d x t). */
function normalEquations(X: Float64Array, Z: Float64Array, d: number, t: number, rows: ArrayLike<number>): { G: Float64Array; B: Float64Array } {
  const G = new Float64Array(d * d);
  const B = new Float64Array(d * t);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    const xo = i * d;
    const zo = i * t;
    for (let a = 0; a < d; a++) {
      const xa = X[xo + a];
      if (xa === 0) continue;
      const ga = a * d;
      for (let b = 0; b <= a; b++) G[ga + b] += xa * X[xo + b];
      const ba = a * t;
      for (let c = 0; c < t; c++) B[ba + c] += xa * Z[zo + c];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) G[b * d + a] = G[a * d + b];
  return { G, B };
}

/** Ridge weights W [d x t] from the selected rows; primal when d <= rows, dual otherwise. */
function fitRidge(X: Float64Array, Z: Float64Array, d: number, t: number, rows: ArrayLike<number>, alpha: number): Float64Array {
  const n = rows.length;
  if (d <= n) {
    const { G, B } = normalEquations(X, Z, d, t, rows);
    for (let a = 0; a < d; a++) G[a * d + a] += alpha;
    return choleskySolve(spdFactor(G, d, alpha), d, B, t);
  }
  // dual: W = Xsᵀ (Xs Xsᵀ + αI)⁻¹ Zs
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
  const Zs = new Float64Array(n * t);
  for (let p = 0; p < n; p++) Zs.set(Z.subarray(rows[p] * t, rows[p] * t + t), p * t);
  const C = choleskySolve(spdFactor(K, n, alpha), n, Zs, t);
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

function spdFactor(A: Float64Array, n: number, alpha: number): Float64Array {
  try {
    return cholesky(A, n);
  } catch (e) {
    if (e instanceof SparsecodeError) {
      fail('E_ARG', `ridge: the regularised normal equations are not positive definite at alpha = ${alpha} (the data may be rank-deficient); use larger alphas`);
    }
    throw e;
  }
}

/**
 * Exact leave-one-out mean squared error for one alpha over all n rows. Primal form
 * (d <= n) reuses the normal equations G = XᵀX, B = XᵀZ given in `ne`.
 */
function looError(
  X: Float64Array, Z: Float64Array, n: number, d: number, t: number, alpha: number,
  ne: { G: Float64Array; B: Float64Array } | null,
): number {
  let sum = 0;
  if (d <= n && ne) {
    const G = ne.G.slice();
    for (let a = 0; a < d; a++) G[a * d + a] += alpha;
    const L = spdFactor(G, d, alpha);
    const W = choleskySolve(L, d, ne.B, t);
    const y = new Float64Array(d);
    const pred = new Float64Array(t);
    for (let i = 0; i < n; i++) {
      const xo = i * d;
      // h_ii = x_iᵀ (XᵀX + αI)⁻¹ x_i = ‖L⁻¹ x_i‖²
      let h = 0;
      for (let r = 0; r < d; r++) {
        let s = X[xo + r];
        const lr = r * d;
        for (let c = 0; c < r; c++) s -= L[lr + c] * y[c];
        y[r] = s / L[lr + r];
        h += y[r] * y[r];
      }
      const denom = 1 - h;
      pred.fill(0);
      for (let a = 0; a < d; a++) {
        const xa = X[xo + a];
        if (xa === 0) continue;
        const wa = a * t;
        for (let c = 0; c < t; c++) pred[c] += xa * W[wa + c];
      }
      const zo = i * t;
      for (let c = 0; c < t; c++) {
        const e = (Z[zo + c] - pred[c]) / denom;
        sum += e * e;
      }
    }
  } else {
    // dual: LOO residual_i = [(K + αI)⁻¹ Z]_i / [(K + αI)⁻¹]_ii
    const K = new Float64Array(n * n);
    for (let p = 0; p < n; p++) {
      for (let q = 0; q <= p; q++) {
        let s = 0;
        for (let a = 0; a < d; a++) s += X[p * d + a] * X[q * d + a];
        K[p * n + q] = s;
        K[q * n + p] = s;
      }
      K[p * n + p] += alpha;
    }
    const L = spdFactor(K, n, alpha);
    const C = choleskySolve(L, n, Z, t);
    const I = new Float64Array(n * n);
    for (let p = 0; p < n; p++) I[p * n + p] = 1;
    const Kinv = choleskySolve(L, n, I, n);
    for (let i = 0; i < n; i++) {
      const g = Kinv[i * n + i];
      for (let c = 0; c < t; c++) {
        const e = C[i * t + c] / g;
        sum += e * e;
      }
    }
  }
  return sum / (n * t);
}

/**
 * Linear probe: ridge regression Z ← X without intercept (Ẑ = X·W), the penalty chosen by
 * cross-validation over `alphas` (PAPERS sec. 1: {1e-6, 1e-4, 1e-2, 1, 10}, leave-one-out as
 * scikit-learn's RidgeCV). Solves the smaller of the primal (d x d) and dual (n x n) normal
 * equations by Cholesky, in float64.
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
  const Xd = toF64(X);
  const Zd = toF64(Z);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const cvErrors = new Float64Array(alphas.length);
  const ne = cv === 'loo' && d <= n && alphas.length > 1 ? normalEquations(Xd, Zd, d, t, all) : null;
  if (alphas.length > 1) {
    for (let ai = 0; ai < alphas.length; ai++) {
      const alpha = alphas[ai];
      if (cv === 'loo') {
        cvErrors[ai] = looError(Xd, Zd, n, d, t, alpha, ne);
        continue;
      }
      let total = 0;
      let start = 0;
      for (let f = 0; f < cv; f++) {
        const size = Math.floor(n / cv) + (f < n % cv ? 1 : 0);
        const trainRows = new Int32Array(n - size);
        let p = 0;
        for (let i = 0; i < n; i++) if (i < start || i >= start + size) trainRows[p++] = i;
        const W = fitRidge(Xd, Zd, d, t, trainRows, alpha);
        let se = 0;
        const pred = new Float64Array(t);
        for (let i = start; i < start + size; i++) {
          pred.fill(0);
          for (let a = 0; a < d; a++) {
            const xa = Xd[i * d + a];
            for (let c = 0; c < t; c++) pred[c] += xa * W[a * t + c];
          }
          for (let c = 0; c < t; c++) {
            const e = Zd[i * t + c] - pred[c];
            se += e * e;
          }
        }
        total += se / (size * t);
        start += size;
      }
      cvErrors[ai] = total / cv;
    }
  }
  let best = 0;
  for (let i = 1; i < alphas.length; i++) if (cvErrors[i] < cvErrors[best]) best = i;
  const alpha = alphas[best];
  const W64 = fitRidge(Xd, Zd, d, t, all, alpha);
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

/* ------------------------------------------------------------------------------------ */
/* Logistic regression probe                                                             */
/* ------------------------------------------------------------------------------------ */

/** Widest input `solver: 'auto'` fits by Newton's method; wider inputs go to L-BFGS. */
export const LOGISTIC_NEWTON_MAX_COLS = 256;

export interface LogisticProbeOptions {
  /** tiny ridge on the weights (not the bias) that keeps separable data finite (default 1e-8) */
  l2?: number;
  /**
   * 'newton' (IRLS, O(n·d² + d³) per step), 'lbfgs' (limited-memory BFGS, O(n·d) per step, as
   * scikit-learn's default lbfgs solver), or 'auto' (default): Newton up to
   * LOGISTIC_NEWTON_MAX_COLS columns, L-BFGS beyond.
   */
  solver?: 'auto' | 'newton' | 'lbfgs';
  /** iterations (default 100 for Newton, 1000 for L-BFGS) */
  maxIter?: number;
  /** stop when the largest gradient entry is below this (default 1e-10 for Newton, 1e-8 for L-BFGS) */
  tol?: number;
  /** L-BFGS history length (default 20) */
  memory?: number;
}

export interface LogisticProbe {
  weights: Float64Array;
  bias: number;
  /** accuracy on the test set when given, else on the training set */
  accuracy: number;
  trainAccuracy: number;
  iterations: number;
  converged: boolean;
  /** the solver that ran */
  solver: 'newton' | 'lbfgs';
  /** P(y = 1 | x) per row */
  predictProba(X: Matrix): Float64Array;
  /** accuracy of the fitted probe on (X, y) */
  score(X: Matrix, y: ArrayLike<number>): number;
}

/** log(1 + e^s), stable. */
function softplus(s: number): number {
  return s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s));
}

function sigmoid(s: number): number {
  if (s >= 0) return 1 / (1 + Math.exp(-s));
  const e = Math.exp(s);
  return e / (1 + e);
}

/**
 * Unregularised binary logistic regression with intercept (the reference code's
 * LogisticRegression(C=inf)), fitted in float64 by Newton's method (IRLS) with a
 * backtracking (Armijo) line search, or for inputs wider than LOGISTIC_NEWTON_MAX_COLS by
 * L-BFGS (scikit-learn's default solver; O(n·d) per step instead of Newton's O(n·d² + d³)).
 * A tiny ridge `l2` on the weights keeps the optimum finite on separable data; on
 * non-separable data the fit is the maximum-likelihood one. Labels are 0/1. Trained on
 * (X, y); `accuracy` is measured on (Xtest, yTest) when given.
 */
export function logisticProbe(
  X: Matrix, y: ArrayLike<number>, Xtest?: Matrix, yTest?: ArrayLike<number>, opts: LogisticProbeOptions = {},
): LogisticProbe {
  checkMatrix('X', X, 2);
  checkLabels('y', y, X.rows);
  if ((Xtest === undefined) !== (yTest === undefined)) fail('E_ARG', 'logisticProbe: give both Xtest and yTest, or neither');
  if (Xtest) {
    checkMatrix('Xtest', Xtest);
    if (Xtest.cols !== X.cols) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, Xtest has ${Xtest.cols}`);
    checkLabels('yTest', yTest!, Xtest.rows);
  }
  const l2 = opts.l2 ?? 1e-8;
  assertNumber('l2', l2, 0);
  const solverOpt = opts.solver ?? 'auto';
  if (solverOpt !== 'auto' && solverOpt !== 'newton' && solverOpt !== 'lbfgs') {
    fail('E_ARG', `logisticProbe: solver must be 'auto', 'newton' or 'lbfgs', got '${String(solverOpt)}'`);
  }
  const solver = solverOpt === 'auto' ? (X.cols <= LOGISTIC_NEWTON_MAX_COLS ? 'newton' : 'lbfgs') : solverOpt;
  const maxIter = opts.maxIter ?? (solver === 'newton' ? 100 : 1000);
  assertInt('maxIter', maxIter, 1);
  const tol = opts.tol ?? (solver === 'newton' ? 1e-10 : 1e-8);
  assertNumber('tol', tol, 0);
  const memory = opts.memory ?? 20;
  assertInt('memory', memory, 1);
  const n = X.rows, d = X.cols;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += y[i];
  if (nPos === 0 || nPos === n) fail('E_ARG', `logisticProbe: the training labels hold one class only (${nPos} of ${n} positive); both classes are needed`);
  const fit = solver === 'newton' ? newtonLogistic(X, y, l2, maxIter, tol) : lbfgsLogistic(X, y, l2, maxIter, tol, memory);
  const { theta, iterations, converged } = fit;

  const weights = theta.slice(0, d);
  const bias = theta[d];
  const decision = (Xn: Matrix, i: number): number => {
    let s = bias;
    const o = i * d;
    for (let a = 0; a < d; a++) s += Xn.data[o + a] * weights[a];
    return s;
  };
  const score = (Xn: Matrix, yn: ArrayLike<number>): number => {
    checkMatrix('X', Xn);
    if (Xn.cols !== d) fail('E_SHAPE', `shape mismatch: the probe was fitted on ${d} columns, X has ${Xn.cols}`);
    checkLabels('y', yn, Xn.rows);
    let hits = 0;
    for (let i = 0; i < Xn.rows; i++) if ((decision(Xn, i) > 0 ? 1 : 0) === yn[i]) hits++;
    return hits / Xn.rows;
  };
  const trainAccuracy = score(X, y);
  return {
    weights,
    bias,
    trainAccuracy,
    accuracy: Xtest ? score(Xtest, yTest!) : trainAccuracy,
    iterations,
    converged,
    solver,
    score,
    predictProba(Xn: Matrix): Float64Array {
      checkMatrix('X', Xn);
      if (Xn.cols !== d) fail('E_SHAPE', `shape mismatch: the probe was fitted on ${d} columns, X has ${Xn.cols}`);
      const out = new Float64Array(Xn.rows);
      for (let i = 0; i < Xn.rows; i++) out[i] = sigmoid(decision(Xn, i));
      return out;
    },
  };
}

interface LogisticFit {
  /** weights then bias */
  theta: Float64Array;
  iterations: number;
  converged: boolean;
}

/** Newton's method (IRLS) with Armijo backtracking on the mean logistic loss + l2/2‖w‖². */
function newtonLogistic(X: Matrix, y: ArrayLike<number>, l2: number, maxIter: number, tol: number): LogisticFit {
  const n = X.rows, d = X.cols, P = d + 1;
  const Xd = Float64Array.from(X.data);
  const theta = new Float64Array(P); // weights then bias
  const cand = new Float64Array(P);
  const grad = new Float64Array(P);
  const H = new Float64Array(P * P);
  const S = new Float64Array(n);
  const R = new Float64Array(n);

  const lossAt = (th: Float64Array): number => {
    let L = 0;
    for (let i = 0; i < n; i++) {
      let s = th[d];
      const o = i * d;
      for (let a = 0; a < d; a++) s += Xd[o + a] * th[a];
      L += softplus(s) - y[i] * s;
    }
    let reg = 0;
    for (let a = 0; a < d; a++) reg += th[a] * th[a];
    return L / n + 0.5 * l2 * reg;
  };

  let loss = lossAt(theta);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIter; iterations++) {
    // gradient and Hessian of the mean loss
    grad.fill(0);
    H.fill(0);
    for (let i = 0; i < n; i++) {
      let s = theta[d];
      const o = i * d;
      for (let a = 0; a < d; a++) s += Xd[o + a] * theta[a];
      const p = sigmoid(s);
      R[i] = p - y[i];
      S[i] = p * (1 - p);
    }
    for (let i = 0; i < n; i++) {
      const o = i * d;
      const r = R[i], w = S[i];
      for (let a = 0; a < d; a++) {
        const xa = Xd[o + a];
        grad[a] += xa * r;
        const wa = w * xa;
        if (wa === 0) continue;
        const ha = a * P;
        for (let b = 0; b <= a; b++) H[ha + b] += wa * Xd[o + b];
        H[d * P + a] += wa; // bias row (lower triangle)
      }
      grad[d] += r;
      H[d * P + d] += w;
    }
    for (let a = 0; a < P; a++) {
      grad[a] /= n;
      for (let b = 0; b <= a; b++) H[a * P + b] /= n;
    }
    for (let a = 0; a < d; a++) {
      grad[a] += l2 * theta[a];
      H[a * P + a] += l2;
    }
    for (let a = 0; a < P; a++) for (let b = 0; b < a; b++) H[b * P + a] = H[a * P + b];
    let gmax = 0;
    for (let a = 0; a < P; a++) gmax = Math.max(gmax, Math.abs(grad[a]));
    if (gmax < tol) {
      converged = true;
      break;
    }
    // Newton direction, with escalating jitter if the Hessian is numerically singular
    let step: Float64Array | null = null;
    let trace = 0;
    for (let a = 0; a < P; a++) trace += H[a * P + a];
    for (let jitter = 0, tries = 0; tries < 12 && !step; tries++) {
      try {
        const Hj = jitter > 0 ? H.map((v, idx) => (Math.floor(idx / P) === idx % P ? v + jitter : v)) : H;
        step = choleskySolve(cholesky(Hj, P), P, grad, 1);
      } catch (e) {
        if (!(e instanceof SparsecodeError)) throw e;
        jitter = jitter === 0 ? Math.max(1e-14, 1e-12 * trace / P) : jitter * 100;
      }
    }
    if (!step) fail('E_NOTCONVERGED', 'logisticProbe: the Hessian could not be factorised; check for constant or duplicated columns');
    let slope = 0;
    for (let a = 0; a < P; a++) slope += grad[a] * step[a];
    let t = 1;
    let accepted = false;
    let newLoss = loss;
    for (let ls = 0; ls < 60; ls++) {
      for (let a = 0; a < P; a++) cand[a] = theta[a] - t * step[a];
      newLoss = lossAt(cand);
      if (newLoss <= loss - 1e-4 * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      converged = true; // no further decrease is representable: at the optimum to machine precision
      break;
    }
    theta.set(cand);
    const decrease = loss - newLoss;
    loss = newLoss;
    if (decrease <= 1e-16 * Math.max(1, Math.abs(loss)) && t === 1) {
      converged = true;
      iterations++;
      break;
    }
  }

  return { theta, iterations, converged };
}

/**
 * Mean logistic loss + l2/2‖w‖² and its gradient at theta (weights then bias), in one pass over
 * the float32 rows with float64 accumulation. O(n·d).
 */
function logisticLossGrad(X: Float32Array, y: ArrayLike<number>, n: number, d: number, l2: number, theta: Float64Array, grad: Float64Array): number {
  grad.fill(0);
  let L = 0;
  const b = theta[d];
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = b;
    for (let a = 0; a < d; a++) s += X[o + a] * theta[a];
    L += softplus(s) - y[i] * s;
    const r = sigmoid(s) - y[i];
    if (r !== 0) {
      for (let a = 0; a < d; a++) grad[a] += X[o + a] * r;
      grad[d] += r;
    }
  }
  let reg = 0;
  for (let a = 0; a < d; a++) {
    grad[a] = grad[a] / n + l2 * theta[a];
    reg += theta[a] * theta[a];
  }
  grad[d] /= n;
  return L / n + 0.5 * l2 * reg;
}

/**
 * L-BFGS (two-loop recursion, `memory` pairs, initial Hessian scaling sᵀy/yᵀy) with Armijo
 * backtracking on the same objective as the Newton path. Stops when the largest gradient entry
 * is below `tol`, when a step no longer reduces the loss relative to max(|f|, 1) by more than
 * 64 machine epsilons (SciPy's lbfgs `ftol`, which scikit-learn's lbfgs solver uses), or after
 * maxIter steps. O(n·d) per step: for probes thousands of columns wide.
 */
function lbfgsLogistic(X: Matrix, y: ArrayLike<number>, l2: number, maxIter: number, tol: number, memory: number): LogisticFit {
  const n = X.rows, d = X.cols, P = d + 1;
  const Xf = X.data;
  const theta = new Float64Array(P);
  const cand = new Float64Array(P);
  const g = new Float64Array(P);
  const gNew = new Float64Array(P);
  const dir = new Float64Array(P);
  const S = Array.from({ length: memory }, () => new Float64Array(P));
  const Yh = Array.from({ length: memory }, () => new Float64Array(P));
  const rho = new Float64Array(memory);
  const alpha = new Float64Array(memory);
  let stored = 0; // pairs held
  let newest = -1; // slot of the newest pair
  const ftol = 64 * Number.EPSILON;
  let loss = logisticLossGrad(Xf, y, n, d, l2, theta, g);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIter; iterations++) {
    let gmax = 0;
    let gnorm = 0;
    for (let a = 0; a < P; a++) {
      gmax = Math.max(gmax, Math.abs(g[a]));
      gnorm += g[a] * g[a];
    }
    if (gmax < tol) {
      converged = true;
      break;
    }
    // two-loop recursion: dir = −H·g
    for (let a = 0; a < P; a++) dir[a] = g[a];
    for (let q = 0; q < stored; q++) {
      const k = (newest - q + memory) % memory;
      const s = S[k], yv = Yh[k];
      let dot = 0;
      for (let a = 0; a < P; a++) dot += s[a] * dir[a];
      alpha[k] = rho[k] * dot;
      for (let a = 0; a < P; a++) dir[a] -= alpha[k] * yv[a];
    }
    let gamma: number;
    if (stored > 0) {
      const s = S[newest], yv = Yh[newest];
      let sy = 0, yy = 0;
      for (let a = 0; a < P; a++) {
        sy += s[a] * yv[a];
        yy += yv[a] * yv[a];
      }
      gamma = sy / yy;
    } else gamma = 1 / Math.sqrt(gnorm);
    for (let a = 0; a < P; a++) dir[a] *= gamma;
    for (let q = stored - 1; q >= 0; q--) {
      const k = (newest - q + memory) % memory;
      const s = S[k], yv = Yh[k];
      let dot = 0;
      for (let a = 0; a < P; a++) dot += yv[a] * dir[a];
      const beta = rho[k] * dot;
      for (let a = 0; a < P; a++) dir[a] += s[a] * (alpha[k] - beta);
    }
    let slope = 0;
    for (let a = 0; a < P; a++) {
      dir[a] = -dir[a];
      slope += g[a] * dir[a];
    }
    if (!(slope < 0)) {
      // not a descent direction (numerical trouble): restart from steepest descent
      stored = 0;
      newest = -1;
      const sc = 1 / Math.sqrt(gnorm);
      slope = 0;
      for (let a = 0; a < P; a++) {
        dir[a] = -g[a] * sc;
        slope += g[a] * dir[a];
      }
    }
    let t = 1;
    let accepted = false;
    let newLoss = loss;
    for (let ls = 0; ls < 60; ls++) {
      for (let a = 0; a < P; a++) cand[a] = theta[a] + t * dir[a];
      newLoss = logisticLossGrad(Xf, y, n, d, l2, cand, gNew);
      if (newLoss <= loss + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      converged = true; // no further decrease is representable
      break;
    }
    // curvature pair (the objective is convex, so sᵀy >= 0; skip degenerate pairs)
    const slot = (newest + 1) % memory;
    const sv = S[slot], yv = Yh[slot];
    let sy = 0;
    for (let a = 0; a < P; a++) {
      sv[a] = cand[a] - theta[a];
      yv[a] = gNew[a] - g[a];
      sy += sv[a] * yv[a];
    }
    if (sy > 1e-300) {
      rho[slot] = 1 / sy;
      newest = slot;
      if (stored < memory) stored++;
    }
    theta.set(cand);
    g.set(gNew);
    const decrease = loss - newLoss;
    const scale = Math.max(Math.abs(loss), Math.abs(newLoss), 1);
    loss = newLoss;
    if (decrease <= ftol * scale) {
      converged = true;
      iterations++;
      break;
    }
  }
  return { theta, iterations, converged };
}
