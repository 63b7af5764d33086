import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import {
  mcc, dictionaryRecovery, mse, fve, l0, deadLatents, activationCounts, auc, unitAucs, bestUnitAuc,
  ridgeProbe, logisticProbe, linearIdentifiabilityR2,
} from '../src/metrics/index.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

// Reference values from NumPy / SciPy / scikit-learn: test/fixtures/metrics/gen.py
const fx = JSON.parse(readFileSync(new URL('./fixtures/metrics/metrics.json', import.meta.url), 'utf8'));
const M = (rows: number[][]) => Matrix.from(rows);

test('mcc matches scipy linear_sum_assignment on |corrcoef| (equal widths)', () => {
  const c = fx.mcc_equal;
  const r = mcc(M(c.codes), M(c.truth));
  assertAllClose([r.mcc], [c.mcc], 1e-9, 1e-12, 'mcc');
  assert.equal(r.pairs, 6);
  // scipy's rows are truth columns, its cols the matched code columns
  for (let t = 0; t < c.rowInd.length; t++) assert.equal(r.matching[c.rowInd[t]], c.colInd[t]);
  let mean = 0;
  for (const v of r.perLatent) mean += v / 6;
  assertAllClose([mean], [c.mcc], 1e-12, 1e-12, 'perLatent mean');
  // codes were a permutation of the truth: Hungarian must find it
  assert.deepEqual(Array.from(r.matching), [1, 3, 5, 0, 4, 2]);
});

test('mcc with widths that differ: inactive latents dropped, noise padding or none', () => {
  const c = fx.mcc_pad;
  const none = mcc(M(c.codes), M(c.truth), { pad: 'none' });
  assertAllClose([none.mcc], [c.mcc_nopad], 1e-9, 1e-12, 'mcc pad=none');
  assert.equal(none.pairs, 5);
  assert.ok(Number.isNaN(none.perLatent[2]), 'the inactive latent is left out');
  assert.equal(none.matching[2], -1);
  const noisy = mcc(M(c.codes), M(c.truth));
  assert.equal(noisy.pairs, 7);
  // padded truth columns are noise: the value is the reference's up to the noise draw
  assert.ok(Math.abs(noisy.mcc - c.mcc_refpad) < 0.05, `${noisy.mcc} vs ${c.mcc_refpad}`);
  assert.ok(noisy.mcc < none.mcc);
  // deterministic given the seed, different with another seed
  assert.equal(mcc(M(c.codes), M(c.truth)).mcc, noisy.mcc);
  assert.notEqual(mcc(M(c.codes), M(c.truth), { seed: 7 }).mcc, noisy.mcc);
});

test('mcc OOD rule keeps active latents and the highest-variance code columns', () => {
  const c = fx.mcc_ood;
  const r = mcc(M(c.codes), M(c.truth), { ood: true });
  assertAllClose([r.mcc], [c.mcc], 1e-9, 1e-12, 'mcc ood');
  assert.deepEqual(Array.from(r.codesUsed).sort((a, b) => a - b), c.top);
  assert.deepEqual(Array.from(r.latentsUsed), [0, 5, 6, 7]);
});

test('mcc closed forms: permuted, scaled, sign-flipped truth gives 1; independent noise gives ~0', () => {
  const Z = randMatrix(300, 7, 3);
  const perm = [4, 2, 6, 0, 1, 5, 3];
  const C = Z.takeCols(perm);
  for (let i = 0; i < C.rows; i++) for (let j = 0; j < 7; j++) C.data[i * 7 + j] = C.data[i * 7 + j] * (j % 2 ? -3 : 0.5) + j;
  const r = mcc(C, Z);
  assertAllClose([r.mcc], [1], 0, 1e-6, 'mcc');
  for (let j = 0; j < 7; j++) assert.equal(perm[r.matching[j]], j);
  const noise = mcc(randMatrix(4000, 5, 9), randMatrix(4000, 5, 10));
  assert.ok(noise.mcc < 0.06, `noise mcc ${noise.mcc}`);
});

