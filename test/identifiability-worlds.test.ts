import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { VmfClusterWorld, betaDraw, sampleVmf, uniformSphere, woodConstants } from '../src/worlds/vmf.js';
import { LeakyMixing, columnNormalizedUniform, conditionNumber } from '../src/worlds/leaky-mixing.js';
import { laplacePairs, laplaceTransition, uniformFactors, type FactorGrid } from '../src/worlds/laplace-transitions.js';
import { SPRITE_GRID, VectorWorld, renderSprite, renderSprites } from '../src/worlds/sprites.js';
import { linearR2Split } from '../src/metrics/r2-split.js';
import { columnRanks, spearmanCorrelation, spearmanMcc } from '../src/metrics/spearman-mcc.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const FIX = JSON.parse(readFileSync(new URL('./fixtures/identifiability/identifiability.json', import.meta.url), 'utf8'));

test('vMF (Wood): the cosine to mu has the moments of exp(kappa w)(1 - w^2)^((n-3)/2); E[z] = A_n(kappa) mu; the rest is isotropic', () => {
  for (const c of FIX.vmf) {
    const rng = new Rng(`vmf:${c.n}:${c.kappa}`);
    const mu = new Float64Array(c.n);
    mu[c.n - 1] = 1;
    const N = 40000;
    const z = sampleVmf(mu, c.kappa, N, rng);
    let m = 0, m2 = 0, other = 0;
    for (let i = 0; i < N; i++) {
      const w = z.data[i * c.n + c.n - 1];
      m += w;
      m2 += w * w;
      other += z.data[i * c.n]; // an orthogonal coordinate: mean 0
      let s = 0;
      for (let j = 0; j < c.n; j++) s += z.data[i * c.n + j] ** 2;
      assert.ok(Math.abs(s - 1) < 1e-5, 'unit norm');
    }
    const sdW = Math.sqrt(Math.max(c.Ew2 - c.Ew * c.Ew, 1e-8));
    assert.ok(Math.abs(m / N - c.Ew) < 5 * sdW / Math.sqrt(N), `E[w] ${m / N} vs ${c.Ew} (n ${c.n}, kappa ${c.kappa})`);
    assert.ok(Math.abs(m / N - c.A) < 5 * sdW / Math.sqrt(N), 'mean resultant length I_{n/2}/I_{n/2-1}');
    assert.ok(Math.abs(m2 / N - c.Ew2) < 0.01, `E[w^2] ${m2 / N} vs ${c.Ew2}`);
    assert.ok(Math.abs(other / N) < 0.02, 'orthogonal part centred');
  }
});

test('vMF cluster world: index uniform, cluster = index mod C, centres unit norm; bad input refused', () => {
  const w = new VmfClusterWorld({ n: 5, clusters: 7, indices: 30, kappa: 10, seed: 1 });
  const b = w.sample(3000, new Rng(2));
  const counts = new Int32Array(30);
  for (let i = 0; i < 3000; i++) {
    assert.equal(b.cluster[i], b.index[i] % 7);
    counts[b.index[i]]++;
  }
  for (const c of counts) assert.ok(c > 50 && c < 160);
  for (let c = 0; c < 7; c++) assert.ok(Math.abs(Math.hypot(...w.centers.row(c)) - 1) < 1e-6);
  // the same seed, the same centres
  assert.deepEqual(Array.from(new VmfClusterWorld({ n: 5, clusters: 7, indices: 30, seed: 1 }).centers.data), Array.from(w.centers.data));
  assertThrowsCode(() => new VmfClusterWorld({ kappa: 0 }), 'E_ARG', /kappa/);
  assertThrowsCode(() => new VmfClusterWorld({ kappa: -1 }), 'E_ARG', /kappa/);
  assertThrowsCode(() => new VmfClusterWorld({ kappa: Number.NaN }), 'E_ARG', /kappa/);
  assertThrowsCode(() => new VmfClusterWorld({ clusters: 11, indices: 10 }), 'E_ARG', /clusters/);
  assertThrowsCode(() => sampleVmf([1, 1, 0], 5, 3, new Rng(0)), 'E_ARG', /unit vector/);
  assertThrowsCode(() => woodConstants(5, 1), 'E_ARG');
  const u = uniformSphere(5000, 3, new Rng(4));
  let mean = 0;
  for (let i = 0; i < 5000; i++) mean += u.data[i * 3 + 1];
  assert.ok(Math.abs(mean / 5000) < 0.05);
  let bm = 0;
  for (let i = 0; i < 20000; i++) bm += betaDraw(new Rng(i), 2, 2);
  assert.ok(Math.abs(bm / 20000 - 0.5) < 0.01);
});

