import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import {
  eighSym, svd, cholesky, choleskySolve, solveSPD, ridge, lstsq, linearSumAssignment, spectralNormSquared, crossProduct, rowGram, columnMeans,
} from '../src/linalg/index.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

// Fixtures from test/fixtures/linalg/gen.py (NumPy / SciPy / scikit-learn).
const fx = JSON.parse(readFileSync(new URL('./fixtures/linalg/linalg.json', import.meta.url), 'utf8'));

/** MINSTD, bit-identical to gen.py's lcg (integer products stay below 2^53). */
function lcg(seed: number, count: number): Float64Array {
  const m = 2147483647;
  let x = seed % m || 1;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    x = (48271 * x) % m;
    out[i] = x / m - 0.5;
  }
  return out;
}
function lcgSym(seed: number, n: number): Float64Array {
  const b = lcg(seed, n * n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
}
function householder(seed: number, n: number): Float64Array {
  const v = lcg(seed, n);
  let vv = 0;
  for (const x of v) vv += x * x;
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv;
  return h;
}
function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) {
    const x = a[i * k + p];
    for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
  }
  return c;
}
function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}
function maxAbs(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]));
  return s;
}
/** Columns cols of V [n x m] as a projector V_c V_c^T [n x n]. */
function projector(V: ArrayLike<number>, n: number, m: number, cols: number[]): Float64Array {
  const P = new Float64Array(n * n);
  for (const c of cols) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) P[i * n + j] += V[i * m + c] * V[j * m + c];
  return P;
}
/** max |A V - V diag(w)| and max |V^T V - I|. */
function eigResiduals(A: ArrayLike<number>, w: Float64Array, V: Float64Array, n: number): { res: number; orth: number } {
  const AV = mm(A, V, n, n, n);
  let res = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) res = Math.max(res, Math.abs(AV[i * n + j] - V[i * n + j] * w[j]));
  const VtV = mm(transpose(V, n, n), V, n, n, n);
  let orth = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) orth = Math.max(orth, Math.abs(VtV[i * n + j] - (i === j ? 1 : 0)));
  return { res, orth };
}
function clusters(w: ArrayLike<number>, tol: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < w.length; i++) {
    if (i > 0 && Math.abs(w[i] - w[i - 1]) <= tol) out[out.length - 1].push(i);
    else out.push([i]);
  }
  return out;
}

function eighInput(c: any): Float64Array {
  if (c.A) return Float64Array.from(c.A);
  if (c.lcgSym !== undefined) return lcgSym(c.lcgSym, c.n);
  const H = householder(c.householder, c.n);
  const n = c.n;
  const HD = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) HD[i * n + j] = H[i * n + j] * c.diag[j];
  return mm(HD, H, n, n, n);
}

test('eighSym matches numpy.linalg.eigh (values, vectors up to the documented sign, eigenspaces for repeated values)', () => {
  for (const c of fx.eigh) {
    const n = c.n;
    const A = eighInput(c);
    const { values, vectors } = eighSym(A, n);
    const scale = Math.max(1, maxAbs(c.values));
    assertAllClose(values, c.values, 0, 1e-12 * scale * n, `${c.name} values`);
    for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1], `${c.name}: values ascending`);
    const { res, orth } = eigResiduals(A, values, vectors, n);
    assert.ok(res < 1e-12 * scale * n, `${c.name}: residual ${res}`);
    assert.ok(orth < 1e-13 * n, `${c.name}: orthogonality ${orth}`);
    // sign convention: largest-magnitude entry of each column positive
    for (let j = 0; j < n; j++) {
      let bi = 0;
      for (let i = 1; i < n; i++) if (Math.abs(vectors[i * n + j]) > Math.abs(vectors[bi * n + j]) * (1 + 1e-12)) bi = i;
      assert.ok(vectors[bi * n + j] > 0, `${c.name}: sign of column ${j}`);
    }
    if (c.vectors && !c.repeated) assertAllClose(vectors, c.vectors, 0, 1e-11, `${c.name} vectors`);
    if (c.repeated) {
      const groups = clusters(c.values, 1e-6 * scale);
      assert.ok(groups.some((g) => g.length > 1), `${c.name}: the fixture has repeated eigenvalues`);
      if (c.vectors) {
        for (const g of groups) {
          assertAllClose(projector(vectors, n, n, g), projector(c.vectors, n, n, g), 0, 1e-10, `${c.name} eigenspace ${g}`);
        }
      } else {
        // eigenspace of a cluster = range of H restricted to the matching diagonal positions
        const H = householder(c.householder, n);
        const diagOrder = Array.from({ length: n }, (_, i) => i).sort((a, b) => c.diag[a] - c.diag[b]);
        for (const g of groups) {
          const P = projector(vectors, n, n, g);
          const Pref = projector(H, n, n, g.map((k) => diagOrder[k]));
          assertAllClose(P, Pref, 0, 1e-8, `${c.name} eigenspace of ${c.values[g[0]]}`);
        }
      }
    }
  }
});

