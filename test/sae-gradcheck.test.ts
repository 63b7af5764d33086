import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE, JumpReluSAE, type SAEConfig, type SAEKind, type SparseAutoencoder } from '../src/dictionary/index.js';

/**
 * Hand-written backward passes against central finite differences of the loss the forward
 * pass reports, on tiny problems with generic (non-unit-norm, random-bias) parameters.
 * Float32 storage, so the tolerance is |fd - analytic| <= 3e-3 + 3e-2 |analytic| with h = 1e-3.
 */
useBackend('js');

const DIM = 5, ATOMS = 7, ROWS = 6;

function setup(kind: SAEKind, cfg: Partial<SAEConfig>, seed: number): { sae: SparseAutoencoder; X: Matrix } {
  const rng = new Rng(seed);
  const sae = createSAE(kind, { atoms: ATOMS, ...cfg } as SAEConfig);
  sae.initParams(DIM, rng.fork('init'));
  for (const p of sae.paramList()) {
    if (p.name === 'log_threshold') continue;
    for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  }
  const X = new Matrix(ROWS, DIM);
  rng.fork('x').fillNormal(X.data);
  return { sae, X };
}

function gradcheck(sae: SparseAutoencoder, X: Matrix, skip: string[] = [], h = 1e-3): number {
  sae.forwardBackward(X);
  const params = sae.paramList();
  const analytic = params.map((p) => Float64Array.from(p.grad));
  let checked = 0;
  for (let q = 0; q < params.length; q++) {
    const p = params[q];
    if (skip.includes(p.name)) continue;
    for (let i = 0; i < p.param.length; i++) {
      const orig = p.param[i];
      p.param[i] = orig + h;
      const up = sae.forwardBackward(X).loss;
      p.param[i] = orig - h;
      const down = sae.forwardBackward(X).loss;
      p.param[i] = orig;
      const fd = (up - down) / (2 * h);
      const an = analytic[q][i];
      assert.ok(Math.abs(fd - an) <= 3e-3 + 3e-2 * Math.abs(an), `${sae.kind} d loss / d ${p.name}[${i}]: finite difference ${fd}, backward ${an}`);
      checked++;
    }
  }
  return checked;
}