test('mcc on large problems (blocked GEMM correlations) agrees with the exact float64 path', () => {
  const rng = new Rng(11);
  const n = 800, w = 300;
  const Z = new Matrix(n, w);
  for (let i = 0; i < Z.data.length; i++) Z.data[i] = rng.uniform() < 0.05 ? rng.uniform() + 3 : 0;
  const C = Z.takeCols(rng.permutation(w));
  for (let i = 0; i < C.data.length; i++) C.data[i] += 0.3 * rng.normal();
  const truthWide = new Matrix(n, w + 20);
  for (let i = 0; i < n; i++) truthWide.data.set(Z.row(i), i * (w + 20));
  for (const T of [Z, truthWide]) {
    const fast = mcc(C, T, { dropInactive: false });
    const exact = mcc(C, T, { dropInactive: false, exact: true });
    assertAllClose([fast.mcc], [exact.mcc], 1e-5, 0, 'fast vs exact');
    assert.deepEqual(Array.from(fast.matching).slice(0, w), Array.from(exact.matching).slice(0, w));
    assertAllClose(fast.perLatent, exact.perLatent, 1e-4, 1e-5, 'perLatent');
  }
});

test('mcc bad input: row mismatch, NaN, nothing active', () => {
  assertThrowsCode(() => mcc(randMatrix(10, 3), randMatrix(11, 3)), 'E_SHAPE', /codes has 10 rows, truth has 11/);
  const bad = randMatrix(10, 3);
  bad.data[4] = NaN;
  assertThrowsCode(() => mcc(bad, randMatrix(10, 3)), 'E_NONFINITE', /codes/);
  assertThrowsCode(() => mcc(randMatrix(10, 3), new Matrix(10, 3)), 'E_DATA', /no true latent varies/);
  assertThrowsCode(() => mcc(randMatrix(10, 3), randMatrix(10, 3), { pad: 'zeros' as any }), 'E_ARG', /pad/);
});

test('dictionaryRecovery matches scipy Hungarian on |cosine| between rows', () => {
  const c = fx.dict;
  const r = dictionaryRecovery(M(c.learned), M(c.truth));
  assertAllClose([r.meanCos, r.frac090], [c.meanCos, c.frac090], 1e-6, 1e-9, 'dict summary');
  assert.deepEqual(Array.from(r.matching.truth), c.truthInd);
  assert.deepEqual(Array.from(r.matching.learned), c.learnedInd);
  assertAllClose(r.cosines, c.cosines, 1e-6, 1e-9, 'cosines');
  // closed form: a signed, rescaled permutation of the truth is recovered exactly
  const A = M(c.truth);
  const D = A.takeRows([3, 1, 0, 2, 7, 6, 5, 4]);
  for (let j = 0; j < D.cols; j++) D.data[j] *= -4;
  const e = dictionaryRecovery(D, A);
  assertAllClose([e.meanCos, e.frac090], [1, 1], 0, 1e-6);
  assertThrowsCode(() => dictionaryRecovery(randMatrix(4, 5), randMatrix(4, 6)), 'E_SHAPE', /dimension 5.*6/);
});

test('auc equals sklearn roc_auc_score, ties included', () => {
  for (const c of fx.auc) assertAllClose([auc(c.scores, c.labels)], [c.auc], 1e-12, 1e-12, 'auc');
  assert.equal(auc([1, 2, 3, 4], [0, 0, 1, 1]), 1);
  assert.equal(auc([1, 2, 3, 4], [1, 1, 0, 0]), 0);
  assert.equal(auc([5, 5, 5, 5], [1, 0, 1, 0]), 0.5);
  assertThrowsCode(() => auc([1, 2], [1, 1]), 'E_ARG', /one class/);
  assertThrowsCode(() => auc([1, 2], [1, 2]), 'E_ARG', /binary/);
  assertThrowsCode(() => auc([1, 2, 3], [1, 0]), 'E_SHAPE');
  assertThrowsCode(() => auc([1, NaN], [1, 0]), 'E_NONFINITE');
});

test('bestUnitAuc picks the unit on ID and reports it on OOD (reference rule)', () => {
  const c = fx.best_unit;
  const r = bestUnitAuc(M(c.codesId), c.yId, M(c.codesOod), c.yOod);
  assert.equal(r.unit, c.unit);
  assertAllClose([r.aucId, r.aucOod], [c.aucId, c.aucOod], 1e-12, 1e-12);
  assertAllClose(r.perUnitId, c.perUnitId, 1e-12, 1e-12, 'per unit');
  assert.equal(unitAucs(M(c.codesId), c.yId)[1], 0.5, 'a constant unit scores 0.5');
  assertThrowsCode(() => bestUnitAuc(randMatrix(5, 3), [0, 1, 0, 1, 0], randMatrix(5, 4), [0, 1, 0, 1, 0]), 'E_SHAPE');
});

