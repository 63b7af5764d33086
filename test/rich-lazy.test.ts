import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rk45 } from '../src/linalg/ode.js';
import {
  balancedTheory, conservedDelta, exactSolution, implicitBiasLimit, initFromBeta, neuronKernelDistance, paperTheory, singleNeuronFlow, singleNeuronRhs, unbalancedTheory,
} from '../src/worlds/rich-lazy.js';
import { balanceAlpha, kernelDistance, symmetricStudent, trainTwoLayerGD, twoLayerForward, twoLayerNtk, type TwoLayerNet } from '../src/worlds/teacher-student.js';
import { runRichLazy, singleNeuronFigure, RL_PRESETS } from '../src/experiments/rich-lazy.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const FIX = JSON.parse(readFileSync(new URL('./fixtures/rich-lazy/rich-lazy.json', import.meta.url), 'utf8'));

function lotka(_t: number, y: Float64Array, dy: Float64Array): void {
  dy[0] = 1.5 * y[0] - y[0] * y[1];
  dy[1] = -3 * y[1] + y[0] * y[1];
}

test('rk45 takes the same steps as scipy solve_ivp(RK45) and lands on the same states', () => {
  for (const c of FIX.rk45) {
    const f = c.problem === 'lotka' ? lotka : singleNeuronRhs([1, 0, 0, 1], [0.5, 0.5]);
    const sol = rk45(f, [0, c.T], c.y0, { rtol: c.rtol, atol: c.atol });
    assert.equal(sol.t.length, c.t.length, `${c.problem} rtol ${c.rtol}: ${sol.t.length} steps vs SciPy's ${c.t.length}`);
    // the step-size rule amplifies rounding in the error estimate (norm^(-1/5)): times agree to ~1e-8 relative
    assertAllClose(sol.t, c.t, 1e-7, 1e-12, `${c.problem} step times`);
    assert.equal(sol.nfev, c.nfev, `${c.problem}: f evaluations`);
    const n = sol.n;
    const last = sol.y.subarray((sol.t.length - 1) * n);
    const mid = sol.y.subarray(Math.floor(sol.t.length / 2) * n, Math.floor(sol.t.length / 2) * n + n);
    assertAllClose(last, c.y_last, 1e-9, 1e-11, `${c.problem} final state`);
    assertAllClose(mid, c.y_mid, 1e-7, 1e-11, `${c.problem} middle state (at a time known to ~1e-8)`);
  }
});

test('rk45: exact on y\' = y to tolerance; refuses bad input', () => {
  const sol = rk45((_t, y, dy) => { dy[0] = y[0]; }, [0, 2], [1], { rtol: 1e-10, atol: 1e-12 });
  assert.ok(Math.abs(sol.y[sol.y.length - 1] - Math.exp(2)) < 1e-8);
  assertThrowsCode(() => rk45(lotka, [0, 1], [Number.NaN, 1]), 'E_NONFINITE');
  assertThrowsCode(() => rk45(lotka, [1, 1], [1, 1]), 'E_ARG');
  assertThrowsCode(() => rk45(lotka, [0, 1], [1, 1], { rtol: 1e-20 }), 'E_ARG');
  assertThrowsCode(() => rk45((_t, y, dy) => { dy[0] = y[0] * y[0]; }, [0, 2], [1], { maxSteps: 5000 }), 'E_NOTCONVERGED'); // blows up at t = 1
});

test('closed forms (paper and unified) match a DOP853 reference at 1e-13 on the Fig. 8 / Fig. 2 settings, with layer rates and in 3-D', () => {
  let worstPaper = 0, worstExact = 0;
  for (const c of FIX.flows) {
    const rates = { etaA: c.etaA, etaW: c.etaW };
    const { a, w } = initFromBeta(c.beta0, c.delta, rates);
    assertAllClose([a, ...w], [c.a0, ...c.w0], 1e-12, 1e-13, 'initFromBeta');
    const p = { a0: a, w0: w, betaStar: c.XY, rates };
    const d = c.XY.length;
    const want = (k: number) => [c.a[k], ...c.w[k]];
    const ex = exactSolution(p, c.t);
    const th = paperTheory(p, c.t);
    for (let k = 0; k < c.t.length; k++) {
      const ge = [ex.a[k], ...ex.w.subarray(k * d, (k + 1) * d)];
      const gp = [th.a[k], ...th.w.subarray(k * d, (k + 1) * d)];
      for (let i = 0; i <= d; i++) {
        worstExact = Math.max(worstExact, Math.abs(ge[i] - want(k)[i]));
        worstPaper = Math.max(worstPaper, Math.abs(gp[i] - want(k)[i]));
      }
    }
  }
  assert.ok(worstExact < 1e-10, `unified closed form vs DOP853: ${worstExact}`);
  assert.ok(worstPaper < 1e-6, `paper closed form vs DOP853: ${worstPaper}`);
});

