import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { mlp } from '../src/nn/index.js';
import { trainBinaryMlp, trainStraighteningDetector } from '../src/metrics/straightening-detector.js';
import { batchStraighteningFeatures } from '../src/metrics/curvature.js';
import { trajectoryWorld } from '../src/worlds/trajectories.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

test('the training loop equals PyTorch (MLP 21-64-32-1, BCEWithLogits, Adam 1e-3, batch 32, given orders)', () => {
  const ref = JSON.parse(readFileSync('test/fixtures/probing/detector.json', 'utf8'));
  const net = mlp({ sizes: [ref.f, 64, 32, 1], activation: 'relu' });
  for (const p of net.params()) p.param.set(ref.init[p.name]);
  const X = new Matrix(ref.n, ref.f, Float32Array.from(ref.X));
  const losses = trainBinaryMlp(net, X, ref.y, { epochs: ref.epochs, batch: ref.batch, lr: 1e-3, orders: ref.orders });
  assertAllClose(losses, ref.losses, 1e-4, 1e-6, 'epoch losses');
  const logits = net.forward(X, false);
  assertAllClose(logits.data, ref.logits, 1e-4, 1e-5, 'logits after training');
});

test('the detector separates natural from jittered trajectories; split, scaling and threshold follow the protocol', () => {
  const w = trajectoryWorld({ videos: 120, dim: 32, perturbation: 'jitter', seed: 5 });
  // unbalanced on purpose: 120 real, 90 fake
  const fr = batchStraighteningFeatures(w.natural, 120, w.frames, w.dim);
  const fg = batchStraighteningFeatures(w.generated, 120, w.frames, w.dim).subarray(0, 90 * 21);
  const F = new Matrix(210, 21, Float32Array.from([...fr, ...fg]));
  const labels = [...new Array(120).fill(1), ...new Array(90).fill(0)];
  const r = trainStraighteningDetector(F, labels, { seed: 1 });
  // balanced to 90 per class, half of each class in the test set
  assert.equal(r.testIndex.length, 90);
  assert.equal(r.trainIndex.length, 90);
  assert.equal(r.testIndex.filter((i) => labels[i] === 1).length, 45);
  assert.equal(new Set([...r.trainIndex, ...r.testIndex]).size, 180);
  // z-scored over the balanced set: mean 0, population std 1 (up to the 1e-8)
  const bal = [...r.trainIndex, ...r.testIndex];
  for (let j = 0; j < 21; j++) {
    let s = 0, ss = 0;
    for (const i of bal) s += (F.get(i, j) - r.mean[j]) / r.std[j];
    for (const i of bal) ss += ((F.get(i, j) - r.mean[j]) / (r.std[j] - 1e-8)) ** 2;
    assert.ok(Math.abs(s / bal.length) < 1e-5 && Math.abs(ss / bal.length - 1) < 1e-4, `feature ${j}`);
  }
  assert.ok(r.auroc > 0.97, `auroc ${r.auroc}`);
  assert.ok(r.accuracy > 0.9, `accuracy ${r.accuracy}`);
  assert.ok(r.threshold >= 0.1 && r.threshold <= 0.9);
  assert.ok(r.losses[9] < r.losses[0]);
  // predict() reproduces the test probabilities
  const p = r.predict(F.takeRows(r.testIndex));
  assertAllClose(p, r.testProbabilities, 1e-9, 1e-9, 'predict');
  // same seed, same result
  const r2 = trainStraighteningDetector(F, labels, { seed: 1 });
  assert.deepEqual(Array.from(r2.testProbabilities), Array.from(r.testProbabilities));
});

test('shuffled labels give chance AUROC; bad input is refused', () => {
  const rng = new Rng(3);
  const F = new Matrix(200, 21);
  rng.fillNormal(F.data);
  const labels = Array.from({ length: 200 }, (_, i) => i % 2);
  const r = trainStraighteningDetector(F, labels, { seed: 2 });
  assert.ok(Math.abs(r.auroc - 0.5) < 0.15, `auroc ${r.auroc}`);
  assertThrowsCode(() => trainStraighteningDetector(F, labels.slice(1)), 'E_SHAPE');
  assertThrowsCode(() => trainStraighteningDetector(F, labels.map(() => 1)), 'E_ARG', /0 generated/);
  const bad = F.clone();
  bad.data[5 * 21 + 3] = NaN;
  assertThrowsCode(() => trainStraighteningDetector(bad, labels), 'E_NONFINITE', /feature 3 of row 5/);
});