test('eighSym: closed forms, float32 input, n = 0, and bad input', () => {
  // [[2, 1], [1, 2]] has eigenvalues 1, 3 with vectors (1, -1)/sqrt2, (1, 1)/sqrt2
  const r = eighSym(new Float32Array([2, 1, 1, 2]), 2);
  assertAllClose(r.values, [1, 3], 0, 1e-15);
  const s = Math.SQRT1_2;
  assertAllClose(r.vectors, [s, s, -s, s], 0, 1e-15, '2x2 vectors'); // col 0 = (1,-1)/√2 (first entry wins the tie), col 1 = (1,1)/√2
  // diagonal input is returned sorted with unit vectors
  const d = eighSym([3, 0, 0, 0, -1, 0, 0, 0, 2], 3);
  assertAllClose(d.values, [-1, 2, 3], 0, 0);
  assertAllClose(d.vectors, [0, 0, 1, 1, 0, 0, 0, 1, 0], 0, 0);
  // values only
  assertAllClose(eighSym([2, 1, 1, 2], 2, { vectors: false }).values, [1, 3], 0, 1e-15);
  // zero matrix and n = 0
  assertAllClose(eighSym(new Float64Array(16), 4).values, [0, 0, 0, 0], 0, 0);
  const z = eighSym([], 0);
  assert.equal(z.values.length, 0);
  assert.equal(z.vectors.length, 0);
  // a 200 x 200 random symmetric matrix: residual and orthogonality
  const A = lcgSym(99, 200);
  const big = eighSym(A, 200);
  const { res, orth } = eigResiduals(A, big.values, big.vectors, 200);
  assert.ok(res < 1e-11 && orth < 1e-12, `n=200 residual ${res} orth ${orth}`);
  // trace and sum of eigenvalues agree
  let tr = 0;
  for (let i = 0; i < 200; i++) tr += A[i * 200 + i];
  assert.ok(Math.abs(big.values.reduce((x, y) => x + y, 0) - tr) < 1e-10);

  assertThrowsCode(() => eighSym([1, 2, 3], 2), 'E_SHAPE', /square \[2 x 2\]/);
  assertThrowsCode(() => eighSym([1, 2, 3, 4, 5, 6], 2), 'E_SHAPE');
  assertThrowsCode(() => eighSym([1, NaN, NaN, 1], 2), 'E_NONFINITE', /row 0, column 1/);
  assertThrowsCode(() => eighSym([1, Infinity, 0, 1], 2), 'E_NONFINITE');
  assertThrowsCode(() => eighSym([1, 2, 0, 1], 2), 'E_ARG', /not symmetric/);
  assertThrowsCode(() => eighSym([1], -1), 'E_ARG');
  assertThrowsCode(() => eighSym([1], 1.5), 'E_ARG');
  // tiny asymmetry (float32 Gram) passes; symmetryTol: Infinity symmetrises anything
  assert.doesNotThrow(() => eighSym([1, 0.5, 0.5 + 1e-9, 1], 2));
  assertAllClose(eighSym([1, 2, 0, 1], 2, { symmetryTol: Infinity }).values, [0, 2], 0, 1e-15);
});

function checkSvd(name: string, A: ArrayLike<number>, rows: number, cols: number, res: ReturnType<typeof svd>, tol: number): void {
  const r = Math.min(rows, cols);
  assert.equal(res.U.length, rows * r, `${name}: U shape`);
  assert.equal(res.Vt.length, r * cols, `${name}: Vt shape`);
  assert.equal(res.S.length, r, `${name}: S length`);
  for (let k = 1; k < r; k++) assert.ok(res.S[k] <= res.S[k - 1], `${name}: S descending`);
  const US = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) US[i * r + k] = res.U[i * r + k] * res.S[k];
  assertAllClose(mm(US, res.Vt, rows, r, cols), A, 0, tol, `${name}: U S Vt`);
  const UtU = mm(transpose(res.U, rows, r), res.U, r, rows, r);
  const VVt = mm(res.Vt, transpose(res.Vt, r, cols), r, cols, r);
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    assert.ok(Math.abs(UtU[i * r + j] - (i === j ? 1 : 0)) < 1e-13, `${name}: U orthonormal`);
    assert.ok(Math.abs(VVt[i * r + j] - (i === j ? 1 : 0)) < 1e-13, `${name}: Vt orthonormal`);
  }
}

