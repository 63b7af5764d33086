import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam } from '../src/optim/adam.js';
import {
  ToyModel, sampleToyFeatures, toyImportance, toyTrivialLoss, trainToyModel, weightedMse,
} from '../src/worlds/toy-model.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

/** Central finite differences of the loss in float64 (re-evaluating the float32 model). */
function numericGrad(model: ToyModel, x: Matrix, param: Float32Array, idx: number, eps: number): number {
  const v = param[idx];
  param[idx] = v + eps;
  const lp = model.loss(x);
  param[idx] = v - eps;
  const lm = model.loss(x);
  param[idx] = v;
  return (lp - lm) / (2 * eps);
}

for (const act of ['relu', 'linear'] as const) {
  test(`toy model (${act} hidden): hand-written gradients match finite differences`, () => {
    const model = new ToyModel({ features: 12, hidden: 5, featureProb: 0.4, hiddenActivation: act }, 3);
    const rng = new Rng(7);
    rng.fillNormal(model.b, 0.05, 0.1);
    const x = sampleToyFeatures(40, 12, 0.4, new Rng(1));
    model.lossAndGrad(x);
    const gW = Float64Array.from(model.gW.data);
    const gb = Float64Array.from(model.gb);
    // skip entries whose perturbation crosses a ReLU kink (the loss is not differentiable there)
    let checked = 0;
    for (const [param, grad] of [[model.W.data, gW], [model.b, gb]] as const) {
      for (let i = 0; i < param.length; i++) {
        const eps = 1e-3;
        const n1 = numericGrad(model, x, param, i, eps);
        const n2 = numericGrad(model, x, param, i, eps / 2);
        if (Math.abs(n1 - n2) > 1e-3 * (Math.abs(n1) + 1e-6)) continue; // kink inside the stencil
        assertAllClose([grad[i]], [n2], 2e-2, 2e-6, `grad entry ${i}`);
        checked++;
      }
    }
    assert.ok(checked > 0.8 * (model.W.data.length + model.b.length), `only ${checked} entries were smooth enough to check`);
  });
}

test('toy model: loss equals an explicit float64 forward pass', () => {
  const model = new ToyModel({ features: 6, hidden: 3, featureProb: 0.5, importance: { decay: 0.7 } }, 2);
  model.b.set([0.1, -0.2, 0.05, 0, 0.3, -0.1]);
  const x = sampleToyFeatures(9, 6, 0.5, new Rng(4));
  let ref = 0;
  for (let s = 0; s < 9; s++) {
    const h = new Float64Array(3);
    for (let j = 0; j < 3; j++) {
      let q = 0;
      for (let i = 0; i < 6; i++) q += x.get(s, i) * model.W.get(i, j);
      h[j] = Math.max(0, q);
    }
    for (let i = 0; i < 6; i++) {
      let p = model.b[i];
      for (let j = 0; j < 3; j++) p += h[j] * model.W.get(i, j);
      const e = Math.max(0, p) - x.get(s, i);
      ref += 0.7 ** i * e * e;
    }
  }
  ref /= 9 * 6;
  assertAllClose([model.loss(x)], [ref], 1e-5, 1e-9, 'loss');
  assertAllClose([model.lossAndGrad(x)], [ref], 1e-5, 1e-9, 'lossAndGrad');
  assertAllClose([weightedMse(x, model.reconstruct(x), model.importance)], [ref], 1e-5, 1e-9, 'weightedMse');
});

test('toy importance: the paper formula, decay^i, explicit weights, and bad input', () => {
  const imp = toyImportance(64);
  assert.equal(imp[0], 1);
  assertAllClose([imp[32]], [1 / 4], 1e-6, 0);
  assertAllClose([imp[63]], [(1 + 126 / 64) ** -2], 1e-6, 0);
  assertAllClose(toyImportance(3, { decay: 0.7 }), [1, 0.7, 0.49], 1e-6, 0);
  assertAllClose(toyImportance(2, [2, 3]), [2, 3]);
  assertThrowsCode(() => toyImportance(3, [1, 2]), 'E_SHAPE', /3 features/);
  assertThrowsCode(() => toyImportance(2, [1, NaN]), 'E_ARG', /importance\[1\]/);
  assertThrowsCode(() => toyImportance(2, { decay: 1.5 }), 'E_ARG', /decay/);
  assertThrowsCode(() => new ToyModel({ hidden: 0 }), 'E_ARG', /hidden/);
  assertThrowsCode(() => new ToyModel({ hidden: 4, featureProb: 0 }), 'E_ARG', /featureProb/);
  assertThrowsCode(() => new ToyModel({ hidden: 4 }).lossAndGrad(new Matrix(3, 5)), 'E_SHAPE', /64 features/);
});

test('sampleToyFeatures: sparsity and magnitudes match the law', () => {
  const X = sampleToyFeatures(4000, 64, 0.1, new Rng(0));
  let active = 0, sum = 0;
  for (const v of X.data) {
    assert.ok(v >= 0 && v < 1);
    if (v > 0) {
      active++;
      sum += v;
    }
  }
  const frac = active / X.data.length;
  assert.ok(Math.abs(frac - 0.1) < 0.005, `active fraction ${frac}`);
  assert.ok(Math.abs(sum / active - 0.5) < 0.01, `mean active value ${sum / active}`);
  // the same seed gives the same stream
  assertAllClose(sampleToyFeatures(5, 64, 0.1, new Rng(3)).data, sampleToyFeatures(5, 64, 0.1, new Rng(3)).data, 0, 0);
});

test('toy model learns: loss falls well below the trivial predictor, same seeds give the same model', async () => {
  const opts = { features: 20, hidden: 5, featureProb: 0.1, steps: 600, batch: 256, lr: 1e-2, seed: 0, dataSeed: 0 } as const;
  const r = await trainToyModel(opts);
  const trivial = toyTrivialLoss(r.model.importance, 0.1);
  assert.equal(r.trivialLoss, trivial);
  const first = r.lossCurve[0][1];
  assert.ok(r.finalLoss < 0.6 * trivial, `final loss ${r.finalLoss} vs trivial ${trivial}`);
  assert.ok(r.finalLoss < first, `loss did not fall: ${first} -> ${r.finalLoss}`);
  // held-out loss agrees with the training loss (fresh data from another stream)
  const held = r.model.loss(sampleToyFeatures(4000, 20, 0.1, new Rng(99)));
  assert.ok(held < 0.6 * trivial, `held-out loss ${held}`);
  const again = await trainToyModel(opts);
  assertAllClose(again.model.W.data, r.model.W.data, 0, 0, 'W');
  const other = await trainToyModel({ ...opts, seed: 1 });
  assert.notDeepEqual(Array.from(other.model.W.data), Array.from(r.model.W.data));
});
