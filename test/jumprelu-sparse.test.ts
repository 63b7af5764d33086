/**
 * The JumpReLU SAE's sparse training step (active latents and the threshold's band only, one
 * GEMM) gives the gradients of its dense step (five GEMMs), on every backend; its weight
 * gradients match finite differences; 'auto' takes it when rows are sparse and falls back to
 * the dense step when they are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, loadBackends, useBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE, JumpReluSAE } from '../src/dictionary/index.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });

function setup(seed: number, dim: number, atoms: number, rows: number, thetaLo: number, thetaHi: number, bandwidth = 0.1): { sae: JumpReluSAE; X: Matrix } {
  const rng = new Rng(seed);
  const sae = createSAE('jumprelu', { atoms, l0: 0.01, bandwidth }) as JumpReluSAE;
  sae.initParams(dim, rng.fork('init'));
  for (const p of sae.paramList()) {
    if (p.name === 'log_threshold') continue;
    for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  }
  for (let a = 0; a < atoms; a++) sae.logTheta[a] = Math.log(thetaLo + (thetaHi - thetaLo) * rng.uniform());
  const X = new Matrix(rows, dim);
  rng.fork('x').fillNormal(X.data);
  return { sae, X };
}

function grads(sae: JumpReluSAE, X: Matrix, path: 'sparse' | 'dense'): { loss: number; g: Float32Array[] } {
  sae.stepPath = path;
  const loss = sae.forwardBackward(X).loss;
  assert.equal(sae.lastPath, path);
  return { loss, g: sae.paramList().map((p) => p.grad.slice()) };
}

test('JumpReLU: the sparse step gives the dense step\'s loss and gradients on every backend', () => {
  for (const name of availableBackends() as BackendName[]) {
    useBackend(name);
    const { sae, X } = setup(3, 24, 96, 80, 1.2, 2.5);
    const s = grads(sae, X, 'sparse'), dn = grads(sae, X, 'dense');
    assert.ok(Math.abs(s.loss - dn.loss) <= 1e-5 * Math.abs(dn.loss), `${name}: loss ${s.loss} vs ${dn.loss}`);
    const names = sae.paramList().map((p) => p.name);
    s.g.forEach((g, q) => assertAllClose(g, dn.g[q], 1e-5, 1e-4, `${name}: ${names[q]}`));
    assert.ok(sae.gLogTheta.some((v) => v !== 0), 'some rows sit in a threshold band');
    // a wide kernel: more than atoms/8 band entries in a row, dL/dz on the band read off one GEMM
    const wide = setup(3, 24, 96, 80, 1.2, 2.5, 2.0);
    const ws = grads(wide.sae, wide.X, 'sparse'), wd = grads(wide.sae, wide.X, 'dense');
    ws.g.forEach((g, q) => assertAllClose(g, wd.g[q], 1e-5, 1e-4, `${name} (wide band): ${names[q]}`));
    assert.ok(wide.sae.gLogTheta.filter((v) => v !== 0).length > 50, 'the wide band reaches most thresholds');
  }
  useBackend('js');
});

test('JumpReLU sparse step: weight gradients match finite differences', () => {
  useBackend('js');
  const { sae, X } = setup(7, 5, 7, 6, 0.2, 0.6);
  sae.stepPath = 'sparse';
  const r = gradcheck({ params: sae.paramList(), loss: () => sae.forwardBackward(X).loss, lossAndGrad: () => sae.forwardBackward(X).loss, skip: ['log_threshold'], h: 1e-3, atol: 3e-3, rtol: 3e-2 });
  assert.deepEqual(r.failures, []);
  assert.equal(sae.lastPath, 'sparse');
});

test('JumpReLU auto: sparse when rows have few active latents, dense when a row has more than atoms/4', () => {
  useBackend('js');
  const few = setup(3, 24, 96, 80, 5, 8);
  few.sae.forwardBackward(few.X);
  assert.equal(few.sae.lastPath, 'sparse');
  const many = setup(3, 24, 96, 80, 0.001, 0.002); // almost every positive pre-activation passes
  many.sae.forwardBackward(many.X);
  assert.equal(many.sae.lastPath, 'dense');
});

test('JumpReLU: a training run ends with the same weights either way (up to float32 rounding)', async () => {
  useBackend('js');
  const rng = new Rng(11);
  const X = new Matrix(400, 16);
  rng.fillNormal(X.data);
  const cfg = { atoms: 64, l0: 0.02, bandwidth: 0.05, thresholdInit: 0.6, batch: 50, steps: 40, lr: 1e-3 };
  const a = createSAE('jumprelu', cfg) as JumpReluSAE, b = createSAE('jumprelu', cfg) as JumpReluSAE;
  a.stepPath = 'sparse';
  b.stepPath = 'dense';
  await a.fit(X, { seed: 2 });
  await b.fit(X, { seed: 2 });
  assertAllClose(a.getWeights().W_dec.data, b.getWeights().W_dec.data, 1e-4, 1e-3, 'W_dec');
  assertAllClose(a.logTheta, b.logTheta, 1e-4, 1e-3, 'log threshold');
});