test('svd matches numpy.linalg.svd on tall, wide, square and rank-deficient matrices', () => {
  for (const c of fx.svd) {
    const A = c.A ? Float64Array.from(c.A) : lcg(c.lcg, c.rows * c.cols);
    const res = svd(A, c.rows, c.cols);
    const r = Math.min(c.rows, c.cols);
    assertAllClose(res.S, c.S, 0, 1e-13 * c.S[0] * 10, `${c.name}: S`);
    assert.equal(res.rank, c.rank, `${c.name}: rank`);
    checkSvd(c.name, A, c.rows, c.cols, res, 1e-13);
    if (c.U) {
      // singular vectors vs numpy up to a joint sign, for the nonzero (distinct) singular values
      for (let k = 0; k < c.rank; k++) {
        let dot = 0;
        for (let j = 0; j < c.cols; j++) dot += res.Vt[k * c.cols + j] * c.Vt[k * c.cols + j];
        const sgn = dot < 0 ? -1 : 1;
        for (let j = 0; j < c.cols; j++) assert.ok(Math.abs(res.Vt[k * c.cols + j] - sgn * c.Vt[k * c.cols + j]) < 1e-11, `${c.name}: v${k}`);
        for (let i = 0; i < c.rows; i++) assert.ok(Math.abs(res.U[i * r + k] - sgn * c.U[i * r + k]) < 1e-11, `${c.name}: u${k}`);
      }
    }
    // the transpose gives the same singular values with U and V swapped
    const t = svd(transpose(A, c.rows, c.cols), c.cols, c.rows);
    assertAllClose(t.S, res.S, 0, 1e-13 * c.S[0] * 10, `${c.name}^T: S`);
    checkSvd(`${c.name}^T`, transpose(A, c.rows, c.cols), c.cols, c.rows, t, 1e-13);
  }
});

test('svd: small singular values are accurate (Jacobi polish); edge cases and bad input', () => {
  // A = H1 diag(s) H2 with s spanning 12 orders of magnitude: singular values known in closed form.
  const n = 8;
  const s = Array.from({ length: n }, (_, i) => 10 ** (-1.7 * i));
  const H1 = householder(5, n);
  const H2 = householder(6, n);
  const scaleCols = (M: Float64Array) => M.map((v, idx) => v * s[idx % n]);
  const scaleRows = (M: Float64Array) => M.map((v, idx) => v * s[Math.floor(idx / n)]);
  const A = mm(scaleCols(H1), H2, n, n, n);
  const res = svd(A, n, n);
  // absolute accuracy ~ eps * S[0] for every singular value (the input itself carries rounding of that size)
  for (let k = 0; k < n; k++) assert.ok(Math.abs(res.S[k] - s[k]) < 1e-14, `sigma ${k}: ${res.S[k]} vs ${s[k]}`);
  checkSvd('two-sided', A, n, n, res, 1e-14);
  // without the polish the small ones are lost to the squared condition number of the Gram matrix
  const raw = svd(A, n, n, { polish: false });
  assert.ok(Math.abs(raw.S[n - 1] - s[n - 1]) > 1e-14, 'plain Gram SVD should lose the smallest singular value');
  const US = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) US[i * n + k] = raw.U[i * n + k] * raw.S[k];
  assertAllClose(mm(US, raw.Vt, n, n, n), A, 0, 1e-14, 'polish:false still reconstructs A');
  // graded matrices (rows or columns scaled exactly): high relative accuracy
  for (const [name, G] of [['column-graded', scaleCols(H1)], ['row-graded', scaleRows(H1)]] as const) {
    const g = svd(G, n, n);
    for (let k = 0; k < n; k++) assert.ok(Math.abs(g.S[k] / s[k] - 1) < 1e-12, `${name} sigma ${k}: ${g.S[k]} vs ${s[k]}`);
  }
  // zero matrix: rank 0, still orthonormal factors
  const Z = svd(new Float64Array(12), 4, 3);
  assert.equal(Z.rank, 0);
  checkSvd('zero', new Float64Array(12), 4, 3, Z, 0);
  // single row / column and empty
  const row = svd([3, 4], 1, 2);
  assertAllClose(row.S, [5], 0, 1e-15);
  assertAllClose(row.Vt, [0.6, 0.8], 0, 1e-15);
  assertAllClose(row.U, [1], 0, 0);
  const e = svd([], 0, 5);
  assert.equal(e.S.length, 0);
  assert.equal(e.rank, 0);
  // float32 Matrix data works as input
  const M = randMatrix(7, 3, 1);
  checkSvd('float32 input', M.data, 7, 3, svd(M.data, 7, 3), 1e-12);
  assertThrowsCode(() => svd([1, 2, 3], 2, 2), 'E_SHAPE');
  assertThrowsCode(() => svd([1, NaN, 3, 4], 2, 2), 'E_NONFINITE', /row 0, column 1/);
  assertThrowsCode(() => svd([1], -1, -1), 'E_ARG');
});

