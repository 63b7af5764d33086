import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { lassoCD } from '../src/inference/lasso-cd.js';
import { fista } from '../src/inference/fista.js';
import { MlpEncoder, mlpEncoderFlops, mlpTrainingFlopsPerStep } from '../src/dictionary/mlp-encoder.js';
import { amortisationGap, fistaFlopsPerSample, lassoLambdaOf, sparseCodingObjectives } from '../src/metrics/amortisation.js';
import { checkpointSteps, runAmortisationGap, amortisationWorld, AG_QUICK_SETTINGS } from '../src/experiments/amortisation-gap.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

/* ------------------------------------------------------------------------------------------ */
/* MLP encoder: float64 reference forward, finite-difference gradients                        */
/* ------------------------------------------------------------------------------------------ */

interface P64 { W1: Float64Array; b1: Float64Array; W2: Float64Array | null; b2: Float64Array | null; D: Float64Array }

function params64(e: MlpEncoder): P64 {
  return {
    W1: Float64Array.from(e.W1.data), b1: Float64Array.from(e.b1),
    W2: e.W2 ? Float64Array.from(e.W2.data) : null, b2: e.b2 ? Float64Array.from(e.b2) : null,
    D: Float64Array.from(e.D.data),
  };
}

/** loss = mean over elements of (x − s·D)² + λ·mean|s|, written out in float64 from scratch. */
function refLoss(p: P64, X: Matrix, d: number, a: number, h: number, bias: boolean, lambda: number): number {
  let se = 0, sa = 0;
  for (let i = 0; i < X.rows; i++) {
    const x = X.data.subarray(i * d, i * d + d);
    const first = h > 0 ? h : a;
    const z1 = new Float64Array(first);
    for (let u = 0; u < first; u++) {
      let v = bias ? p.b1[u] : 0;
      for (let c = 0; c < d; c++) v += p.W1[u * d + c] * x[c];
      z1[u] = Math.max(v, 0);
    }
    let s = z1;
    if (h > 0) {
      s = new Float64Array(a);
      for (let j = 0; j < a; j++) {
        let v = bias ? p.b2![j] : 0;
        for (let u = 0; u < h; u++) v += p.W2![j * h + u] * z1[u];
        s[j] = Math.max(v, 0);
      }
    }
    for (let c = 0; c < d; c++) {
      let xh = 0;
      for (let j = 0; j < a; j++) xh += s[j] * p.D[j * d + c];
      se += (x[c] - xh) ** 2;
    }
    for (let j = 0; j < a; j++) sa += Math.abs(s[j]);
  }
  return se / (X.rows * d) + (lambda * sa) / (X.rows * a);
}

for (const [hidden, bias] of [[0, true], [6, true], [6, false]] as const) {
  test(`MlpEncoder (hidden ${hidden}, bias ${bias}): loss matches a float64 reference; gradients match central finite differences`, () => {
    const d = 5, a = 7, n = 9, lambda = 0.3;
    const X = randMatrix(n, d, 11);
    const enc = new MlpEncoder({ inputDim: d, atoms: a, hidden, bias }, { seed: 3 });
    // move the decoder off unit norm so its gradient is not special
    for (let i = 0; i < enc.D.data.length; i++) enc.D.data[i] *= 1.3;
    const p = params64(enc);
    const ref = refLoss(p, X, d, a, hidden, bias, lambda);
    const got = enc.loss(X, lambda);
    assert.ok(Math.abs(got.loss - ref) <= 1e-5 * Math.abs(ref), `loss ${got.loss} vs reference ${ref}`);
    assert.ok(Math.abs(got.mse + got.l1 - got.loss) < 1e-12);

    const { grads, loss } = enc.gradients(X, lambda);
    assert.ok(Math.abs(loss - ref) <= 1e-5 * Math.abs(ref));
    const blocks: [string, Float64Array | null, Float32Array | null][] = [
      ['W1', p.W1, grads.W1.data], ['b1', p.b1, grads.b1], ['W2', p.W2, grads.W2?.data ?? null], ['b2', p.b2, grads.b2], ['D', p.D, grads.D.data],
    ];
    const eps = 1e-6;
    let checked = 0;
    for (const [name, theta, g] of blocks) {
      if (!theta || !g) continue;
      let maxAbs = 0;
      for (let i = 0; i < g.length; i++) maxAbs = Math.max(maxAbs, Math.abs(g[i]));
      for (let i = 0; i < theta.length; i++) {
        const keep = theta[i];
        theta[i] = keep + eps;
        const up = refLoss(p, X, d, a, hidden, bias, lambda);
        theta[i] = keep - eps;
        const dn = refLoss(p, X, d, a, hidden, bias, lambda);
        theta[i] = keep;
        const fd = (up - dn) / (2 * eps);
        // without biases the bias gradients must be exactly zero (they are not parameters then)
        const expect = !bias && (name === 'b1' || name === 'b2') ? 0 : fd;
        assert.ok(Math.abs(g[i] - expect) <= 2e-4 * Math.max(maxAbs, 1e-3) + 1e-6, `${name}[${i}]: analytic ${g[i]} vs finite difference ${expect}`);
        checked++;
      }
    }
    assert.ok(checked > 50);
  });
}

