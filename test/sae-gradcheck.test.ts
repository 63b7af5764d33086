import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE, JumpReluSAE, type SAEConfig, type SAEKind, type SparseAutoencoder } from '../src/dictionary/index.js';
import { gradcheck } from '../src/nn/gradcheck.js';

/**
 * Hand-written backward passes against central finite differences of the loss the forward
 * pass reports, on tiny problems with generic (non-unit-norm, random-bias) parameters.
 * Float32 storage, so the tolerance is |fd - analytic| <= 3e-3 + 3e-2 |analytic| with h = 1e-3.
 */
useBackend('js');

const DIM = 5, ATOMS = 7, ROWS = 6;

function setup(kind: SAEKind, cfg: Partial<SAEConfig>, seed: number, atoms = ATOMS, rows = ROWS): { sae: SparseAutoencoder; X: Matrix } {
  const rng = new Rng(seed);
  const sae = createSAE(kind, { atoms, ...cfg } as SAEConfig);
  sae.initParams(DIM, rng.fork('init'));
  for (const p of sae.paramList()) {
    if (p.name === 'log_threshold') continue;
    for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  }
  const X = new Matrix(rows, DIM);
  rng.fork('x').fillNormal(X.data);
  return { sae, X };
}

/** The shared finite-difference check (nn/gradcheck.ts) on the loss forwardBackward reports. */
function check(sae: SparseAutoencoder, X: Matrix, skip: string[] = []): number {
  const r = gradcheck({ params: sae.paramList(), loss: () => sae.forwardBackward(X).loss, lossAndGrad: () => sae.forwardBackward(X).loss, skip, h: 1e-3, atol: 3e-3, rtol: 3e-2 });
  assert.deepEqual(r.failures, [], `${sae.kind}: backward vs finite differences`);
  return r.checked;
}

