import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import {
  AdditiveCouplingMixing, OuWorld, householderQ, latentGrid, makeMixing, ouViews, sampleLatents, spiralMixing, bananaMixing, sinusoidMixing,
} from '../src/worlds/ou-views.js';
import { MatchedEncoder } from '../src/worlds/matched-encoder.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/lejepa/lejepa.json', import.meta.url), 'utf8'));

test('latent laws have unit variance; the generalised normal matches scipy.stats.gennorm', () => {
  const rng = new Rng(1);
  const n = 40000;
  for (const law of [{ kind: 'gaussian' }, { kind: 'laplace' }, { kind: 'gennorm', alpha: 0.5 }, { kind: 'gennorm', alpha: 16 }] as const) {
    const Z = sampleLatents(rng, n, 1, law);
    let s = 0, ss = 0;
    for (const v of Z.data) {
      s += v;
      ss += v * v;
    }
    const mean = s / n, vr = ss / n - mean * mean;
    assert.ok(Math.abs(mean) < 0.03, `${JSON.stringify(law)} mean ${mean}`);
    assert.ok(Math.abs(vr - 1) < (law.kind === 'gennorm' && law.alpha === 0.5 ? 0.15 : 0.04), `${JSON.stringify(law)} variance ${vr}`);
  }
  for (const [alpha, ref] of Object.entries(fx.gennorm) as [string, { x: number[]; cdf: number[] }][]) {
    const Z = sampleLatents(new Rng(2), 20000, 1, { kind: 'gennorm', alpha: Number(alpha) });
    const sorted = Float64Array.from(Z.data).sort();
    ref.x.forEach((x, i) => {
      let k = 0;
      while (k < sorted.length && sorted[k] <= x) k++;
      assert.ok(Math.abs(k / sorted.length - ref.cdf[i]) < 0.015, `alpha ${alpha}: empirical CDF at ${x} is ${k / sorted.length}, scipy ${ref.cdf[i]}`);
    });
  }
  // the Laplace law is gennorm(1)
  const lap = Float64Array.from(sampleLatents(new Rng(3), 20000, 1, { kind: 'laplace' }).data).sort();
  const ref1 = fx.gennorm['1.0'];
  ref1.x.forEach((x: number, i: number) => {
    let k = 0;
    while (k < lap.length && lap[k] <= x) k++;
    assert.ok(Math.abs(k / lap.length - ref1.cdf[i]) < 0.015);
  });
});

test('OU views: two steps from one anchor, correlation rho with the anchor and rho^2 between views', () => {
  const rng = new Rng(4);
  const B = 20000;
  const anchors = sampleLatents(rng, B, 1, { kind: 'gaussian' });
  const V = ouViews(rng, anchors, 0.8, { kind: 'gaussian' });
  assert.deepEqual(V.shape, [2 * B, 1]);
  const corr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < a.length; i++) {
      sab += a[i] * b[i];
      saa += a[i] * a[i];
      sbb += b[i] * b[i];
    }
    return sab / Math.sqrt(saa * sbb);
  };
  const v0 = V.data.subarray(0, B), v1 = V.data.subarray(B);
  assert.ok(Math.abs(corr(anchors.data, v0) - 0.8) < 0.01);
  assert.ok(Math.abs(corr(v0, v1) - 0.64) < 0.015);
  assertThrowsCode(() => ouViews(rng, anchors, 1, { kind: 'gaussian' }), 'E_ARG', /rho.*\(-1, 1\)/);
  assertThrowsCode(() => ouViews(rng, anchors, -1.2, { kind: 'gaussian' }), 'E_ARG', /rho/);
  assertThrowsCode(() => sampleLatents(rng, 2, 2, { kind: 'gennorm', alpha: 0 }), 'E_ARG', /alpha.*> 0/);
  assertThrowsCode(() => sampleLatents(rng, 2, 2, { kind: 'gennorm', alpha: -1 }), 'E_ARG', /alpha/);
  assertThrowsCode(() => sampleLatents(rng, 2, 2, { kind: 'gennorm' }), 'E_ARG', /alpha/);
});

test('2-D mixings match the reference formulas (torch fixture) and invert exactly', () => {
  const f = fx.mix2d;
  const Z = new Matrix(f.z.length / 2, 2, Float32Array.from(f.z));
  for (const [m, ref] of [[spiralMixing, f.spiral], [bananaMixing, f.banana], [sinusoidMixing, f.sinusoid]] as const) {
    const X = m.apply(Z);
    assertAllClose(X.data, ref, 1e-5, 1e-6, m.name);
    assertAllClose(m.inverse(X).data, Z.data, 1e-5, 2e-5, `${m.name} inverse`);
  }
  assertThrowsCode(() => makeMixing('spiral', 4), 'E_ARG', /2-D/);
  assertThrowsCode(() => makeMixing('swirl', 2), 'E_ARG', /spiral, banana, sinusoid, coupling/);
});

