import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { Adam, BatchTopKSAE, checkpointPath, createSAE, geometricMedian, learningRate, type SAEKind } from '../src/dictionary/index.js';
import { saveModel } from '../src/io/model.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { assertAllClose, assertThrowsCode, kSparseTestWorld, matchedCosine } from './helpers.js';

useBackend('js');

const world = kSparseTestWorld;
const recovery = matchedCosine;

test('TopK SAE recovers the mixing directions of a k-sparse world (mean matched |cos| >= 0.9)', async () => {
  for (const seed of [0, 1]) {
    const { X, A } = world(seed);
    const sae = createSAE('topk', { atoms: 64, k: 3, batch: 256, epochs: 20, lr: 3e-3 });
    const res = await sae.fit(X, { seed });
    const rec = recovery(sae.getWeights().W_dec, A);
    assert.ok(rec >= 0.9, `seed ${seed}: mean matched |cos| ${rec.toFixed(3)} < 0.9`);
    console.log(`seed ${seed}: mean matched |cos| ${rec.toFixed(3)}`);
    assert.ok(res.l0 > 2.9 && res.l0 <= 3, `training L0 ${res.l0}`);
    // decoder rows unit-norm; codes have at most k nonzeros
    const Z = sae.encode(X.rowSlice(0, 100));
    for (let i = 0; i < 100; i++) assert.ok(Z.row(i).filter((v) => v !== 0).length <= 3);
    const W = sae.getWeights().W_dec;
    for (let a = 0; a < 64; a++) assertAllClose([Math.hypot(...W.row(a))], [1], 1e-5, 1e-5, `decoder row ${a} norm`);
  }
});

test('input scaling is folded into the weights: the trained model reconstructs raw activations', async () => {
  const { X } = world(3, 16, 8, 2, 3000);
  for (let i = 0; i < X.data.length; i++) X.data[i] = X.data[i] * 40 + 5; // far from unit scale, offset
  for (const kind of ['topk', 'batchtopk', 'relu', 'jumprelu', 'mp'] as SAEKind[]) {
    const sae = createSAE(kind, { atoms: 32, k: 2, l1: 0.05, batch: 256, epochs: 8, lr: 3e-3 });
    const res = await sae.fit(X, { seed: 1 });
    assert.ok(res.inputScale < 0.1, `${kind}: inputs were scaled`);
    const R = sae.reconstruct(X);
    let sse = 0, tv = 0;
    const mean = new Float64Array(8);
    for (let i = 0; i < X.rows; i++) for (let j = 0; j < 8; j++) mean[j] += X.get(i, j) / X.rows;
    for (let i = 0; i < X.data.length; i++) {
      sse += (X.data[i] - R.data[i]) ** 2;
      tv += (X.data[i] - mean[i % 8]) ** 2;
    }
    // the raw-space FVU matches the training-space FVU (a wrong fold would be far off)
    assert.ok(Math.abs(sse / tv - res.fvu) < 0.25 + 0.5 * res.fvu, `${kind}: raw FVU ${sse / tv} vs training FVU ${res.fvu}`);
    assert.ok(sse / tv < 0.9, `${kind}: raw FVU ${sse / tv}`);
  }
});

test('BatchTopK keeps n*k activations per batch in training and sets an inference threshold', async () => {
  const { X } = world(4, 32, 16, 3, 4000);
  const sae = createSAE('batchtopk', { atoms: 48, k: 3, batch: 200, epochs: 5, lr: 3e-3 }) as BatchTopKSAE;
  const res = await sae.fit(X, { seed: 0 });
  assert.ok(Math.abs(res.l0 - 3) < 1e-9, `training L0 ${res.l0}`);
  assert.ok(sae.threshold > 0 && Number.isFinite(sae.threshold));
  const Z = sae.encode(X);
  let nnz = 0;
  for (const v of Z.data) if (v !== 0) nnz++;
  const l0 = nnz / X.rows;
  assert.ok(l0 > 1.5 && l0 < 6, `inference L0 with the estimated threshold: ${l0}`);
});

