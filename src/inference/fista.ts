import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { backend, matmul, SparseLeftProduct } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { spectralNormSquared } from '../linalg/power.js';
import { checkInit, checkIters, checkLambda, checkProblem, checkTol, lassoObjectives, mean, type InferenceResult } from './common.js';

/**
 * Proximal-gradient Lasso solvers, batched over rows: per sample minimise
 *
 *     1/2 ||x - z·D||² + λ ||z||₁        (optionally subject to z >= 0)
 *
 * with step 1/L, L = ||D||₂² (the Lipschitz constant of the smooth part's gradient).
 * All samples iterate together so each step is one or two GEMMs on the active backend.
 *
 * Gradient at Y: ∇ = Y·G − X·Dᵀ with G = D·Dᵀ. Two ways to apply it:
 * - `gram`:   V = C/L + Y·(I − G/L), with C = X·Dᵀ and I − G/L precomputed. Per iteration
 *             one [n x atoms x atoms] GEMM: atoms² multiply-adds per row.
 * - `direct`: R = Y·D − X, V = Y − (1/L)·R·Dᵀ. Two GEMMs through D: 2·atoms·dim per row;
 *             Y·D goes through Y's nonzeros when Y is sparse (nnz·dim per row instead).
 * `auto` (the default) picks the cheaper total, counting setup:
 *     gram   = atoms²·dim + n·atoms·dim + iters·n·atoms²
 *     direct = iters·2·n·atoms·dim
 * i.e. for many rows and iterations, gram when atoms < 2·dim (under-/moderately
 * over-complete dictionaries), direct when the dictionary is more than 2x overcomplete.
 * - `sparse-gram`: the Gram form row by row through the iterates' nonzeros (backend op
 *             `fistaGramRows`): per iteration and row, nnz(y) rows of I − G/L plus two passes
 *             over the row, instead of a GEMM. For warm starts that are already sparse, as in
 *             dictionary learning's alternation, that is one to two orders of magnitude less
 *             work than either dense form. It runs a fixed number of iterations, so it needs
 *             `tol: 0` (rows are independent then; a tolerance couples them through one global
 *             stopping test). A row whose iterate gets more than max(8, dim/2) nonzeros leaves
 *             it and runs the direct or gram form with the other such rows (`denseRows`).
 * `auto` also considers `sparse-gram` when `tol` is 0 and a warm start is given, with
 *     sparse-gram = atoms²·dim + n·atoms·dim + iters·n·atoms·2·(nnz + 2)
 * (nnz: the warm start's mean nonzeros per row; the passes over a row cost about twice a GEMM
 * multiply-add each), and not when I − G/L would take more than 1 GiB.
 */
export interface ProxGradOptions {
  /** L1 weight λ >= 0 */
  lambda: number;
  /** maximum iterations (default 100) */
  iters?: number;
  /**
   * stopping tolerance (default 1e-5; 0 runs exactly `iters` iterations). With
   * `stop: 'change'` (default): max|Z_k − Z_{k−1}| <= tol · max(max|Z_k|, 1e-12).
   * With `stop: 'objective'`: |f_k − f_{k−1}| <= tol · |f_k| (costs one extra GEMM through D per
   * iteration).
   */
  tol?: number;
  stop?: 'change' | 'objective';
  /** constrain z >= 0 */
  nonneg?: boolean;
  /** warm start: initial codes [samples x atoms] (copied, not modified) */
  init?: Matrix;
  /** gradient form; see above (default 'auto') */
  gradient?: 'auto' | 'gram' | 'direct' | 'sparse-gram';
  /** a precomputed Lipschitz constant ||D||₂² (must not underestimate) */
  lipschitz?: number;
  /** compute the mean objective of the result (default true; one extra GEMM) */
  objective?: boolean;
  /** backend to run on (default: the active one) */
  backend?: Backend;
  /**
   * accept atoms of zero norm (default: refused, E_ARG): the gradient of such an atom's code is
   * 0, so its code only shrinks, to 0 from a zero start. DL-FISTA's deadAtoms 'zero' needs it.
   */
  allowZeroAtoms?: boolean;
}