test('cholesky and solves match numpy', () => {
  const c = fx.cholesky;
  assertAllClose(cholesky(c.A, c.n), c.L, 0, 1e-13, 'L');
  assertAllClose(solveSPD(c.A, c.n, c.b, c.r), c.x, 1e-11, 1e-12, 'solve');
  assertAllClose(choleskySolve(cholesky(c.A, c.n), c.n, c.b, c.r), c.x, 1e-11, 1e-12, 'choleskySolve');
  assert.equal(cholesky([], 0).length, 0);
  assertThrowsCode(() => cholesky([1, NaN, NaN, 1], 2), 'E_NONFINITE');
  assertThrowsCode(() => cholesky([1, 2, 2, 1], 2), 'E_ARG', /positive definite/);
  assertThrowsCode(() => cholesky([1, 2, 3], 2), 'E_SHAPE');
  assertThrowsCode(() => choleskySolve(new Float64Array(4), 2, [1, 2, 3], 1), 'E_SHAPE');
});

test('ridge matches scikit-learn Ridge (primal and dual, with and without intercept); alpha = 0 is lstsq', () => {
  for (const c of fx.ridge) {
    const X = new Matrix(c.n, c.d, Float32Array.from(c.X));
    const Y = new Matrix(c.n, c.t, Float32Array.from(c.Y));
    const r = ridge(X, Y, c.alpha, { fitIntercept: c.fitIntercept });
    // tolerance: the Gram matrix is accumulated from float32 GEMM blocks (relative error ~1e-7 times the condition number)
    const tol = c.alpha >= 0.1 ? 2e-5 : 2e-4;
    assertAllClose(r.W, c.W, tol, tol, `${c.name}: W`);
    assertAllClose(r.intercept, c.intercept, tol, tol, `${c.name}: intercept`);
    if (c.alpha === 0) {
      const l = lstsq(X, Y);
      assert.equal(l.rank, c.rank, `${c.name}: rank`);
      assertAllClose(l.W, c.W, 1e-9, 1e-9, `${c.name}: lstsq W vs numpy`);
      assertAllClose(l.W, c.sklearnW, 1e-8, 1e-8, `${c.name}: lstsq W vs sklearn LinearRegression`);
      assertAllClose(l.intercept, c.sklearnIntercept, 1e-8, 1e-8, `${c.name}: lstsq intercept vs sklearn`);
    }
  }
});

test('ridge: closed form, singular systems and bad input', () => {
  // one feature, no intercept: w = x.y / (x.x + alpha)
  const X = Matrix.from([[1], [2], [3]]);
  const Y = Matrix.from([[2], [3], [7]]);
  assertAllClose(ridge(X, Y, 1, { fitIntercept: false }).W, [(2 + 6 + 21) / (14 + 1)], 1e-12, 0);
  // duplicate column: alpha = 0 gives the minimum-norm solution (equal split), not an error
  const Xd = Matrix.from([[1, 1], [2, 2], [4, 4], [3, 3]]);
  const Yd = Matrix.from([[2], [4], [8], [6]]);
  const l = ridge(Xd, Yd, 0);
  assertAllClose(l.W, [1, 1], 1e-6, 1e-6, 'min-norm');
  assert.equal(lstsq(Xd, Yd).rank, 1);
  assertThrowsCode(() => ridge(X, Matrix.from([[1], [2]]), 1), 'E_SHAPE', /X has 3 rows, Y has 2/);
  assertThrowsCode(() => ridge(X, Y, -1), 'E_ARG', /alpha/);
  assertThrowsCode(() => ridge(X, Y, NaN), 'E_ARG', /alpha/);
  assertThrowsCode(() => ridge(Matrix.from([[1], [NaN], [3]]), Y, 1), 'E_NONFINITE', /X/);
  assertThrowsCode(() => ridge(new Matrix(0, 2), new Matrix(0, 1), 1), 'E_SHAPE', /no rows/);
});