test('MlpEncoder.fit: Adam lowers the loss; a fixed decoder stays bit-identical; a learned one keeps unit-norm rows', async () => {
  const w = amortisationWorld(0, { ...AG_QUICK_SETTINGS, train: 256, test: 64 });
  const fixed = new MlpEncoder({ inputDim: 8, atoms: 16, hidden: 32 }, { seed: 1, decoder: w.D });
  const before = fixed.loss(w.Xtrain).loss;
  const seen: number[] = [];
  const r = await fixed.fit(w.Xtrain, { steps: 300, lr: 3e-3, checkpoints: [0, 100, 300], onCheckpoint: (s) => { seen.push(s); } });
  assert.deepEqual(seen, [0, 100, 300]);
  assert.equal(r.steps, 300);
  const after = fixed.loss(w.Xtrain).loss;
  assert.ok(after < 0.6 * before, `loss ${before} -> ${after}`);
  assert.deepEqual(Array.from(fixed.D.data), Array.from(w.D.data));

  const learned = new MlpEncoder({ inputDim: 8, atoms: 16 }, { seed: 2 });
  const D0 = Float32Array.from(learned.D.data);
  await learned.fit(w.Xtrain, { steps: 200, lr: 3e-3, learnDecoder: true, batch: 64, seed: 5 });
  assert.notDeepEqual(Array.from(learned.D.data), Array.from(D0));
  for (let j = 0; j < 16; j++) {
    let s = 0;
    for (let c = 0; c < 8; c++) s += learned.D.data[j * 8 + c] ** 2;
    assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `row ${j} norm ${Math.sqrt(s)}`);
  }
  // encode/decode shapes and non-negative codes
  const S = learned.encode(w.Xtest);
  assert.deepEqual(S.shape, [64, 16]);
  assert.ok(S.data.every((v) => v >= 0));
  assert.deepEqual(learned.decode(S).shape, [64, 8]);
});

test('MlpEncoder: bad input gives SparsecodeErrors naming the problem', async () => {
  assertThrowsCode(() => new MlpEncoder({ inputDim: 0, atoms: 4 }), 'E_ARG', /inputDim/);
  assertThrowsCode(() => new MlpEncoder({ inputDim: 3, atoms: 4, hidden: -1 }), 'E_ARG', /hidden/);
  assertThrowsCode(() => new MlpEncoder({ inputDim: 3, atoms: 4 }, { decoder: randMatrix(4, 2) }), 'E_SHAPE', /\[4 x 3\]/);
  const e = new MlpEncoder({ inputDim: 3, atoms: 4 });
  assertThrowsCode(() => e.encode(randMatrix(2, 5)), 'E_SHAPE', /5 columns/);
  const bad = randMatrix(2, 3);
  bad.data[1] = NaN;
  assertThrowsCode(() => e.encode(bad), 'E_NONFINITE');
  await assert.rejects(e.fit(randMatrix(4, 3), { steps: 1, batch: 9 }), (err: any) => err.code === 'E_ARG' && /batch/.test(err.message));
  await assert.rejects(e.fit(randMatrix(4, 3), { steps: 1, lr: -1 }), (err: any) => err.code === 'E_ARG' && /lr/.test(err.message));
});

