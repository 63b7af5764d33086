import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { fitWhitening, whiteningFromJSON, Whitening, fitCenter, fitScale, columnTransformFromJSON } from '../src/preprocess/index.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

// NumPy fixture from test/fixtures/linalg/gen.py: correlated float32 data with large offsets.
const wf = JSON.parse(readFileSync(new URL('./fixtures/linalg/whiten.json', import.meta.url), 'utf8'));
const X = new Matrix(wf.n, wf.d, Float32Array.from(wf.X));

/** (1/n) A^T A in float64 for A [n x d]. */
function secondMoment(A: Matrix): Float64Array {
  const { rows: n, cols: d } = A;
  const S = new Float64Array(d * d);
  for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) {
    const a = A.data[t * d + i];
    for (let j = 0; j < d; j++) S[i * d + j] += a * A.data[t * d + j];
  }
  return S.map((v) => v / n);
}
function covariance(A: Matrix): Float64Array {
  const { rows: n, cols: d } = A;
  const mu = new Float64Array(d);
  for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) mu[j] += A.data[t * d + j] / n;
  const C = new Matrix(n, d);
  for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) C.data[t * d + j] = A.data[t * d + j] - mu[j];
  return secondMoment(C);
}
function identity(d: number): Float64Array {
  const I = new Float64Array(d * d);
  for (let i = 0; i < d; i++) I[i * d + i] = 1;
  return I;
}
function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}

test('whitening matches the NumPy fixture (mean, eigenvalues, W, Winv, whitened rows) for PCA and ZCA', () => {
  for (const c of wf.cases) {
    const w = fitWhitening(X, { method: c.method, eps: c.eps, epsMode: c.epsMode });
    const tag = `${c.method} eps=${c.eps} ${c.epsMode}`;
    assert.equal(w.method, c.method);
    assert.equal(w.eps, c.eps);
    assertAllClose(w.mean, c.mean, 0, 0, `${tag}: mean (float32)`);
    assertAllClose(w.eigenvalues, c.eigenvalues, 1e-6, 1e-9, `${tag}: eigenvalues`);
    assert.ok(Math.abs(w.epsAbs - c.epsAbs) <= 1e-6 * c.epsAbs, `${tag}: epsAbs`);
    assertAllClose(w.transformMatrix().data, c.W, 1e-4, 1e-5, `${tag}: W`);
    assertAllClose(w.inverseMatrix().data, c.Winv, 1e-4, 1e-5, `${tag}: Winv`);
    assertAllClose(w.apply(X.rowSlice(0, 5)).data, c.Xw5, 1e-4, 1e-4, `${tag}: whitened rows`);
  }
});

test('whitened covariance is the identity (up to the eps shrinkage), ZCA is symmetric and closest to the data', () => {
  const d = wf.d;
  const I = identity(d);
  for (const method of ['pca', 'zca'] as const) {
    // eps = 0 (all eigenvalues positive here): exactly white
    const w0 = fitWhitening(X, { method, eps: 0 });
    assertAllClose(secondMoment(w0.apply(X)), I, 0, 2e-4, `${method}, eps=0: (1/n) Xw^T Xw`);
    assertAllClose(covariance(w0.apply(X)), I, 0, 2e-4, `${method}, eps=0: cov(Xw)`);
    // default eps: covariance = E diag(l / (l + eps)) E^T (PCA: the diagonal itself)
    const w = fitWhitening(X, { method });
    const shrink = Array.from(w.eigenvalues, (l) => l / (l + w.epsAbs));
    const E = w.eigenvectors;
    const expect = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      if (method === 'pca') expect[i * d + j] = i === j ? shrink[i] : 0;
      else for (let k = 0; k < d; k++) expect[i * d + j] += E[i * d + k] * shrink[k] * E[j * d + k];
    }
    assertAllClose(covariance(w.apply(X)), expect, 0, 2e-4, `${method}: covariance with eps`);
    // W Winv = I
    assertAllClose(matmul64(w.transformMatrix().data, w.inverseMatrix().data, d, d, d), I, 0, 1e-5, `${method}: W Winv`);
  }
  const zca = fitWhitening(X, { method: 'zca' });
  const pca = fitWhitening(X, { method: 'pca' });
  const Wz = zca.transformMatrix();
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.equal(Wz.get(i, j), Wz.get(j, i), 'ZCA W symmetric');
  // ZCA = the whitening closest to the centred data: any other whitening (Wz R, R orthogonal) is farther
  const dist = (Xw: Matrix) => {
    let s = 0;
    for (let t = 0; t < X.rows; t++) for (let j = 0; j < d; j++) s += (Xw.get(t, j) - (X.get(t, j) - zca.mean[j])) ** 2;
    return s;
  };
  const dz = dist(zca.apply(X));
  assert.ok(dz < dist(pca.apply(X)), 'ZCA closer than PCA');
  const rng = new Rng(3);
  for (let trial = 0; trial < 5; trial++) {
    const v = Float64Array.from({ length: d }, () => rng.normal());
    const vv = v.reduce((a, b) => a + b * b, 0);
    const R = new Float64Array(d * d).map((_, idx) => (Math.floor(idx / d) === idx % d ? 1 : 0) - (2 * v[Math.floor(idx / d)] * v[idx % d]) / vv);
    const Xr = new Matrix(X.rows, d, Float32Array.from(matmul64(zca.apply(X).data, R, X.rows, d, d)));
    assert.ok(dz < dist(Xr), `ZCA closer than a rotated whitening (trial ${trial})`);
  }
});

