import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { groundTruthMetrics, logistic1d, syntheticAbsorption, syntheticSparseProbingTop1 } from '../src/metrics/ground-truth.js';
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

test('ground-truth metrics refuse mismatched shapes', () => {
  assertThrowsCode(() => groundTruthMetrics({ X, Xhat: M(N - 1, d, fx.Xhat.slice(0, (N - 1) * d)), f, Wdec, Dgt, Agt }), 'E_SHAPE');
  assertThrowsCode(() => groundTruthMetrics({ X, Xhat, f, Wdec, Dgt: M(G - 1, d, fx.D.slice(0, (G - 1) * d)), Agt }), 'E_SHAPE');
});
