// eighSym / svd through LAPACK (native backend: OpenBLAS dsyevd / dgesdd) against NumPy's
// fixtures (test/fixtures/linalg/gen.py) and against the JavaScript routines (the reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backendLoadError, getBackend, loadBackends } from '../src/backend/index.js';
import type { Backend } from '../src/backend/types.js';
import { eighSym, svd } from '../src/linalg/index.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });
const native = getBackend('native');
const skip = !native
  ? `native backend not loaded: ${backendLoadError('native') ?? 'build it with: node scripts/build-native.mjs'}`
  : !native.symEig || !native.svdThin
    ? 'this OpenBLAS has no dsyevd/dgesdd'
    : false;

const fx = JSON.parse(readFileSync(new URL('./fixtures/linalg/linalg.json', import.meta.url), 'utf8'));

/** MINSTD, bit-identical to gen.py's lcg. */
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
function eighInput(c: any): Float64Array {
  if (c.A) return Float64Array.from(c.A);
  const n = c.n;
  if (c.lcgSym !== undefined) {
    const b = lcg(c.lcgSym, n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    return a;
  }
  const v = lcg(c.householder, n);
  let vv = 0;
  for (const x of v) vv += x * x;
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv;
  const HD = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) HD[i * n + j] = H[i * n + j] * c.diag[j];
  return mm(HD, H, n, n, n);
}
/** Columns cols of V [n x m] as a projector. */
function projector(V: ArrayLike<number>, n: number, m: number, cols: number[]): Float64Array {
  const P = new Float64Array(n * n);
  for (const c of cols) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) P[i * n + j] += V[i * m + c] * V[j * m + c];
  return P;
}
function clusters(w: ArrayLike<number>, tol: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < w.length; i++) {
    if (i > 0 && Math.abs(w[i] - w[i - 1]) <= tol) out[out.length - 1].push(i);
    else out.push([i]);
  }
  return out;
}
/** A backend whose symEig / svdThin count their calls. */
function counting(b: Backend): { bk: Backend; calls: { eig: number; svd: number } } {
  const calls = { eig: 0, svd: 0 };
  const bk: Backend = {
    ...b,
    symEig: (a, n, w, v) => (calls.eig++, b.symEig!(a, n, w, v)),
    svdThin: (a, r, c, u, s, vt) => (calls.svd++, b.svdThin!(a, r, c, u, s, vt)),
  };
  return { bk, calls };
}
function checkEigen(name: string, A: Float64Array, n: number, values: Float64Array, V: Float64Array, scale: number): void {
  for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1], `${name}: ascending`);
  const AV = mm(A, V, n, n, n);
  let res = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) res = Math.max(res, Math.abs(AV[i * n + j] - V[i * n + j] * values[j]));
  assert.ok(res < 1e-12 * scale * n, `${name}: residual ${res}`);
  const VtV = mm(transpose(V, n, n), V, n, n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(VtV[i * n + j] - (i === j ? 1 : 0)) < 1e-13 * n, `${name}: orthonormal`);
  // the documented sign convention: each column's largest-magnitude entry is positive
  for (let j = 0; j < n; j++) {
    let bi = 0;
    for (let i = 1; i < n; i++) if (Math.abs(V[i * n + j]) > Math.abs(V[bi * n + j]) * (1 + 1e-12)) bi = i;
    assert.ok(V[bi * n + j] > 0, `${name}: sign of column ${j}`);
  }
}