test('condition number = numpy.linalg.cond; leaky mixing obeys the rejection rule and is invertible', () => {
  for (const c of FIX.cond) assert.ok(Math.abs(conditionNumber(Float64Array.from(c.a), c.n) - c.cond) < 1e-9 * c.cond);
  const a = columnNormalizedUniform(4, new Rng(0));
  for (let j = 0; j < 4; j++) {
    let s = 0;
    for (let i = 0; i < 4; i++) s += a[i * 4 + j] ** 2;
    assert.ok(Math.abs(s - 1) < 1e-12, 'unit columns');
  }
  const g = new LeakyMixing({ n: 3, layers: 4, pool: 300, ratio: 0.1, seed: 5 });
  assert.equal(g.weights.length, 4);
  for (const c of g.conditions) assert.ok(c <= g.threshold);
  // leaky ReLU between layers only: for z with every pre-activation positive the map is the matrix product
  const Z = uniformSphere(50, 3, new Rng(6));
  const X = g.apply(Z);
  // invertibility: distinct inputs stay distinct, and the map is continuous (no NaN)
  for (let i = 0; i < X.data.length; i++) assert.ok(Number.isFinite(X.data[i]));
  const one = g.apply(Matrix.from([[0.3, -0.2, 0.9]]));
  // by hand
  let h = [0.3, -0.2, 0.9];
  g.weights.forEach((W, l) => {
    h = [0, 1, 2].map((o) => {
      const s = W[o * 3] * h[0] + W[o * 3 + 1] * h[1] + W[o * 3 + 2] * h[2];
      return l < 3 && s < 0 ? 0.2 * s : s;
    });
  });
  assertAllClose(one.data, h, 1e-5, 1e-6, 'mixing by hand');
  assertThrowsCode(() => g.apply(new Matrix(2, 4)), 'E_SHAPE');
});

test('linear R2 with a fit/test split = sklearn LinearRegression + r2_score (uniform and variance-weighted)', () => {
  for (const c of FIX.r2) {
    const r = linearR2Split(new Matrix(c.rows, c.p, Float32Array.from(c.H)), new Matrix(c.rows, c.q, Float32Array.from(c.Z)));
    assert.ok(Math.abs(r.r2 - c.r2) < 1e-6, `uniform R2 ${r.r2} vs ${c.r2}`);
    assert.ok(Math.abs(r.r2Weighted - c.r2_weighted) < 1e-6);
    assertAllClose(r.perDim, c.per_dim, 1e-5, 1e-6, 'per-dimension R2');
  }
  assertThrowsCode(() => linearR2Split(new Matrix(3, 2), new Matrix(3, 2)), 'E_SHAPE');
  const bad = new Matrix(10, 2);
  bad.data[3] = Number.NaN;
  assertThrowsCode(() => linearR2Split(bad, new Matrix(10, 2)), 'E_NONFINITE');
});

test('Spearman correlation with ties = scipy.stats.spearmanr; matched mean |corr| = the SlowVAE MCC', () => {
  assert.deepEqual(Array.from(columnRanks(Matrix.from([[3], [1], [3], [2]]))), [3.5, 1, 3.5, 2]);
  for (const c of FIX.spearman) {
    const truth = new Matrix(c.rows, c.zd, Float32Array.from(c.truth));
    const codes = new Matrix(c.rows, c.zd, Float32Array.from(c.codes));
    assertAllClose(spearmanCorrelation(truth, codes), c.rho, 1e-9, 1e-9, 'spearman');
    // the padded truth is given, so the MCC's own padding is not used: F = zd, then average the real factors
    const all = spearmanMcc(codes, truth);
    let s = 0;
    for (let j = 0; j < c.F; j++) s += all.perFactor[j];
    assert.ok(Math.abs(s / c.F - c.mcc) < 1e-9, `MCC ${s / c.F} vs ${c.mcc}`);
  }
  // padding: fewer factors than codes; a perfect monotone code scores 1
  const f = uniformFactors({ sizes: [5, 7], categorical: [false, false] }, 400, new Rng(1));
  const codes = new Matrix(400, 4);
  new Rng(2).fillNormal(codes.data);
  for (let i = 0; i < 400; i++) {
    codes.data[i * 4 + 2] = Math.exp(f.data[i * 2]);
    codes.data[i * 4 + 0] = -3 * f.data[i * 2 + 1];
  }
  const m = spearmanMcc(codes, f, { seed: 3 });
  assert.ok(Math.abs(m.mcc - 1) < 1e-12);
  assert.deepEqual(Array.from(m.matching), [2, 0]);
  assertThrowsCode(() => spearmanMcc(new Matrix(10, 1), new Matrix(10, 2)), 'E_SHAPE', /wide/);
});

