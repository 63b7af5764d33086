// The ReLU and JumpReLU SAEs' default sparsity settings (l1; l0, thresholdInit, bandwidth) must
// give a sensible L0 and recover the directions of a k-sparse world. With the old defaults
// (l1 1e-2; l0 1e-3, threshold 1e-3, bandwidth 1e-3) ReLU stayed at L0 ≈ 40 (matched |cos| ≈ 0.56)
// and JumpReLU at L0 ≈ 48 (|cos| ≈ 0.46) on this world, so this test fails with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { linearSumAssignment } from '../src/linalg/hungarian.js';
import { createSAE, resolveConfig, type SAEKind } from '../src/dictionary/index.js';

useBackend('js');

/** 64 unit-norm directions in dim 32, exactly k = 3 active per row with U(0,1) magnitudes. */
function world(seed: number, latents = 64, dim = 32, k = 3, n = 20000): { X: Matrix; A: Matrix } {
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

/** Mean |cos| between learned and true directions after Hungarian matching. */
function recovery(D: Matrix, A: Matrix): number {
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

test('defaults: ReLU l1 0.15; JumpReLU l0 0.02, threshold 0.05, bandwidth 0.05 (scaled input space)', () => {
  const r = resolveConfig('relu', { atoms: 8 });
  assert.equal(r.l1, 0.15);
  const j = resolveConfig('jumprelu', { atoms: 8 });
  assert.deepEqual([j.l0, j.thresholdInit, j.bandwidth], [0.02, 0.05, 0.05]);
});

// Only the sparsity settings are left at their defaults; the training budget is the TopK
// recovery test's (1580 steps), since 10 epochs of batch 1024 are only 200 steps on 20k rows.
for (const kind of ['relu', 'jumprelu'] as SAEKind[]) {
  test(`${kind} SAE with default sparsity settings: L0 within [1.5, 3k] and matched |cos| >= 0.88 on a 64-latent, k = 3 world`, async () => {
    const { X, A } = world(0);
    const sae = createSAE(kind, { atoms: 64, batch: 256, epochs: 20, lr: 3e-3 });
    const res = await sae.fit(X, { seed: 0 });
    const Z = sae.encode(X.rowSlice(0, 2000));
    let nnz = 0;
    for (const v of Z.data) if (v !== 0) nnz++;
    const l0 = nnz / 2000;
    const rec = recovery(sae.getWeights().W_dec, A);
    console.log(`${kind}: train L0 ${res.l0.toFixed(2)}, eval L0 ${l0.toFixed(2)}, FVU ${res.fvu.toFixed(3)}, mean matched |cos| ${rec.toFixed(3)}`);
    assert.ok(l0 >= 1.5 && l0 <= 9, `${kind}: L0 ${l0} outside [1.5, 9] (k = 3)`);
    assert.ok(res.fvu < 0.15, `${kind}: FVU ${res.fvu}`);
    assert.ok(rec >= 0.88, `${kind}: mean matched |cos| ${rec} < 0.88`);
  });
}
