/**
 * nn/: an MLP with every layer kind against PyTorch (forward values, every parameter's gradient,
 * dL/dx, BatchNorm running statistics, train and eval mode) on the js, native and wasm backends;
 * activations and erf on a grid; the losses; PyTorch-default initialisation; gradcheck of every
 * layer and loss; safetensors round trips with PyTorch names. Fixtures: test/fixtures/nn/gen.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { getBackend, loadBackends, useBackend, jsBackend, type Backend } from '../src/backend/index.js';
import {
  Linear, TransposedLinear, ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softplus, Identity, BatchNorm1d, LayerNorm, Sequential, mlp, activation,
  mseLoss, crossEntropy, bceWithLogits, gaussianKL, gradcheck, erf, type Layer, type ActivationName,
} from '../src/nn/index.js';
import { saveParams, loadParams } from '../src/io/nn-params.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

await loadBackends({ quiet: true });
useBackend('js');
const fx = JSON.parse(readFileSync(new URL('./fixtures/nn/nn.json', import.meta.url), 'utf8'));
const MLP_FILE = new URL('./fixtures/nn/mlp.safetensors', import.meta.url).pathname;

function fixtureNet(): Sequential {
  return new Sequential([
    new Linear(6, 8), new BatchNorm1d(8), new ReLU(), new Linear(8, 8, { bias: false }), new LayerNorm(8), new GELU('tanh'),
    new Linear(8, 7), new LeakyReLU(0.1), new Linear(7, 7), new GELU('erf'), new Linear(7, 6), new Tanh(), new Linear(6, 6), new Softplus(), new Linear(6, 5),
  ]);
}

const backends: Backend[] = [jsBackend, getBackend('native'), getBackend('wasm')].filter((b): b is Backend => !!b);

for (const b of backends) {
  test(`MLP with every layer kind matches PyTorch (${b.name} backend): forward, gradients, dL/dx, running stats, eval mode`, () => {
    const net = fixtureNet();
    net.backend = b;
    loadParams(MLP_FILE, net.state());
    const bn = net.layers[1] as BatchNorm1d;
    assert.equal(bn.numBatchesTracked[0], 3, 'int64 num_batches_tracked read from the PyTorch file');
    const m = fx.mlp;
    const x = new Matrix(m.rows, 6, Float32Array.from(m.x));
    const R = new Matrix(m.rows, 5, Float32Array.from(m.R));
    for (const mode of ['train', 'eval'] as const) {
      const ref = m[mode];
      net.zeroGrad();
      const y = net.forward(x, mode === 'train');
      assertAllClose(y.data, ref.y, 1e-4, 1e-5, `${mode} output`);
      const dx = net.backward(R);
      assertAllClose(dx.data, ref.dx, 1e-3, 1e-5, `${mode} dL/dx`);
      const params = net.params();
      assert.deepEqual(params.map((p) => p.name), Object.keys(ref.grads), 'PyTorch parameter names, in order');
      for (const p of params) assertAllClose(p.grad, ref.grads[p.name], 1e-3, 1e-5, `${mode} grad ${p.name}`);
      if (mode === 'train') {
        assertAllClose(bn.runningMean, ref.running_mean, 1e-5, 1e-6, 'running_mean');
        assertAllClose(bn.runningVar, ref.running_var, 1e-5, 1e-6, 'running_var (unbiased batch variance)');
        assert.equal(bn.numBatchesTracked[0], ref.num_batches_tracked);
      }
    }
  });
}

test('activations match PyTorch on a grid (values and derivatives), erf matches math.erf', () => {
  const a = fx.activations;
  const x = new Matrix(1, a.x.length, Float32Array.from(a.x));
  for (const name of ['relu', 'leaky-relu', 'gelu', 'gelu-tanh', 'tanh', 'sigmoid', 'softplus'] as ActivationName[]) {
    const l = activation(name);
    assertAllClose(l.forward(x).data, a[name].y, 2e-6, 5e-7, `${name} values`); // torch's float32 erf: ~1e-7 absolute
    const ones = new Matrix(1, a.x.length).data.fill(1);
    assertAllClose(l.backward(new Matrix(1, a.x.length, ones)).data, a[name].dy, 2e-6, 5e-7, `${name} derivatives`);
  }
  const e = fx.erf;
  for (let i = 0; i < e.x.length; i++) assert.ok(Math.abs(erf(e.x[i]) - e.y[i]) <= 2e-15, `erf(${e.x[i]}) = ${erf(e.x[i])}, math.erf ${e.y[i]}`);
  assert.equal(erf(-e.x[3]), -erf(e.x[3]));
  assert.equal(erf(7), 1);
});

test('losses match torch.nn.functional: mse_loss, cross_entropy (label smoothing, 10^4 classes with logits ~1000), BCE with logits, Gaussian KL', () => {
  const s = fx.mse;
  const r = mseLoss(new Matrix(5, 4, Float32Array.from(s.pred)), new Matrix(5, 4, Float32Array.from(s.target)));
  assert.ok(Math.abs(r.value - s.value) <= 1e-6 * s.value);
  assertAllClose(r.grad.data, s.grad, 1e-5, 1e-7, 'mse grad');

  const c = fx.crossEntropy;
  const logits = new Matrix(6, 11, Float32Array.from(c.logits));
  for (const k of c.cases) {
    const out = crossEntropy(logits, Int32Array.from(c.labels), { labelSmoothing: k.labelSmoothing });
    assert.ok(Math.abs(out.value - k.value) <= 1e-6 * k.value, `CE (ε ${k.labelSmoothing}) ${out.value} vs ${k.value}`);
    assertAllClose(out.grad.data, k.grad, 1e-5, 1e-7, `CE grad (ε ${k.labelSmoothing})`);
  }

  const big = fx.crossEntropyBig;
  const Z = new Matrix(big.rows, big.classes);
  for (let i = 0; i < big.rows; i++) for (let j = 0; j < big.classes; j++) Z.data[i * big.classes + j] = 1000 * Math.sin(0.37 * i + 0.0113 * j);
  const out = crossEntropy(Z, Int32Array.from(big.labels), { labelSmoothing: big.labelSmoothing });
  assert.ok(Number.isFinite(out.value));
  assert.ok(Math.abs(out.value - big.value) <= 1e-5 * big.value, `CE over 10^4 classes ${out.value} vs ${big.value}`);
  let ss = 0;
  for (const v of out.grad.data) ss += v * v;
  assert.ok(Math.abs(ss - big.gradSumSq) <= 1e-4 * big.gradSumSq, `grad sum of squares ${ss} vs ${big.gradSumSq}`);
  for (let i = 0; i < big.rows; i++) {
    const g = out.grad.data[i * big.classes + big.labels[i]];
    assert.ok(Math.abs(g - big.gradAtLabels[i]) <= 1e-5 * Math.abs(big.gradAtLabels[i]) + 1e-9, `grad at label ${i}: ${g} vs ${big.gradAtLabels[i]}`);
    assertAllClose(out.grad.data.subarray(i * big.classes, i * big.classes + 5), big.gradFirst.slice(5 * i, 5 * i + 5), 1e-5, 1e-12, `grad row ${i}`);
  }

  const b = fx.bce;
  const br = bceWithLogits(new Matrix(5, 3, Float32Array.from(b.logits)), new Matrix(5, 3, Float32Array.from(b.targets)));
  assert.ok(Math.abs(br.value - b.value) <= 1e-6 * b.value, `BCE ${br.value} vs ${b.value}`);
  assertAllClose(br.grad.data, b.grad, 1e-5, 1e-8, 'BCE grad');

  const k = fx.kl;
  const kr = gaussianKL(new Matrix(4, 3, Float32Array.from(k.mu)), new Matrix(4, 3, Float32Array.from(k.logvar)));
  assert.ok(Math.abs(kr.value - k.value) <= 1e-5 * k.value, `KL ${kr.value} vs ${k.value}`);
  assertAllClose(kr.gradMu.data, k.gradMu, 1e-5, 1e-7, 'KL dmu');
  assertAllClose(kr.gradLogvar.data, k.gradLogvar, 1e-5, 1e-7, 'KL dlogvar');
});

/** gradcheck a layer on loss = Σ w ⊙ layer(x): every parameter and the input. */
function checkLayer(name: string, layer: Layer, x: Matrix, train = true, tol: { atol?: number; rtol?: number } = {}): void {
  const rng = new Rng(name);
  const out = layer.forward(x, train);
  const w = rng.fillNormal(new Float64Array(out.data.length));
  const wm = new Matrix(out.rows, out.cols, Float32Array.from(w));
  const dxBuf = new Float32Array(x.data.length);
  const loss = (): number => {
    const y = layer.forward(x, train).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };
  const r = gradcheck({
    params: [...layer.params(), { name: 'input', param: x.data, grad: dxBuf }],
    loss,
    lossAndGrad: () => {
      const v = loss();
      layer.zeroGrad();
      dxBuf.set(layer.backward(wm).data);
      return v;
    },
    atol: 2e-3, rtol: 1e-2, ...tol,
  });
  assert.ok(r.checked >= x.data.length, `${name}: checked ${r.checked}`);
  assert.deepEqual(r.failures, [], `${name}: gradcheck failures`);
}

