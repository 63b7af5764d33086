import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { matmul } from '../src/backend/ops.js';
import { crossEntropy } from '../src/nn/loss.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { LinearCEHead } from '../src/objectives/diet.js';
import { dietEncoder, knnAccuracy, runCrossEntropy, softmaxProbeAccuracy, crossEntropyCells } from '../src/experiments/cross-entropy.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

function reference(head: LinearCEHead, h: Matrix, y: Int32Array, eps: number) {
  const z = matmul(h, head.weight, { transB: true });
  if (head.bias) for (let i = 0; i < z.rows; i++) for (let j = 0; j < z.cols; j++) z.data[i * z.cols + j] += head.bias[j];
  const r = crossEntropy(z, y, { labelSmoothing: eps });
  const dW = matmul(r.grad, h, { transA: true });
  const dh = matmul(r.grad, head.weight);
  const db = new Float64Array(z.cols);
  for (let i = 0; i < z.rows; i++) for (let j = 0; j < z.cols; j++) db[j] += r.grad.data[i * z.cols + j];
  return { loss: r.value, dW, dh, db };
}

test('fused DIET head = logits + nn.crossEntropy (label smoothing, bias, several blocks)', () => {
  for (const [F, C, n, eps, bias, block] of [[5, 300, 130, 0, false, 64], [5, 40, 17, 0.3, true, 5], [20, 50, 33, 0.1, false, 64], [3, 7, 9, 1, true, 2]] as const) {
    const head = new LinearCEHead(F, C, { bias, rng: 1, blockRows: block });
    const h = new Matrix(n, F);
    new Rng(2).fillNormal(h.data, 0, 2);
    const y = new Int32Array(n).map((_, i) => (i * 7) % C);
    const ref = reference(head, h, y, eps);
    head.zeroGrad();
    const r = head.lossAndGrad(h, y, { labelSmoothing: eps });
    assert.ok(Math.abs(r.loss - ref.loss) < 1e-5 * Math.max(1, ref.loss), `loss ${r.loss} vs ${ref.loss}`);
    assertAllClose(head.gWeight.data, ref.dW.data, 1e-4, 1e-7, 'dW');
    assertAllClose(r.dh.data, ref.dh.data, 1e-4, 1e-7, 'dh');
    if (bias) assertAllClose(head.gBias!, ref.db, 1e-4, 1e-7, 'db');
    // gradients accumulate
    head.lossAndGrad(h, y, { labelSmoothing: eps });
    assertAllClose(head.gWeight.data, ref.dW.data.map((v) => 2 * v), 1e-4, 1e-7, 'dW accumulates');
  }
});

test('DIET head: finite differences (gradcheck), accuracy, bad input', () => {
  const head = new LinearCEHead(4, 12, { bias: true, rng: 3, blockRows: 4 });
  const h = new Matrix(10, 4);
  new Rng(4).fillNormal(h.data);
  const y = new Int32Array(10).map((_, i) => i % 12);
  const res = gradcheck({
    params: head.params(),
    loss: () => reference(head, h, y, 0.2).loss,
    lossAndGrad: () => head.lossAndGrad(h, y, { labelSmoothing: 0.2 }).loss,
  });
  assert.deepEqual(res.failures, []);
  assert.ok(res.checked > 50);
  // accuracy: labels = arg-max of the logits
  const z = head.logits(h);
  const best = new Int32Array(10).map((_, i) => {
    let b = 0;
    for (let j = 1; j < 12; j++) if (z.data[i * 12 + j] > z.data[i * 12 + b]) b = j;
    return b;
  });
  assert.equal(head.lossAndGrad(h, best).accuracy, 1);
  assertThrowsCode(() => head.lossAndGrad(h, new Int32Array(10).fill(12)), 'E_ARG', /class indices/);
  assertThrowsCode(() => head.lossAndGrad(h, new Int32Array(3)), 'E_SHAPE');
  assertThrowsCode(() => head.lossAndGrad(new Matrix(10, 5), y), 'E_SHAPE');
  const bad = h.clone();
  bad.data[7] = Number.NaN;
  assertThrowsCode(() => head.lossAndGrad(bad, y), 'E_NONFINITE');
});

test('the paper\'s encoder: widths [10n, 50n x 4, 10n], BatchNorm + LeakyReLU(0.01), about 200k parameters at n = 5', () => {
  const f = dietEncoder({ n: 5, hiddenLayers: 6, widthScale: 1, batchNorm: true }, 's');
  const shapes = f.params().filter((p) => p.name.endsWith('weight') && p.shape.length === 2).map((p) => p.shape);
  assert.deepEqual(shapes, [[50, 5], [250, 50], [250, 250], [250, 250], [250, 250], [50, 250], [5, 50]]);
  const kinds = f.layers.map((l) => l.kind);
  assert.deepEqual(kinds.slice(0, 3), ['Linear', 'BatchNorm1d', 'LeakyReLU']);
  assert.equal((f.layers[2] as any).slope, 0.01);
  const count = f.params().reduce((s, p) => s + p.param.length, 0);
  assert.ok(count > 190000 && count < 220000, `${count} parameters`);
  assertThrowsCode(() => dietEncoder({ n: 5, hiddenLayers: 1, widthScale: 1, batchNorm: true }, 's'), 'E_ARG');
});

