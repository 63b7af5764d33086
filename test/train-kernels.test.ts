/**
 * The native training-step kernels (native/src/train.c: adamStep, sparseBackward,
 * projectRadial, normalizeRows, suffixResidual, jumpSelect) give bit for bit what the code they replace gives: Adam's JavaScript loop,
 * the row-by-row sparse backward (scatterOuter, gatherDot, the ReLU mask, the bias sum) on
 * the same backend, and the JavaScript projectRadial. Also: whole SAE trainings on the native
 * backend end with the same weights with and without them, and bad arguments throw.
 * Skips (saying why) when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendLoadError, getBackend, loadBackends, useBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/types.js';
import type { NativeBackend } from '../src/backend/native/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam, createSAE, JumpReluSAE, projectRadial } from '../src/dictionary/index.js';
import { normalizeRows } from '../src/linalg/rows.js';
import { activeBackward } from '../src/dictionary/sae/sparse.js';

await loadBackends({ quiet: true });
const native = getBackend('native') as NativeBackend | undefined;
const skip = native?.adamStep ? false : `native training kernels not loaded: ${backendLoadError('native') ?? 'rebuild the addon: node scripts/build-native.mjs'}`;

function normal(n: number, seed: number, scale = 1): Float32Array {
  const a = new Rng(seed).fillNormal(new Float32Array(n)) as Float32Array;
  for (let i = 0; i < n; i++) a[i] *= scale;
  return a;
}

/** Run fn with the native backend stripped of the named optional kernels (the fallback paths). */
async function withoutAsync<T>(ops: (keyof Backend)[], fn: () => Promise<T>): Promise<T> {
  const saved = ops.map((o) => [o, (native as any)[o]] as const);
  for (const o of ops) delete (native as any)[o];
  try {
    return await fn();
  } finally {
    for (const [o, f] of saved) (native as any)[o] = f;
  }
}

function without<T>(ops: (keyof Backend)[], fn: () => T): T {
  const saved = ops.map((o) => [o, (native as any)[o]] as const);
  for (const o of ops) delete (native as any)[o];
  try {
    return fn();
  } finally {
    for (const [o, f] of saved) (native as any)[o] = f;
  }
}

test('adamStep: the same bits as the JavaScript Adam(W) loop, with and without decay, over many steps', { skip }, () => {
  useBackend('native');
  const sizes = [5000, 70001];
  const run = (fast: boolean) => {
    const params = sizes.map((n, i) => normal(n, 10 + i));
    const adam = new Adam(params, { weightDecay: 0.1 }, [true, false]);
    for (let s = 0; s < 6; s++) {
      const grads = sizes.map((n, i) => normal(n, 100 * s + i, s === 3 ? 1e-30 : 1)); // tiny gradients too
      if (s === 4) grads[0][7] = 0;
      if (fast) adam.step(grads, 1e-3);
      else without(['adamStep'], () => adam.step(grads, 1e-3));
    }
    return { params, m: adam.m, v: adam.v };
  };
  const a = run(true), b = run(false);
  for (let q = 0; q < sizes.length; q++) {
    assert.deepEqual(a.params[q], b.params[q], `param ${q}`);
    assert.deepEqual(a.m[q], b.m[q], `m ${q}`);
    assert.deepEqual(a.v[q], b.v[q], `v ${q}`);
  }
});

test('projectRadial: the same bits as the JavaScript loop, zero rows kept, NaN rows propagate', { skip }, () => {
  useBackend('native');
  const rows = 300, cols = 37;
  const w = normal(rows * cols, 1), g0 = normal(rows * cols, 2);
  w.fill(0, 5 * cols, 6 * cols); // a zero row: g kept
  w[9 * cols + 3] = NaN; // a NaN row: NaN out
  const a = g0.slice(), b = g0.slice();
  projectRadial(w, a, rows, cols);
  without(['projectRadial'], () => projectRadial(w, b, rows, cols));
  assert.deepEqual(a, b);
  assert.deepEqual(a.subarray(5 * cols, 6 * cols), g0.subarray(5 * cols, 6 * cols));
  assert.ok(Number.isNaN(a[9 * cols]));
  // the component along each (finite, nonzero) row is gone
  let dot = 0;
  for (let j = 0; j < cols; j++) dot += a[j] * w[j];
  assert.ok(Math.abs(dot) < 1e-5, `residual radial component ${dot}`);
});

