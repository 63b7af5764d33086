import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite, assertInt, assertNumber, assertSameCols } from '../core/validate.js';
import { backend, matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';

/** What every sparse-inference routine returns. */
export interface InferenceResult {
  /** codes [samples x atoms], X ≈ Z·D */
  Z: Matrix;
  /** iterations run (for per-sample solvers: the most any sample needed) */
  iterations: number;
  /** true when the stopping tolerance was met before the iteration limit */
  converged: boolean;
  /** mean over samples of 1/2||x - zD||² + λ||z||₁ (absent when not computed) */
  objective?: number;
}

/**
 * Validate the data and the dictionary: finite, same width, no zero-norm atom (unless
 * `allowZeroAtoms`). Returns the squared norms of the atoms (float64). Rows need not be unit-norm.
 */
export function checkProblem(X: Matrix, D: Matrix, where: string, o: { allowZeroAtoms?: boolean } = {}): Float64Array {
  if (!(X instanceof Matrix)) fail('E_ARG', `${where}: X must be a Matrix [samples x dim]`);
  if (!(D instanceof Matrix)) fail('E_ARG', `${where}: the dictionary must be a Matrix [atoms x dim]`);
  assertSameCols('X', X, 'dictionary', D);
  if (D.rows === 0) fail('E_SHAPE', `${where}: the dictionary has no atoms`);
  assertFinite('X', X);
  assertFinite('dictionary', D);
  const norms = atomSquaredNorms(D);
  if (!o.allowZeroAtoms) for (let j = 0; j < D.rows; j++) {
    if (!(norms[j] > 0)) {
      fail('E_ARG', `${where}: dictionary atom ${j} has zero norm; drop it or re-draw it (atoms should be unit-norm rows)`, { atom: j });
    }
  }
  return norms;
}

export function atomSquaredNorms(D: Matrix): Float64Array {
  const out = new Float64Array(D.rows);
  const { cols, data } = D;
  for (let j = 0; j < D.rows; j++) {
    let s = 0;
    const o = j * cols;
    for (let c = 0; c < cols; c++) s += data[o + c] * data[o + c];
    out[j] = s;
  }
  return out;
}

export function checkLambda(lambda: unknown, where: string): number {
  if (typeof lambda !== 'number') fail('E_ARG', `${where}: lambda must be a number >= 0 (the L1 weight), got ${String(lambda)}`);
  assertNumber(`${where}: lambda`, lambda, 0);
  return lambda;
}

export function checkIters(iters: unknown, def: number, where: string): number {
  if (iters === undefined) return def;
  assertInt(`${where}: iters`, iters as number, 1);
  return iters as number;
}

export function checkTol(tol: unknown, def: number, where: string): number {
  if (tol === undefined) return def;
  assertNumber(`${where}: tol`, tol as number, 0);
  return tol as number;
}

export function checkInit(init: Matrix | undefined, X: Matrix, D: Matrix, where: string): void {
  if (init === undefined) return;
  if (!(init instanceof Matrix)) fail('E_ARG', `${where}: init must be a Matrix of codes [samples x atoms]`);
  if (init.rows !== X.rows || init.cols !== D.rows) {
    fail('E_SHAPE', `${where}: init codes are [${init.rows} x ${init.cols}], expected [${X.rows} x ${D.rows}] (samples x atoms)`);
  }
  assertFinite('init', init);
}

/**
 * Per-sample Lasso objective 1/2||x - zD||² + λ||z||₁ (float64), using one GEMM on the
 * given backend. `resid` is an optional [samples x dim] scratch buffer.
 */
export function lassoObjectives(X: Matrix, D: Matrix, Z: Matrix, lambda: number, b: Backend = backend(), resid?: Matrix): Float64Array {
  const R = resid ?? new Matrix(X.rows, X.cols);
  R.data.set(X.data);
  matmul(Z, D, { beta: -1, out: R, backend: b });
  const out = new Float64Array(X.rows);
  const d = X.cols;
  const a = Z.cols;
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    const o = i * d;
    for (let c = 0; c < d; c++) s += R.data[o + c] * R.data[o + c];
    let l1 = 0;
    const oz = i * a;
    for (let j = 0; j < a; j++) l1 += Math.abs(Z.data[oz + j]);
    out[i] = 0.5 * s + lambda * l1;
  }
  return out;
}

export function mean(v: Float64Array): number {
  if (v.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}

/** Mean number of nonzero codes per sample. */
export function meanL0(Z: Matrix): number {
  if (Z.rows === 0) return 0;
  let nz = 0;
  for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nz++;
  return nz / Z.rows;
}