test('k-NN and softmax-probe accuracies on separable and on random labels', () => {
  const rng = new Rng(5);
  const make = (rows: number) => {
    const X = new Matrix(rows, 3);
    const y = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      y[i] = i % 3;
      for (let j = 0; j < 3; j++) X.data[i * 3 + j] = (j === y[i] ? 3 : 0) + 0.3 * rng.normal();
    }
    return { X, y };
  };
  const a = make(90), b = make(60);
  assert.equal(knnAccuracy(a.X, a.y, b.X, b.y, 5, 3), 1);
  assert.ok(softmaxProbeAccuracy(a.X, a.y, b.X, b.y, 3) > 0.95);
  const shuffled = b.y.map((_, i) => (i * 5 + 1) % 3);
  assert.ok(knnAccuracy(a.X, a.y, b.X, shuffled, 5, 3) < 0.6);
});

test('cells: clusters > indices and bad seeds are refused', () => {
  assertThrowsCode(() => crossEntropyCells({ indices: [50], seeds: [0], methods: ['diet'], clusters: 100 }), 'E_USAGE', /clusters/);
  assertThrowsCode(() => crossEntropyCells({ indices: [1000], seeds: [-1], methods: ['diet'], clusters: 100 }), 'E_USAGE');
  assertThrowsCode(() => crossEntropyCells({ indices: [1000], seeds: [0], methods: ['nope'], clusters: 100 }), 'E_USAGE');
  assert.equal(crossEntropyCells({ indices: [1000], seeds: [0, 1], methods: ['diet', 'diet-cp'], clusters: 100 }).length, 4);
});

test('repro cross-entropy end to end on a tiny setting: every method, finite metrics, report, resume; kappa <= 0 refused', async () => {
  const out = mkdtempSync(join(tmpdir(), 'cross-entropy-'));
  try {
    const settings = {
      steps: 60, batch: 64, evalEvery: 30, evalSamples: 256, widthScale: 0.2, mixingPool: 200, clusters: 10,
      cpSamples: 60, cpClasses: 3, cpSteps: 40, cpBatch: 16, cpFrozen: [16], cpEmbed: 8, cpKnn: 5,
    };
    const r = await runCrossEntropy({ out, indices: [40], settings });
    assert.equal(r.summary.failed, 0, JSON.stringify(r.summary.lines.map((l) => l?.error)));
    const get = (m: string) => r.rows.find((x) => x.method === m)!;
    for (const k of ['r2_hz', 'r2_xz', 'r2_w', 'loss']) assert.ok(Number.isFinite(get('diet').mean[k]), `diet ${k}`);
    assert.ok(Number.isFinite(get('supervised').mean.r2_hz));
    for (const k of ['knn_acc', 'probe_acc', 'knn_acc_before', 'probe_acc_before']) {
      const v = get('diet-cp').mean[k];
      assert.ok(v >= 0 && v <= 1, `${k} = ${v}`);
    }
    assert.ok(get('diet').mean.r2_xz > 0 && get('diet').mean.r2_xz < 1);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.ok(!/NaN/.test(report));
    assert.ok(readdirSync(out).includes('r2_curve.svg'));
    const again = await runCrossEntropy({ out, indices: [40], settings });
    assert.equal(again.summary.ran, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  await assert.rejects(runCrossEntropy({ out: join(tmpdir(), 'ce-bad'), settings: { kappa: 0 } }), (e: any) => e.code === 'E_USAGE' && /kappa/.test(e.message));
  await assert.rejects(runCrossEntropy({ out: join(tmpdir(), 'ce-bad'), settings: { kappa: -2 } }), (e: any) => e.code === 'E_USAGE');
});

test('a DIET cell killed half-way resumes from its in-cell checkpoint and ends with the same numbers', async () => {
  const { crossEntropyWorld, trainCrossEntropy, CE_PRESETS } = await import('../src/experiments/cross-entropy.js');
  const s = { ...CE_PRESETS.quick.settings, steps: 64, batch: 32, evalEvery: 16, evalSamples: 128, widthScale: 0.2, mixingPool: 100, clusters: 10 };
  const config = { indices: 40, seed: 3 };
  const w = crossEntropyWorld(40, 3, s);
  const whole = await trainCrossEntropy('diet', config, s, w);
  const dir = mkdtempSync(join(tmpdir(), 'ce-ck-'));
  try {
    const ac = new AbortController();
    await assert.rejects(trainCrossEntropy('diet', config, s, w, {
      signal: ac.signal, checkpointDir: dir, checkpointSeconds: 0, noteSeconds: 0,
      onNote: (m) => { if (/step 32\//.test(m)) ac.abort(); },
    }), (e: any) => e.code === 'E_CANCELLED');
    assert.ok(readdirSync(dir).length > 0, 'a checkpoint was left behind');
    const notes: string[] = [];
    const resumed = await trainCrossEntropy('diet', config, s, w, { checkpointDir: dir, onNote: (m) => notes.push(m) });
    assert.ok(notes.some((m) => /resumed from its checkpoint at step 32/.test(m)), notes.join('\n'));
    assert.equal(resumed.resumed_from_step, 32);
    for (const k of ['r2_hz', 'loss', 'r2_w', 'r2_hz@16', 'r2_hz@48', 'r2_hz@64']) assert.equal(resumed[k], whole[k], k);
    assert.throws(() => readdirSync(dir), 'the checkpoint folder is removed at the end');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
