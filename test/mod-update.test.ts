import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { availableBackends, getBackend, loadBackends } from '../src/backend/index.js';
import { solveSPD } from '../src/linalg/cholesky.js';
import { ModSolver } from '../src/dictionary/mod.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });

/** (ZᵀZ + rI)⁻¹ZᵀX in float64, the primal formula written out */
function referenceMod(Z: Matrix, X: Matrix, ridge: number): Float64Array {
  const n = Z.rows, a = Z.cols, d = X.cols;
  const A = new Float64Array(a * a), B = new Float64Array(a * d);
  for (let i = 0; i < n; i++) for (let p = 0; p < a; p++) {
    const zp = Z.data[i * a + p];
    if (zp === 0) continue;
    for (let q = 0; q < a; q++) A[p * a + q] += zp * Z.data[i * a + q];
    for (let c = 0; c < d; c++) B[p * d + c] += zp * X.data[i * d + c];
  }
  for (let p = 0; p < a; p++) A[p * a + p] += ridge;
  return solveSPD(A, a, B, d);
}

/** codes with `perRow` nonzeros per row (every atom used), data with noise */
function problem(samples: number, atoms: number, dim: number, perRow: number, seed: number) {
  const rng = new Rng(seed);
  const Z = new Matrix(samples, atoms);
  for (let i = 0; i < samples; i++) {
    Z.data[i * atoms + (i % atoms)] = 0.5 + rng.uniform();
    for (const j of rng.choice(atoms, perRow - 1)) Z.data[i * atoms + j] += rng.uniform();
  }
  const X = new Matrix(samples, dim);
  rng.fillNormal(X.data);
  return { Z, X };
}

test('MOD update equals (ZᵀZ + rI)⁻¹ZᵀX: primal and dual forms, Gram from the nonzeros or the GEMM, every backend', () => {
  for (const name of availableBackends()) {
    const b = getBackend(name)!;
    // [samples, atoms, dim, nonzeros per row, expect the sparse path]
    for (const [n, a, d, k, sparse] of [[300, 80, 12, 3, true], [120, 40, 9, 30, false], [40, 200, 10, 3, true], [30, 60, 7, 50, false]] as const) {
      const { Z, X } = problem(n, a, d, k, n * 7 + a);
      const ridge = 1e-3;
      const m = new ModSolver(n, a, d, ridge);
      assert.equal(m.dual, a > n);
      const out = new Matrix(a, d);
      assert.equal(m.update(Z, X, out, b), true);
      assert.equal(m.sparseUpdates, sparse ? 1 : 0, `${name} [${n} x ${a}] k=${k}: sparse path`);
      const ref = referenceMod(Z, X, ridge);
      // float32 GEMM statistics on the dense path: looser
      const tol = sparse ? 2e-5 : 2e-3;
      assertAllClose(out.data, Float32Array.from(ref), tol, tol, `${name} MOD [${n} samples x ${a} atoms], ${k} per row`);
      // the objective of the codes under a dictionary, against a direct sum
      const D = new Matrix(a, d, Float32Array.from(ref));
      let sse = 0, l1 = 0, nnz = 0;
      for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) {
        let r = -X.data[i * d + c];
        for (let j = 0; j < a; j++) r += Z.data[i * a + j] * D.data[j * d + c];
        sse += r * r;
      }
      for (const v of Z.data) if (v !== 0) { nnz++; l1 += Math.abs(v); }
      const got = m.loss(Z, D, X, 0.1, b);
      assert.ok(Math.abs(got.loss - (0.5 * sse + 0.1 * l1) / n) <= 1e-4 * got.loss, `${name} loss ${got.loss}`);
      assert.equal(got.l0, nnz / n);
    }
  }
});

test('MOD update reports a singular system (an unused atom, no ridge) and bad shapes', () => {
  const { Z, X } = problem(50, 20, 5, 2, 3);
  for (let i = 0; i < 50; i++) Z.data[i * 20 + 7] = 0;
  assert.equal(new ModSolver(50, 20, 5, 0).update(Z, X, new Matrix(20, 5)), false);
  assert.equal(new ModSolver(50, 20, 5, 1e-6).update(Z, X, new Matrix(20, 5)), true);
  assert.throws(() => new ModSolver(50, 20, 5, 0).update(Z, X, new Matrix(5, 20)), /out is \[5 x 20\], expected \[20 x 5\]/);
  assert.throws(() => new ModSolver(50, 20, 5, -1), /ridge must be a finite number >= 0/);
  const nan = Z.clone();
  nan.data[3] = NaN;
  assert.equal(new ModSolver(50, 20, 5, 1e-6).update(nan, X, new Matrix(20, 5)), false);
});