test('truncated Laplace transitions: the exact next-frame law, categorical factors fixed, every pair changes', () => {
  for (const c of FIX.laplace) {
    const g: FactorGrid = { sizes: [c.size, 2], categorical: [false, true] };
    const N = 40000;
    const counts = new Float64Array(c.size);
    const rng = new Rng(`lap:${c.size}`);
    let changedAll = true;
    for (let i = 0; i < N; i++) {
      const e = laplaceTransition([c.loc, 1], g, c.rate, rng);
      assert.equal(e[1], 1, 'categorical factor fixed');
      counts[e[0]]++;
      if (e[0] === c.loc) changedAll = false;
    }
    assert.ok(changedAll, 'the only free factor always changes (the reference redraws it when nothing moved)');
    // law: p conditioned on x != loc
    const p = c.p.map((v: number, x: number) => (x === c.loc ? 0 : v / (1 - c.p[c.loc])));
    for (let x = 0; x < c.size; x++) assert.ok(Math.abs(counts[x] / N - p[x]) < 5 * Math.sqrt(p[x] * (1 - p[x]) / N) + 1e-3, `P(${x})`);
  }
  // with two free factors the marginal of one is the Laplace law (up to the redraw when both stay)
  const pairs = laplacePairs(SPRITE_GRID, 500, 1, new Rng(9));
  for (let i = 0; i < 500; i++) {
    const a = pairs.row(2 * i), b = pairs.row(2 * i + 1);
    assert.equal(a[0], b[0], 'shape fixed within a pair');
    assert.ok(a.some((v, k) => v !== b[k]), 'something changed');
  }
  assertThrowsCode(() => laplacePairs({ sizes: [3], categorical: [true] }, 1, 1, new Rng(0)), 'E_ARG', /categorical/);
  assertThrowsCode(() => laplacePairs(SPRITE_GRID, 2, 0, new Rng(0)), 'E_ARG');
});

test('sprites: rendered coverage matches the shape areas; cached renders equal fresh ones; vector world is deterministic', () => {
  const img = new Float32Array(256);
  // square of half-extent 3.5 (scale 4), brightness 1 (index 5), centred: area (7 px)^2
  renderSprite([0, 4, 5, 4, 4], img);
  assert.ok(Math.abs(img.reduce((a, b) => a + b, 0) - 49) < 1e-6);
  renderSprite([1, 4, 5, 4, 4], img, 0, 16);
  assert.ok(Math.abs(img.reduce((a, b) => a + b, 0) - Math.PI * 3.5 * 3.5) < 0.3, 'ellipse area');
  renderSprite([2, 4, 5, 4, 4], img, 0, 16);
  assert.ok(Math.abs(img.reduce((a, b) => a + b, 0) - 0.5 * 7 * 7) < 0.3, 'triangle area');
  const f = Matrix.from([[2, 1, 3, 0, 9], [0, 0, 0, 9, 0]]);
  const r = renderSprites(f);
  const fresh = new Float32Array(256);
  renderSprite([2, 1, 3, 0, 9], fresh);
  assert.deepEqual(Array.from(r.row(0)), Array.from(fresh));
  assertThrowsCode(() => renderSprites(Matrix.from([[3, 0, 0, 0, 0]])), 'E_ARG', /shape/);
  const vw = new VectorWorld({ grid: { sizes: [5, 5, 5], categorical: [false, false, false] }, dim: 8, pool: 100, seed: 1 });
  const X = vw.observe(Matrix.from([[0, 2, 4], [4, 4, 4]]));
  assert.equal(X.cols, 8);
  assert.deepEqual(Array.from(new VectorWorld({ grid: vw.grid, dim: 8, pool: 100, seed: 1 }).observe(Matrix.from([[0, 2, 4]])).data), Array.from(X.row(0)));
});

test('Rng getState/setState: a restored generator continues the same stream (cached normal included)', () => {
  const a = new Rng('state');
  a.normal(); // leaves a cached Box-Muller value
  const st = JSON.parse(JSON.stringify(a.getState())); // NaN → null survives JSON
  const b = new Rng(0).setState(st);
  for (let i = 0; i < 5; i++) assert.equal(b.normal(), a.normal());
  assert.equal(b.nextU32(), a.nextU32());
  assertThrowsCode(() => new Rng(0).setState([0, 0, 0, 0, 0]), 'E_ARG');
  assertThrowsCode(() => new Rng(0).setState([1, 2]), 'E_ARG');
});
