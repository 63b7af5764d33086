import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { superpositionWorld, iidSparseWorld, defaultDim } from '../src/worlds/index.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

function activeSet(Z: { rows: number; cols: number; data: Float32Array }, i: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < Z.cols; j++) if (Z.data[i * Z.cols + j] !== 0) out.push(j);
  return out;
}

test('defaultDim is max(k+1, ceil(2k ln(n/k)))', () => {
  assert.equal(defaultDim(100, 10), Math.ceil(20 * Math.log(10))); // 47
  assert.equal(defaultDim(100, 10), 47);
  assert.equal(defaultDim(50, 10), 33);
  assert.equal(defaultDim(10, 10), 11); // ln(1) = 0 -> k+1
  assert.equal(defaultDim(12, 10), 11); // ceil(20 ln 1.2) = 4 < 11
  assert.equal(defaultDim(1000, 2), 25);
});

test('superpositionWorld: shapes, split sizes, unit-norm mixing rows, X = Z·A', () => {
  const w = superpositionWorld({ latents: 40, active: 4, samples: 301, seed: 1 });
  const m = defaultDim(40, 4);
  assert.equal(w.dim, m);
  assert.deepEqual(w.A.shape, [40, m]);
  assert.deepEqual(w.sizes, { train: 150, val: 151, ood: 150 });
  assert.deepEqual([...w.splits], ['train', 'val', 'ood']);
  for (const s of w.splits) {
    assert.deepEqual(w.X[s].shape, [w.sizes[s], m]);
    assert.deepEqual(w.Z[s].shape, [w.sizes[s], 40]);
    assert.equal(w.y[s].length, w.sizes[s]);
  }
  for (let i = 0; i < 40; i++) {
    let ss = 0;
    for (const v of w.A.row(i)) ss += v * v;
    assertAllClose([ss], [1], 1e-6, 0, `row ${i} norm`);
  }
  // x = z·A, checked against a float64 product
  for (const s of w.splits) {
    const { X, Z } = { X: w.X[s], Z: w.Z[s] };
    for (let i = 0; i < Z.rows; i += 7) {
      const ref = new Float64Array(m);
      for (let j = 0; j < 40; j++) for (let c = 0; c < m; c++) ref[c] += Z.data[i * 40 + j] * w.A.data[j * m + c];
      assertAllClose(X.row(i), ref, 1e-5, 1e-6, `${s} row ${i}`);
    }
  }
  assert.equal(w.params.dim, m);
  assert.equal(w.params.latents, 40);
  const w2 = superpositionWorld({ latents: 40, active: 4, samples: 20, dim: 9, seed: 1 });
  assert.equal(w2.dim, 9);
  assert.equal(w2.params.dimRule, 'given');
});

test('superpositionWorld compositional rule: exactly k active, pools, z0 never with OOD latents in training', () => {
  const n = 30, k = 5;
  const w = superpositionWorld({ latents: n, active: k, samples: 2000, seed: 7 });
  const nOod = 15; // OOD pool 15..29, ID pool 1..14
  let settingA = 0, total = 0, sawOodInTrain = false;
  for (const s of ['train', 'val'] as const) {
    const Z = w.Z[s];
    for (let i = 0; i < Z.rows; i++) {
      const act = activeSet(Z, i);
      assert.equal(act.length, k, `${s} row ${i} has ${act.length} active`);
      for (const j of act) assert.ok(Z.data[i * n + j] > 0 && Z.data[i * n + j] < 1);
      total++;
      if (act.includes(0)) {
        settingA++;
        for (const j of act) assert.ok(j < n - nOod, `${s} row ${i}: z0 together with OOD latent ${j}`);
      } else if (act.some((j) => j >= n - nOod)) sawOodInTrain = true;
      assert.equal(w.y[s][i], Z.data[i * n] > 0.5 ? 1 : 0);
    }
  }
  assert.ok(sawOodInTrain, 'setting B must draw OOD latents too (from all of 1..n-1)');
  // setting A with probability 1/2
  assert.ok(Math.abs(settingA / total - 0.5) < 0.05, `setting A fraction ${settingA / total}`);
  const Zo = w.Z.ood;
  for (let i = 0; i < Zo.rows; i++) {
    const act = activeSet(Zo, i);
    assert.equal(act.length, k);
    assert.ok(act.includes(0), 'OOD samples have z0 active');
    for (const j of act) if (j !== 0) assert.ok(j >= n - nOod, `OOD row ${i} has ID latent ${j}`);
  }
  // the label is z0 > 0.5: in OOD about half are positive
  const pos = w.y.ood.reduce((a, b) => a + b, 0) / w.y.ood.length;
  assert.ok(Math.abs(pos - 0.5) < 0.08, `OOD positive rate ${pos}`);
  // every latent appears in training
  const seen = new Set<number>();
  for (let i = 0; i < w.Z.train.rows; i++) for (const j of activeSet(w.Z.train, i)) seen.add(j);
  assert.equal(seen.size, n);
});