test('logisticProbe (Newton) matches sklearn LogisticRegression(penalty=None) on non-separable data', () => {
  for (const c of fx.logistic) {
    const r = logisticProbe(M(c.X), c.y, M(c.Xtest), c.yTest, { solver: 'newton' });
    assert.ok(r.converged);
    assertAllClose(r.weights, c.coef, 1e-4, 1e-5, 'coef');
    assertAllClose([r.bias], [c.intercept], 1e-4, 1e-5, 'intercept');
    assert.equal(r.trainAccuracy, c.trainAccuracy);
    assert.equal(r.accuracy, c.accuracy);
    const p = r.predictProba(M(c.Xtest));
    assert.ok(p.every((v) => v > 0 && v < 1));
  }
});

test('logisticProbe L-BFGS path matches the sklearn fixtures and Newton; L-BFGS is the default', () => {
  for (const c of fx.logistic) {
    const r = logisticProbe(M(c.X), c.y, M(c.Xtest), c.yTest, { solver: 'lbfgs', tol: 1e-10 });
    assert.equal(r.solver, 'lbfgs');
    assert.ok(r.converged);
    assertAllClose(r.weights, c.coef, 1e-4, 1e-5, 'lbfgs coef');
    assertAllClose([r.bias], [c.intercept], 1e-4, 1e-5, 'lbfgs intercept');
    assert.equal(r.trainAccuracy, c.trainAccuracy);
    assert.equal(r.accuracy, c.accuracy);
  }
  // a wider non-separable problem: both solvers reach the same optimum
  const rng = new Rng(11);
  const n = 400, d = 40;
  const X = new Matrix(n, d);
  const y = new Float32Array(n);
  const w = Float64Array.from({ length: d }, () => rng.normal() * 0.3);
  for (let i = 0; i < n; i++) {
    let s = 0.2;
    for (let j = 0; j < d; j++) {
      const v = rng.normal() * (j % 3 === 0 ? 0 : 1); // every third column dead (zero)
      X.data[i * d + j] = v;
      s += v * w[j];
    }
    y[i] = s + rng.normal() > 0 ? 1 : 0;
  }
  const newton = logisticProbe(X, y, undefined, undefined, { solver: 'newton' });
  const lbfgs = logisticProbe(X, y, undefined, undefined, { solver: 'lbfgs', tol: 1e-10 });
  assert.equal(newton.solver, 'newton');
  assert.ok(newton.converged && lbfgs.converged);
  assertAllClose(lbfgs.weights, newton.weights, 1e-5, 1e-6, 'lbfgs vs newton');
  assertAllClose([lbfgs.bias], [newton.bias], 1e-5, 1e-6, 'bias');
  assert.equal(lbfgs.trainAccuracy, newton.trainAccuracy);
  // separable data: L-BFGS separates too, finite weights in the separating direction
  const Xs = new Matrix(60, 2);
  const ys = new Float32Array(60);
  for (let i = 0; i < 60; i++) {
    Xs.data[i * 2] = rng.normal();
    Xs.data[i * 2 + 1] = rng.normal();
    ys[i] = Xs.data[i * 2] - Xs.data[i * 2 + 1] > 0 ? 1 : 0;
  }
  const sep = logisticProbe(Xs, ys, undefined, undefined, { solver: 'lbfgs' });
  assert.equal(sep.trainAccuracy, 1);
  assert.ok(sep.weights.every(Number.isFinite) && sep.weights[0] > 0 && sep.weights[1] < 0);
  // the default is scikit-learn's lbfgs at its tolerance: near the optimum, not at it
  const def = logisticProbe(X, y);
  assert.equal(def.solver, 'lbfgs');
  assert.ok(def.converged && def.loss >= newton.loss - 1e-6 && def.loss - newton.loss < 1e-4, `${def.loss} vs ${newton.loss}`);
  assertThrowsCode(() => logisticProbe(X, y, undefined, undefined, { solver: 'sgd' as 'lbfgs' }), 'E_ARG', /solver/);
  assertThrowsCode(() => logisticProbe(X, y, undefined, undefined, { memory: 0 }), 'E_ARG', /memory/);
});

