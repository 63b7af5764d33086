import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../src/backend/index.js';
import { createSAE, DLFista, OnlineDL } from '../src/index.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { iidSparseWorld } from '../src/worlds/index.js';
import { assertAllClose } from './helpers.js';

/**
 * One estimator surface for every learner: configuration (seed included) in the constructor;
 * fit / encode / transform / decode / fitTransform / save; the same seed gives the same model;
 * a saved model reads back (loadModel) and encodes as the estimator does.
 */
useBackend('js');

const world = iidSparseWorld({ latents: 12, dim: 8, active: 2, samples: 400, seed: 1 });
const X = world.X.train;

const learners = {
  'topk-sae': () => createSAE('topk', { atoms: 12, k: 2, steps: 150, batch: 64, seed: 3 }),
  'dl-fista': () => new DLFista({ atoms: 12, lambda: 0.05, nonneg: true, maxOuter: 15, seed: 3 }),
  'online-dl': () => new OnlineDL({ atoms: 12, lambda: 0.05, nonneg: true, steps: 60, batch: 64, seed: 3 }),
};

for (const [name, make] of Object.entries(learners)) {
  test(`estimator surface: ${name}`, async () => {
    const est = make();
    for (const m of ['fit', 'encode', 'transform', 'decode', 'fitTransform', 'save'] as const) assert.equal(typeof est[m], 'function', `${name}.${m}`);
    assert.throws(() => est.encode(X), /fit/);
    const Z = await est.fitTransform(X);
    assert.deepEqual(Z.shape, [X.rows, 12]);
    assertAllClose(est.transform(X).data, Z.data, 0, 0, 'transform = encode');
    const R = est.decode(Z);
    assert.deepEqual(R.shape, X.shape);
    let sse = 0, ss = 0;
    for (let i = 0; i < R.data.length; i++) {
      sse += (R.data[i] - X.data[i]) ** 2;
      ss += X.data[i] ** 2;
    }
    assert.ok(sse / ss < 0.5, `${name} reconstructs (relative error ${sse / ss})`);
    // the seed in the constructor makes fit reproducible
    const again = make();
    await again.fit(X);
    assertAllClose(again.encode(X).data, Z.data, 0, 0, 'same seed, same codes');
    // save -> loadModel -> encode gives the estimator's codes
    const dir = mkdtempSync(join(tmpdir(), 'sparsecode-est-'));
    try {
      est.save(dir);
      const model = loadModel(dir);
      assertAllClose(model.encode(X).data, Z.data, 1e-5, 1e-4, 'loaded model codes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('estimators refuse a configuration without a seed or with bad sizes', () => {
  assert.throws(() => new DLFista({ atoms: 0, seed: 0 }), /atoms/);
  assert.throws(() => new OnlineDL({ atoms: 4 } as never), /seed/);
  assert.throws(() => new DLFista({ atoms: 4, lambda: -1, seed: 0 }), /lambda/);
});