/** Inputs away from the kinks of ReLU/LeakyReLU (|x| >= 0.05), so finite differences are valid. */
function input(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const m = new Matrix(rows, cols);
  const rng = new Rng(seed);
  for (let i = 0; i < m.data.length; i++) {
    const v = rng.normal() * scale;
    m.data[i] = Math.sign(v || 1) * Math.max(Math.abs(v), 0.05);
  }
  return m;
}

test('gradcheck: every layer (parameters and input), train and eval mode', () => {
  const rng = new Rng(11);
  checkLayer('Linear', new Linear(5, 4, { rng }), input(6, 5, 1));
  checkLayer('Linear no bias', new Linear(5, 4, { bias: false, rng }), input(6, 5, 2));
  checkLayer('TransposedLinear', new TransposedLinear(5, 3, { rng }), input(6, 5, 3));
  const tiedTo = new Linear(3, 5, { rng });
  const tl = new TransposedLinear(5, 3, { tiedTo });
  assert.equal(tl.params().length, 0, 'a tied layer reports no parameters of its own');
  for (const [n, l] of [['ReLU', new ReLU()], ['LeakyReLU', new LeakyReLU(0.2)], ['GELU erf', new GELU('erf')], ['GELU tanh', new GELU('tanh')],
    ['Tanh', new Tanh()], ['Sigmoid', new Sigmoid()], ['Softplus', new Softplus()], ['Identity', new Identity()]] as [string, Layer][]) {
    checkLayer(n, l, input(5, 4, n.length, 2));
  }
  const bn = new BatchNorm1d(4);
  bn.weight!.set([1.3, 0.7, -0.4, 2]);
  bn.bias!.set([0.1, -0.2, 0.3, 0]);
  checkLayer('BatchNorm1d train', bn, input(7, 4, 5), true);
  bn.runningVar.set([0.5, 1.5, 2, 0.8]);
  checkLayer('BatchNorm1d eval', bn, input(7, 4, 6), false);
  const ln = new LayerNorm(6);
  ln.weight!.set([1.3, 0.7, -0.4, 2, 1, 0.5]);
  ln.bias!.set([0.1, -0.2, 0.3, 0, 0.5, -1]);
  checkLayer('LayerNorm', ln, input(4, 6, 7));
  checkLayer('mlp (BatchNorm, GELU)', mlp({ sizes: [5, 6, 4, 3], activation: 'gelu', batchNorm: true, rng: 3 }), input(8, 5, 8));
  checkLayer('mlp (LayerNorm, tanh, softplus out)', mlp({ sizes: [5, 6, 3], activation: 'tanh', layerNorm: true, outputActivation: 'softplus', rng: 4 }), input(8, 5, 9));
});