export interface ProxGradResult extends InferenceResult {
  /** which gradient form ran */
  gradient: 'gram' | 'direct' | 'sparse-gram';
  /** the Lipschitz constant used */
  lipschitz: number;
  /** direct form: iterations whose Y·D ran through Y's nonzeros (the rest ran the dense GEMM) */
  sparseSteps: number;
  /** sparse-gram: rows whose iterates outgrew the sparse form and ran a dense form (else 0) */
  denseRows: number;
}

/** Largest I − G/L (entries, float32) the sparse-gram form builds: 1 GiB. */
const MAX_GRAM_ENTRIES = 2 ** 28;

/** Nonzeros per row above which a row leaves the sparse-gram form (a row of y·M then costs about a dense row). */
export function sparseGramCap(atoms: number, dim: number): number {
  return Math.min(atoms, Math.max(8, Math.ceil(dim / 2)));
}

/**
 * The gradient form `auto` picks for a problem; see ProxGradOptions. `nnz` (mean nonzeros per
 * row of a warm start) makes `sparse-gram` a candidate: pass it only when it can run (tol 0).
 */
export function chooseGradient(samples: number, atoms: number, dim: number, iters: number, nnz?: number): 'gram' | 'direct' | 'sparse-gram' {
  const setup = atoms * atoms * dim + samples * atoms * dim;
  const gram = setup + iters * samples * atoms * atoms;
  const direct = iters * 2 * samples * atoms * dim;
  const dense = gram <= direct ? 'gram' : 'direct';
  if (nnz === undefined || atoms * atoms > MAX_GRAM_ENTRIES || !(nnz < sparseGramCap(atoms, dim))) return dense;
  const sparse = setup + iters * samples * atoms * 2 * (nnz + 2);
  return sparse < Math.min(gram, direct) ? 'sparse-gram' : dense;
}

export function fista(X: Matrix, D: Matrix, opts: ProxGradOptions): ProxGradResult {
  return proxGrad(X, D, opts, true, 'fista');
}

export function ista(X: Matrix, D: Matrix, opts: ProxGradOptions): ProxGradResult {
  return proxGrad(X, D, opts, false, 'ista');
}

