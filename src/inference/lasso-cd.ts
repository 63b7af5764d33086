import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { backend, matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { assertInt } from '../core/validate.js';
import { checkInit, checkIters, checkLambda, checkProblem, checkTol, lassoObjectives, mean, type InferenceResult } from './common.js';
import { lassoWorkingSet, sparseLassoObjectives } from './working-set.js';

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
  /**
   * working-set solver (default true): coordinate descent restricted to a small per-sample
   * working set, grown from one batched gradient check per round; see working-set.ts. Same
   * stopping rule as the dense sweeps (false), much less work per sweep.
   */
  workingSet?: boolean;
  /** initial working-set size per sample (default 16; working-set solver only) */
  initialSet?: number;
  backend?: Backend;
}

export interface LassoCDResult extends InferenceResult {
  /** working-set solver only: batched gradient rounds run */
  rounds?: number;
  /** working-set solver only: mean working-set size per sample at the end */
  meanWorkingSet?: number;
  /**
   * working-set solver only: the largest KKT violation at the last gradient check, in gradient
   * units (|g_j − λ·sign z_j| on the support, (|g_j| − λ)+ off it, g = D(x − zD))
   */
  kkt?: number;
}

/**
 * Coordinate-descent Lasso on the Gram matrix: per sample minimise 1/2||x − z·D||² + λ||z||₁
 * (optionally z >= 0). With G = D·Dᵀ and c = D·x (backend GEMMs for the whole batch), the
 * objective is 1/2 zᵀGz − cᵀz + λ||z||₁ + const.
 *
 * Stopping rule (both solvers): a sample is done when a full coordinate-descent sweep over all
 * atoms moves no coordinate by more than tol · max(max|z|, 1e-12); the KKT conditions then hold
 * to within G_jj times that in gradient units.
 *
 * - working set (default): see working-set.ts. Coordinate descent on a small per-sample working
 *   set (float64, q = c_W − G_WW·z_W: |W| operations per changed coordinate), grown from one
 *   batched gradient check per round (a backend gatherDecode over the nonzeros); samples that
 *   pass drop out of the batch. `iterations` counts restricted sweeps.
 * - dense (`workingSet: false`): per sample, q = c − G·z kept on all atoms (atoms operations per
 *   changed coordinate); a full sweep, then sweeps over the nonzeros until they settle, then a
 *   full sweep again.
 */
export function lassoCD(X: Matrix, D: Matrix, opts: LassoCDOptions): LassoCDResult {
  const where = 'lasso-cd';
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { lambda, ... } are required`);
  checkProblem(X, D, where);
  const lambda = checkLambda(opts.lambda, where);
  const maxSweeps = checkIters(opts.iters, 1000, where);
  const tol = checkTol(opts.tol, 1e-6, where);
  checkInit(opts.init, X, D, where);
  const nonneg = !!opts.nonneg;
  const b = opts.backend ?? backend();
  if (opts.workingSet !== false) {
    let initialSet = 16;
    if (opts.initialSet !== undefined) {
      assertInt(`${where}: initialSet`, opts.initialSet, 1);
      initialSet = opts.initialSet;
    }
    const r = lassoWorkingSet(X, D, { lambda, tol, maxSweeps, nonneg, initialSet, init: opts.init, backend: b, where });
    const result: LassoCDResult = { Z: r.Z, iterations: r.iterations, converged: r.converged, rounds: r.rounds, meanWorkingSet: r.meanWorkingSet, kkt: r.kkt };
    if (opts.objective !== false) result.objective = mean(sparseLassoObjectives(X, D, r.sparse, lambda, b));
    return result;
  }
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