test('gradcheck: every loss, and gradcheck itself catches a wrong gradient', () => {
  const p = input(5, 4, 20), t = input(5, 4, 21);
  const one = (name: string, buf: Float32Array, value: () => number, grad: () => Float32Array): void => {
    const g = new Float32Array(buf.length);
    const r = gradcheck({ params: [{ name, param: buf, grad: g }], loss: value, lossAndGrad: () => { const v = value(); g.set(grad()); return v; }, atol: 1e-4, rtol: 1e-2 });
    assert.deepEqual(r.failures, [], name);
    assert.equal(r.checked, buf.length);
  };
  const w = [0.5, 1, 2, 0.1];
  one('mse (column weights)', p.data, () => mseLoss(p, t, { weights: w }).value, () => mseLoss(p, t, { weights: w }).grad.data);
  const labels = Int32Array.from([0, 3, 2, 1, 3]);
  one('cross-entropy (ε 0.1)', p.data, () => crossEntropy(p, labels, { labelSmoothing: 0.1 }).value, () => crossEntropy(p, labels, { labelSmoothing: 0.1 }).grad.data);
  const tt = new Matrix(5, 4);
  new Rng(3).fillUniform(tt.data);
  one('BCE with logits', p.data, () => bceWithLogits(p, tt).value, () => bceWithLogits(p, tt).grad.data);
  one('KL dmu', p.data, () => gaussianKL(p, t).value, () => gaussianKL(p, t).gradMu.data);
  one('KL dlogvar', t.data, () => gaussianKL(p, t).value, () => gaussianKL(p, t).gradLogvar.data);

  // a gradient off by 10% in one entry is caught and named
  const g = new Float32Array(p.data.length);
  const bad = gradcheck({
    params: [{ name: 'pred', param: p.data, grad: g }],
    loss: () => mseLoss(p, t).value,
    lossAndGrad: () => { const r = mseLoss(p, t); g.set(r.grad.data); g[7] *= 1.1; return r.value; },
    atol: 1e-5, rtol: 1e-3,
  });
  assert.equal(bad.failures.length, 1);
  assert.match(bad.failures[0], /^pred\[7\]/);
  assert.ok(bad.maxError > 1e-4);
  // maxPerParam samples entries
  const sampled = gradcheck({ params: [{ name: 'pred', param: p.data, grad: g }], loss: () => mseLoss(p, t).value, lossAndGrad: () => { const r = mseLoss(p, t); g.set(r.grad.data); return r.value; }, maxPerParam: 5, seed: 1 });
  assert.equal(sampled.checked, 5);
});

