import { fail } from '../core/errors.js';

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
  // backward: L^T x = y
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      for (let c = 0; c < r; c++) x[i * r + c] -= l * x[k * r + c];
    }
    const d = L[i * n + i];
    for (let c = 0; c < r; c++) x[i * r + c] /= d;
  }
  return x;
}

/** Solve the SPD system A X = B directly. */
export function solveSPD(a: ArrayLike<number>, n: number, b: ArrayLike<number>, r = 1): Float64Array {
  return choleskySolve(cholesky(a, n), n, b, r);
}