test('delta = 0 needs the balanced form; the balanced form refuses delta != 0; bad input is refused', () => {
  const { a, w } = initFromBeta([-1, 0], 0);
  assertThrowsCode(() => unbalancedTheory({ a0: a, w0: w, betaStar: [0, 1] }, [0, 1]), 'E_ARG', /balancedTheory/);
  const b = balancedTheory({ a0: a, w0: w, betaStar: [0, 1] }, [0, 1, 5]);
  const e = exactSolution({ a0: a, w0: w, betaStar: [0, 1] }, [0, 1, 5]);
  assertAllClose(b.a, e.a, 1e-9, 1e-11, 'balanced vs unified a');
  assertAllClose(b.w, e.w, 1e-9, 1e-11, 'balanced vs unified w');
  const u = initFromBeta([-1, 0], 1);
  assertThrowsCode(() => balancedTheory({ a0: u.a, w0: u.w, betaStar: [0, 1] }, [0, 1]), 'E_ARG', /unbalancedTheory/);
  assertThrowsCode(() => exactSolution({ a0: u.a, w0: u.w, betaStar: [0, 1] }, [Number.NaN]), 'E_ARG');
  assertThrowsCode(() => exactSolution({ a0: u.a, w0: [Number.POSITIVE_INFINITY, 0], betaStar: [0, 1] }, [1]), 'E_NONFINITE');
  assertThrowsCode(() => exactSolution({ a0: 0, w0: [1, 0], betaStar: [0, 1] }, [1]), 'E_ARG');
  assertThrowsCode(() => initFromBeta([0, 0], -1), 'E_ARG');
  assertThrowsCode(() => initFromBeta([1, 0], 1, { etaA: 0 }), 'E_ARG');
});

test('a negative a0 is the mirror image: (a, w) -> (-a, -w) leaves beta and the flow unchanged', () => {
  const { a, w } = initFromBeta([0.3, -0.9], -0.5);
  const pos = unbalancedTheory({ a0: a, w0: w, betaStar: [0.5, 0.5] }, [0, 1, 3]);
  const neg = unbalancedTheory({ a0: -a, w0: w.map((v) => -v), betaStar: [0.5, 0.5] }, [0, 1, 3]);
  assertAllClose(neg.a, pos.a.map((v) => -v), 1e-12, 1e-12, 'a');
  assertAllClose(neg.w, pos.w.map((v) => -v), 1e-12, 1e-12, 'w');
});

test('the flow conserves delta (with layer rates) and converges to beta*', () => {
  const rates = { etaA: 2, etaW: 0.5 };
  const { a, w } = initFromBeta([-1, 0.2], 0.7, rates);
  const fl = singleNeuronFlow({ XX: [1, 0, 0, 1], XY: [0, 1], a0: a, w0: w, T: 40, rates });
  const k = fl.t.length - 1;
  for (let j = 0; j <= k; j++) assert.ok(Math.abs(conservedDelta(fl.a[j], fl.w.subarray(2 * j, 2 * j + 2), rates) - 0.7) < 1e-9);
  assertAllClose([fl.a[k] * fl.w[2 * k], fl.a[k] * fl.w[2 * k + 1]], [0, 1], 1e-7, 1e-7, 'beta(T)');
});

test('kernel distance of the single neuron: tr(M0 M)/(|M0||M|) with M = eta_w a^2 I + eta_a w w^T, explicit 2x2 matrices', () => {
  const M = (a: number, w: number[], ea: number, ew: number) => [ew * a * a + ea * w[0] * w[0], ea * w[0] * w[1], ea * w[1] * w[0], ew * a * a + ea * w[1] * w[1]];
  for (const [ea, ew] of [[1, 1], [2, 0.3]]) {
    const M0 = M(0.7, [0.2, -1.1], ea, ew), M1 = M(-1.3, [0.9, 0.4], ea, ew);
    const ip = M0.reduce((s, v, i) => s + v * M1[i], 0);
    const want = 1 - ip / Math.hypot(...M0) / Math.hypot(...M1);
    assert.ok(Math.abs(neuronKernelDistance(0.7, [0.2, -1.1], -1.3, [0.9, 0.4], { etaA: ea, etaW: ew }) - want) < 1e-14);
  }
  assert.equal(neuronKernelDistance(1, [0.5, 0], 1, [0.5, 0]), 0);
});

test('implicit bias: beta(T) of the low-rank flow matches the predicted limit for every delta', () => {
  const x = [0.5, 1];
  const XX = [0.25, 0.5, 0.5, 1];
  const XY = [0.55, 1.1];
  const b0 = [0.5 * (0.6 * 1 + 0.4 * 0.5), 0.5 * (-0.6 * 0.5 + 0.4 * 1)];
  for (const delta of [-4, -1, 0, 1, 4]) {
    const { a, w } = initFromBeta(b0, delta);
    const fl = singleNeuronFlow({ XX, XY, a0: a, w0: w, T: 400 });
    const k = fl.t.length - 1;
    const lim = implicitBiasLimit({ x, XY, a0: a, w0: w });
    assertAllClose([fl.a[k] * fl.w[2 * k], fl.a[k] * fl.w[2 * k + 1]], lim.betaInf, 1e-8, 1e-8, `beta_inf at delta ${delta}`);
  }
});

