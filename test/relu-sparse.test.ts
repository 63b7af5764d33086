/**
 * The ReLU SAE's sparse training step (the active latents only, one GEMM) gives the loss and
 * gradients of its dense step (four GEMMs), with and without the decoder-norm-weighted L1, on
 * every backend; its weight gradients match finite differences; 'auto' takes it when rows are
 * sparse and falls back to the dense step when they are not; a run ends at the same weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, loadBackends, useBackend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE, ReluSAE } from '../src/dictionary/index.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });

/** Random weights; encoder biases around `bias` (negative: few active latents per row). */
function setup(seed: number, dim: number, atoms: number, rows: number, bias: number, l1DecoderNorm = false): { sae: ReluSAE; X: Matrix } {
  const rng = new Rng(seed);
  const sae = createSAE('relu', { atoms, l1: 0.3, l1DecoderNorm }) as ReluSAE;
  sae.initParams(dim, rng.fork('init'));
  for (const p of sae.paramList()) for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  for (let a = 0; a < atoms; a++) sae.benc[a] += bias;
  const X = new Matrix(rows, dim);
  rng.fork('x').fillNormal(X.data);
  return { sae, X };
}

/** Close up to float32 summation order, on the scale of the largest entry (b_dec's gradient subtracts terms ~25x its size). */
function assertGradsClose(a: Float32Array, b: Float32Array, what: string): void {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  assertAllClose(a, b, 1e-5, 3e-6 * scale, what);
}

function grads(sae: ReluSAE, X: Matrix, path: 'sparse' | 'dense'): { loss: number; g: Float32Array[] } {
  sae.stepPath = path;
  const loss = sae.forwardBackward(X).loss;
  assert.equal(sae.lastPath, path);
  return { loss, g: sae.paramList().map((p) => p.grad.slice()) };
}

test('ReLU SAE: the sparse step gives the dense step\'s loss and gradients on every backend, with and without decoder-norm L1', () => {
  for (const name of availableBackends()) {
    useBackend(name);
    for (const norm of [false, true]) {
      const { sae, X } = setup(3, 24, 96, 80, -2, norm);
      const s = grads(sae, X, 'sparse'), dn = grads(sae, X, 'dense');
      assert.ok(Math.abs(s.loss - dn.loss) <= 1e-5 * Math.abs(dn.loss), `${name}: loss ${s.loss} vs ${dn.loss}`);
      const names = sae.paramList().map((p) => p.name);
      s.g.forEach((g, q) => assertGradsClose(g, dn.g[q], `${name} (l1DecoderNorm ${norm}): ${names[q]}`));
    }
  }
  useBackend('js');
});

test('ReLU SAE sparse step: weight gradients match finite differences', () => {
  useBackend('js');
  for (const norm of [false, true]) {
    const { sae, X } = setup(7, 5, 7, 6, 0, norm);
    sae.stepPath = 'sparse';
    const r = gradcheck({ params: sae.paramList(), loss: () => sae.forwardBackward(X).loss, lossAndGrad: () => sae.forwardBackward(X).loss, h: 1e-3, atol: 3e-3, rtol: 3e-2 });
    assert.deepEqual(r.failures, []);
    assert.equal(sae.lastPath, 'sparse');
  }
});

test('ReLU SAE auto: sparse when rows have few active latents, dense when a row has more than atoms/4; the list grows with the rows', () => {
  useBackend('js');
  const few = setup(3, 24, 96, 80, -5);
  few.sae.forwardBackward(few.X);
  assert.equal(few.sae.lastPath, 'sparse', 'few active latents');
  // a larger batch next: the list must cover the new rows
  const more = new Matrix(200, 24);
  new Rng(5).fillNormal(more.data);
  const s = grads(few.sae, more, 'sparse'), dn = grads(few.sae, more, 'dense');
  s.g.forEach((g, q) => assertGradsClose(g, dn.g[q], `after growing: param ${q}`));
  const many = setup(3, 24, 96, 80, 3); // most pre-activations positive
  many.sae.forwardBackward(many.X);
  assert.equal(many.sae.lastPath, 'dense', 'most latents active');
});

test('ReLU SAE: a training run ends with the same weights either way (up to float32 rounding)', async () => {
  useBackend('js');
  const rng = new Rng(11);
  const X = new Matrix(400, 16);
  rng.fillNormal(X.data);
  const cfg = { atoms: 64, l1: 0.3, batch: 50, steps: 40, lr: 1e-3 };
  const a = createSAE('relu', cfg) as ReluSAE, b = createSAE('relu', cfg) as ReluSAE;
  a.stepPath = 'sparse';
  b.stepPath = 'dense';
  await a.fit(X, { seed: 2 });
  await b.fit(X, { seed: 2 });
  assert.equal(a.lastPath, 'sparse');
  const wa = a.getWeights(), wb = b.getWeights();
  assertAllClose(wa.W_dec.data, wb.W_dec.data, 1e-4, 1e-3, 'W_dec');
  assertAllClose(wa.W_enc.data, wb.W_enc.data, 1e-4, 1e-3, 'W_enc');
});