test('ReLU SAE: gradients of mse + L1 match finite differences (plain and decoder-norm-weighted L1)', () => {
  for (const l1DecoderNorm of [false, true]) {
    const { sae, X } = setup('relu', { l1: 0.05, l1DecoderNorm, normalizeDecoder: !l1DecoderNorm }, 1);
    assert.equal(gradcheck(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
  }
});

test('TopK SAE: sparse backward (gatherDot/scatterOuter) matches finite differences', () => {
  for (const seed of [2, 4]) {
    const { sae, X } = setup('topk', { k: 3 }, seed);
    // the fixture must be generic: no selected value near the ReLU kink, no near-tie at rank k
    sae.forwardBackward(X);
    const pre = (sae as unknown as { ws: { pre: Matrix } }).ws.pre;
    for (let i = 0; i < ROWS; i++) {
      const r = Array.from(pre.row(i)).sort((a, b) => b - a);
      assert.ok(Math.min(Math.abs(r[2]), r[2] - r[3]) > 0.01, `seed ${seed} row ${i} is too close to a kink for finite differences`);
    }
    assert.equal(gradcheck(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
  }
});

test('BatchTopK SAE: batch-level selection backward matches finite differences', () => {
  const { sae, X } = setup('batchtopk', { k: 2 }, 4);
  assert.equal(gradcheck(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
});

test('matching-pursuit SAE: backward through the k greedy steps matches finite differences', () => {
  for (const seed of [5, 6]) {
    const { sae, X } = setup('mp', { k: 3 }, seed);
    // MP has no encoder parameters: W_dec and b_dec only
    assert.equal(gradcheck(sae, X), DIM * ATOMS + DIM);
  }
});

test('JumpReLU SAE: weight gradients match finite differences; threshold gets the STE pseudo-gradient', () => {
  const { sae, X } = setup('jumprelu', { l0: 0.01, bandwidth: 0.1 }, 7);
  const j = sae as JumpReluSAE;
  const rng = new Rng(70);
  for (let a = 0; a < ATOMS; a++) j.logTheta[a] = Math.log(0.2 + 0.4 * rng.uniform());
  gradcheck(sae, X, ['log_threshold']);

  // Reconstruction part of d loss / d log(theta), recomputed independently in float64:
  // -(theta/eps) * sum_i 1{|pre - theta| < eps/2} * (dL/dz)_ia, times theta (chain rule for the log).
  const eps = 0.1;
  j.forwardBackward(X);
  const withL0 = Float64Array.from(j.gLogTheta);
  const noL0 = createSAE('jumprelu', { atoms: ATOMS, l0: 0, bandwidth: eps }) as JumpReluSAE;
  noL0.setWeights({ ...sae.getWeights() });
  noL0.forwardBackward(X);
  const W = sae.getWeights();
  const pre = new Float64Array(ROWS * ATOMS), z = new Float64Array(ROWS * ATOMS);
  const theta = Array.from(j.logTheta, Math.exp);
  for (let i = 0; i < ROWS; i++) {
    for (let a = 0; a < ATOMS; a++) {
      let s = W.b_enc[a];
      for (let q = 0; q < DIM; q++) s += (X.get(i, q) - W.b_dec[q]) * W.W_enc.get(q, a);
      pre[i * ATOMS + a] = s;
      z[i * ATOMS + a] = s > theta[a] ? s : 0;
    }
  }
  const expectRec = new Float64Array(ATOMS);
  let window = 0;
  for (let i = 0; i < ROWS; i++) {
    const gx = new Float64Array(DIM);
    for (let q = 0; q < DIM; q++) {
      let xh = W.b_dec[q];
      for (let a = 0; a < ATOMS; a++) xh += z[i * ATOMS + a] * W.W_dec.get(a, q);
      gx[q] = (2 / ROWS) * (xh - X.get(i, q));
    }
    for (let a = 0; a < ATOMS; a++) {
      if (Math.abs(pre[i * ATOMS + a] - theta[a]) >= eps / 2) continue;
      window++;
      let gz = 0;
      for (let q = 0; q < DIM; q++) gz += gx[q] * W.W_dec.get(a, q);
      expectRec[a] += -(theta[a] / eps) * gz * theta[a];
    }
  }
  assert.ok(window > 0, 'the test needs some pre-activations inside the kernel window');
  for (let a = 0; a < ATOMS; a++) assert.ok(Math.abs(noL0.gLogTheta[a] - expectRec[a]) <= 1e-4 + 1e-3 * Math.abs(expectRec[a]), `reconstruction STE gradient, latent ${a}: ${noL0.gLogTheta[a]} vs ${expectRec[a]}`);

  // L0 part: with a rectangle kernel the STE equals a central difference of the true L0 with
  // step eps/2: d L0 / d theta ~ (L0(theta + eps/2) - L0(theta - eps/2)) / eps.
  for (let a = 0; a < ATOMS; a++) {
    const orig = j.logTheta[a];
    j.logTheta[a] = Math.log(theta[a] + eps / 2);
    const up = j.forwardBackward(X).l0;
    j.logTheta[a] = Math.log(theta[a] - eps / 2);
    const down = j.forwardBackward(X).l0;
    j.logTheta[a] = orig;
    const fdL0 = (0.01 * (up - down)) / eps;
    const steL0 = (withL0[a] - noL0.gLogTheta[a]) / theta[a];
    assert.ok(Math.abs(fdL0 - steL0) <= 1e-5, `L0 STE gradient, latent ${a}: ${steL0} vs central difference ${fdL0}`);
  }
});