test('normalizeRows: the same bits as the JavaScript loop; zero, tiny and non-finite rows kept', { skip }, () => {
  useBackend('native');
  const rows = 200, cols = 41;
  const w = normal(rows * cols, 21);
  w.fill(0, 3 * cols, 4 * cols);
  w.fill(1e-9, 4 * cols, 5 * cols);
  w[6 * cols + 2] = Infinity;
  w[7 * cols] = NaN;
  for (const eps of [0, 1e-6]) {
    const a = new Matrix(rows, cols, w.slice()), b = new Matrix(rows, cols, w.slice());
    normalizeRows(a, { eps });
    without(['normalizeRows'], () => normalizeRows(b, { eps }));
    assert.deepEqual(a.data, b.data, `eps ${eps}`);
  }
});

test('sparseBackward: the same bits as the row-by-row kernels, overwriting and accumulating, padding and zeros skipped', { skip }, () => {
  useBackend('native');
  const b = native!;
  const rows = 257, k = 7, dim = 33, atoms = 50;
  const rng = new Rng(3);
  const idx = new Int32Array(rows * k), val = new Float32Array(rows * k);
  for (let t = 0; t < rows * k; t++) {
    idx[t] = t % 13 === 0 ? -1 : Math.floor(rng.uniform() * atoms);
    val[t] = t % 11 === 0 ? 0 : t % 17 === 0 ? -0.5 : rng.uniform();
  }
  const g = normal(rows * dim, 4), wdec = normal(atoms * dim, 6);
  // dimIn = dim (an SAE) and dimIn ≠ dim (a transcoder: the encoder's input is not the output)
  for (const dimIn of [dim, 19]) {
    const xc = normal(rows * dimIn, 5);
    // the row-by-row path of activeBackward (scatterOuter, gatherDot, the mask, scatterOuter) on the same backend
    const reference = (accumulate: boolean, gWdec: Float32Array, gWenc: Float32Array, gbenc: Float32Array, gval: Float32Array) =>
      without(['sparseBackward'], () => activeBackward(idx, val, gval, rows, k, g, xc, wdec, dim, gWdec, gWenc, gbenc, accumulate, dimIn));
    for (const accumulate of [false, true]) {
      const start = [normal(atoms * dim, 7), normal(atoms * dimIn, 8), normal(atoms, 9)];
      const fused = [start[0].slice(), start[1].slice(), start[2].slice(), new Float32Array(rows * k).fill(NaN)];
      const rowwise = [start[0].slice(), start[1].slice(), start[2].slice(), new Float32Array(rows * k)];
      b.sparseBackward!(idx, val, rows, k, g, xc, wdec, dim, dimIn, accumulate, fused[0], fused[1], fused[2], fused[3]);
      reference(accumulate, rowwise[0], rowwise[1], rowwise[2], rowwise[3]);
      for (let q = 0; q < 4; q++) assert.deepEqual(fused[q], rowwise[q], `dimIn ${dimIn}, accumulate ${accumulate}, output ${q}`);
    }
  }
  const xc = normal(rows * dim, 5);
  // an index past the dictionary throws and names it
  const bad = idx.slice();
  bad[5] = atoms;
  assert.throws(
    () => b.sparseBackward!(bad, val, rows, k, g, xc, wdec, dim, dim, false, new Float32Array(atoms * dim), new Float32Array(atoms * dim), new Float32Array(atoms), new Float32Array(rows * k)),
    /idx\[0, 5\] = 50 is out of range: the dictionary has 50 atoms/,
  );
  assert.throws(() => b.sparseBackward!(idx, val, rows, k, g, xc, wdec, dim, dim, false, new Float32Array(10), new Float32Array(atoms * dim), new Float32Array(atoms), new Float32Array(rows * k)), /gWdec/);
});