test('FLOP counts match hand counts', () => {
  // SAE d=8, a=16, bias: 2·8·16 + 2·16 = 288; MLP h=32: 2·8·32 + 2·32·16 + 2·(32+16) = 1632
  assert.equal(mlpEncoderFlops(8, 16, 0), 288);
  assert.equal(mlpEncoderFlops(8, 16, 32), 1632);
  assert.equal(mlpEncoderFlops(8, 16, 32, false), 1632 - 48);
  // gram FISTA: 2·16·8 + 10·(2·256 + 96) = 256 + 6080, plus the Gram 2·256·8 over 1024 samples = 4
  assert.equal(fistaFlopsPerSample(16, 8, 10, { samples: 1024 }), 256 + 6080 + 4);
  assert.equal(fistaFlopsPerSample(16, 8, 10, { gradient: 'direct' }), 10 * (4 * 128 + 8 + 96));
  // training step: per row forward 288 + decoder 256 + loss 24 + 32, backward 2·(256 + 256); Adam 10·(128+16)
  assert.equal(mlpTrainingFlopsPerStep(8, 16, 0, 1, false), 288 + 256 + 24 + 32 + 1024 + 1440);
  assert.equal(mlpTrainingFlopsPerStep(8, 16, 0, 1, true) - mlpTrainingFlopsPerStep(8, 16, 0, 1, false), 10 * 128 + 3 * 128);
  assert.deepEqual(checkpointSteps(1000, 4), [125, 250, 500, 1000]);
  assert.deepEqual(checkpointSteps(3, 4), [1, 2, 3]);
});

/* ------------------------------------------------------------------------------------------ */
/* The amortisation gap                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** A random orthonormal basis [d x d] (Gram–Schmidt in float64). */
function orthonormal(d: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const Q: Float64Array[] = [];
  while (Q.length < d) {
    const v = new Float64Array(d);
    rng.fillNormal(v);
    for (const q of Q) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += v[c] * q[c];
      for (let c = 0; c < d; c++) v[c] -= dot * q[c];
    }
    const nrm = Math.hypot(...v);
    if (nrm > 1e-6) Q.push(v.map((x) => x / nrm));
  }
  return new Matrix(d, d, Float32Array.from(Q.flatMap((q) => Array.from(q))));
}

/** ½‖x − zD‖² + λ‖z‖₁ per row, float64. */
function lasso64(X: Matrix, D: Matrix, Z: ArrayLike<number>, lambda: number): Float64Array {
  const n = X.rows, d = X.cols, a = D.rows;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let r2 = 0, l1 = 0;
    for (let c = 0; c < d; c++) {
      let xh = 0;
      for (let j = 0; j < a; j++) xh += Z[i * a + j] * D.data[j * d + c];
      r2 += (X.data[i * d + c] - xh) ** 2;
    }
    for (let j = 0; j < a; j++) l1 += Math.abs(Z[i * a + j]);
    out[i] = 0.5 * r2 + lambda * l1;
  }
  return out;
}

for (const nonneg of [false, true]) {
  test(`amortisationGap (nonneg ${nonneg}): orthonormal D — the optimum is soft-thresholding and every gap is exact`, () => {
    const d = 8, n = 40, lambda = 0.35;
    const D = orthonormal(d, 7);
    const X = randMatrix(n, d, 8);
    // amortised codes: a crude linear-ReLU guess (codes of the wrong scale and sparsity)
    const Z = new Matrix(n, d);
    const rng = new Rng(9);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        let c = 0;
        for (let k = 0; k < d; k++) c += X.data[i * d + k] * D.data[j * d + k];
        const v = 0.7 * c + 0.2 * rng.normal();
        Z.data[i * d + j] = nonneg ? Math.max(v, 0) : v;
      }
    }
    // closed form: z* = soft(x·Dᵀ, λ), or max(x·Dᵀ − λ, 0) under z >= 0
    const Zstar = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        let c = 0;
        for (let k = 0; k < d; k++) c += X.data[i * d + k] * D.data[j * d + k];
        Zstar[i * d + j] = nonneg ? Math.max(c - lambda, 0) : Math.sign(c) * Math.max(Math.abs(c) - lambda, 0);
      }
    }
    const fz = lasso64(X, D, Z.data, lambda);
    const fstar = lasso64(X, D, Zstar, lambda);
    const g = amortisationGap(X, D, Z, { lambda, nonneg });
    assert.equal(g.loss, 'lasso');
    assert.equal(g.lassoLambda, lambda);
    assertAllClose(g.Zoptimal.data, Zstar, 1e-4, 1e-5, 'optimal codes');
    assertAllClose(g.optimal, fstar, 1e-5, 1e-6, 'optimal objectives');
    assertAllClose(g.amortised, fz, 1e-5, 1e-6, 'amortised objectives');
    const gapRef = fz.map((v, i) => v - fstar[i]);
    assertAllClose(g.gap, gapRef, 1e-4, 1e-5, 'per-sample gaps');
    const meanGap = gapRef.reduce((s, v) => s + v, 0) / n;
    assert.ok(Math.abs(g.meanGap - meanGap) < 1e-5 * Math.max(1, meanGap), `mean gap ${g.meanGap} vs ${meanGap}`);
    assert.ok(meanGap > 0.05, 'the crude codes must leave a real gap');
    assert.ok(Math.abs(g.relativeGap - g.meanGap / g.meanOptimal) < 1e-12);
    // the optimum itself has zero gap
    const g0 = amortisationGap(X, D, new Matrix(n, d, Float32Array.from(Zstar)), { lambda, nonneg });
    for (const v of g0.gap) assert.ok(Math.abs(v) < 1e-5, `gap of the optimum ${v}`);
  });
}

