import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { alignmentTerm, infoNceLoss, infoNceTerm, lejepaLoss, ViewObjective, whiteningLoss, whiteningTerm } from '../src/objectives/views.js';
import { randomDirections } from '../src/objectives/sigreg.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/lejepa/lejepa.json', import.meta.url), 'utf8')).objectives;
const H = new Matrix(2 * fx.batch, fx.dim, Float32Array.from(fx.H));
const A = new Matrix(fx.dim, fx.A.length / fx.dim, Float32Array.from(fx.A));

test('alignment term: value and gradient match torch autograd', () => {
  const g = new Matrix(H.rows, H.cols);
  const v = alignmentTerm(H, 2, g);
  assertAllClose([v], [fx.align.value], 1e-6, 0, 'value');
  assertAllClose(g.data, fx.align.grad, 1e-5, 1e-8, 'grad');
});

test('LeJEPA loss with pooled and per-view SIGReg: value and gradient match torch autograd', () => {
  const pooled = lejepaLoss(H, { lambda: fx.lambda, directions: A });
  assertAllClose([pooled.value], [fx.lejepa_pooled.value], 2e-5, 0, 'pooled value');
  assertAllClose(pooled.grad.data, fx.lejepa_pooled.grad, 1e-4, 1e-7, 'pooled grad');
  assert.ok(pooled.parts.sigreg > 0 && pooled.parts.align > 0);
  assertAllClose([fx.lambda * pooled.parts.sigreg + (1 - fx.lambda) * pooled.parts.align], [pooled.value], 1e-12, 0);
  const per = lejepaLoss(H, { lambda: fx.lambda, directions: A, perView: true });
  assertAllClose([per.value], [fx.lejepa_per_view.value], 2e-5, 0, 'per-view value');
  assertAllClose(per.grad.data, fx.lejepa_per_view.grad, 1e-4, 1e-7, 'per-view grad');
  assert.notEqual(per.value.toFixed(6), pooled.value.toFixed(6));
});

test('whitening ("VICReg" in the paper) and Gaussian-kernel InfoNCE: value and gradient match torch autograd', () => {
  const w = whiteningLoss(H, { lambda: fx.lambda });
  assertAllClose([w.value], [fx.whiten.value], 1e-5, 0, 'whiten value');
  assertAllClose(w.grad.data, fx.whiten.grad, 1e-4, 1e-7, 'whiten grad');
  const n = infoNceLoss(H);
  assertAllClose([n.value], [fx.infonce.value], 1e-5, 0, 'infonce value');
  assertAllClose(n.grad.data, fx.infonce.grad, 1e-4, 1e-7, 'infonce grad');
  const n5 = infoNceLoss(H, { sigma: 0.5 });
  assertAllClose([n5.value], [fx.infonce_sigma05.value], 1e-5, 0, 'infonce sigma 0.5 value');
  assertAllClose(n5.grad.data, fx.infonce_sigma05.grad, 1e-4, 1e-7, 'infonce sigma 0.5 grad');
});

test('the whitening and InfoNCE terms pass central-difference checks on a wider batch', () => {
  const X = randMatrix(2 * 12, 4, 3);
  for (const [name, f] of [
    ['whiten', (M: Matrix, g?: Matrix) => whiteningTerm(M, g)],
    ['infonce', (M: Matrix, g?: Matrix) => infoNceTerm(M, 0.7, g)],
  ] as const) {
    const g = new Matrix(X.rows, X.cols);
    f(X, g);
    const h = 1e-2;
    let worst = 0;
    for (let p = 0; p < X.data.length; p += 3) {
      const x0 = X.data[p];
      X.data[p] = x0 + h;
      const fp = f(X);
      X.data[p] = x0 - h;
      const fm = f(X);
      X.data[p] = x0;
      const fd = (fp - fm) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - g.data[p]) / (1e-3 + Math.abs(fd)));
    }
    assert.ok(worst < 5e-3, `${name}: worst relative error ${worst}`);
  }
});