test('PyTorch default initialisation: U(±1/√fan_in) for weight (kaiming_uniform a=√5) and bias, from the Rng', () => {
  const bound = 1 / Math.sqrt(37);
  assert.ok(Math.abs(bound - fx.init.kaimingBound_fanIn_37) < 1e-15, 'kaiming_uniform(a=√5) bound is 1/√fan_in');
  const l = new Linear(37, 400, { rng: 5 });
  let s = 0, s2 = 0, mx = 0;
  for (const v of l.weight.data) {
    s += v;
    s2 += v * v;
    mx = Math.max(mx, Math.abs(v));
  }
  const n = l.weight.data.length;
  assert.ok(mx <= bound && mx > 0.99 * bound, `max |w| ${mx} vs bound ${bound}`);
  assert.ok(Math.abs(s / n) < 0.01 * bound * 3, 'mean ≈ 0');
  assert.ok(Math.abs(s2 / n / (bound * bound / 3) - 1) < 0.03, 'variance ≈ bound²/3');
  for (const v of l.bias!) assert.ok(Math.abs(v) <= bound);
  // same seed, same weights; the Rng draws weight then bias
  assertAllClose(new Linear(37, 400, { rng: 5 }).weight.data, l.weight.data, 0, 0);
  const r = new Rng(9);
  const W = new Float32Array(4 * 3);
  r.fillUniform(W, -1 / Math.sqrt(3), 1 / Math.sqrt(3));
  assertAllClose(new Linear(3, 4, { rng: new Rng(9) }).weight.data, W, 0, 0);
});