test("amortisationGap, loss 'mse': the paper's MSE + λ·mean|z| per sample, the same minimiser as λ' = λ·d/(2·atoms)", () => {
  const d = 6, a = 10, n = 30, lambda = 0.2;
  const D = randMatrix(a, d, 21);
  for (let j = 0; j < a; j++) {
    const r = D.row(j);
    const s = Math.hypot(...r);
    for (let c = 0; c < d; c++) r[c] /= s;
  }
  const X = randMatrix(n, d, 22);
  const Z = randMatrix(n, a, 23);
  for (let i = 0; i < Z.data.length; i++) Z.data[i] = Math.max(0, Z.data[i] * 0.3);
  // mean over samples of the per-sample objective = MSE over all elements + λ·mean|z| (independent computation)
  let se = 0, sa = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < d; c++) {
      let xh = 0;
      for (let j = 0; j < a; j++) xh += Z.data[i * a + j] * D.data[j * d + c];
      se += (X.data[i * d + c] - xh) ** 2;
    }
    for (let j = 0; j < a; j++) sa += Math.abs(Z.data[i * a + j]);
  }
  const paperLoss = se / (n * d) + (lambda * sa) / (n * a);
  const f = sparseCodingObjectives(X, D, Z, lambda, 'mse');
  assert.ok(Math.abs(f.reduce((s, v) => s + v, 0) / n - paperLoss) < 1e-6 * paperLoss);
  assert.equal(lassoLambdaOf(lambda, 'mse', D), (lambda * d) / (2 * a));

  const g = amortisationGap(X, D, Z, { lambda, loss: 'mse', nonneg: true });
  assert.ok(Math.abs(g.meanAmortised - paperLoss) < 1e-6 * paperLoss);
  // an independent solver (coordinate descent) on the equivalent lasso problem gives the same optimum
  const ll = (lambda * d) / (2 * a);
  const cd = lassoCD(X, D, { lambda: ll, nonneg: true, iters: 20000, tol: 1e-10 });
  const fcd = lasso64(X, D, cd.Z.data, ll).map((v) => (2 / d) * v);
  const fcdMean = fcd.reduce((s, v) => s + v, 0) / n;
  assert.ok(Math.abs(g.meanOptimal - fcdMean) <= 1e-5 * fcdMean, `optimum ${g.meanOptimal} vs coordinate descent ${fcdMean}`);
  for (let i = 0; i < n; i++) assert.ok(g.gap[i] >= -1e-7, `gap ${i} = ${g.gap[i]}`);
  // FISTA from zero reaches the same optimum as FISTA warm-started at the codes
  const cold = fista(X, D, { lambda: ll, nonneg: true, iters: 20000, tol: 1e-8 });
  assert.ok(Math.abs((2 / d) * cold.objective! - g.meanOptimal) <= 1e-5 * g.meanOptimal);
});

test('amortisationGap: MCC of both code sets against the truth, and input errors', () => {
  const w = amortisationWorld(1, { ...AG_QUICK_SETTINGS, train: 64, test: 256 });
  // amortised codes = the truth plus noise: the optimum (FISTA on the true D) recovers the truth better
  const Z = w.Stest.clone();
  const rng = new Rng(4);
  for (let i = 0; i < Z.data.length; i++) Z.data[i] = Math.max(0, Z.data[i] + 0.3 * rng.normal());
  const g = amortisationGap(w.Xtest, w.D, Z, { lambda: 0.01, loss: 'mse', nonneg: true, truth: w.Stest });
  assert.ok(g.mccAmortised! < 0.9, `noisy codes MCC ${g.mccAmortised}`);
  assert.ok(g.mccOptimal! > 0.95, `optimal codes MCC ${g.mccOptimal}`);
  assert.ok(g.meanGap > 0);

  const X = randMatrix(5, 4), D = randMatrix(6, 4), Zok = randMatrix(5, 6);
  assertThrowsCode(() => amortisationGap(X, D, randMatrix(5, 7), { lambda: 0.1 }), 'E_SHAPE', /\[5 x 6\]/);
  assertThrowsCode(() => amortisationGap(X, randMatrix(6, 3), Zok, { lambda: 0.1 }), 'E_SHAPE', /4 columns/);
  assertThrowsCode(() => amortisationGap(X, D, Zok, { lambda: -1 }), 'E_ARG', /lambda/);
  assertThrowsCode(() => amortisationGap(X, D, Zok, { lambda: 0.1, loss: 'l2' as never }), 'E_ARG', /'lasso'/);
  assertThrowsCode(() => amortisationGap(X, D, Zok, { lambda: 0.1, truth: randMatrix(4, 2) }), 'E_SHAPE', /rows/);
  const bad = Zok.clone();
  bad.data[3] = Infinity;
  assertThrowsCode(() => amortisationGap(X, D, bad, { lambda: 0.1 }), 'E_NONFINITE');
});

