import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { laplaceCrossEntropy, normalCdf, slowVaeTerms } from '../src/objectives/slowvae.js';
import { makeVae, runSlowVae, slowVaeCells, vaeStep, SV_PRESETS } from '../src/experiments/slowvae.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const FIX = JSON.parse(readFileSync(new URL('./fixtures/slowvae/slowvae.json', import.meta.url), 'utf8'));

test('SlowVAE prior terms and gradients = the reference formulas under torch.autograd', () => {
  for (const c of FIX.cases) {
    const mu = new Matrix(c.rows, c.z, Float32Array.from(c.mu));
    const lv = new Matrix(c.rows, c.z, Float32Array.from(c.logvar));
    const t = slowVaeTerms(mu, lv, { beta: c.beta, gamma: c.gamma, rate: c.rate });
    assert.ok(Math.abs(t.entropy - c.entropy) < 1e-9);
    assert.ok(Math.abs(t.crossEntNormal - c.ce_normal) < 1e-9);
    assert.ok(Math.abs(t.crossEntLaplace - c.ce_laplace) < 1e-9, `CE_L ${t.crossEntLaplace} vs ${c.ce_laplace}`);
    assert.ok(Math.abs(t.value - c.value) < 1e-9);
    assertAllClose(t.gradMu.data, c.grad_mu, 1e-5, 1e-7, 'd/dmu');
    assertAllClose(t.gradLogvar.data, c.grad_logvar, 1e-5, 1e-7, 'd/dlogvar');
  }
});

test('Laplace cross-entropy = -ln(rate/2) + rate E|X| by quadrature; Phi; bad input', () => {
  for (const [m, s, rate] of [[0.3, 0.7, 6], [-1.2, 0.2, 1], [0, 1, 2.5]]) {
    let e = 0;
    const h = 1e-3;
    for (let x = m - 12 * s; x < m + 12 * s; x += h) e += Math.abs(x + h / 2) * Math.exp(-((x + h / 2 - m) ** 2) / (2 * s * s)) * h;
    e /= Math.sqrt(2 * Math.PI) * s;
    assert.ok(Math.abs(laplaceCrossEntropy(m, s, rate).value - (-Math.log(rate / 2) + rate * e)) < 1e-6);
  }
  assert.ok(Math.abs(normalCdf(1.96) - 0.9750021048517795) < 1e-12);
  assertThrowsCode(() => slowVaeTerms(new Matrix(3, 2), new Matrix(3, 2), { beta: 1, gamma: 1, rate: 6 }), 'E_SHAPE', /pairs/);
  assertThrowsCode(() => slowVaeTerms(new Matrix(2, 2), new Matrix(2, 2), { beta: 1, gamma: 1, rate: 0 }), 'E_ARG');
  const bad = new Matrix(2, 2);
  bad.data[1] = Number.NaN;
  assertThrowsCode(() => slowVaeTerms(bad, new Matrix(2, 2), { beta: 1, gamma: 1, rate: 6 }), 'E_NONFINITE');
});

for (const likelihood of ['bernoulli', 'gaussian'] as const) {
  test(`one SlowVAE step (${likelihood}): parameter gradients match finite differences of 2·recon + β·KL_N + γ·KL_L`, () => {
    const s = { ...SV_PRESETS.quick.settings, zDim: 3, hidden: 6 };
    const vae = makeVae(5, s, 'gc');
    const X = new Matrix(4, 5);
    new Rng(1).fillUniform(X.data, 0.05, 0.95);
    const o = { beta: 1.5, gamma: 4, rate: 6 };
    const params = [...vae.encoder.params(), ...vae.decoder.params()];
    const res = gradcheck({
      params,
      loss: () => vaeStep(vae, X, likelihood, o, new Rng(9)).loss,
      lossAndGrad: () => vaeStep(vae, X, likelihood, o, new Rng(9)).loss,
      maxPerParam: 12,
      seed: 3,
      h: 3e-3,
      atol: 5e-3,
      rtol: 5e-2,
    });
    assert.deepEqual(res.failures, []);
    assert.ok(res.checked > 40);
  });
}

test('cells: worlds, rates and methods are validated', () => {
  assert.equal(slowVaeCells({ worlds: ['sprites'], rates: [1, 3], seeds: [0, 1, 2], methods: ['slowvae', 'beta-vae'] }).length, 12);
  assertThrowsCode(() => slowVaeCells({ worlds: ['mnist'], rates: [1], seeds: [0], methods: ['slowvae'] }), 'E_USAGE');
  assertThrowsCode(() => slowVaeCells({ worlds: ['sprites'], rates: [0], seeds: [0], methods: ['slowvae'] }), 'E_USAGE');
  assertThrowsCode(() => slowVaeCells({ worlds: ['sprites'], rates: [Number.NaN], seeds: [0], methods: ['slowvae'] }), 'E_USAGE');
});

test('repro slowvae end to end on a tiny setting (both worlds): MCC in [0, 1], report without NaN, resume', async () => {
  const out = mkdtempSync(join(tmpdir(), 'slowvae-'));
  try {
    const o = { out, worlds: ['sprites', 'vector'], rates: [1], seeds: [0], settings: { steps: 30, hidden: 16, evalSamples: 300, pairs: 8 } };
    const r = await runSlowVae(o);
    assert.equal(r.summary.failed, 0, JSON.stringify(r.summary.lines.map((l) => l?.error)));
    assert.equal(r.rows.length, 4);
    for (const row of r.rows) {
      assert.ok(row.mean.mcc >= 0 && row.mean.mcc <= 1, `${row.method}: ${row.mean.mcc}`);
      assert.ok(Number.isFinite(row.mean.recon) && Number.isFinite(row.mean.kl_normal));
    }
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.ok(!/NaN/.test(report));
    assert.equal((await runSlowVae(o)).summary.ran, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