test('bad hyperparameters and inputs are refused up front', async () => {
  assertThrowsCode(() => createSAE('topk', { atoms: 8, k: 9 }), 'E_ARG', /k = 9 is larger than atoms = 8/);
  assertThrowsCode(() => createSAE('topk', { atoms: 8 }), 'E_ARG', /needs k/);
  assertThrowsCode(() => createSAE('relu', { atoms: 8, lr: -1 }), 'E_ARG', /lr must be a positive/);
  assertThrowsCode(() => createSAE('relu', { atoms: 0 }), 'E_ARG', /atoms/);
  assertThrowsCode(() => createSAE('jumprelu', { atoms: 4, bandwidth: 0 }), 'E_ARG', /bandwidth/);
  assertThrowsCode(() => createSAE('nope' as SAEKind, { atoms: 4 }), 'E_ARG', /unknown SAE kind/);
  const sae = createSAE('topk', { atoms: 8, k: 2, steps: 2 });
  assertThrowsCode(() => sae.encode(new Matrix(2, 3)), 'E_ARG', /no weights yet/);
  const X = new Matrix(10, 3);
  X.data[4] = NaN;
  await assert.rejects(sae.fit(X), (e: any) => e.code === 'E_NONFINITE');
  await sae.fit(new Matrix(10, 3, new Float32Array(30).fill(1)), { seed: 0 });
  assertThrowsCode(() => sae.encode(new Matrix(2, 4)), 'E_SHAPE', /4 columns, the SAE expects 3/);
  await assert.rejects(sae.fit(new Matrix(10, 3), { checkpointEvery: 5 }), (e: any) => e.code === 'E_ARG' && /checkpointDir/.test(e.message));
});

