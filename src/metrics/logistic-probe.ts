import { fail, SparsecodeError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { lbfgsMinimize, type LbfgsStatus } from '../optim/lbfgs.js';
import { checkLabels, checkMatrix } from './util.js';

/**
 * Binary logistic regression probe with intercept, labels 0/1, in float64 on float32 rows.
 *
 * The objective is the mean log-loss plus an optional ridge on the weights (not the bias):
 *
 *   L(w, b) = (1/n) Σᵢ [log(1 + e^{sᵢ}) − yᵢ sᵢ] + (l2/2)‖w‖²,   sᵢ = xᵢ·w + b
 *
 * Two solvers:
 *
 * - `'lbfgs'` (default): scikit-learn ≥ 1.4's `LogisticRegression(solver="lbfgs")` to the letter:
 *   L-BFGS-B (optim/lbfgs.ts) from zero with memory 10, maxls 50, ftol = 64·ε, gtol = `tol`
 *   (1e-4) on the largest gradient entry, at most `maxIter` (1000) iterations. With the default
 *   l2 = 0 this is the paper's `LogisticRegression(C=inf, max_iter=1000)`; in general
 *   l2 = 1/(C·n). On (nearly) separable data the optimum is at infinity and the answer is where
 *   that solver stops, which is why its rules are followed exactly (a solver that runs on
 *   overfits: Stop-Probing's oracle OOD accuracy fell from ~0.92 to ~0.6 with Newton's method).
 *   Used for every accuracy the experiments report.
 * - `'newton'`: the exact optimum, by Newton's method (IRLS) with Armijo backtracking, with a
 *   tiny default ridge l2 = 1e-8 that keeps separable problems finite. O(n·d² + d³) per step:
 *   for narrow inputs where the optimum itself is wanted.
 */
export interface LogisticProbeOptions {
  /** 'lbfgs' (default; scikit-learn's solver and stopping rules) or 'newton' (the exact optimum) */
  solver?: 'lbfgs' | 'newton';
  /** ridge on the weights of the mean loss, l2 = 1/(C·n) in scikit-learn's terms (default 0 for lbfgs, 1e-8 for newton) */
  l2?: number;
  /** iterations at most (default 1000 for lbfgs, as the paper's max_iter; 100 for newton) */
  maxIter?: number;
  /** stop when the largest gradient entry is at most this (default 1e-4 for lbfgs, scikit-learn's tol; 1e-10 for newton) */
  tol?: number;
  /** L-BFGS history length (default 10, scikit-learn's) */
  memory?: number;
}

export interface LogisticProbe {
  weights: Float64Array;
  bias: number;
  /** accuracy on the test set when given, else on the training set */
  accuracy: number;
  trainAccuracy: number;
  iterations: number;
  /** the solver met its tolerance (for lbfgs: status 'gtol' or 'ftol'; scikit-learn warns otherwise) */
  converged: boolean;
  /** the solver that ran */
  solver: 'lbfgs' | 'newton';
  /** why L-BFGS stopped (optim/lbfgs.ts); 'newton' for the Newton solver */
  status: LbfgsStatus | 'newton';
  /** the objective at the returned weights */
  loss: number;
  /** P(y = 1 | x) per row */
  predictProba(X: Matrix): Float64Array;
  /** accuracy of the fitted probe on (X, y) */
  score(X: Matrix, y: ArrayLike<number>): number;
}

/** log(1 + e^s), stable (NumPy's logaddexp(0, s)). */
function softplus(s: number): number {
  return s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s));
}

function sigmoid(s: number): number {
  if (s >= 0) return 1 / (1 + Math.exp(-s));
  const e = Math.exp(s);
  return e / (1 + e);
}

/**
 * The rows of X for repeated products: dense, or compressed sparse rows when at most a quarter
 * of the entries are non-zero (codes usually are). Skipping zeros changes no sum.
 */
interface Rows {
  n: number;
  d: number;
  /** s[i] = xᵢ·w (without bias) */
  dot(w: Float64Array, s: Float64Array): void;
  /** g[a] += Σᵢ r[i]·x_{ia} */
  addTransposed(r: Float64Array, g: Float64Array): void;
}

