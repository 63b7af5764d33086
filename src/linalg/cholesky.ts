import { fail } from '../core/errors.js';
import { backend as activeBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';

/**
 * Cholesky factorisation A = L L^T of a symmetric positive-definite [n x n] matrix
 * (float64, row-major; only the lower triangle is read). Returns L (lower, row-major).
 */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) fail('E_ARG', `cholesky: n must be a non-negative integer, got ${n}`);
  if (a.length !== n * n) fail('E_SHAPE', `cholesky: matrix has ${a.length} entries, [${n} x ${n}] needs ${n * n}`);
  for (let i = 0; i < n * n; i++) {
    const v = a[i];
    if (v - v !== 0) fail('E_NONFINITE', `cholesky: matrix has a non-finite value (${v}) at row ${Math.floor(i / n)}, column ${i % n}`);
  }
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    const Lj = j * n;
    for (let k = 0; k < j; k++) d -= L[Lj + k] * L[Lj + k];
    if (!(d > 0) || !Number.isFinite(d)) {
      fail('E_ARG', `cholesky: matrix is not positive definite (pivot ${j} is ${d}); add a ridge term (e.g. alpha = 1e-6) or check for duplicate or constant columns`);
    }
    const ljj = Math.sqrt(d);
    L[Lj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const Li = i * n;
      let s = a[Li + j];
      for (let k = 0; k < j; k++) s -= L[Li + k] * L[Lj + k];
      L[Li + j] = s / ljj;
    }
  }
  return L;
}

/**
 * Solve A X = B given the Cholesky factor L of A. B is [n x r] row-major (r right-hand
 * sides); returns X [n x r].
 */
export function choleskySolve(L: Float64Array, n: number, b: ArrayLike<number>, r = 1): Float64Array {
  if (L.length !== n * n) fail('E_SHAPE', `choleskySolve: factor has ${L.length} entries, [${n} x ${n}] needs ${n * n}`);
  if (!Number.isInteger(r) || r < 0) fail('E_ARG', `choleskySolve: r (right-hand sides) must be a non-negative integer, got ${r}`);
  if (b.length !== n * r) fail('E_SHAPE', `choleskySolve: right-hand side has ${b.length} entries, needs [${n} x ${r}]`);
  const x = Float64Array.from(b);
  solveWithFactorInPlace(L, n, x, r);
  return x;
}

/** Solve the SPD system A X = B directly. */
export function solveSPD(a: ArrayLike<number>, n: number, b: ArrayLike<number>, r = 1): Float64Array {
  return choleskySolve(cholesky(a, n), n, b, r);
}

/**
 * In-place blocked Cholesky of an SPD matrix (float64, row-major [n x n], lower triangle
 * read and overwritten with L; the strict upper triangle is left as it was). Right-looking,
 * panels of `nb` columns copied into a compact buffer so the trailing update runs over
 * contiguous `nb`-long rows (cache-resident), which is what makes it faster than the
 * column-by-column form for n in the thousands. Returns the pivot index that was not
 * positive, or -1 on success.
 */