test('logisticProbe on separable data stays finite and separates; bad input', () => {
  const rng = new Rng(5);
  const X = new Matrix(80, 3);
  const y = new Float32Array(80);
  for (let i = 0; i < 80; i++) {
    for (let j = 0; j < 3; j++) X.data[i * 3 + j] = rng.normal();
    y[i] = X.data[i * 3] + 0.5 * X.data[i * 3 + 1] > 0.2 ? 1 : 0;
  }
  for (const solver of ['lbfgs', 'newton'] as const) {
    const r = logisticProbe(X, y, undefined, undefined, { solver });
    assert.equal(r.trainAccuracy, 1);
    assert.ok(r.weights.every(Number.isFinite) && Number.isFinite(r.bias));
    assert.ok(r.weights[0] > 0 && r.weights[1] > 0, 'the direction is the separating one');
  }
  const r = logisticProbe(X, y, undefined, undefined, { solver: 'newton' });
  // the direction is the separating one
  assert.ok(r.weights[0] > 0 && r.weights[1] > 0);
  assertThrowsCode(() => logisticProbe(X, new Float32Array(80)), 'E_ARG', /one class/);
  assertThrowsCode(() => logisticProbe(X, y.subarray(0, 10)), 'E_SHAPE', /10 labels/);
  assertThrowsCode(() => logisticProbe(X, y, randMatrix(5, 4), [0, 1, 0, 1, 1]), 'E_SHAPE', /Xtest/);
  // a dead (all-zero) column is harmless
  const Xd = new Matrix(80, 4);
  for (let i = 0; i < 80; i++) for (let j = 0; j < 3; j++) Xd.data[i * 4 + j] = X.data[i * 3 + j] + (j === 2 ? 2 * rng.normal() : 0);
  const noisy = logisticProbe(Xd, y.map((v, i) => (i % 7 === 0 ? 1 - v : v)), undefined, undefined, { solver: 'newton' });
  assert.ok(noisy.converged && Math.abs(noisy.weights[3]) < 1e-6);
});

test('ridgeProbe: leave-one-out and k-fold alpha selection match sklearn RidgeCV / KFold', () => {
  for (const c of fx.ridge) {
    const X = M(c.X), Z = M(c.Z);
    const r = ridgeProbe(X, Z);
    assertAllClose(r.cvErrors, c.looErrors, 1e-6, 1e-12, 'LOO errors');
    assert.equal(r.alpha, c.alpha);
    assertAllClose(r.weights.data, c.coef.flat(), 1e-4, 1e-5, 'coef');
    const k = ridgeProbe(X, Z, { cv: 5 });
    assertAllClose(k.cvErrors, c.kfoldErrors, 1e-6, 1e-12, 'k-fold errors');
    assert.equal(k.alpha, c.kfoldAlpha);
    assertAllClose(k.weights.data, c.kfoldCoef.flat(), 1e-4, 1e-5, 'k-fold coef');
    const pred = r.predict(X);
    assert.deepEqual(pred.shape, [X.rows, Z.cols]);
  }
  // a noiseless linear map is recovered exactly at the smallest alpha
  const X = randMatrix(50, 4, 1);
  const W = M([[1, 0], [0, 2], [-1, 1], [0.5, 0]]);
  const Z = new Matrix(50, 2);
  for (let i = 0; i < 50; i++) for (let c = 0; c < 2; c++) {
    let s = 0;
    for (let a = 0; a < 4; a++) s += X.data[i * 4 + a] * W.data[a * 2 + c];
    Z.data[i * 2 + c] = s;
  }
  const r = ridgeProbe(X, Z);
  assert.equal(r.alpha, 1e-6);
  assertAllClose(r.weights.data, W.data, 1e-4, 1e-5);
  assertThrowsCode(() => ridgeProbe(X, Z, { alphas: [0] }), 'E_ARG', /alpha/);
  assertThrowsCode(() => ridgeProbe(X, Z, { cv: 1 }), 'E_ARG', /folds/);
  assertThrowsCode(() => ridgeProbe(X, randMatrix(49, 2)), 'E_SHAPE');
});

