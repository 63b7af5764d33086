import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { loadBackends } from '../src/backend/index.js';
import { fista } from '../src/inference/index.js';
import { cholesky, choleskyInPlace, solveSPD } from '../src/linalg/cholesky.js';
import { spectralNormSquared } from '../src/linalg/power.js';
import { lipschitzViaGram, learnDictionaryFista } from '../src/dictionary/dl-fista.js';
import { normalizeRows, randomUnitRows } from '../src/linalg/rows.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });

/** DL-FISTA's outer loop written out with the primal MOD solve (ZᵀZ + rI)⁻¹ZᵀX in float64. */
function referenceDl(X: Matrix, D0: Matrix, o: { lambda: number; iters: number; outer: number; ridge: number; seed: number }): Matrix {
  const redraw = new Rng(o.seed).fork('redraw');
  const a = D0.rows, d = X.cols, n = X.rows;
  let D = D0.clone();
  let Z: Matrix | undefined;
  for (let t = 0; t < o.outer; t++) {
    Z = fista(X, D, { lambda: o.lambda, iters: o.iters, tol: 0, nonneg: true, init: Z }).Z;
    const A = new Float64Array(a * a);
    const B = new Float64Array(a * d);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < a; p++) {
        const zp = Z.data[i * a + p];
        if (zp === 0) continue;
        for (let q = 0; q < a; q++) A[p * a + q] += zp * Z.data[i * a + q];
        for (let c = 0; c < d; c++) B[p * d + c] += zp * X.data[i * d + c];
      }
    }
    for (let p = 0; p < a; p++) A[p * a + p] += o.ridge;
    const sol = solveSPD(A, a, B, d);
    D = new Matrix(a, d, Float32Array.from(sol));
    normalizeRows(D, { redraw, eps: 1e-10 });
  }
  return D;
}

test('DL-FISTA MOD update: primal (atoms <= samples) and push-through dual (atoms > samples) equal the primal reference', async () => {
  const rng = new Rng(5);
  for (const [n, d, atoms] of [[60, 8, 20], [24, 8, 40]]) {
    // sparse non-negative data from a hidden dictionary, so every atom gets used
    const truth = randomUnitRows(atoms, d, rng);
    const X = new Matrix(n, d);
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < 3; s++) {
        const j = rng.int(atoms);
        const c = 0.5 + rng.uniform();
        for (let k = 0; k < d; k++) X.data[i * d + k] += c * truth.data[j * d + k];
      }
    }
    const D0 = randomUnitRows(atoms, d, rng);
    const o = { lambda: 0.05, iters: 30, outer: 4, ridge: 1e-3, seed: 9 };
    const ref = referenceDl(X, D0, o);
    const r = await learnDictionaryFista(X, { atoms, lambda: o.lambda, fistaIters: o.iters, maxOuter: o.outer, tol: 0, ridge: o.ridge, nonneg: true, init: D0, seed: o.seed });
    assert.equal(r.iterations, o.outer);
    assertAllClose(r.D.data, ref.data, 2e-4, 2e-4, `D (${n} samples, ${atoms} atoms)`);
  }
});

test('choleskyInPlace (blocked) equals the column-form Cholesky across block edges; reports the failing pivot', () => {
  const rng = new Rng(2);
  for (const [n, nb] of [[1, 48], [47, 48], [48, 48], [130, 48], [97, 16], [60, 7]]) {
    const k = n + 5;
    const B = new Float64Array(n * k);
    rng.fillNormal(B);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += B[i * k + t] * B[j * k + t];
        A[i * n + j] = A[j * n + i] = s;
      }
      A[i * n + i] += 0.1;
    }
    const ref = cholesky(A, n);
    const L = A.slice();
    assert.equal(choleskyInPlace(L, n, nb), -1);
    const lower = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) lower[i * n + j] = L[i * n + j];
    assertAllClose(lower, ref, 1e-10, 1e-12, `L (n = ${n}, nb = ${nb})`);
    // the strict upper triangle is left alone
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(L[i * n + j], A[i * n + j]);
  }
  // not positive definite: pivot 2 of diag(1, 1, -1, 1)
  const bad = new Float64Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1]);
  assert.equal(choleskyInPlace(bad, 4, 2), 2);
  assert.equal(choleskyInPlace(new Float64Array([NaN]), 1), 0);
});

test('lipschitzViaGram equals spectralNormSquared (tall, wide and rank-one dictionaries)', () => {
  const rng = new Rng(4);
  for (const [a, d] of [[300, 20], [20, 45], [64, 64], [1, 7]]) {
    const D = new Matrix(a, d);
    rng.fillNormal(D.data);
    const G = new Float64Array(Math.min(a, d) ** 2);
    const got = lipschitzViaGram(D, G);
    const want = spectralNormSquared(D);
    assert.ok(Math.abs(got - want) <= 1e-8 * want, `${a}x${d}: ${got} vs ${want}`);
  }
  // rank one: ‖u vᵀ‖² = ‖u‖²‖v‖²
  const u = [1, 2, 2], v = [3, 4];
  const R = Matrix.from(u.map((x) => v.map((y) => x * y)));
  assertAllClose([lipschitzViaGram(R, new Float64Array(4))], [9 * 25], 1e-10, 0);
});