test('two-layer ReLU: GD steps and the NTK match torch.autograd', () => {
  const r = FIX.relu;
  const net: TwoLayerNet = { W: Float64Array.from(r.W0.flat()), a: Float64Array.from(r.a0), m: r.m, d: r.d };
  const X = Float64Array.from(r.X.flat());
  const K0 = twoLayerNtk(net, X, r.n);
  assertAllClose(K0, r.K0.flat(), 1e-12, 1e-12, 'NTK');
  const losses: number[] = [];
  const final = trainTwoLayerGD(net, X, Float64Array.from(r.y), { lr: r.lr, steps: 3, checkpointEvery: 1, onCheckpoint: (_s, l) => losses.push(l) });
  assertAllClose(losses.slice(0, 3), r.losses, 1e-12, 1e-14, 'losses');
  assert.ok(Math.abs(final - r.final_loss) < 1e-12);
  assertAllClose(net.W, r.W3.flat(), 1e-12, 1e-13, 'W after 3 steps');
  assertAllClose(net.a, r.a3, 1e-12, 1e-13, 'a after 3 steps');
  assert.equal(kernelDistance(K0, K0), 0);
});

test('symmetric student: f0 = 0 and every neuron has a^2 - |w|^2 = delta', () => {
  for (const [tau, delta] of [[0.1, -1], [1, 0.5], [2, 0]]) {
    const net = symmetricStudent({ d: 5, m: 6, tau, delta, seed: 3 });
    for (let j = 0; j < 6; j++) {
      let w2 = 0;
      for (let k = 0; k < 5; k++) w2 += net.W[j * 5 + k] ** 2;
      assert.ok(Math.abs(net.a[j] ** 2 - w2 - delta) < 1e-12 * Math.max(1, tau * tau * 100));
    }
    const f = twoLayerForward(net, Float64Array.from({ length: 20 }, (_, i) => Math.sin(i + 1)), 4);
    for (const v of f) assert.ok(Math.abs(v) < 1e-12);
  }
  assert.ok(Math.abs(balanceAlpha(0, 1) - 1) < 1e-15);
  assertThrowsCode(() => symmetricStudent({ d: 3, m: 5, tau: 1, delta: 0, seed: 0 }), 'E_ARG');
  assertThrowsCode(() => balanceAlpha(0, 0), 'E_ARG');
});

test('Fig. 8 acceptance: theory error <= 1e-6 and delta drift <= 1e-9', () => {
  const fig = singleNeuronFigure('fig8', RL_PRESETS.quick.settings);
  assert.equal(fig.runs.length, 21);
  assert.ok(fig.metrics.max_abs_theory_error <= 1e-6, `theory error ${fig.metrics.max_abs_theory_error}`);
  assert.ok(fig.metrics.max_exact_error <= 1e-9, `unified error ${fig.metrics.max_exact_error}`);
  assert.ok(fig.metrics.max_delta_drift <= 1e-9, `delta drift ${fig.metrics.max_delta_drift}`);
});

test('repro rich-lazy end to end on a tiny grid: lines, report, plots; resumable', async () => {
  const out = mkdtempSync(join(tmpdir(), 'rich-lazy-'));
  try {
    const o = { out, deltas: [-1, 1], taus: [0.1, 1], seeds: [0], settings: { steps: 200, n: 30, d: 5, m: 6, nTest: 50 } };
    const r = await runRichLazy(o);
    assert.equal(r.summary.total, 4 + 4);
    assert.equal(r.summary.failed, 0);
    const fig8 = r.rows.find((x) => x.config.figure === 'fig8')!;
    assert.ok(fig8.mean.max_abs_theory_error <= 1e-6);
    const grid = r.rows.filter((x) => x.method === 'two-layer-relu');
    for (const g of grid) for (const k of ['kernel_distance', 'test_loss', 'train_loss', 'hamming', 'param_distance']) assert.ok(Number.isFinite(g.mean[k]), k);
    const files = readdirSync(out);
    for (const f of ['report.md', 'fig2_beta.svg', 'fig2_kernel.svg', 'fig8_nu.svg', 'fig4b_beta.svg', 'fig7_alignment.svg', 'grid_kernel_distance.svg']) assert.ok(files.includes(f), f);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.ok(!/NaN/.test(report), 'no NaN in the report');
    const again = await runRichLazy(o);
    assert.equal(again.summary.skipped, 8);
    assert.equal(again.summary.ran, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