test('jumpSelect: the JumpReLU sparse step trains to the same weights with the native lists as with the JavaScript ones; cap and short buffers', { skip }, async () => {
  useBackend('native');
  const X = new Matrix(300, 16, normal(300 * 16, 12));
  const cfg = { atoms: 64, l0: 0.02, bandwidth: 0.05, thresholdInit: 0.6, batch: 50, steps: 30, lr: 1e-3 };
  const fast = createSAE('jumprelu', cfg) as JumpReluSAE, slow = createSAE('jumprelu', cfg) as JumpReluSAE;
  fast.stepPath = slow.stepPath = 'sparse';
  await fast.fit(X, { seed: 3 });
  await withoutAsync(['jumpSelect'], () => slow.fit(X, { seed: 3 }));
  assert.deepEqual(fast.getWeights().W_dec.data, slow.getWeights().W_dec.data);
  assert.deepEqual(fast.logTheta, slow.logTheta);
  // the op itself: too wide -> -1; short buffers -> -2 - (kA·2^20 + kB), nothing written
  const pre = new Float32Array([0.9, 0.1, 0.5, 0.52, 0.7, 0.2]), theta = new Float64Array([0.5, 0.5, 0.5]);
  const idx = new Int32Array(1).fill(7), val = new Float32Array(1), band = new Int32Array(1);
  assert.equal(native!.jumpSelect!(pre, 2, 3, theta, 0.05, 1, idx, val, band), -1);
  const r = native!.jumpSelect!(pre, 2, 3, theta, 0.05, 3, idx, val, band);
  assert.equal(r, -2 - (2 * 1048576 + 1)); // kA 2 (row 1: 0.52, 0.7), kB 1
  assert.equal(idx[0], 7);
  const i2 = new Int32Array(4), v2 = new Float32Array(4), b2 = new Int32Array(4);
  assert.equal(native!.jumpSelect!(pre, 2, 3, theta, 0.05, 3, i2, v2, b2), 2 * 1048576 + 1);
  assert.deepEqual(Array.from(i2), [0, -1, 0, 1]); // row 0: 0.9; row 1: 0.52 and 0.7
  assert.deepEqual(Array.from(v2), [0.9, 0, 0.52, 0.7].map(Math.fround));
  assert.deepEqual(Array.from(b2.subarray(0, 2)), [2, 0]); // |0.5 - 0.5| and |0.52 - 0.5| < 0.025
});

test('TopK, BatchTopK and Matryoshka SAEs train to the same weights on native with and without the training kernels', { skip }, async () => {
  useBackend('native');
  const X = new Matrix(600, 24, normal(600 * 24, 11, 0.3));
  for (const kind of ['topk', 'batchtopk', 'matryoshka'] as const) {
    const cfg = { atoms: 48, k: 3, batch: 64, steps: 40, lr: 3e-3, deadAfter: 64, ...(kind === 'matryoshka' ? { widths: [12, 48] } : {}) };
    let calls = 0;
    const count = (o: 'adamStep' | 'sparseBackward' | 'projectRadial') => {
      const f = native![o] as (...a: unknown[]) => void;
      (native as any)[o] = (...a: unknown[]) => (calls++, f(...a));
      return () => ((native as any)[o] = f);
    };
    const restore = [count('adamStep'), count('sparseBackward'), count('projectRadial')];
    const fast = createSAE(kind, cfg);
    await fast.fit(X, { seed: 5 });
    restore.forEach((r) => r());
    assert.ok(calls > 0, `${kind}: the kernels ran`);
    const slow = createSAE(kind, cfg);
    await withoutAsync(['adamStep', 'sparseBackward', 'projectRadial', 'normalizeRows', 'suffixResidual'], () => slow.fit(X, { seed: 5 }));
    assert.deepEqual(fast.getWeights().W_dec.data, slow.getWeights().W_dec.data, `${kind} W_dec`);
    assert.deepEqual(fast.getWeights().W_enc.data, slow.getWeights().W_enc.data, `${kind} W_enc`);
  }
});