export function choleskyInPlace(A: Float64Array, n: number, nb = 48): number {
  const P = new Float64Array(n * nb);
  for (let k0 = 0; k0 < n; k0 += nb) {
    const k1 = Math.min(n, k0 + nb);
    const w = k1 - k0;
    // 1. the diagonal block (already updated by the earlier panels)
    for (let j = k0; j < k1; j++) {
      const Aj = j * n;
      let d = A[Aj + j];
      for (let t = k0; t < j; t++) d -= A[Aj + t] * A[Aj + t];
      if (!(d > 0) || !Number.isFinite(d)) return j;
      const ljj = Math.sqrt(d);
      A[Aj + j] = ljj;
      // 2. column j of the panel, rows below (diagonal block and the rest)
      for (let i = j + 1; i < n; i++) {
        const Ai = i * n;
        let s = A[Ai + j];
        for (let t = k0; t < j; t++) s -= A[Ai + t] * A[Aj + t];
        A[Ai + j] = s / ljj;
      }
    }
    if (k1 >= n) break;
    // compact copy of the panel rows below the block
    for (let i = k1; i < n; i++) {
      const Ai = i * n + k0;
      const Pi = i * nb;
      for (let t = 0; t < w; t++) P[Pi + t] = A[Ai + t];
    }
    // 3. trailing update of the lower triangle: A[i][j] -= P[i]·P[j], k1 <= j <= i
    for (let i = k1; i < n; i++) {
      const Pi = i * nb;
      const Ai = i * n;
      let j = k1;
      for (; j + 1 <= i; j += 2) {
        const Pj = j * nb;
        const Pj2 = Pj + nb;
        let s0 = 0, s1 = 0;
        for (let t = 0; t < w; t++) {
          const p = P[Pi + t];
          s0 += p * P[Pj + t];
          s1 += p * P[Pj2 + t];
        }
        A[Ai + j] -= s0;
        A[Ai + j + 1] -= s1;
      }
      for (; j <= i; j++) {
        const Pj = j * nb;
        let s0 = 0;
        for (let t = 0; t < w; t++) s0 += P[Pi + t] * P[Pj + t];
        A[Ai + j] -= s0;
      }
    }
  }
  return -1;
}

/**
 * Solve A·X = B in place for a symmetric positive-definite A (float64, row-major [n x n], lower
 * triangle read and overwritten by its Cholesky factor; B row-major [n x r], overwritten by X).
 * Runs LAPACK's dpotrf/dpotrs through the backend when it has them (native: OpenBLAS,
 * multi-threaded, 10–20x the JavaScript at n in the thousands), the blocked `choleskyInPlace`
 * and two triangular solves otherwise. Returns −1, or the index of the first pivot that was not
 * positive or not finite (then B is unspecified): callers name the problem in their error.
 */
export function choleskySolveInPlace(a: Float64Array, n: number, b: Float64Array, r: number, bk: Backend = activeBackend()): number {
  if (!Number.isInteger(n) || n < 0) fail('E_ARG', `choleskySolveInPlace: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(r) || r < 0) fail('E_ARG', `choleskySolveInPlace: r (right-hand sides) must be a non-negative integer, got ${r}`);
  if (a.length < n * n) fail('E_SHAPE', `choleskySolveInPlace: matrix has ${a.length} entries, [${n} x ${n}] needs ${n * n}`);
  if (b.length < n * r) fail('E_SHAPE', `choleskySolveInPlace: right-hand side has ${b.length} entries, needs [${n} x ${r}]`);
  if (bk.spdSolve) {
    const bad = bk.spdSolve(a, n, b, r);
    if (bad >= 0) return bad;
    // OpenBLAS's dpotrf lets a NaN pivot through (its test is ajj <= 0): a non-finite value
    // anywhere in A reaches the diagonal of L at or after its row
    for (let j = 0; j < n; j++) if (!Number.isFinite(a[j * n + j])) return j;
    return -1;
  }
  const bad = choleskyInPlace(a, n);
  if (bad >= 0) return bad;
  solveWithFactorInPlace(a, n, b, r);
  return -1;
}

/** x ← A⁻¹x given A's Cholesky factor L in the lower triangle of `L` (upper ignored); x is [n x r]. */
function solveWithFactorInPlace(L: Float64Array, n: number, x: Float64Array, r: number): void {
  // forward: L y = b
  for (let i = 0; i < n; i++) {
    const Li = i * n;
    for (let k = 0; k < i; k++) {
      const l = L[Li + k];
      if (l === 0) continue;
      for (let c = 0; c < r; c++) x[i * r + c] -= l * x[k * r + c];
    }
    const d = L[Li + i];
    for (let c = 0; c < r; c++) x[i * r + c] /= d;
  }
  // backward: Lᵀ x = y
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      for (let c = 0; c < r; c++) x[i * r + c] -= l * x[k * r + c];
    }
    const d = L[i * n + i];
    for (let c = 0; c < r; c++) x[i * r + c] /= d;
  }
}
