import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { boundQuantities, gridMetrics, orthogonalityError, procrustesError, worldModelMetrics } from '../src/metrics/world-model.js';
import { latentGrid } from '../src/worlds/ou-views.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

const f = JSON.parse(readFileSync(new URL('./fixtures/lejepa/lejepa.json', import.meta.url), 'utf8')).metrics;
const Z = new Matrix(f.n, f.dim, Float32Array.from(f.z));
const H = new Matrix(f.n, f.dim, Float32Array.from(f.h));
const HP = new Matrix(f.n, f.dim, Float32Array.from(f.hPrime));

test('world-model metrics match the reference formulas (NumPy fixture)', () => {
  const m = worldModelMetrics({ z: Z, x: H, h: H, hPrime: HP, rho: f.rho });
  for (const k of ['r2_zh', 'r2_hz', 'orth_err', 'orth_err_raw', 'epsilon', 'trace_cov', 'L_h', 'delta', 'D_bound', 'approx_bound', 'procrustes_mse'] as const) {
    assertAllClose([m[k]], [f[k]], 1e-6, 1e-9, k);
  }
  assert.equal(m.r2_zx, m.r2_zh);
  assertAllClose([m.spectral_gap], [2 * 0.9 * 0.1], 1e-12, 0);
});

test('a rotation of z is recovered exactly: R^2 = 1, orthogonality and Procrustes errors 0, bound 0 on isotropic data', () => {
  const z = randMatrix(4000, 3, 1);
  const c = Math.cos(0.7), s = Math.sin(0.7);
  const h = new Matrix(4000, 3);
  for (let i = 0; i < 4000; i++) {
    const a = z.data[3 * i], b = z.data[3 * i + 1];
    h.data[3 * i] = c * a - s * b;
    h.data[3 * i + 1] = s * a + c * b;
    h.data[3 * i + 2] = z.data[3 * i + 2];
  }
  assert.ok(orthogonalityError(z, h).normalized < 1e-6);
  assert.ok(procrustesError(h, z) < 1e-10);
  const scaled = h.clone();
  for (let i = 0; i < scaled.data.length; i++) scaled.data[i] *= 2;
  assertAllClose([orthogonalityError(z, scaled).raw], [Math.sqrt(3 * 9)], 1e-6, 0);
  const b = boundQuantities(h, h, 0.95);
  assert.equal(b.L_h, 0);
  assert.equal(b.delta, 0);
  assert.ok(b.epsilon < 0.1);
});

test('grid metrics on the 100 x 100 grid: identity embedding scores 1, a nonlinear one less', () => {
  const g = latentGrid();
  assertAllClose([gridMetrics(g, g).r2_hz_grid], [1], 1e-12, 0);
  const bent = g.clone();
  for (let i = 0; i < bent.rows; i++) bent.data[2 * i + 1] += bent.data[2 * i] ** 2;
  const m = gridMetrics(g, bent);
  assert.ok(m.r2_hz_grid < 0.9 && m.r2_hz_grid > 0.3, `${m.r2_hz_grid}`);
  assertThrowsCode(() => procrustesError(randMatrix(5, 2, 0), randMatrix(5, 3, 0)), 'E_SHAPE', /square/);
  const nan = H.clone();
  nan.data[0] = NaN;
  assertThrowsCode(() => worldModelMetrics({ z: Z, x: H, h: nan, hPrime: HP, rho: 0.9 }), 'E_NONFINITE');
});
