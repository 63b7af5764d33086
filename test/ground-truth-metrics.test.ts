import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { groundTruthMetrics } from '../src/metrics/ground-truth.js';
import { syntheticAbsorption } from '../src/metrics/absorption.js';
import { logistic1d, logisticL2, syntheticSparseProbing, syntheticSparseProbingTop1 } from '../src/metrics/sparse-probing.js';
import { assertThrowsCode } from './helpers.js';

// fixture: test/fixtures/frontier/gen.py (NumPy, scipy.optimize.linear_sum_assignment, sklearn LogisticRegression)
const fx = JSON.parse(readFileSync(new URL('./fixtures/frontier/metrics.json', import.meta.url), 'utf8'));
const { N, G, d, F } = fx.shapes;
const M = (r: number, c: number, v: number[]) => new Matrix(r, c, Float32Array.from(v));
const X = M(N, d, fx.X), Xhat = M(N, d, fx.Xhat), f = M(N, F, fx.f), Wdec = M(F, d, fx.W), Dgt = M(G, d, fx.D), Agt = M(N, G, fx.A);
const E = fx.expect;

test('ground-truth metrics equal the NumPy computation: mcc_dec, uniqueness, P/R/F1/accuracy, ev, l0, dead_fraction, shrinkage', () => {
  const m = groundTruthMetrics({ X, Xhat, f, Wdec, Dgt, Agt });
  for (const k of ['mcc_dec', 'uniqueness', 'precision', 'recall', 'f1', 'accuracy', 'ev', 'l0', 'dead_fraction', 'shrinkage'] as const) {
    assert.ok(Math.abs(m[k] - E[k]) <= 1e-6 * (1 + Math.abs(E[k])), `${k}: ${m[k]} vs NumPy ${E[k]}`);
  }
});

test('synthetic absorption equals the NumPy computation of ECOSYSTEM §5.2 (option b, exact target)', () => {
  const r = syntheticAbsorption({ f, Wdec, Dgt, Agt, parents: [0] });
  assert.equal(r.perParent[0].latent, E.absorption_latent);
  assert.ok(Math.abs(r.absorption - E.absorption) < 1e-6, `${r.absorption} vs ${E.absorption}`);
  assert.ok(r.absorption > 0, 'the fixture has a child latent that absorbs its parent');
});

test('sparse probing top-1: mean-difference selection and the L2 logistic probe equal scikit-learn', () => {
  const r = syntheticSparseProbingTop1({ f, Agt, features: [0] });
  assert.equal(r.perFeature[0].latent, E.probe_latent);
  assert.ok(Math.abs(r.sparse_probing_top1 - E.sparse_probing_top1) < 1e-12);
  const half = Math.floor(N / 2), xs: number[] = [], ys: number[] = [];
  for (let t = 0; t < half; t++) if (Agt.get(t, 0) > 0) { xs.push(f.get(t, E.probe_latent)); ys.push(1); }
  for (let t = 0; t < half; t++) if (!(Agt.get(t, 0) > 0)) { xs.push(f.get(t, E.probe_latent)); ys.push(0); }
  const [w, b] = logistic1d(xs, ys, 1);
  assert.ok(Math.abs(w - E.probe_coef) < 1e-5 && Math.abs(b - E.probe_intercept) < 1e-5, `${w},${b} vs sklearn ${E.probe_coef},${E.probe_intercept}`);
});

test('full absorption (SAEBench is_full_absorption) equals the NumPy computation; an absorbed parent scores above 0', () => {
  const r = syntheticAbsorption({ f, Wdec, Dgt, Agt, parents: [0] });
  assert.ok(Math.abs(r.full - E.absorption_full) < 1e-12, `${r.full} vs ${E.absorption_full}`);
  const fa = M(N, F, fx.f_absorbed);
  const a = syntheticAbsorption({ f: fa, Wdec, Dgt, Agt, parents: [0] });
  assert.ok(Math.abs(a.absorption - E.absorption_absorbed) < 1e-6, `fraction ${a.absorption} vs ${E.absorption_absorbed}`);
  assert.ok(Math.abs(a.full - E.absorption_full_absorbed) < 1e-12, `full ${a.full} vs ${E.absorption_full_absorbed}`);
  assert.ok(a.full > 0 && a.full === a.perParent[0].full);
});

test('sparse probing top-k (k = 1, 2, 5) on latents and on raw activations (llm_top_k) equals scikit-learn', () => {
  for (const [M0, key, pre] of [[f, 'probe_topk', 'sparse_probing_top'], [X, 'probe_topk_llm', 'llm_top']] as const) {
    const r = syntheticSparseProbing({ f: M0, Agt, features: [0] });
    assert.deepEqual(r.ks, [1, 2, 5]);
    r.ks.forEach((k, q) => {
      const ref = fx[key][String(k)];
      assert.deepEqual(r.perFeature[0].latents.slice(0, k), ref.latents, `${pre}${k}: the selected columns`);
      assert.ok(Math.abs(r.accuracy[q] - E[`${pre}${k}`]) < 1e-12, `${pre}${k}: ${r.accuracy[q]} vs ${E[`${pre}${k}`]}`);
      // the probe itself against scikit-learn's coefficients
      const half = Math.floor(N / 2), rows: number[] = [], ys: number[] = [];
      for (let t = 0; t < half; t++) if (Agt.get(t, 0) > 0) { rows.push(t); ys.push(1); }
      for (let t = 0; t < half; t++) if (!(Agt.get(t, 0) > 0)) { rows.push(t); ys.push(0); }
      const Z = new Float64Array(rows.length * k);
      rows.forEach((t, i) => ref.latents.forEach((c: number, j: number) => (Z[i * k + j] = M0.get(t, c))));
      const p = logisticL2(Z, rows.length, k, ys, 1);
      ref.coef.forEach((c: number, j: number) => assert.ok(Math.abs(p.w[j] - c) < 1e-5 * (1 + Math.abs(c)), `${pre}${k} coef ${j}: ${p.w[j]} vs ${c}`));
      assert.ok(Math.abs(p.b - ref.intercept) < 1e-5 * (1 + Math.abs(ref.intercept)), `${pre}${k} intercept`);
    });
  }
  assertThrowsCode(() => syntheticSparseProbing({ f, Agt, features: [0], ks: [0] }), 'E_ARG');
});

test('ground-truth metrics refuse mismatched shapes', () => {
  assertThrowsCode(() => groundTruthMetrics({ X, Xhat: M(N - 1, d, fx.Xhat.slice(0, (N - 1) * d)), f, Wdec, Dgt, Agt }), 'E_SHAPE');
  assertThrowsCode(() => groundTruthMetrics({ X, Xhat, f, Wdec, Dgt: M(G - 1, d, fx.D.slice(0, (G - 1) * d)), Agt }), 'E_SHAPE');
});