test('save and load parameters as safetensors with PyTorch names; shape, name and value checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-nn-'));
  try {
    const a = mlp({ sizes: [4, 6, 3], batchNorm: true, rng: 1 });
    a.forward(input(5, 4, 1));
    const names = a.state().map((t) => t.name);
    assert.deepEqual(names, ['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    const f = join(dir, 'a.safetensors');
    saveParams(f, a.state());
    const b = mlp({ sizes: [4, 6, 3], batchNorm: true, rng: 2 });
    loadParams(f, b.state());
    for (let i = 0; i < names.length; i++) assertAllClose(b.state()[i].param, a.state()[i].param, 0, 0, names[i]);
    const x = input(3, 4, 5);
    assertAllClose(b.forward(x, false).data, a.forward(x, false).data, 0, 0, 'same outputs');
    assertThrowsCode(() => loadParams(f, mlp({ sizes: [4, 7, 3], batchNorm: true }).state()), 'E_SHAPE', /0\.weight is \[6, 4\].*\[7, 4\]/);
    const c = mlp({ sizes: [4, 6, 3], batchNorm: true, rng: 3 });
    assertThrowsCode(() => loadParams(f, c.params()), 'E_FORMAT', /running_mean.*strict: false/);
    assert.deepEqual(loadParams(f, c.params(), { strict: false }).unexpected, ['1.running_mean', '1.running_var', '1.num_batches_tracked']);
    assertAllClose(c.params()[4].param, a.params()[4].param, 0, 0, 'loaded without the buffers');
    assertThrowsCode(() => loadParams(f, mlp({ sizes: [4, 6, 3] }).state()), 'E_FORMAT', /no tensor "2\.weight", "2\.bias"/);
    const nanFile = join(dir, 'nan.safetensors');
    writeSafetensors(nanFile, { weight: { shape: [1, 2], data: new Float32Array([1, NaN]) } });
    assertThrowsCode(() => loadParams(nanFile, new Linear(2, 1, { bias: false }).params()), 'E_NONFINITE', /weight/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('buffers are allocated once per batch size; bad input gives SparsecodeErrors naming the fix', () => {
  const net = mlp({ sizes: [3, 4, 2], rng: 0 });
  const y1 = net.forward(input(5, 3, 1));
  const y2 = net.forward(input(5, 3, 2));
  assert.equal(y1, y2, 'the same output buffer for the same batch size');
  assert.notEqual(net.forward(input(6, 3, 2)), y1);
  assertThrowsCode(() => net.forward(input(5, 4, 1)), 'E_SHAPE', /4 columns.*3 features/);
  assertThrowsCode(() => new Linear(2, 2).backward(new Matrix(1, 2)), 'E_ARG', /forward first/);
  const l = new Linear(3, 2);
  l.forward(input(4, 3, 1));
  assertThrowsCode(() => l.backward(new Matrix(5, 2)), 'E_SHAPE', /dy is \[5 x 2\]/);
  assertThrowsCode(() => new BatchNorm1d(3).forward(new Matrix(1, 3)), 'E_SHAPE', /more than 1 row/);
  assertThrowsCode(() => mlp({ sizes: [3] }), 'E_ARG', /at least/);
  assertThrowsCode(() => mlp({ sizes: [3, 2], activation: 'swish' as ActivationName }), 'E_ARG', /gelu-tanh/);
  assertThrowsCode(() => crossEntropy(new Matrix(2, 3), Int32Array.from([0, 3])), 'E_ARG', /label 1 is 3/);
  assertThrowsCode(() => crossEntropy(new Matrix(2, 3), Int32Array.from([0])), 'E_SHAPE', /labels/);
  assertThrowsCode(() => mseLoss(new Matrix(2, 3), new Matrix(3, 2)), 'E_SHAPE', /pred is \[2 x 3\]/);
  assertThrowsCode(() => new GELU('fast' as 'erf'), 'E_ARG', /'erf' or 'tanh'/);
  assertThrowsCode(() => new TransposedLinear(3, 2, { tiedTo: new Linear(3, 2) }), 'E_SHAPE', /Linear\(2 → 3\)/);
});