test('superpositionWorld is determined by the seed; noise and magnitude options', () => {
  const a = superpositionWorld({ latents: 20, active: 3, samples: 100, seed: 5 });
  const b = superpositionWorld({ latents: 20, active: 3, samples: 100, seed: 5 });
  const c = superpositionWorld({ latents: 20, active: 3, samples: 100, seed: 6 });
  assert.deepEqual(a.X.ood.data, b.X.ood.data);
  assert.deepEqual(a.Z.train.data, b.Z.train.data);
  assert.deepEqual(a.A.data, b.A.data);
  assert.notDeepEqual(a.A.data, c.A.data);
  assert.notDeepEqual(a.Z.train.data, c.Z.train.data);
  // an Rng is accepted (and advanced: two calls give two worlds)
  const r = new Rng(3);
  const r1 = superpositionWorld({ latents: 20, active: 3, samples: 10, seed: r });
  const r2 = superpositionWorld({ latents: 20, active: 3, samples: 10, seed: r });
  assert.notDeepEqual(r1.A.data, r2.A.data);
  // noise changes X only, by about sigma
  const noisy = superpositionWorld({ latents: 20, active: 3, samples: 400, seed: 5, noise: 0.1 });
  const clean = superpositionWorld({ latents: 20, active: 3, samples: 400, seed: 5 });
  assert.deepEqual(noisy.Z.val.data, clean.Z.val.data);
  let ss = 0;
  for (let i = 0; i < noisy.X.val.size; i++) ss += (noisy.X.val.data[i] - clean.X.val.data[i]) ** 2;
  assertAllClose([Math.sqrt(ss / noisy.X.val.size)], [0.1], 0.1, 0);
  // magnitudes: half-normal and exponential exceed 1 sometimes, uniform never
  for (const magnitude of ['halfnormal', 'exponential'] as const) {
    const w = superpositionWorld({ latents: 20, active: 3, samples: 400, seed: 5, magnitude });
    assert.ok(w.Z.train.data.some((v) => v > 1), magnitude);
    assert.ok(w.Z.train.data.every((v) => v >= 0));
  }
  assert.ok(clean.Z.train.data.every((v) => v >= 0 && v < 1));
});

test('superpositionWorld iid split draws k of all n latents everywhere', () => {
  const w = superpositionWorld({ latents: 12, active: 3, samples: 600, seed: 2, split: 'iid' });
  let z0WithOod = false;
  for (let i = 0; i < w.Z.train.rows; i++) {
    const act = activeSet(w.Z.train, i);
    assert.equal(act.length, 3);
    if (act.includes(0) && act.some((j) => j >= 6)) z0WithOod = true;
  }
  assert.ok(z0WithOod);
  let oodWithoutZ0 = 0;
  for (let i = 0; i < w.Z.ood.rows; i++) if (!activeSet(w.Z.ood, i).includes(0)) oodWithoutZ0++;
  assert.ok(oodWithoutZ0 > 0);
  assert.equal(w.params.split, 'iid');
});

test('iidSparseWorld: exactly-k and Bernoulli-p supports', () => {
  const w = iidSparseWorld({ latents: 25, active: 4, samples: 500, seed: 1 });
  assert.deepEqual([...w.splits], ['train', 'val']);
  assert.deepEqual(w.sizes, { train: 250, val: 250 });
  const counts = new Float64Array(25);
  for (let i = 0; i < w.Z.train.rows; i++) {
    const act = activeSet(w.Z.train, i);
    assert.equal(act.length, 4);
    for (const j of act) counts[j]++;
  }
  // uniform over latents: each about 250·4/25 = 40 times
  for (const c of counts) assert.ok(c > 15 && c < 70, `count ${c}`);
  const b = iidSparseWorld({ latents: 50, p: 0.1, samples: 2000, seed: 4, valFraction: 0.25 });
  assert.deepEqual(b.sizes, { train: 1500, val: 500 });
  assert.equal(b.dim, defaultDim(50, 5));
  let total = 0;
  const per = new Set<number>();
  for (let i = 0; i < b.Z.train.rows; i++) {
    const a = activeSet(b.Z.train, i).length;
    total += a;
    per.add(a);
  }
  assertAllClose([total / b.Z.train.rows], [5], 0.06, 0);
  assert.ok(per.size > 3, 'the active count varies under Bernoulli sampling');
  assert.deepEqual(iidSparseWorld({ latents: 25, active: 4, samples: 50, seed: 1 }).X.val.data,
    iidSparseWorld({ latents: 25, active: 4, samples: 50, seed: 1 }).X.val.data);
});