test('divergence stops with E_DIVERGED and keeps the last good checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sae-div-'));
  try {
    const { X } = world(5, 16, 8, 2, 2000);
    const sae = createSAE('relu', { atoms: 16, batch: 100, steps: 200, lr: 1e37, warmupSteps: 0, decaySteps: 0 });
    await assert.rejects(sae.fit(X, { seed: 0, checkpointDir: dir, checkpointEvery: 1 }), (e: any) => e.code === 'E_DIVERGED' && /lower the learning rate/.test(e.message) && /checkpoint/.test(e.message));
    assert.ok(existsSync(checkpointPath(dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled run checkpoints; resuming gives exactly the uninterrupted result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sae-ck-'));
  try {
    const { X } = world(6, 16, 8, 2, 1500);
    const cfg = { atoms: 24, k: 2, batch: 100, steps: 60, lr: 3e-3, deadAfter: 300 };
    const full = createSAE('topk', cfg);
    await full.fit(X, { seed: 9 });
    const ac = new AbortController();
    const first = createSAE('topk', cfg);
    await assert.rejects(
      first.fit(X, { seed: 9, signal: ac.signal, checkpointDir: dir, checkpointEvery: 7, progressIntervalMs: 0, onProgress: (p) => { if (p.step === 25) ac.abort(); } }),
      (e: any) => e.code === 'E_CANCELLED',
    );
    const second = createSAE('topk', cfg);
    const res = await second.fit(X, { seed: 9, checkpointDir: dir, resume: true });
    assert.equal(res.resumedFrom, 25);
    assert.ok(res.resumedSeconds > 0, 'the checkpoint recorded the first run\'s seconds');
    assert.ok(res.seconds + res.resumedSeconds >= res.resumedSeconds);
    assert.deepEqual(Array.from(second.getWeights().W_dec.data), Array.from(full.getWeights().W_dec.data));
    assert.deepEqual(Array.from(second.getWeights().b_enc), Array.from(full.getWeights().b_enc));
    // a checkpoint written for other settings is refused
    await assert.rejects(createSAE('topk', { ...cfg, atoms: 25 }).fit(X, { seed: 9, checkpointDir: dir, resume: true }), (e: any) => e.code === 'E_ARG' && /atoms/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpointSeconds writes by wall time: none in a short run, one per step when due at once; resume is exact', async () => {
  const { X } = world(6, 16, 8, 2, 1500);
  const cfg = { atoms: 24, k: 2, batch: 100, steps: 30, lr: 3e-3, deadAfter: 300 };
  await assert.rejects(createSAE('topk', cfg).fit(X, { checkpointSeconds: 1 }), (e: any) => e.code === 'E_ARG' && /checkpointDir/.test(e.message));
  const bad = mkdtempSync(join(tmpdir(), 'sae-cks-'));
  try {
    await assert.rejects(createSAE('topk', cfg).fit(X, { checkpointDir: bad, checkpointSeconds: 0 }), (e: any) => e.code === 'E_ARG' && /checkpointSeconds/.test(e.message));
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
  const full = createSAE('topk', cfg);
  await full.fit(X, { seed: 4 });
  for (const [seconds, expectFile] of [[3600, false], [1e-9, true]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'sae-cks-'));
    try {
      // no final checkpoint: a file exists only if a periodic one was written
      const sae = createSAE('topk', cfg);
      await sae.fit(X, { seed: 4, checkpointDir: dir, checkpointSeconds: seconds, finalCheckpoint: false });
      assert.equal(existsSync(checkpointPath(dir)), expectFile, `checkpointSeconds ${seconds}`);
      assert.deepEqual(Array.from(sae.getWeights().W_dec.data), Array.from(full.getWeights().W_dec.data), 'checkpoints do not change the training');
      if (expectFile) {
        // the last periodic checkpoint is at step 29 (none at the end step): resuming runs the last step
        const again = createSAE('topk', cfg);
        const r = await again.fit(X, { seed: 4, checkpointDir: dir, resume: true });
        assert.equal(r.resumedFrom, 29);
        assert.deepEqual(Array.from(again.getWeights().W_dec.data), Array.from(full.getWeights().W_dec.data));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('saved models reload with SAELens names and shapes and encode/decode like the trained SAE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sae-model-'));
  try {
    const { X } = world(7, 16, 8, 2, 1000);
    for (const kind of ['relu', 'topk', 'batchtopk', 'jumprelu', 'mp'] as Exclude<SAEKind, 'matryoshka'>[]) {
      const sae = createSAE(kind, { atoms: 20, k: 2, batch: 100, epochs: 2, thresholdInit: 0.05 });
      await sae.fit(X, { seed: 2 });
      saveModel(dir, { kind, weights: sae.getWeights(), k: sae.config.k || undefined, training: { note: 'x' } });
      const m = loadModel(dir);
      assert.equal(m.kind, kind);
      assert.deepEqual([m.weights.W_enc!.rows, m.weights.W_enc!.cols, m.weights.W_dec.rows, m.weights.W_dec.cols], [8, 20, 20, 8]);
      assert.equal(m.cfg.d_in, 8);
      assert.equal(m.cfg.d_sae, 20);
      assert.equal(m.weights.threshold !== undefined, kind === 'jumprelu' || kind === 'batchtopk');
      const Xs = X.rowSlice(0, 50);
      assertAllClose(m.encode(Xs).data, sae.encode(Xs).data, 1e-4, 1e-5, `${kind} codes`);
      const Z = sae.encode(Xs);
      assertAllClose(m.decode(Z).data, sae.decode(Z).data, 1e-5, 1e-5, `${kind} decode`);
    }
    assertThrowsCode(() => loadModel(join(dir, 'nope')), 'E_IO');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dictionary-only models encode by FISTA: orthonormal D gives soft-thresholded projections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-model-'));
  try {
    const D = Matrix.identity(4);
    const X = Matrix.from([[0.5, -0.05, 2, 0], [-1, 0.3, 0.1, 0.2]]);
    saveModel(dir, { kind: 'dl-fista', weights: { W_dec: D }, inference: { lambda: 0.2, nonneg: false, iters: 50 } });
    const Z = loadModel(dir).encode(X);
    assertAllClose(Z.data, [0.3, 0, 1.8, 0, -0.8, 0.1, 0, 0], 1e-5, 1e-6);
    saveModel(dir, { kind: 'online-dl', weights: { W_dec: D }, inference: { lambda: 0.2, nonneg: true, iters: 50 } });
    assertAllClose(loadModel(dir).encode(X).data, [0.3, 0, 1.8, 0, 0, 0.1, 0, 0], 1e-5, 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('geometric median (Weiszfeld): collinear points give the middle one; optimality condition holds', () => {
  const m = geometricMedian(Matrix.from([[0, 0], [1, 0], [10, 0]]));
  assertAllClose(m, [1, 0], 1e-4, 1e-4);
  const rng = new Rng(3);
  const P = new Matrix(50, 3);
  rng.fillNormal(P.data);
  const g = geometricMedian(P, { maxIter: 2000, tol: 1e-12 });
  const s = [0, 0, 0];
  for (let i = 0; i < 50; i++) {
    const r = [0, 1, 2].map((j) => P.get(i, j) - g[j]);
    const nr = Math.hypot(...r);
    for (let j = 0; j < 3; j++) s[j] += r[j] / nr;
  }
  assert.ok(Math.hypot(...s) < 1e-6, `sum of unit vectors to the median: ${s}`);
});

test('Adam matches a float64 reference; the schedule warms up and decays linearly', () => {
  const p = Float32Array.from([1, -2]);
  const adam = new Adam([p], { weightDecay: 0.1 });
  const ref = [1, -2], m = [0, 0], v = [0, 0];
  for (let t = 1; t <= 5; t++) {
    const g = Float32Array.from([0.5 * t, -1 / t]);
    adam.step([g], 0.01);
    for (let i = 0; i < 2; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      ref[i] = ref[i] * (1 - 0.01 * 0.1) - (0.01 * m[i] / (1 - 0.9 ** t)) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  assertAllClose(p, ref, 1e-5, 1e-6);
  const s = { lr: 1, totalSteps: 100, warmupSteps: 10, decaySteps: 20 };
  assertAllClose([0, 4, 50, 80, 89, 99].map((t) => learningRate(s, t)), [0.1, 0.5, 1, 0.95, 0.5, 0]);
});