test('Householder QR follows the LAPACK convention (numpy.linalg.qr), the coupling mixing matches torch', () => {
  assertAllClose(householderQ(fx.qr.a, fx.qr.n), fx.qr.q, 1e-10, 1e-12, 'Q');
  assert.equal(householderQ([-3], 1)[0], fx.qr.q1x1_of_minus3);
  const c = fx.coupling;
  const mix = new AdditiveCouplingMixing(c.dim, { layers: c.layers, seed: 0 });
  c.W.forEach((w: number[], l: number) => mix.weights[l].set(w));
  const Z = new Matrix(c.z.length / c.dim, c.dim, Float32Array.from(c.z));
  const X = mix.apply(Z);
  assertAllClose(X.data, c.x, 1e-5, 1e-6, 'coupling');
  assertAllClose(mix.inverse(X).data, Z.data, 1e-5, 1e-5, 'coupling inverse');
  // weights are 2·orthogonal
  const m8 = new AdditiveCouplingMixing(8, { layers: 4, seed: 3 });
  const W = m8.weights[2];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += W[k * 4 + i] * W[k * 4 + j];
    assert.ok(Math.abs(s - (i === j ? 4 : 0)) < 1e-5);
  }
  assert.deepEqual(new AdditiveCouplingMixing(8, { seed: 3 }).weights[0], m8.weights[0]);
  assertThrowsCode(() => new AdditiveCouplingMixing(5), 'E_ARG', /even/);
});

test('matched encoder: with the mixing weights it inverts the mixing; its gradient passes central differences', () => {
  const mix = new AdditiveCouplingMixing(6, { layers: 4, seed: 5 });
  const enc = new MatchedEncoder(6, { layers: 4, seed: 6 });
  enc.setFromMixing(mix);
  const Z = randMatrix(9, 6, 7);
  assertAllClose(enc.forward(mix.apply(Z)).data, Z.data, 1e-5, 1e-5, 'inverse');
  const fresh = new MatchedEncoder(6, { layers: 3, seed: 8 });
  assert.deepEqual(fresh.params().map((p) => p.name), ['Ws.0', 'Ws.1', 'Ws.2']);
  // loss = Σ c ⊙ f(x): gradient w.r.t. the weights and the input
  const X = randMatrix(5, 6, 9);
  const C = randMatrix(5, 6, 10);
  const loss = () => {
    const h = fresh.forward(X);
    let s = 0;
    for (let i = 0; i < h.data.length; i++) s += C.data[i] * h.data[i];
    return s;
  };
  fresh.zeroGrad();
  loss();
  const dx = fresh.backward(C).clone();
  const e = 1e-2;
  let worst = 0;
  for (const p of fresh.params()) {
    for (let i = 0; i < p.param.length; i++) {
      const v = p.param[i];
      p.param[i] = v + e;
      const fp = loss();
      p.param[i] = v - e;
      const fm = loss();
      p.param[i] = v;
      const fd = (fp - fm) / (2 * e);
      worst = Math.max(worst, Math.abs(fd - p.grad[i]) / (1e-2 + Math.abs(fd)));
    }
  }
  for (let i = 0; i < X.data.length; i++) {
    const v = X.data[i];
    X.data[i] = v + e;
    const fp = loss();
    X.data[i] = v - e;
    const fm = loss();
    X.data[i] = v;
    const fd = (fp - fm) / (2 * e);
    worst = Math.max(worst, Math.abs(fd - dx.data[i]) / (1e-2 + Math.abs(fd)));
  }
  assert.ok(worst < 5e-3, `worst relative error ${worst}`);
  // and nn's gradcheck on the weights
  const r = gradcheck({
    params: fresh.params(),
    loss,
    lossAndGrad: () => {
      const v = loss();
      fresh.backward(C);
      return v;
    },
    h: 1e-2,
  });
  assert.equal(r.checked, 3 * 9);
  assert.deepEqual(r.failures, []);
});

test('OuWorld: fresh seeded batches, evaluation sets, the [-3, 3]^2 grid', () => {
  const w = new OuWorld({ latents: 2, mixing: 'spiral', law: { kind: 'gennorm', alpha: 4 }, rho: 0.9 });
  const b1 = w.batch(new Rng(1), 16);
  const first = b1.x.data.slice();
  const b2 = w.batch(new Rng(1), 16);
  assert.deepEqual(b2.x.data, first);
  assert.deepEqual(b2.x.shape, [32, 2]);
  assertAllClose(b2.x.data, spiralMixing.apply(b2.z).data, 0, 0);
  const e = w.evalSet(new Rng(2), 50);
  assert.deepEqual(e.zPrime.shape, [50, 2]);
  const g = latentGrid();
  assert.deepEqual(g.shape, [10000, 2]);
  assert.deepEqual([g.data[0], g.data[1], g.data[2], g.data[3], g.data[19998], g.data[19999]], [-3, -3, -3, -3 + 6 / 99, 3, 3].map(Math.fround));
  assertThrowsCode(() => new OuWorld({ latents: 2, mixing: 'spiral', rho: 1 }), 'E_ARG', /rho/);
  assertThrowsCode(() => new OuWorld({ latents: 3, mixing: 'coupling' }), 'E_ARG', /even/);
});
