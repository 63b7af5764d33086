import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { linearSumAssignment } from '../src/linalg/hungarian.js';

export function randMatrix(rows: number, cols: number, seed = 0): Matrix {
  const m = new Matrix(rows, cols);
  new Rng(seed).fillNormal(m.data);
  return m;
}

/** |a - b| <= atol + rtol * |b| elementwise, with a message naming the first offender. */
export function assertAllClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = 'values'): void {
  assert.equal(a.length, b.length, `${what}: lengths differ (${a.length} vs ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!ok) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

export function assertThrowsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: any) => {
    assert.equal(e?.code, code, `expected error code ${code}, got ${e?.code}: ${e?.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Naive float64 reference GEMM on dense row-major op-applied matrices. */
export function refGemm(tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = tA ? a[p * m + i] : a[i * k + p];
        const bv = tB ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]);
    }
  }
  return out;
}

/**
 * The dictionary-learning test world: `latents` unit-norm directions (rows of A) in `dim`
 * dimensions, n rows with exactly k active latents of U(0,1) magnitude (written independently
 * of src/worlds, so tests of the learners do not lean on the code they compare against).
 */
export function kSparseTestWorld(seed: number, latents = 64, dim = 32, k = 3, n = 20000): { X: Matrix; A: Matrix } {
  const rng = new Rng(seed);
  const A = new Matrix(latents, dim);
  rng.fork('mixing').fillNormal(A.data);
  for (let a = 0; a < latents; a++) {
    const r = A.row(a);
    let s = 0;
    for (const v of r) s += v * v;
    for (let j = 0; j < dim; j++) r[j] /= Math.sqrt(s);
  }
  const X = new Matrix(n, dim);
  const zr = rng.fork('codes');
  for (let i = 0; i < n; i++) {
    for (const a of zr.choice(latents, k)) {
      const m = zr.uniform();
      for (let j = 0; j < dim; j++) X.data[i * dim + j] += m * A.data[a * dim + j];
    }
  }
  return { X, A };
}

/** Mean |cos| between learned rows D and true rows A after Hungarian matching (float64, from scratch). */
export function matchedCosine(D: Matrix, A: Matrix): number {
  const C = new Float64Array(D.rows * A.rows);
  for (let i = 0; i < D.rows; i++) {
    let nd = 0;
    for (let q = 0; q < D.cols; q++) nd += D.get(i, q) ** 2;
    for (let j = 0; j < A.rows; j++) {
      let s = 0;
      for (let q = 0; q < D.cols; q++) s += D.get(i, q) * A.get(j, q);
      C[i * A.rows + j] = Math.abs(s) / Math.sqrt(nd);
    }
  }
  const { rowInd, colInd } = linearSumAssignment(C, D.rows, A.rows, { maximize: true });
  let m = 0;
  for (let t = 0; t < rowInd.length; t++) m += C[rowInd[t] * A.rows + colInd[t]];
  return m / rowInd.length;
}

/**
 * Largest violation of the Lasso KKT conditions for X ≈ Z·D (float64, independent of the
 * solvers): with g = D(x − zD), z_j ≠ 0 ⇒ g_j = λ·sign(z_j); z_j = 0 ⇒ |g_j| ≤ λ (g_j ≤ λ if nonneg).
 */
export function kktViolation(X: Matrix, D: Matrix, Z: Matrix, lambda: number, nonneg = false): number {
  const a = D.rows, d = D.cols;
  let worst = 0;
  const r = new Float64Array(d);
  for (let i = 0; i < X.rows; i++) {
    for (let c = 0; c < d; c++) r[c] = X.get(i, c);
    for (let j = 0; j < a; j++) {
      const z = Z.get(i, j);
      if (z !== 0) for (let c = 0; c < d; c++) r[c] -= z * D.get(j, c);
    }
    for (let j = 0; j < a; j++) {
      let g = 0;
      for (let c = 0; c < d; c++) g += D.get(j, c) * r[c];
      const z = Z.get(i, j);
      const v = z !== 0 ? Math.abs(g - lambda * Math.sign(z)) : nonneg ? Math.max(0, g - lambda) : Math.max(0, Math.abs(g) - lambda);
      if (v > worst) worst = v;
    }
  }
  return worst;
}