function rowsOf(X: Matrix): Rows {
  const { rows: n, cols: d, data } = X;
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  if (nnz <= 0.25 * data.length) {
    const ptr = new Int32Array(n + 1);
    const idx = new Int32Array(nnz);
    const val = new Float64Array(nnz);
    let p = 0;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let a = 0; a < d; a++) {
        const v = data[o + a];
        if (v !== 0) {
          idx[p] = a;
          val[p++] = v;
        }
      }
      ptr[i + 1] = p;
    }
    return {
      n, d,
      dot(w, s) {
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (let q = ptr[i]; q < ptr[i + 1]; q++) acc += val[q] * w[idx[q]];
          s[i] = acc;
        }
      },
      addTransposed(r, g) {
        for (let i = 0; i < n; i++) {
          const ri = r[i];
          if (ri === 0) continue;
          for (let q = ptr[i]; q < ptr[i + 1]; q++) g[idx[q]] += val[q] * ri;
        }
      },
    };
  }
  return {
    n, d,
    dot(w, s) {
      for (let i = 0; i < n; i++) {
        const o = i * d;
        let acc = 0;
        for (let a = 0; a < d; a++) acc += data[o + a] * w[a];
        s[i] = acc;
      }
    },
    addTransposed(r, g) {
      for (let i = 0; i < n; i++) {
        const ri = r[i];
        if (ri === 0) continue;
        const o = i * d;
        for (let a = 0; a < d; a++) g[a] += data[o + a] * ri;
      }
    },
  };
}

/**
 * The mean logistic loss + l2/2‖w‖² and its gradient, θ = (w, b): the objective handed to
 * L-BFGS. O(nnz(X)) per call.
 */
export function logisticObjective(X: Matrix, y: ArrayLike<number>, l2 = 0): (theta: Float64Array, grad: Float64Array) => number {
  const R = rowsOf(X);
  const { n, d } = R;
  const s = new Float64Array(n);
  const r = new Float64Array(n);
  return (theta, grad) => {
    const b = theta[d];
    R.dot(theta, s);
    let L = 0;
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const si = s[i] + b;
      L += softplus(si) - y[i] * si;
      r[i] = (sigmoid(si) - y[i]) / n;
      gb += r[i];
    }
    grad.fill(0);
    R.addTransposed(r, grad);
    let reg = 0;
    if (l2 > 0) {
      for (let a = 0; a < d; a++) {
        grad[a] += l2 * theta[a];
        reg += theta[a] * theta[a];
      }
    }
    grad[d] = gb;
    return L / n + 0.5 * l2 * reg;
  };
}

/**
 * Fit on (X, y); `accuracy` is measured on (Xtest, yTest) when given. See LogisticProbeOptions
 * for the two solvers.
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
  const solver = opts.solver ?? 'lbfgs';
  if (solver !== 'newton' && solver !== 'lbfgs') {
    fail('E_ARG', `logisticProbe: solver must be 'lbfgs' or 'newton', got '${String(solver)}'`);
  }
  const l2 = opts.l2 ?? (solver === 'newton' ? 1e-8 : 0);
  assertNumber('l2', l2, 0);
  const maxIter = opts.maxIter ?? (solver === 'newton' ? 100 : 1000);
  assertInt('maxIter', maxIter, 1);
  const tol = opts.tol ?? (solver === 'newton' ? 1e-10 : 1e-4);
  assertNumber('tol', tol, 0);
  const memory = opts.memory ?? 10;
  assertInt('memory', memory, 1);
  const n = X.rows, d = X.cols;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += y[i];
  if (nPos === 0 || nPos === n) fail('E_ARG', `logisticProbe: the training labels hold one class only (${nPos} of ${n} positive); both classes are needed`);

  let theta: Float64Array, iterations: number, converged: boolean, status: LbfgsStatus | 'newton', loss: number;
  if (solver === 'newton') {
    ({ theta, iterations, converged, loss } = newtonLogistic(X, y, l2, maxIter, tol));
    status = 'newton';
  } else {
    const r = lbfgsMinimize(logisticObjective(X, y, l2), new Float64Array(d + 1), {
      memory, maxls: 50, ftol: 64 * Number.EPSILON, gtol: tol, maxIter,
    });
    ({ x: theta, iterations, converged, status, f: loss } = r);
  }

  const weights = theta.slice(0, d);
  const bias = theta[d];
  const decision = (Xn: Matrix, i: number): number => {
    let s = 0;
    const o = i * d;
    for (let a = 0; a < d; a++) s += Xn.data[o + a] * weights[a];
    return s + bias;
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
    status,
    loss,
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

/** Newton's method (IRLS) with Armijo backtracking on the mean logistic loss + l2/2‖w‖². */
function newtonLogistic(X: Matrix, y: ArrayLike<number>, l2: number, maxIter: number, tol: number): { theta: Float64Array; iterations: number; converged: boolean; loss: number } {
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

  return { theta, iterations, converged, loss };
}
