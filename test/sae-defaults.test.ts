// The ReLU and JumpReLU SAEs' default sparsity settings (l1; l0, thresholdInit, bandwidth) must
// give a sensible L0 and recover the directions of a k-sparse world. With the old defaults
// (l1 1e-2; l0 1e-3, threshold 1e-3, bandwidth 1e-3) ReLU stayed at L0 ≈ 40 (matched |cos| ≈ 0.56)
// and JumpReLU at L0 ≈ 48 (|cos| ≈ 0.46) on this world, so this test fails with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../src/backend/index.js';
import { createSAE, resolveConfig, type SAEKind } from '../src/dictionary/index.js';

import { kSparseTestWorld, matchedCosine } from './helpers.js';

useBackend('js');

const world = kSparseTestWorld;
const recovery = matchedCosine;

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
