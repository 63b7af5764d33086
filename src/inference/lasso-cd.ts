import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { backend, matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { checkInit, checkIters, checkLambda, checkProblem, checkTol, lassoObjectives, mean, type InferenceResult } from './common.js';

export interface LassoCDOptions {
  /** L1 weight λ >= 0 */
  lambda: number;
  /** maximum coordinate sweeps per sample, full and active-set sweeps counted alike (default 1000) */
  iters?: number;
  /**
   * a sample has converged when a full sweep changes no coordinate by more than
   * tol · max(max|z|, 1e-12) (default 1e-6)
   */
  tol?: number;
  /** constrain z >= 0 */
  nonneg?: boolean;
  /** warm start: initial codes [samples x atoms] */
  init?: Matrix;
  /** compute the mean objective of the result (default true) */
  objective?: boolean;
  backend?: Backend;
}

/**
 * Coordinate-descent Lasso, one sample at a time, on the Gram matrix: per sample minimise
 * 1/2||x − z·D||² + λ||z||₁ (optionally z >= 0). With G = D·Dᵀ and c = D·x (both from one
 * backend GEMM for the whole batch), the objective is 1/2 zᵀGz − cᵀz + λ||z||₁ + const; the
 * solver keeps q = c − G·z up to date (atoms operations per changed coordinate, float64).
 *
 * Sweeps: a full sweep over all atoms, then sweeps over the active set (nonzero coordinates)
 * until they stop changing, then a full sweep again; a sample is done when a full sweep moves
 * nothing by more than the tolerance (the KKT conditions then hold to that tolerance).
 */
export function lassoCD(X: Matrix, D: Matrix, opts: LassoCDOptions): InferenceResult {
  const where = 'lasso-cd';
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { lambda, ... } are required`);
  checkProblem(X, D, where);
  const lambda = checkLambda(opts.lambda, where);
  const maxSweeps = checkIters(opts.iters, 1000, where);
  const tol = checkTol(opts.tol, 1e-6, where);
  checkInit(opts.init, X, D, where);
  const nonneg = !!opts.nonneg;
  const b = opts.backend ?? backend();
  const n = X.rows;
  const a = D.rows;

  const C = matmul(X, D, { transB: true, backend: b }); // [n x a]
  const G = matmul(D, D, { transB: true, backend: b }).data; // [a x a], symmetric
  const Z = new Matrix(n, a);
  if (opts.init) Z.data.set(opts.init.data);
  const z = new Float64Array(a);
  const q = new Float64Array(a);
  const active = new Int32Array(a);
  const all = new Int32Array(a);
  for (let j = 0; j < a; j++) all[j] = j;

  let maxIterations = 0;
  let allConverged = true;
  for (let i = 0; i < n; i++) {
    const zo = i * a;
    // z, q = c − G z
    let anyInit = false;
    for (let j = 0; j < a; j++) {
      z[j] = Z.data[zo + j];
      q[j] = C.data[zo + j];
      if (z[j] !== 0) anyInit = true;
    }
    if (anyInit) {
      if (nonneg) for (let j = 0; j < a; j++) if (z[j] < 0) z[j] = 0;
      for (let j = 0; j < a; j++) {
        const zj = z[j];
        if (zj === 0) continue;
        const gj = j * a;
        for (let l = 0; l < a; l++) q[l] -= zj * G[gj + l];
      }
    }
    let sweeps = 0;
    let converged = false;
    let full = true;
    while (sweeps < maxSweeps) {
      const idx = full ? all : active;
      let count = a;
      if (!full) {
        count = 0;
        for (let j = 0; j < a; j++) if (z[j] !== 0) active[count++] = j;
      }
      let maxDelta = 0;
      let maxAbs = 0;
      for (let p = 0; p < count; p++) {
        const j = idx[p];
        const gjj = G[j * a + j];
        const old = z[j];
        const rho = q[j] + gjj * old;
        let nz: number;
        if (nonneg) nz = rho > lambda ? (rho - lambda) / gjj : 0;
        else nz = rho > lambda ? (rho - lambda) / gjj : rho < -lambda ? (rho + lambda) / gjj : 0;
        const delta = nz - old;
        if (delta !== 0) {
          z[j] = nz;
          const gj = j * a;
          for (let l = 0; l < a; l++) q[l] -= delta * G[gj + l];
          const ad = Math.abs(delta);
          if (ad > maxDelta) maxDelta = ad;
        }
        const an = Math.abs(nz);
        if (an > maxAbs) maxAbs = an;
      }
      sweeps++;
      // (on an active-set sweep maxAbs already is max|z|: inactive coordinates are 0)
      if (!Number.isFinite(maxDelta)) fail('E_DIVERGED', `${where}: sample ${i} produced non-finite codes; check the dictionary`);
      const small = maxDelta <= tol * Math.max(maxAbs, 1e-12);
      if (full && small) {
        converged = true;
        break;
      }
      // after a full sweep go to the active set; when the active set settles, check with a full sweep
      full = !full && small;
    }
    for (let j = 0; j < a; j++) Z.data[zo + j] = z[j];
    if (sweeps > maxIterations) maxIterations = sweeps;
    if (!converged) allConverged = false;
  }
  const result: InferenceResult = { Z, iterations: maxIterations, converged: allConverged };
  if (opts.objective !== false) result.objective = mean(lassoObjectives(X, D, Z, lambda, b));
  return result;
}