test('every objective (LeJEPA pooled / per view, whitening, InfoNCE) passes nn gradcheck', () => {
  const X = randMatrix(2 * 10, 3, 31);
  const dirs = randomDirections(3, 12, 32);
  const cases: [string, ViewObjective][] = [
    ['lejepa pooled', new ViewObjective({ kind: 'sigreg', lambda: 0.4 })],
    ['lejepa per-view', new ViewObjective({ kind: 'sigreg', lambda: 0.4, sigregMode: 'per-view' })],
    ['whiten', new ViewObjective({ kind: 'whiten', lambda: 0.5 })],
    ['infonce', new ViewObjective({ kind: 'infonce', sigma: 0.8 })],
  ];
  for (const [name, obj] of cases) {
    const grad = new Float32Array(X.data.length);
    const g = new Matrix(X.rows, X.cols);
    const r = gradcheck({
      params: [{ name: 'H', param: X.data, grad }],
      loss: () => obj.lossAndGrad(X, g, 0, dirs).value,
      lossAndGrad: () => {
        const v = obj.lossAndGrad(X, g, 0, dirs).value;
        for (let i = 0; i < grad.length; i++) grad[i] += g.data[i];
        return v;
      },
      h: 1e-2,
    });
    assert.equal(r.checked, X.data.length, name);
    assert.deepEqual(r.failures, [], name);
  }
});

test('ViewObjective draws fresh directions from its Rng every call and reproduces them from the seed', () => {
  const obj = new ViewObjective({ kind: 'sigreg', lambda: 0.5, numDirections: 8 });
  const g = new Matrix(H.rows, H.cols);
  const r1 = new Rng(7);
  const a = obj.lossAndGrad(H, g, r1).value;
  const b = obj.lossAndGrad(H, g, r1).value;
  assert.notEqual(a, b);
  const r2 = new Rng(7);
  assert.equal(obj.lossAndGrad(H, g, r2).value, a);
  // fixed directions are the same as the one-shot loss
  const dirs = randomDirections(fx.dim, 8, 1);
  assertAllClose([obj.lossAndGrad(H, g, 0, dirs).value], [lejepaLoss(H, { lambda: 0.5, directions: dirs }).value], 1e-12, 0);
  // lambda = 0 is pure alignment, lambda = 1 pure SIGReg
  const al = alignmentTerm(H, 2);
  assertAllClose([new ViewObjective({ kind: 'sigreg', lambda: 0 }).lossAndGrad(H, g).value], [al], 1e-12, 0);
});

test('objectives refuse bad input naming the argument and the fix', () => {
  assertThrowsCode(() => new ViewObjective({ kind: 'sigreg', lambda: 1.5 }), 'E_ARG', /lambda must be in \[0, 1\]/);
  assertThrowsCode(() => new ViewObjective({ kind: 'whiten', lambda: -0.1 }), 'E_ARG', /lambda/);
  assertThrowsCode(() => new ViewObjective({ kind: 'sigreg', lambda: NaN }), 'E_ARG', /lambda/);
  assertThrowsCode(() => new ViewObjective({ kind: 'nope' as never }), 'E_ARG', /sigreg, whiten, infonce/);
  assertThrowsCode(() => new ViewObjective({ kind: 'infonce', views: 3 }), 'E_ARG', /two views/);
  assertThrowsCode(() => new ViewObjective({ kind: 'infonce', sigma: 0 }), 'E_ARG', /sigma/);
  const bad = H.clone();
  bad.data[4] = NaN;
  assertThrowsCode(() => lejepaLoss(bad, { lambda: 0.1 }), 'E_NONFINITE', /embeddings.*lower the learning rate/);
  assertThrowsCode(() => lejepaLoss(randMatrix(7, 3, 0), { lambda: 0.1 }), 'E_SHAPE', /multiple of views/);
  assertThrowsCode(() => lejepaLoss(H, { lambda: 0.1, directions: randomDirections(fx.dim + 1, 4, 0) }), 'E_SHAPE', /directions/);
});