/* ------------------------------------------------------------------------------------------ */
/* The experiment                                                                             */
/* ------------------------------------------------------------------------------------------ */

test('runAmortisationGap: a small run writes results, a report and plots; ITO closes the SAE gap; resume skips finished cells', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-amortisation-'));
  try {
    const opts = {
      out: dir, preset: 'quick' as const, seeds: [0], methods: ['sae', 'sae-ito', 'sparse-coding'], settings: ['known' as const, 'learned' as const],
      overrides: { steps: 400, dlOuter: 10, train: 256, test: 256, gapIters: 3000, fistaIters: 3000, checkpoints: 3 },
    };
    const r = await runAmortisationGap(opts);
    assert.equal(r.summary.ran, 6);
    assert.equal(r.summary.failed, 0);
    const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 6);
    const get = (setting: string, method: string) => lines.find((l) => l.config.setting === setting && l.method === method).metrics;
    for (const setting of ['known', 'learned']) {
      const sae = get(setting, 'sae'), ito = get(setting, 'sae-ito'), sc = get(setting, 'sparse-coding');
      assert.ok(sae.gap > 0, 'the SAE leaves an amortisation gap');
      assert.ok(Math.abs(ito.gap) < 1e-6 * ito.loss + 1e-9, `ITO gap ${ito.gap}`);
      assert.ok(Math.abs(sc.gap) < 1e-6 * sc.loss + 1e-9, `sparse-coding gap ${sc.gap}`);
      assert.ok(ito.loss < sae.loss);
      assert.ok(ito.flops_inference > sae.flops_inference);
      assert.equal(sae.flops_inference, 288);
      assert.ok(Math.abs(ito.sae_mcc - sae.mcc) < 1e-12, 'ITO starts from the same SAE');
      for (const m of [sae, ito, sc]) assert.ok(m.mcc > 0 && m.mcc <= 1);
      assert.equal('dict_cos' in sae, setting === 'learned');
      assert.ok(Number.isFinite(sae.ckpt2_mcc) && Number.isFinite(ito.ckpt6_mcc));
    }
    assert.ok(get('known', 'sae-ito').mcc > get('known', 'sae').mcc + 0.1, 'with the true D, ITO recovers the sources far better');
    assert.ok(get('known', 'sparse-coding').mcc > 0.95);
    const report = readFileSync(r.reportPath, 'utf8');
    assert.match(report, /Against the paper/);
    assert.match(report, /Learned D/);
    for (const s of ['known', 'learned']) {
      const svg = readFileSync(join(dir, `mcc_vs_flops_${s}.svg`), 'utf8');
      assert.match(svg, /^<svg/);
      assert.match(svg, /SAE \+ ITO/);
    }
    const again = await runAmortisationGap(opts);
    assert.equal(again.summary.ran, 0);
    assert.equal(again.summary.skipped, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sparsecode repro amortisation-gap: CLI run with --methods/--settings/--steps, JSON summary, usage errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-amortisation-cli-'));
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 120000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  try {
    const r = cli(['repro', 'amortisation-gap', '--methods', 'sae,sparse-coding', '--setting', 'known', '--steps', '200', '--seeds', '0', '--out', dir, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.experiment, 'amortisation-gap');
    assert.deepEqual(out.rows.map((x: any) => x.method).sort(), ['sae', 'sparse-coding']);
    for (const row of out.rows) assert.equal(row.config.setting, 'known');
    assert.ok(existsSync(join(dir, 'report.md')));
    const bad = cli(['repro', 'amortisation-gap', '--methods', 'oracle', '--out', dir, '--quiet']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /amortisation-gap/);
    const foreign = cli(['repro', 'amortisation-gap', '--hidden', '8', '--out', dir, '--quiet']);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /--hidden/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