test('crossProduct / rowGram equal float64 references over several blocks', () => {
  const A = randMatrix(300, 7, 3);
  const B = randMatrix(300, 4, 4);
  for (let i = 0; i < A.data.length; i++) A.data[i] += 1000; // a large mean: centring must not lose it
  const ma = columnMeans(A);
  const mb = columnMeans(B);
  const ref = new Float64Array(7 * 4);
  for (let t = 0; t < 300; t++) for (let i = 0; i < 7; i++) for (let j = 0; j < 4; j++) ref[i * 4 + j] += (A.get(t, i) - ma[i]) * (B.get(t, j) - mb[j]);
  assertAllClose(crossProduct(A, B, { meanA: ma, meanB: mb, block: 64 }), ref, 1e-5, 1e-4, 'crossProduct');
  const G = rowGram(A.rowSlice(0, 5), { meanA: ma, block: 3 });
  const refG = new Float64Array(25);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 7; k++) refG[i * 5 + j] += (A.get(i, k) - ma[k]) * (A.get(j, k) - ma[k]);
  assertAllClose(G, refG, 1e-5, 1e-4, 'rowGram');
  assertThrowsCode(() => crossProduct(A, randMatrix(3, 2)), 'E_SHAPE');
});

test('linearSumAssignment matches scipy.optimize.linear_sum_assignment', () => {
  for (const c of fx.assignment) {
    const { rowInd, colInd } = linearSumAssignment(c.cost, c.rows, c.cols, { maximize: c.maximize });
    assert.equal(rowInd.length, Math.min(c.rows, c.cols), c.name);
    assert.equal(new Set(rowInd).size, rowInd.length, `${c.name}: rows unique`);
    assert.equal(new Set(colInd).size, colInd.length, `${c.name}: cols unique`);
    for (let i = 1; i < rowInd.length; i++) assert.ok(rowInd[i] > rowInd[i - 1], `${c.name}: sorted by row`);
    let total = 0;
    for (let i = 0; i < rowInd.length; i++) total += c.cost[rowInd[i] * c.cols + colInd[i]];
    assert.ok(Math.abs(total - c.total) < 1e-9 * Math.max(1, Math.abs(c.total)), `${c.name}: total ${total} vs scipy ${c.total}`);
    if (!c.ties) {
      assert.deepEqual(Array.from(rowInd), c.rowInd, `${c.name}: rows`);
      assert.deepEqual(Array.from(colInd), c.colInd, `${c.name}: cols`);
    }
  }
});

test('spectralNormSquared matches np.linalg.norm(D, 2) ** 2', () => {
  for (const c of fx.spectral) {
    const D = new Matrix(c.rows, c.cols, Float32Array.from(lcg(c.lcg, c.rows * c.cols)));
    const v = spectralNormSquared(D);
    assert.ok(Math.abs(v - c.value) <= 1e-8 * c.value, `${c.rows}x${c.cols}: ${v} vs ${c.value}`);
    // and agrees with the largest squared singular value from svd
    assert.ok(Math.abs(svd(D.data, c.rows, c.cols).S[0] ** 2 - c.value) <= 1e-10 * c.value);
  }
});

test('svd: exactly rank-deficient square input (zero columns) converges and reconstructs', () => {
  const a = [1, 2, 0, 0, 3, 4, 5, 0, 0, 6, 7, 8, 0, 0, 9, 1, 0, 0, 0, 1, 2, 2, 0, 0, 2];
  const { U, S, Vt, rank } = svd(a, 5, 5);
  assert.equal(rank, 3);
  // singular values from numpy.linalg.svd
  const ref = [17.2329885, 1.17468014, 0.80264174];
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(S[i] - ref[i]) < 1e-6, `S[${i}] = ${S[i]}`);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) {
    let s = 0;
    for (let t = 0; t < 5; t++) s += U[i * 5 + t] * S[t] * Vt[t * 5 + j];
    assert.ok(Math.abs(s - a[i * 5 + j]) < 1e-10, `reconstruction at ${i},${j}`);
  }
});