test('ReLU SAE: gradients of mse + L1 match finite differences (plain and decoder-norm-weighted L1)', () => {
  for (const l1DecoderNorm of [false, true]) {
    const { sae, X } = setup('relu', { l1: 0.05, l1DecoderNorm, normalizeDecoder: !l1DecoderNorm }, 1);
    assert.equal(check(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
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
    assert.equal(check(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
  }
});

test('BatchTopK SAE: batch-level selection backward matches finite differences', () => {
  const { sae, X } = setup('batchtopk', { k: 2 }, 4);
  assert.equal(check(sae, X), 2 * DIM * ATOMS + ATOMS + DIM);
});

test('matching-pursuit SAE: backward through the k greedy steps matches finite differences', () => {
  for (const seed of [5, 6]) {
    const { sae, X } = setup('mp', { k: 3 }, seed);
    // MP has no encoder parameters: W_dec and b_dec only
    assert.equal(check(sae, X), DIM * ATOMS + DIM);
    // two rows: the correlations are recomputed per step instead of updated through the Gram matrix
    const two = setup('mp', { k: 3 }, seed, ATOMS, 2);
    assert.equal(check(two.sae, two.X), DIM * ATOMS + DIM);
  }
  // both ways give the same codes: all rows at once (Gram updates) against one row at a time
  const { sae, X } = setup('mp', { k: 3 }, 8);
  const all = sae.encode(X);
  for (let i = 0; i < X.rows; i++) {
    const one = sae.encode(X.takeRows([i]));
    for (let a = 0; a < ATOMS; a++) assert.ok(Math.abs(one.data[a] - all.data[i * ATOMS + a]) < 1e-5, `row ${i} atom ${a}`);
  }
});

test('JumpReLU SAE: weight gradients match finite differences; threshold gets the STE pseudo-gradient', () => {
  const { sae, X } = setup('jumprelu', { l0: 0.01, bandwidth: 0.1 }, 7);
  const j = sae as JumpReluSAE;
  const rng = new Rng(70);
  for (let a = 0; a < ATOMS; a++) j.logTheta[a] = Math.log(0.2 + 0.4 * rng.uniform());
  check(sae, X, ['log_threshold']);

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

test('TopK SAE with AuxK (dead latents forced): the AuxK gradient matches finite differences of the AuxK loss with its residual target held fixed', () => {
  // AuxK (Gao et al. 2024): the top-auxK DEAD latents reconstruct the residual e = x − x̂, which
  // is a constant target (stop-gradient, as the reference implementation's recons.detach()), over
  // its total variance tv. The finite differences are of mse(θ) + auxRef(θ), auxRef recomputed
  // here in float64 with e and tv frozen at the starting parameters and the same dead set.
  const A = 12, N = 4, K = 2, KAUX = 3, COEF = 0.5;
  const { sae, X } = setup('topk', { k: K, auxK: KAUX, auxkCoef: COEF }, 31, A, N);
  // the trainer's mask: every latent dead before the batch, so those that do not fire in it are AuxK's
  const act = { dead: new Uint8Array(A).fill(1), fired: new Uint8Array(A) };
  const st = sae.forwardBackward(X, act);
  const ws = (sae as unknown as { ws: { pre: Matrix; xhat: Matrix } }).ws;
  const pre0 = ws.pre.clone();
  // which latents fired (main TopK selection with a positive value) — the rest are dead
  const alive = new Uint8Array(A);
  for (let i = 0; i < N; i++) {
    const r = Array.from(pre0.row(i), (v, a) => [v, a]).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
    assert.ok(Math.min(Math.abs(r[K - 1][0]), r[K - 1][0] - r[K][0]) > 0.01, `row ${i} main selection too close to a kink`);
    for (let t = 0; t < K; t++) if (r[t][0] > 0) alive[r[t][1]] = 1;
  }
  assert.deepEqual([...act.fired], [...alive], 'the step reports the latents that fired');
  const deadList = [...Array(A).keys()].filter((a) => !alive[a]);
  assert.ok(deadList.length >= KAUX, `need at least ${KAUX} dead latents, got ${deadList.length}`);
  const kAux = Math.min(KAUX, deadList.length);
  const scale = COEF * Math.min(deadList.length / kAux, 1);
  const e0 = new Float64Array(N * DIM);
  for (let t = 0; t < N * DIM; t++) e0[t] = X.data[t] - ws.xhat.data[t];
  let tv0 = 0;
  for (let j = 0; j < DIM; j++) {
    let m = 0;
    for (let i = 0; i < N; i++) m += e0[i * DIM + j];
    m /= N;
    for (let i = 0; i < N; i++) tv0 += (e0[i * DIM + j] - m) ** 2;
  }
  const auxRef = (check = false): number => {
    const w = sae.getWeights();
    let sse = 0;
    for (let i = 0; i < N; i++) {
      const pre = deadList.map((a) => {
        let v = w.b_enc[a];
        for (let q = 0; q < DIM; q++) v += (X.get(i, q) - w.b_dec[q]) * w.W_enc.get(q, a);
        return [v, a];
      }).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
      if (check && pre.length > kAux) assert.ok(pre[kAux - 1][0] - pre[kAux][0] > 0.01, `row ${i}: AuxK selection too close to a tie`);
      for (let t = 0; check && t < kAux; t++) assert.ok(Math.abs(pre[t][0]) > 0.01, `row ${i}: an AuxK value too close to the ReLU kink`);
      for (let q = 0; q < DIM; q++) {
        let eh = 0;
        for (let t = 0; t < kAux; t++) if (pre[t][0] > 0) eh += pre[t][0] * w.W_dec.get(pre[t][1], q);
        sse += (eh - e0[i * DIM + q]) ** 2;
      }
    }
    return (scale * sse) / tv0;
  };
  const a0 = auxRef(true);
  assert.ok(a0 > 1e-3, `the AuxK term must be active (${a0})`);
  assert.ok(Math.abs(st.aux - a0) <= 1e-5 * a0, `AuxK loss ${st.aux} vs the float64 reference ${a0}`);

  // the AuxK part of the gradient is not negligible: a twin without AuxK has other gradients
  const twin = createSAE('topk', { atoms: A, k: K, auxK: KAUX, auxkCoef: 0 } as SAEConfig);
  twin.setWeights({ ...sae.getWeights() });
  twin.forwardBackward(X);
  sae.forwardBackward(X, act);
  let diff = 0;
  const pa = sae.paramList(), pb = twin.paramList();
  for (let q = 0; q < pa.length; q++) for (let i = 0; i < pa[q].grad.length; i++) diff = Math.max(diff, Math.abs(pa[q].grad[i] - pb[q].grad[i]));
  assert.ok(diff > 1e-2, `AuxK changes the gradients (max difference ${diff})`);

  const r = gradcheck({
    params: sae.paramList(),
    loss: () => sae.forwardBackward(X, act).sqErr + auxRef(),
    lossAndGrad: () => sae.forwardBackward(X, act).loss,
    h: 1e-3, atol: 3e-3, rtol: 3e-2,
  });
  assert.deepEqual(r.failures, [], 'TopK + AuxK backward vs finite differences');
  assert.equal(r.checked, 2 * DIM * A + A + DIM);
});