test('apply and invert are inverse maps; JSON round trip is exact', () => {
  for (const method of ['pca', 'zca'] as const) {
    for (const center of [true, false]) {
      const w = fitWhitening(X, { method, center });
      if (!center) assertAllClose(w.mean, new Float32Array(wf.d), 0, 0, 'no centring: zero mean');
      const back = w.invert(w.apply(X));
      assertAllClose(back.data, X.data, 1e-5, 1e-3, `${method} center=${center}: invert(apply(X))`);
      const Z = randMatrix(20, wf.d, 9);
      assertAllClose(w.apply(w.invert(Z)).data, Z.data, 1e-4, 1e-4, `${method} center=${center}: apply(invert(Z))`);
      const json = JSON.parse(JSON.stringify(w.toJSON()));
      const w2 = whiteningFromJSON(json);
      assert.ok(w2 instanceof Whitening);
      assert.deepEqual(Array.from(w2.transformMatrix().data), Array.from(w.transformMatrix().data), 'same W after JSON');
      assert.deepEqual(Array.from(w2.inverseMatrix().data), Array.from(w.inverseMatrix().data), 'same Winv after JSON');
      assert.deepEqual(Array.from(Whitening.fromJSON(json).apply(X).data), Array.from(w.apply(X).data));
      assert.equal(w2.center, center);
    }
  }
  // apply into a given buffer and across several row blocks
  const big = randMatrix(5000, 3, 4);
  const w = fitWhitening(big, { method: 'zca' });
  const out = new Matrix(5000, 3);
  assert.equal(w.apply(big, { out }), out);
  assertAllClose(covariance(out), identity(3), 0, 1e-3, 'large input: covariance');
});