test('world bad input: clear errors naming the parameter', () => {
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 0, samples: 10 }), 'E_ARG', /active/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 11, samples: 10 }), 'E_ARG', /active/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 3, samples: 1 }), 'E_ARG', /samples/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 3, samples: 10, noise: -1 }), 'E_ARG', /noise/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 3, samples: 10, dim: 0 }), 'E_ARG', /dim/);
  // ID pool 1..4 has 4 latents: setting A cannot draw k-1 = 5 of them
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 6, samples: 10 }), 'E_ARG', /ID pool/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 3, samples: 10, oodLatents: 1 }), 'E_ARG', /OOD pool/);
  assertThrowsCode(() => superpositionWorld({ latents: 10, active: 3, samples: 10, magnitude: 'gamma' as any }), 'E_ARG', /magnitude/);
  assertThrowsCode(() => iidSparseWorld({ latents: 10, samples: 10 }), 'E_ARG', /exactly one of/);
  assertThrowsCode(() => iidSparseWorld({ latents: 10, samples: 10, p: 1.5 }), 'E_ARG', /p must/);
});

test('latentDynamicsWorld: OU views with correlation rho, unit variance laws, invertible mixing', async () => {
  const { latentDynamicsWorld, logGamma, generalizedNormalDraw } = await import('../src/worlds/index.js');
  const { linearIdentifiabilityR2 } = await import('../src/metrics/index.js');
  // lnΓ against known values
  assertAllClose([logGamma(0.5), logGamma(1), logGamma(5), logGamma(0.125)], [Math.log(Math.sqrt(Math.PI)), 0, Math.log(24), 2.0194183575537963], 1e-10, 1e-12);
  const w = latentDynamicsWorld({ samples: 4000, latents: 4, views: 3, rho: 0.9, seed: 1 });
  assert.equal(w.Z.length, 3);
  assert.deepEqual(w.X[2].shape, [4000, 4]);
  // per-coordinate correlation between consecutive views is rho, variance stays 1
  for (let v = 0; v < 2; v++) {
    let sxy = 0, sxx = 0, syy = 0;
    const a = w.Z[v].data, b = w.Z[v + 1].data;
    for (let i = 0; i < a.length; i++) { sxy += a[i] * b[i]; sxx += a[i] * a[i]; syy += b[i] * b[i]; }
    assertAllClose([sxy / Math.sqrt(sxx * syy), sxx / a.length, syy / b.length], [0.9, 1, 1], 0.05, 0);
  }
  // the mixing is exactly invertible and nonlinear (a linear fit does not explain z fully)
  const back = w.mixing.inverse(w.X[0]);
  assertAllClose(back.data, w.Z[0].data, 1e-4, 1e-4, 'inverse(forward(z))');
  const r2 = linearIdentifiabilityR2(w.X[0], w.Z[0]).r2;
  assert.ok(r2 < 0.97, `nonlinear mixing, linear R2 ${r2}`);
  const lin = latentDynamicsWorld({ samples: 500, latents: 4, layers: 0, seed: 1 });
  assert.deepEqual(lin.X[0].data, lin.Z[0].data);
  // generalised normal draws have unit variance and the right kurtosis (Gaussian: 3; Laplace α=1: 6; α=8: Γ(5/α)Γ(1/α)/Γ(3/α)² = 1.9234, from SciPy)
  for (const [alpha, kurt] of [[2, 3], [1, 6], [8, 1.9234]] as const) {
    const r = new Rng(3);
    let m2 = 0, m4 = 0;
    const N = 40000;
    for (let i = 0; i < N; i++) { const x = generalizedNormalDraw(r, alpha); m2 += x * x; m4 += x ** 4; }
    m2 /= N; m4 /= N;
    assertAllClose([m2, m4 / (m2 * m2)], [1, kurt], 0.08, 0, `alpha ${alpha}`);
  }
  assert.deepEqual(latentDynamicsWorld({ samples: 10, latents: 3, seed: 9 }).X[1].data, latentDynamicsWorld({ samples: 10, latents: 3, seed: 9 }).X[1].data);
  assertThrowsCode(() => latentDynamicsWorld({ samples: 10, latents: 3, rho: 1 }), 'E_ARG', /rho/);
  assertThrowsCode(() => latentDynamicsWorld({ samples: 10, latents: 1 }), 'E_ARG', /latents/);
  assertThrowsCode(() => latentDynamicsWorld({ samples: 10, latents: 3, alpha: 0 }), 'E_ARG', /alpha/);
});