test('eighSym through LAPACK dsyevd matches numpy.linalg.eigh and the JavaScript routine', { skip }, () => {
  const cases = fx.eigh.filter((c: any) => c.n >= 16);
  assert.ok(cases.length >= 2, 'the fixture has cases with n >= 16');
  for (const c of cases) {
    const n = c.n;
    const A = eighInput(c);
    const { bk, calls } = counting(native!);
    const lap = eighSym(A, n, { backend: bk });
    assert.equal(calls.eig, 1, `${c.name}: LAPACK was used`);
    const ref = eighSym(A, n, { lapack: false });
    const scale = Math.max(1, ...c.values.map(Math.abs));
    assertAllClose(lap.values, c.values, 0, 1e-12 * scale * n, `${c.name}: values vs NumPy`);
    assertAllClose(lap.values, ref.values, 0, 1e-12 * scale * n, `${c.name}: values vs JavaScript`);
    checkEigen(c.name, A, n, lap.values, lap.vectors, scale);
    if (!c.repeated) {
      if (c.vectors) assertAllClose(lap.vectors, c.vectors, 0, 1e-11, `${c.name}: vectors vs NumPy`);
      assertAllClose(lap.vectors, ref.vectors, 0, 1e-10, `${c.name}: vectors vs JavaScript`);
    } else {
      for (const g of clusters(c.values, 1e-6 * scale)) {
        assertAllClose(projector(lap.vectors, n, n, g), projector(ref.vectors, n, n, g), 0, 1e-10, `${c.name}: eigenspace ${g}`);
      }
    }
    // values only
    const vo = eighSym(A, n, { backend: bk, vectors: false });
    assert.equal(vo.vectors.length, 0);
    assertAllClose(vo.values, lap.values, 0, 1e-12 * scale * n, `${c.name}: values-only`);
  }
});

test('eighSym through LAPACK: a random 120 x 120 matrix agrees with the JavaScript routine; small n and lapack: false stay in JavaScript', { skip }, () => {
  const n = 120;
  const b = lcg(7, n * n);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = b[i * n + j] + b[j * n + i];
  const { bk, calls } = counting(native!);
  const lap = eighSym(Float32Array.from(A), n, { backend: bk });
  const ref = eighSym(Float32Array.from(A), n, { lapack: false });
  assert.equal(calls.eig, 1);
  assertAllClose(lap.values, ref.values, 0, 1e-12 * n, 'values');
  assertAllClose(lap.vectors, ref.vectors, 0, 1e-9, 'vectors (distinct eigenvalues: same up to the sign convention)');
  checkEigen('random 120', Float64Array.from(Float32Array.from(A)), n, lap.values, lap.vectors, 10);
  eighSym(A, n, { backend: bk, lapack: false });
  const small = new Float64Array(100); // the leading 10 x 10 block (symmetric)
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) small[i * 10 + j] = A[i * n + j];
  eighSym(small, 10, { backend: bk });
  assert.equal(calls.eig, 1, 'lapack: false and n < 16 do not call LAPACK');
});

function checkSvd(name: string, A: ArrayLike<number>, rows: number, cols: number, res: ReturnType<typeof svd>, tol: number): void {
  const r = Math.min(rows, cols);
  assert.equal(res.U.length, rows * r, `${name}: U shape`);
  assert.equal(res.Vt.length, r * cols, `${name}: Vt shape`);
  for (let k = 1; k < r; k++) assert.ok(res.S[k] <= res.S[k - 1], `${name}: S descending`);
  const US = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) US[i * r + k] = res.U[i * r + k] * res.S[k];
  assertAllClose(mm(US, res.Vt, rows, r, cols), A, 0, tol, `${name}: U S Vt`);
  const UtU = mm(transpose(res.U, rows, r), res.U, r, rows, r);
  const VVt = mm(res.Vt, transpose(res.Vt, r, cols), r, cols, r);
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    assert.ok(Math.abs(UtU[i * r + j] - (i === j ? 1 : 0)) < 1e-12, `${name}: U orthonormal`);
    assert.ok(Math.abs(VVt[i * r + j] - (i === j ? 1 : 0)) < 1e-12, `${name}: Vt orthonormal`);
  }
  // sign convention: the largest-magnitude entry of each row of Vt is positive
  for (let k = 0; k < r; k++) {
    let bj = 0;
    for (let j = 1; j < cols; j++) if (Math.abs(res.Vt[k * cols + j]) > Math.abs(res.Vt[k * cols + bj]) * (1 + 1e-12)) bj = j;
    assert.ok(res.Vt[k * cols + bj] > 0, `${name}: sign of v${k}`);
  }
}