test('rank-deficient data, eps modes and bad input', () => {
  // n < d: eigenvalues 0 in d - n + 1 directions; the relative eps keeps everything finite
  const few = randMatrix(4, 10, 5);
  const w = fitWhitening(few, { method: 'pca' });
  const Xw = w.apply(few);
  assert.ok(Xw.data.every(Number.isFinite));
  assertAllClose(w.invert(Xw).data, few.data, 1e-4, 1e-4, 'rank-deficient invert');
  assertThrowsCode(() => fitWhitening(few, { method: 'pca', eps: 0 }), 'E_ARG', /eps must be > 0/);
  // absolute eps is used as is
  const a = fitWhitening(X, { method: 'pca', eps: 0.5, epsMode: 'absolute' });
  assert.equal(a.epsAbs, 0.5);
  // constant data: relative eps has nothing to be relative to
  const flat = new Matrix(5, 2, new Float32Array(10).fill(3));
  assertThrowsCode(() => fitWhitening(flat, { method: 'zca' }), 'E_DATA', /zero variance/);
  assert.ok(fitWhitening(flat, { method: 'zca', eps: 1, epsMode: 'absolute' }).apply(flat).data.every((v) => v === 0));

  assertThrowsCode(() => fitWhitening(X, { method: 'svd' as any }), 'E_ARG', /method/);
  assertThrowsCode(() => fitWhitening(X, { method: 'pca', eps: -1 }), 'E_ARG', /eps/);
  assertThrowsCode(() => fitWhitening(X, { method: 'pca', eps: NaN }), 'E_ARG', /eps/);
  assertThrowsCode(() => fitWhitening(X, { method: 'pca', epsMode: 'rel' as any }), 'E_ARG', /epsMode/);
  assertThrowsCode(() => fitWhitening(new Matrix(0, 3), { method: 'pca' }), 'E_SHAPE', /at least one sample/);
  assertThrowsCode(() => fitWhitening(new Matrix(3, 0), { method: 'pca' }), 'E_SHAPE');
  const nan = X.clone();
  nan.set(7, 2, NaN);
  assertThrowsCode(() => fitWhitening(nan, { method: 'zca' }), 'E_NONFINITE', /row 7, column 2/);
  const ok = fitWhitening(X, { method: 'zca' });
  assertThrowsCode(() => ok.apply(randMatrix(3, 5)), 'E_SHAPE', /5 columns.*fitted on 6/);
  assertThrowsCode(() => ok.invert(randMatrix(3, 5)), 'E_SHAPE');
  assertThrowsCode(() => ok.apply(nan), 'E_NONFINITE');
  assertThrowsCode(() => ok.apply(X, { out: new Matrix(2, 6) }), 'E_SHAPE');
  assertThrowsCode(() => whiteningFromJSON({}), 'E_FORMAT');
  assertThrowsCode(() => whiteningFromJSON({ ...ok.toJSON(), eigenvalues: [1] }), 'E_FORMAT', /eigenvalues/);
  assertThrowsCode(() => whiteningFromJSON({ ...ok.toJSON(), method: 'foo' }), 'E_FORMAT', /method/);
  assertThrowsCode(() => whiteningFromJSON(null), 'E_FORMAT');
});

test('fitCenter and fitScale: closed forms, zero-variance columns, JSON, bad input', () => {
  const A = Matrix.from([[1, 10, 5], [3, 10, 7], [5, 10, 9], [7, 10, 3]]);
  const c = fitCenter(A);
  assertAllClose(c.mean, [4, 10, 6], 0, 0);
  assertAllClose(c.apply(A).data, [-3, 0, -1, -1, 0, 1, 1, 0, 3, 3, 0, -3], 0, 0);
  const s = fitScale(A);
  const sd0 = Math.sqrt((9 + 1 + 1 + 9) / 4);
  const sd2 = Math.sqrt((1 + 1 + 9 + 9) / 4);
  assertAllClose(s.scale, [sd0, 1, sd2], 1e-6, 0, 'population std; constant column keeps scale 1');
  const Z = s.apply(A);
  assertAllClose(Z.data.slice(0, 3), [-3 / sd0, 0, -1 / sd2], 1e-6, 0);
  assertAllClose(s.invert(Z).data, A.data, 1e-6, 1e-6, 'invert');
  const noC = fitScale(A, { center: false });
  assertAllClose(noC.mean, [0, 0, 0], 0, 0);
  assertAllClose(noC.scale, [Math.sqrt((1 + 9 + 25 + 49) / 4), 10, Math.sqrt((25 + 49 + 81 + 9) / 4)], 1e-6, 0);
  const rt = columnTransformFromJSON(JSON.parse(JSON.stringify(s.toJSON())));
  assert.deepEqual(Array.from(rt.apply(A).data), Array.from(Z.data));
  // in place
  const B = A.clone();
  s.apply(B, B);
  assert.deepEqual(Array.from(B.data), Array.from(Z.data));
  assertThrowsCode(() => fitCenter(new Matrix(0, 2)), 'E_SHAPE');
  assertThrowsCode(() => fitScale(Matrix.from([[1, NaN]])), 'E_NONFINITE');
  assertThrowsCode(() => s.apply(randMatrix(2, 2)), 'E_SHAPE');
  assertThrowsCode(() => columnTransformFromJSON({ format: 'x' }), 'E_FORMAT');
});