function proxGrad(X: Matrix, D: Matrix, opts: ProxGradOptions, momentum: boolean, where: string): ProxGradResult {
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { lambda, ... } are required`);
  checkProblem(X, D, where, { allowZeroAtoms: opts.allowZeroAtoms });
  const lambda = checkLambda(opts.lambda, where);
  const iters = checkIters(opts.iters, 100, where);
  const tol = checkTol(opts.tol, 1e-5, where);
  const stop = opts.stop ?? 'change';
  if (stop !== 'change' && stop !== 'objective') fail('E_ARG', `${where}: stop must be 'change' or 'objective', got ${String(stop)}`);
  checkInit(opts.init, X, D, where);
  const nonneg = !!opts.nonneg;
  const b = opts.backend ?? backend();
  const n = X.rows;
  const a = D.rows;
  const d = D.cols;

  let L: number;
  if (opts.lipschitz !== undefined) {
    assertNumber(`${where}: lipschitz`, opts.lipschitz, 0, Infinity, { exclusiveMin: true });
    L = opts.lipschitz;
  } else {
    L = spectralNormSquared(D);
  }
  const mode = opts.gradient ?? 'auto';
  if (mode !== 'auto' && mode !== 'gram' && mode !== 'direct' && mode !== 'sparse-gram') {
    fail('E_ARG', `${where}: gradient must be 'auto', 'gram', 'direct' or 'sparse-gram', got ${String(mode)}`);
  }
  if (mode === 'sparse-gram' && tol > 0) fail('E_ARG', `${where}: gradient 'sparse-gram' runs a fixed number of iterations: set tol: 0 (or use another gradient form)`);
  const gradient = mode === 'auto' ? chooseGradient(n, a, d, iters, tol === 0 && opts.init ? meanNonzeros(opts.init) : undefined) : mode;
  if (gradient === 'sparse-gram') return sparseGram(X, D, opts, { lambda, iters, nonneg, momentum, L, b, where });

  // ---- buffers: allocated once per call ----
  let Z = new Matrix(n, a);
  if (opts.init) Z.data.set(opts.init.data);
  let Znew = new Matrix(n, a);
  const Y = momentum ? new Matrix(n, a) : Z;
  if (momentum) Y.data.set(Z.data);
  const V = new Matrix(n, a);
  let Cs: Matrix | null = null; // X·Dᵀ / L (gram)
  let M: Matrix | null = null; // I − G/L (gram)
  let R: Matrix | null = null; // residual [n x d] (direct, objective stop)
  if (gradient === 'gram') {
    Cs = matmul(X, D, { transB: true, alpha: 1 / L, backend: b });
    M = gramIteration(D, L, b);
  }
  if (gradient === 'direct' || (stop === 'objective' && tol > 0)) R = new Matrix(n, d);
  // direct: the iterates are sparse (soft-thresholded, or their extrapolation), so Y·D runs
  // through their nonzeros whenever every row has few enough (see SparseLeftProduct)
  const yd = gradient === 'direct' ? new SparseLeftProduct(n, a) : null;
  // FISTA, direct form: the GEMM writes −∇f/L alone and one fused pass does prox + momentum
  const fused = momentum && gradient === 'direct';
  const thresh = lambda / L;

  let t = 1;
  let iterations = 0;
  let converged = false;
  let prevObj = Infinity;
  let Ycur = momentum ? Y : Z;
  for (let it = 0; it < iters && n > 0; it++) {
    // V = Ycur − ∇f(Ycur)/L
    if (gradient === 'gram') {
      V.data.set(Cs!.data);
      matmul(Ycur, M!, { beta: 1, out: V, backend: b });
    } else {
      R!.data.set(X.data);
      yd!.multiply(Ycur, D, -1, R!, b);
      if (fused) matmul(R!, D, { transB: true, alpha: -1 / L, out: V, backend: b });
      else {
        V.data.set(Ycur.data);
        matmul(R!, D, { transB: true, alpha: -1 / L, beta: 1, out: V, backend: b });
      }
    }
    const tNext = momentum ? (1 + Math.sqrt(1 + 4 * t * t)) / 2 : 1;
    // fused: Znew = prox(Y + V) and Y ← Znew + β(Znew − Z) in one pass (Z is left as it was)
    if (fused) b.fistaUpdate(V.data, Y.data, Z.data, thresh, nonneg, (t - 1) / tNext, Znew.data);
    else b.softThreshold(V.data, thresh, nonneg, Znew.data);
    iterations = it + 1;

    let done = false;
    if (tol > 0) {
      if (stop === 'change') {
        const zn = Znew.data;
        const zo = Z.data;
        let maxDiff = 0;
        let maxAbs = 0;
        for (let i = 0; i < zn.length; i++) {
          const v = zn[i];
          const dv = Math.abs(v - zo[i]);
          if (dv > maxDiff) maxDiff = dv;
          const av = Math.abs(v);
          if (av > maxAbs) maxAbs = av;
        }
        if (maxDiff - maxDiff !== 0) fail('E_DIVERGED', `${where}: codes became non-finite at iteration ${iterations}; check the dictionary scale and the Lipschitz constant`);
        done = maxDiff <= tol * Math.max(maxAbs, 1e-12);
      } else {
        const f = mean(lassoObjectives(X, D, Znew, lambda, b, R!));
        if (!Number.isFinite(f)) fail('E_DIVERGED', `${where}: objective became non-finite at iteration ${iterations}`);
        done = Math.abs(f - prevObj) <= tol * Math.abs(f);
        prevObj = f;
      }
    }

    if (momentum) {
      if (!fused) b.extrapolate(Znew.data, Z.data, (t - 1) / tNext, Y.data);
      t = tNext;
    }
    const tmp = Z;
    Z = Znew;
    Znew = tmp;
    if (!momentum) Ycur = Z;
    if (done) {
      converged = true;
      break;
    }
  }
  const result: ProxGradResult = { Z, iterations, converged, gradient, lipschitz: L, sparseSteps: yd ? yd.sparseCalls : 0, denseRows: 0 };
  if (opts.objective !== false) {
    const obj = mean(lassoObjectives(X, D, Z, lambda, b, R ?? undefined));
    if (!Number.isFinite(obj)) fail('E_DIVERGED', `${where}: the objective is non-finite; check the dictionary scale and the Lipschitz constant`);
    result.objective = obj;
  }
  return result;
}

export function meanNonzeros(Z: Matrix): number {
  const z = Z.data;
  let c = 0;
  for (let i = 0; i < z.length; i++) if (z[i] !== 0) c++;
  return Z.rows > 0 ? c / Z.rows : 0;
}

interface SparseGramRun {
  lambda: number;
  iters: number;
  nonneg: boolean;
  momentum: boolean;
  L: number;
  b: Backend;
  where: string;
}

/**
 * The sparse-gram form (see ProxGradOptions): the backend's fistaGramRows runs every row whose
 * iterates stay within the cap; the rows it hands back run the dense form together, from the
 * same warm start, for the same iterations (rows are independent problems at tol 0).
 */
function sparseGram(X: Matrix, D: Matrix, opts: ProxGradOptions, r: SparseGramRun): ProxGradResult {
  const { lambda, iters, nonneg, momentum, L, b, where } = r;
  const n = X.rows;
  const a = D.rows;
  const d = D.cols;
  const Cs = matmul(X, D, { transB: true, alpha: 1 / L, backend: b });
  const M = gramIteration(D, L, b);
  const betas = new Float32Array(iters);
  let t = 1;
  for (let k = 0; k < iters; k++) {
    const tNext = momentum ? (1 + Math.sqrt(1 + 4 * t * t)) / 2 : 1;
    betas[k] = momentum ? (t - 1) / tNext : 0;
    t = tNext;
  }
  const Z = new Matrix(n, a);
  if (opts.init) Z.data.set(opts.init.data);
  const flags = new Uint8Array(n);
  const denseRows = n > 0 && iters > 0 ? b.fistaGramRows(Cs.data, M.data, n, a, lambda / L, nonneg, betas, sparseGramCap(a, d), Z.data, flags) : 0;
  if (denseRows > 0) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (flags[i]) rows.push(i);
    const Xs = X.takeRows(rows);
    const Is = Z.takeRows(rows);
    const dense = proxGrad(Xs, D, { ...opts, init: Is, tol: 0, lipschitz: L, objective: false, gradient: chooseGradient(rows.length, a, d, iters) as 'gram' | 'direct', backend: b }, momentum, where);
    rows.forEach((i, k) => Z.data.set(dense.Z.data.subarray(k * a, (k + 1) * a), i * a));
  }
  const result: ProxGradResult = { Z, iterations: iters, converged: false, gradient: 'sparse-gram', lipschitz: L, sparseSteps: 0, denseRows };
  if (opts.objective !== false) {
    const obj = mean(lassoObjectives(X, D, Z, lambda, b));
    if (!Number.isFinite(obj)) fail('E_DIVERGED', `${where}: the objective is non-finite; check the dictionary scale and the Lipschitz constant`);
    result.objective = obj;
  }
  return result;
}

/** I − D·Dᵀ/L [atoms x atoms]: one Gram-form iteration is V = X·Dᵀ/L + Y·(I − D·Dᵀ/L). */
function gramIteration(D: Matrix, L: number, b: Backend): Matrix {
  const a = D.rows;
  const M = matmul(D, D, { transB: true, alpha: -1 / L, backend: b });
  for (let j = 0; j < a; j++) M.data[j * a + j] += 1;
  return M;
}