test('svd through LAPACK dgesdd matches numpy.linalg.svd and the JavaScript routine (tall, wide, rank-deficient)', { skip }, () => {
  const cases = fx.svd.filter((c: any) => Math.min(c.rows, c.cols) >= 16);
  assert.ok(cases.length >= 1, 'the fixture has a case with min(rows, cols) >= 16');
  for (const c of cases) {
    const A = c.A ? Float64Array.from(c.A) : lcg(c.lcg, c.rows * c.cols);
    for (const [name, M, rows, cols] of [[c.name, A, c.rows, c.cols], [`${c.name}^T`, transpose(A, c.rows, c.cols), c.cols, c.rows]] as const) {
      const { bk, calls } = counting(native!);
      const lap = svd(M, rows, cols, { backend: bk });
      assert.equal(calls.svd, 1, `${name}: LAPACK was used`);
      assertAllClose(lap.S, c.S, 0, 1e-12 * c.S[0], `${name}: S vs NumPy`);
      assert.equal(lap.rank, c.rank, `${name}: rank`);
      checkSvd(name, M, rows, cols, lap, 1e-12);
      const ref = svd(M, rows, cols, { lapack: false });
      assertAllClose(lap.U, ref.U, 0, 1e-9, `${name}: U vs JavaScript`);
      assertAllClose(lap.Vt, ref.Vt, 0, 1e-9, `${name}: Vt vs JavaScript`);
    }
  }
  // rank-deficient 90 x 50 of rank 20: same S and rank as the JavaScript routine; the rows past
  // the rank are an orthonormal completion (any basis of the null space), compared as a projector
  const rows = 90, cols = 50, rk = 20;
  const A = mm(lcg(3, rows * rk), lcg(4, rk * cols), rows, rk, cols);
  const { bk, calls } = counting(native!);
  const lap = svd(A, rows, cols, { backend: bk });
  const ref = svd(A, rows, cols, { lapack: false });
  assert.equal(calls.svd, 1);
  assert.equal(lap.rank, rk);
  assert.equal(ref.rank, rk);
  assertAllClose(lap.S, ref.S, 0, 1e-12 * ref.S[0], 'rank 20: S');
  checkSvd('rank 20', A, rows, cols, lap, 1e-12);
  assertAllClose(lap.Vt.subarray(0, rk * cols), ref.Vt.subarray(0, rk * cols), 0, 1e-9, 'rank 20: leading Vt');
  const top = Array.from({ length: rk }, (_, i) => i);
  assertAllClose(projector(transpose(lap.Vt, 50, cols), cols, 50, top), projector(transpose(ref.Vt, 50, cols), cols, 50, top), 0, 1e-9);
});

test('native symEig / svdThin: short buffers and wrong types throw instead of touching memory', { skip }, () => {
  const b = native!;
  assert.throws(() => b.symEig!(new Float64Array(8), 3, new Float64Array(3), true), /a has 8 elements, needs at least 9/);
  assert.throws(() => b.symEig!(new Float64Array(9), 3, new Float64Array(2), true), /w has 2 elements/);
  assert.throws(() => b.symEig!(new Float32Array(9) as unknown as Float64Array, 3, new Float64Array(3), true), /must be a Float64Array/);
  assert.throws(() => b.svdThin!(new Float64Array(6), 2, 3, new Float64Array(3), new Float64Array(2), new Float64Array(6)), /u has 3 elements, needs at least 4/);
  assert.throws(() => b.svdThin!(new Float64Array(6), 2, 3, new Float64Array(4), new Float64Array(2), new Float64Array(5)), /vt has 5 elements/);
  assert.equal(b.symEig!(new Float64Array(0), 0, new Float64Array(0), true), 0);
  // 2 x 2 closed form through the raw call: eigenvalues 1, 3 with rows (1, -1)/√2, (1, 1)/√2 up to sign
  const a = new Float64Array([2, 1, 1, 2]);
  const w = new Float64Array(2);
  assert.equal(b.symEig!(a, 2, w, true), 0);
  assertAllClose(w, [1, 3], 0, 1e-15);
  assertAllClose([Math.abs(a[0]), Math.abs(a[1]), Math.abs(a[2]), Math.abs(a[3])], [Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2], 0, 1e-15);
  assert.ok(a[0] * a[1] < 0 && a[2] * a[3] > 0, 'row 0 is the eigenvector of 1, row 1 that of 3');
});
