import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { backend, matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { checkProblem, lassoObjectives, mean, type InferenceResult } from './common.js';

/** Above this many atoms the greedy solvers do not form the [atoms x atoms] Gram matrix. */
export const GRAM_MAX_ATOMS = 4096;
const ROW_BLOCK = 256;

export interface OmpOptions {
  /** number of atoms per sample (cap); default: 10% of dim (at least 1) when tol is not given */
  k?: number;
  /** stop a sample once its squared residual ||x − zD||² <= tol (k, if given, still caps) */
  tol?: number;
  /** compute the mean objective 1/2||x − zD||² of the result (default true) */
  objective?: boolean;
  /** form the Gram matrix D·Dᵀ (default: when atoms <= GRAM_MAX_ATOMS) */
  gram?: boolean;
  backend?: Backend;
}

export interface MatchingPursuitOptions {
  /** number of greedy steps per sample (an atom may be picked more than once) */
  k: number;
  objective?: boolean;
  /** form the Gram matrix D·Dᵀ (default: when atoms <= GRAM_MAX_ATOMS) */
  gram?: boolean;
  backend?: Backend;
}

/**
 * Correlations of a sample's residual with every atom, either from the Gram matrix
 * (alpha = c − G[:, S]·γ, atoms·|S| per step) or, for very large dictionaries, from the
 * residual itself (alpha = D·r, one GEMV on the backend per step). Shared by OMP and MP.
 */
class OmpWorkspace {
  readonly a: number;
  readonly d: number;
  readonly G: Float32Array | null;
  readonly C: Matrix; // block of X·Dᵀ
  readonly r: Float64Array;
  readonly r32: Float32Array;
  readonly a32: Float32Array;
  constructor(readonly X: Matrix, readonly D: Matrix, readonly b: Backend, useGram?: boolean) {
    this.a = D.rows;
    this.d = D.cols;
    this.G = (useGram ?? this.a <= GRAM_MAX_ATOMS) ? matmul(D, D, { transB: true, backend: b }).data : null;
    this.C = new Matrix(Math.min(ROW_BLOCK, X.rows), this.a);
    this.r = new Float64Array(this.d);
    this.r32 = new Float32Array(this.d);
    this.a32 = new Float32Array(this.a);
  }
  /** Fill C with X[start:end]·Dᵀ; returns the row count. */
  block(start: number): number {
    const end = Math.min(start + ROW_BLOCK, this.X.rows);
    const rows = end - start;
    this.b.sgemm(false, true, rows, this.a, this.d, 1, this.X.data.subarray(start * this.d, end * this.d), this.d, this.D.data, this.d, 0, this.C.data, this.a);
    return rows;
  }
  /** G[i, j] (float64), from the Gram matrix or a dot product of the atoms. */
  gram(i: number, j: number): number {
    if (this.G) return this.G[i * this.a + j];
    const D = this.D.data;
    const d = this.d;
    let s = 0;
    for (let c = 0; c < d; c++) s += D[i * d + c] * D[j * d + c];
    return s;
  }
  /** alpha = D·r for the residual held in this.r. */
  correlate(alpha: Float64Array): void {
    for (let c = 0; c < this.d; c++) this.r32[c] = this.r[c];
    this.b.sgemm(false, true, 1, this.a, this.d, 1, this.r32, this.d, this.D.data, this.d, 0, this.a32, this.a);
    for (let j = 0; j < this.a; j++) alpha[j] = this.a32[j];
  }
}

/**
 * Orthogonal matching pursuit (Pati et al. 1993; the Cholesky-update form of Rubinstein et al.
 * 2008, as in scikit-learn's `orthogonal_mp`): per sample, greedily add the atom most correlated
 * with the residual, then refit all chosen coefficients by least squares, updating the Cholesky
 * factor of D_S·D_Sᵀ one row at a time. Stops at k atoms, when the squared residual is <= tol,
 * or early when the residual is orthogonal to every atom or the next atom is linearly
 * dependent on the chosen ones (then `converged` is false for that sample's batch).
 */
export function omp(X: Matrix, D: Matrix, opts: OmpOptions = {}): InferenceResult {
  const where = 'omp';
  const norms = checkProblem(X, D, where);
  const a = D.rows;
  const d = D.cols;
  let kmax: number;
  const tol = opts.tol;
  if (tol !== undefined) assertNumber(`${where}: tol`, tol, 0);
  if (opts.k !== undefined) {
    assertInt(`${where}: k`, opts.k, 1, a);
    kmax = opts.k;
  } else if (tol !== undefined) kmax = Math.min(a, d);
  else kmax = Math.max(1, Math.floor(0.1 * d));
  kmax = Math.min(kmax, a);
  const b = opts.backend ?? backend();
  const ws = new OmpWorkspace(X, D, b, opts.gram);
  const n = X.rows;
  const Z = new Matrix(n, a);
  const alpha = new Float64Array(a);
  const cS = new Float64Array(kmax);
  const Lf = new Float64Array(kmax * kmax);
  const gamma = new Float64Array(kmax);
  const w = new Float64Array(kmax);
  const sel = new Int32Array(kmax);
  const selected = new Uint8Array(a);
  let maxNorm = 0;
  for (let j = 0; j < a; j++) maxNorm = Math.max(maxNorm, norms[j]);
  let maxActive = 0;
  let allConverged = true;

  for (let start = 0; start < n; start += ROW_BLOCK) {
    const rows = ws.block(start);
    for (let bi = 0; bi < rows; bi++) {
      const i = start + bi;
      const c = ws.C.data.subarray(bi * a, (bi + 1) * a);
      const x = X.data.subarray(i * d, (i + 1) * d);
      let xx = 0;
      for (let t = 0; t < d; t++) xx += x[t] * x[t];
      for (let j = 0; j < a; j++) alpha[j] = c[j];
      let nA = 0;
      let dependent = false;
      let reached = false;
      while (nA < kmax) {
        let lam = 0;
        let best = -1;
        for (let j = 0; j < a; j++) {
          const v = Math.abs(alpha[j]);
          if (v > best) {
            best = v;
            lam = j;
          }
        }
        // residual orthogonal to every atom (exact fit, or numerically so)
        if (selected[lam] || best * best <= 1e-14 * xx * maxNorm) {
          reached = true;
          break;
        }
        if (nA > 0) {
          // new Cholesky row: solve L w = G[S, lam]
          for (let s = 0; s < nA; s++) {
            let v = ws.gram(sel[s], lam);
            const Ls = s * kmax;
            for (let t = 0; t < s; t++) v -= Lf[Ls + t] * w[t];
            w[s] = v / Lf[Ls + s];
          }
          let ww = 0;
          for (let s = 0; s < nA; s++) ww += w[s] * w[s];
          const lkk = norms[lam] - ww;
          if (!(lkk > 1e-6 * norms[lam])) {
            dependent = true;
            break;
          }
          const Ln = nA * kmax;
          for (let s = 0; s < nA; s++) Lf[Ln + s] = w[s];
          Lf[Ln + nA] = Math.sqrt(lkk);
        } else {
          Lf[0] = Math.sqrt(norms[lam]);
        }
        sel[nA] = lam;
        selected[lam] = 1;
        cS[nA] = c[lam];
        nA++;
        // gamma = (L Lᵀ)⁻¹ c_S
        for (let s = 0; s < nA; s++) {
          let v = cS[s];
          const Ls = s * kmax;
          for (let t = 0; t < s; t++) v -= Lf[Ls + t] * gamma[t];
          gamma[s] = v / Lf[Ls + s];
        }
        for (let s = nA - 1; s >= 0; s--) {
          let v = gamma[s];
          for (let t = s + 1; t < nA; t++) v -= Lf[t * kmax + s] * gamma[t];
          gamma[s] = v / Lf[s * kmax + s];
        }
        // correlations of the new residual, and its squared norm
        let resid2: number;
        if (ws.G) {
          const G = ws.G;
          for (let j = 0; j < a; j++) alpha[j] = c[j];
          let gc = 0;
          for (let s = 0; s < nA; s++) {
            const g = gamma[s];
            gc += g * cS[s];
            const row = sel[s] * a;
            for (let j = 0; j < a; j++) alpha[j] -= g * G[row + j];
          }
          resid2 = Math.max(0, xx - gc);
        } else {
          const r = ws.r;
          for (let t = 0; t < d; t++) r[t] = x[t];
          for (let s = 0; s < nA; s++) {
            const g = gamma[s];
            const row = sel[s] * d;
            for (let t = 0; t < d; t++) r[t] -= g * D.data[row + t];
          }
          resid2 = 0;
          for (let t = 0; t < d; t++) resid2 += r[t] * r[t];
          ws.correlate(alpha);
        }
        if (tol !== undefined && resid2 <= tol) {
          reached = true;
          break;
        }
      }
      if (nA === kmax) reached = true;
      if (dependent && !reached) allConverged = false;
      if (tol !== undefined && !reached) allConverged = false;
      const zo = i * a;
      for (let s = 0; s < nA; s++) {
        Z.data[zo + sel[s]] = gamma[s];
        selected[sel[s]] = 0;
      }
      if (nA > maxActive) maxActive = nA;
    }
  }
  const result: InferenceResult = { Z, iterations: maxActive, converged: allConverged };
  if (opts.objective !== false) result.objective = mean(lassoObjectives(X, D, Z, 0, b));
  return result;
}

/**
 * Matching pursuit (Mallat & Zhang 1993): per sample, k times, pick the atom with the largest
 * |<r, d_j>| / ||d_j|| and move the code along it by <r, d_j> / ||d_j||² (no refit; an atom
 * can be picked again). Stops early when the residual is orthogonal to every atom.
 */
export function matchingPursuit(X: Matrix, D: Matrix, opts: MatchingPursuitOptions): InferenceResult {
  const where = 'matching pursuit';
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { k } are required`);
  const norms = checkProblem(X, D, where);
  const a = D.rows;
  const d = D.cols;
  assertInt(`${where}: k`, opts.k, 1, a);
  const k = opts.k;
  const b = opts.backend ?? backend();
  const ws = new OmpWorkspace(X, D, b, opts.gram);
  const n = X.rows;
  const Z = new Matrix(n, a);
  const alpha = new Float64Array(a);
  const invNorm = new Float64Array(a);
  for (let j = 0; j < a; j++) invNorm[j] = 1 / Math.sqrt(norms[j]);
  let maxSteps = 0;
  for (let start = 0; start < n; start += ROW_BLOCK) {
    const rows = ws.block(start);
    for (let bi = 0; bi < rows; bi++) {
      const i = start + bi;
      const c = ws.C.data;
      const x = X.data;
      let xx = 0;
      for (let t = 0; t < d; t++) xx += x[i * d + t] * x[i * d + t];
      for (let j = 0; j < a; j++) alpha[j] = c[bi * a + j];
      if (!ws.G) for (let t = 0; t < d; t++) ws.r[t] = x[i * d + t];
      const zo = i * a;
      let steps = 0;
      for (; steps < k; steps++) {
        let lam = 0;
        let best = -1;
        for (let j = 0; j < a; j++) {
          const v = Math.abs(alpha[j]) * invNorm[j];
          if (v > best) {
            best = v;
            lam = j;
          }
        }
        if (best * best <= 1e-14 * xx) break;
        const coef = alpha[lam] / norms[lam];
        Z.data[zo + lam] += coef;
        if (ws.G) {
          const row = lam * a;
          for (let j = 0; j < a; j++) alpha[j] -= coef * ws.G[row + j];
        } else {
          const row = lam * d;
          for (let t = 0; t < d; t++) ws.r[t] -= coef * D.data[row + t];
          ws.correlate(alpha);
        }
      }
      if (steps > maxSteps) maxSteps = steps;
    }
  }
  const result: InferenceResult = { Z, iterations: maxSteps, converged: true };
  if (opts.objective !== false) result.objective = mean(lassoObjectives(X, D, Z, 0, b));
  return result;
}