test('linearIdentifiabilityR2 matches sklearn LinearRegression + r2_score', () => {
  const c = fx.r2;
  const r = linearIdentifiabilityR2(M(c.H), M(c.Z));
  assertAllClose([r.r2], [c.r2], 1e-6, 1e-9, 'r2');
  assertAllClose(r.perDim, c.perDim, 1e-6, 1e-9, 'perDim');
  assertAllClose(r.weights.data, c.coef.flat(), 1e-5, 1e-6, 'coef');
  assertAllClose(r.intercept, c.intercept, 1e-5, 1e-6, 'intercept');
  const t = linearIdentifiabilityR2(M(c.H), M(c.Z), { test: { H: M(c.Htest), Z: M(c.Ztest) } });
  assertAllClose([t.r2], [c.r2Test], 1e-5, 1e-8, 'r2 test');
  assertAllClose(t.perDim, c.perDimTest, 1e-5, 1e-8, 'perDim test');
  // closed form: an invertible linear map of Z explains it completely
  const Z = randMatrix(100, 3, 2);
  const H = new Matrix(100, 3);
  for (let i = 0; i < 100; i++) {
    const z = Z.row(i);
    H.data.set([z[0] + z[1], 2 * z[1] - z[2] + 1, z[2]], i * 3);
  }
  assertAllClose([linearIdentifiabilityR2(H, Z).r2], [1], 0, 1e-6);
  // a constant H explains nothing
  assertAllClose([linearIdentifiabilityR2(new Matrix(10, 2), randMatrix(10, 2)).r2], [0], 0, 1e-12);
  assertThrowsCode(() => linearIdentifiabilityR2(randMatrix(10, 2), randMatrix(9, 2)), 'E_SHAPE', /H has 10 rows, Z has 9/);
});

test('mse, fve, l0, dead latents', () => {
  const c = fx.recon;
  assertAllClose([mse(M(c.X), M(c.Xhat)), fve(M(c.X), M(c.Xhat))], [c.mse, c.fve], 1e-6, 1e-9);
  const X = M(c.X);
  assert.equal(mse(X, X), 0);
  assert.equal(fve(X, X), 1);
  const mean = new Matrix(X.rows, X.cols);
  for (let j = 0; j < X.cols; j++) {
    let s = 0;
    for (let i = 0; i < X.rows; i++) s += X.get(i, j);
    for (let i = 0; i < X.rows; i++) mean.set(i, j, s / X.rows);
  }
  assertAllClose([fve(X, mean)], [0], 0, 1e-6);
  const Z = M([[0, 1, 0, 0], [0, 0.5, 2, 0], [0, 0, 1e-9, 0]]);
  assertAllClose([l0(Z)], [4 / 3]);
  assertAllClose([l0(Z, 1e-6)], [1]);
  assert.equal(deadLatents(Z), 0.5);
  assert.deepEqual(Array.from(activationCounts(Z)), [0, 2, 2, 0]);
  assertThrowsCode(() => mse(X, randMatrix(30, 5)), 'E_SHAPE', /reconstruction/);
  assertThrowsCode(() => l0(Z, -1), 'E_ARG', /tol/);
  assertThrowsCode(() => fve(new Matrix(3, 2), new Matrix(3, 2)), 'E_DATA', /zero variance/);
});

test('dictionaryRecovery on large dictionaries (GEMM path) equals a float64 brute force', () => {
  const T = randMatrix(620, 48, 21);
  const L = randMatrix(600, 48, 22);
  for (let i = 0; i < 600 * 48; i++) L.data[i] = 0.5 * L.data[i] + T.data[i];
  const r = dictionaryRecovery(L, T);
  // independent float64 |cos| for the matched pairs, and the optimum must not beat brute-force rows
  for (let t = 0; t < r.matching.truth.length; t++) {
    const i = r.matching.truth[t], j = r.matching.learned[t];
    let s = 0, a = 0, b = 0;
    for (let c = 0; c < 48; c++) { s += T.get(i, c) * L.get(j, c); a += T.get(i, c) ** 2; b += L.get(j, c) ** 2; }
    assert.ok(Math.abs(Math.abs(s) / Math.sqrt(a * b) - r.cosines[t]) < 1e-5, `pair ${t}`);
  }
  assert.equal(r.matching.truth.length, 600);
  assert.ok(r.meanCos > 0.85);
});
