import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { matmul } from '../src/backend/ops.js';
import {
  align, alignmentMetrics, bernoulliLatentCovariance, crossCorrelation, debiasedCKA, kfoldIds, kSparseLatentCovariance,
  linearCKA, pearson, predictedLinearCKA, predictedRegressionR2, procrustes, randomProjectionCKA, randomProjectionR2,
  rankAverage, rbfCKA, rdm, regression, rsa, semiMatching, softMatching, softMatchingFromScores, spearman, transport,
} from '../src/alignment/index.js';
import { medianInPlace } from '../src/alignment/common.js';
import { linearSumAssignment } from '../src/linalg/hungarian.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/alignment/fixtures.json', import.meta.url), 'utf8'));
const M = (rows: number[][]) => Matrix.from(rows);

/** A random orthogonal [d x d] matrix (QR of a Gaussian by Gram-Schmidt). */
function randomOrthogonal(d: number, seed: number): Matrix {
  const g = randMatrix(d, d, seed);
  const q = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = g.data[i * d + j];
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[i * d + k] * v[i];
        for (let i = 0; i < d; i++) v[i] -= s * q[i * d + k];
      }
    }
    let nrm = 0;
    for (let i = 0; i < d; i++) nrm += v[i] * v[i];
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < d; i++) q[i * d + j] = v[i] / nrm;
  }
  return new Matrix(d, d, Float32Array.from(q));
}

function scaled(X: Matrix, s: number): Matrix {
  return new Matrix(X.rows, X.cols, X.data.map((v) => v * s));
}

// ---------------------------------------------------------------------------------------
test('linear and debiased CKA match NumPy references (feature and sample paths agree)', () => {
  const A = M(fx.cka.A);
  const B = M(fx.cka.B);
  for (const space of ['feature', 'sample', 'auto'] as const) {
    assertAllClose([linearCKA(A, B, { space }).value], [fx.cka.linear], 1e-5, 1e-6, `linear CKA (${space})`);
    assertAllClose([debiasedCKA(A, B, { space }).value], [fx.cka.debiased], 1e-4, 1e-6, `debiased CKA (${space})`);
  }
  const As = M(fx.cka.small.A);
  const Bs = M(fx.cka.small.B);
  assertAllClose([linearCKA(As, Bs).value], [fx.cka.small.linear], 1e-5, 1e-6, 'linear CKA small n');
  assertAllClose([debiasedCKA(As, Bs).value], [fx.cka.small.debiased], 1e-4, 1e-5, 'debiased CKA small n');
  // debiasing matters here: unrelated data, n < widths
  assert.ok(fx.cka.small.linear > 0.5 && Math.abs(fx.cka.small.debiased) < 0.2);
});

test('wide inputs: the column-blocked ‖XᵀX‖ (feature path) equals the sample-Gram path', () => {
  const A = randMatrix(40, 1100, 5); // 3 column blocks of 367
  const B = randMatrix(40, 1030, 6);
  for (let i = 0; i < 40; i++) for (let j = 0; j < 1030; j++) B.data[i * 1030 + j] += A.data[i * 1100 + j];
  for (const f of [linearCKA, debiasedCKA]) {
    const a = f(A, B, { space: 'feature' });
    const b = f(A, B, { space: 'sample' });
    assertAllClose([a.value, a.hsicAA, a.hsicBB], [b.value, b.hsicAA, b.hsicBB], 1e-4, 1e-6, `${f.name} feature vs sample`);
  }
});

test('RBF CKA matches a NumPy reference with the median-distance bandwidth', () => {
  const A = M(fx.cka.A);
  const B = M(fx.cka.B);
  for (const f of [1, 0.5]) {
    const ref = fx.cka[`rbf_${f.toFixed(1)}`];
    const r = rbfCKA(A, B, { factor: f });
    assertAllClose([r.value, r.sigmaA, r.sigmaB], [ref.value, ref.sigmaA, ref.sigmaB], 1e-5, 1e-6, `rbf CKA factor ${f}`);
  }
  assertThrowsCode(() => rbfCKA(A, B, { factor: 0 }), 'E_ARG', /factor/);
});

test('CKA is invariant to orthogonal maps and isotropic scaling, and is 1 for identical inputs', () => {
  const A = randMatrix(200, 16, 1);
  const B = randMatrix(200, 10, 2);
  for (let i = 0; i < B.size; i++) B.data[i] += 0.7 * A.data[Math.floor(i / 10) * 16 + (i % 10)];
  const Q = randomOrthogonal(16, 3);
  const AQ = scaled(matmul(A, Q), 3.5);
  for (const f of [linearCKA, debiasedCKA]) {
    const v0 = f(A, B).value;
    const v1 = f(AQ, B).value;
    assertAllClose([v1], [v0], 1e-4, 1e-6, `${f.name} orthogonal+scale invariance`);
    assert.ok(Math.abs(f(A, A).value - 1) < 1e-5);
  }
  assertAllClose([rbfCKA(AQ, B).value], [rbfCKA(A, B).value], 1e-4, 1e-6, 'rbf CKA invariance');
  // translation invariance too
  const At = new Matrix(A.rows, A.cols, A.data.map((v, i) => v + (i % 16) * 2));
  assertAllClose([linearCKA(At, B).value], [linearCKA(A, B).value], 1e-4, 1e-6, 'translation');
  // not invariant to a general (non-orthogonal) linear map: sanity that the test can fail
  const S = new Matrix(16, 16);
  for (let i = 0; i < 16; i++) S.data[i * 16 + i] = i < 8 ? 10 : 0.1;
  assert.ok(Math.abs(linearCKA(matmul(A, S), B).value - linearCKA(A, B).value) > 0.01);
});

test('RDMs match scipy pdist; RSA matches SciPy spearmanr / pearsonr on pdist RDMs', () => {
  const A = M(fx.rsa.A);
  const B = M(fx.rsa.B);
  assertAllClose(rdm(A, 'correlation'), fx.rsa.pdist_correlation_A, 1e-5, 1e-6, 'pdist correlation');
  assertAllClose(rdm(B, 'euclidean'), fx.rsa.pdist_euclidean_B, 1e-5, 1e-5, 'pdist euclidean');
  for (const kind of ['correlation', 'euclidean', 'sqeuclidean'] as const) {
    for (const compare of ['spearman', 'pearson'] as const) {
      const r = rsa(A, B, { rdm: kind, compare });
      assertAllClose([r.value], [fx.rsa[`${kind}_${compare}`]], 1e-4, 1e-5, `rsa ${kind}/${compare}`);
      assert.equal(r.pairs, (40 * 39) / 2);
    }
  }
  assertAllClose([rsa(A, B).value], [fx.rsa.correlation_spearman], 1e-4, 1e-5, 'rsa defaults');
  const t = fx.rsa.ties;
  assertAllClose(rankAverage(Float64Array.from(t.x)), t.ranks_x, 0, 1e-12, 'average ranks with ties');
  assertAllClose([spearman(t.x, t.y)], [t.spearman], 1e-12, 1e-12, 'spearman with ties');
  assertAllClose([pearson(t.x, t.y)], [t.pearson], 1e-12, 1e-12, 'pearson');
  // a constant row has no correlation distance
  const C = A.clone();
  C.row(3).fill(2);
  assertThrowsCode(() => rsa(C, B), 'E_DATA', /row 3 .*constant/);
  assertThrowsCode(() => rsa(A, B, { compare: 'kendall' as any }), 'E_ARG', /compare/);
});

test('RDM blocks: a sample count above the block size gives the same as the direct formula', () => {
  const X = randMatrix(530, 5, 9);
  const d = rdm(X, 'sqeuclidean');
  let t = 0;
  let worst = 0;
  for (let i = 0; i < X.rows; i++) {
    for (let j = i + 1; j < X.rows; j++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += (X.data[i * 5 + k] - X.data[j * 5 + k]) ** 2;
      worst = Math.max(worst, Math.abs(d[t++] - s));
    }
  }
  assert.equal(t, d.length);
  assert.ok(worst < 1e-4, `max error ${worst}`);
});

test('radix ranking equals a comparison-sort ranking (negatives, zeros, ties, aliasing)', () => {
  const rng = new Rng(3);
  const n = 5000;
  const x = Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? Math.round(rng.normal() * 3) : i % 11 === 0 ? -0 : rng.normal() * 10 ** rng.int(6)));
  // reference: sort positions by value, average over runs
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ref = new Float64Array(n);
  for (let s = 0; s < n; ) {
    let e = s + 1;
    while (e < n && x[order[e]] === x[order[s]]) e++;
    for (let t = s; t < e; t++) ref[order[t]] = (s + e + 1) / 2;
    s = e;
  }
  assert.deepEqual(Array.from(rankAverage(x)), Array.from(ref));
  const y = x.slice();
  rankAverage(y, y);
  assert.deepEqual(Array.from(y), Array.from(ref), 'in place');
  assertThrowsCode(() => rankAverage(Float64Array.from([1, NaN])), 'E_NONFINITE');
});

test('median by quickselect equals the sorted median (odd, even, ties)', () => {
  const rng = new Rng(5);
  for (const n of [1, 2, 7, 10, 101, 1000]) {
    const x = Float64Array.from({ length: n }, () => Math.floor(rng.uniform() * 20));
    const s = x.slice().sort();
    const want = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    assert.equal(medianInPlace(x.slice()), want, `n=${n}`);
  }
});

test('ridge regression with CV matches scikit-learn cross_val_predict (primal and dual paths)', () => {
  const A = M(fx.regression.A);
  const B = M(fx.regression.B);
  for (const [alpha, key] of [[0.1, 'alpha_0.1'], [10, 'alpha_10']] as const) {
    const ref = fx.regression[key];
    const r = regression(A, B, { foldIds: fx.regression.folds, alpha });
    assertAllClose([r.meanR, r.r2], [ref.meanR, ref.r2], 1e-4, 1e-5, `regression alpha=${alpha}`);
    assertAllClose(r.r, ref.r, 1e-4, 1e-5, 'per-target r');
    assert.equal(r.value, r.meanR);
    assert.equal(regression(A, B, { foldIds: fx.regression.folds, alpha, score: 'r2' }).value, r.r2);
  }
  const w = fx.regression.wide;
  const rw = regression(M(w.A), M(w.B), { foldIds: w.folds, alpha: 1 });
  assertAllClose([rw.meanR, rw.r2], [w.alpha_1.meanR, w.alpha_1.r2], 1e-4, 1e-5, 'regression wide (dual)');
});

test('seeded folds: balanced, reproducible, seed-dependent', () => {
  const ids = kfoldIds(23, 5, 7);
  const counts = new Array(5).fill(0);
  for (const f of ids) counts[f]++;
  assert.deepEqual(counts.sort(), [4, 4, 5, 5, 5]);
  assert.deepEqual(kfoldIds(23, 5, 7), ids);
  assert.notDeepEqual(kfoldIds(23, 5, 8), ids);
  const A = randMatrix(50, 4, 1);
  const B = matmul(A, randMatrix(4, 3, 2));
  const r = regression(A, B, { folds: 5, alpha: 1e-6, seed: 3 });
  assert.ok(r.meanR > 0.9999 && r.r2 > 0.9999, 'exact linear relation is recovered');
  const r0 = regression(A, B, { folds: 5, alpha: 0, seed: 3 });
  assert.ok(r0.r2 > 0.99999, `alpha = 0 (least squares): ${r0.r2}`);
  assertThrowsCode(() => regression(A, B, { folds: 1 }), 'E_ARG', /folds/);
  assertThrowsCode(() => regression(A, B, { alpha: -1 }), 'E_ARG', /alpha/);
});

test('semi- and soft-matching match NumPy corrcoef and scipy linprog', () => {
  const A = M(fx.matching.A);
  const B = M(fx.matching.B);
  assertAllClose(crossCorrelation(A, B), fx.matching.corr.flat(), 1e-5, 1e-6, 'cross-correlation');
  assertAllClose([semiMatching(A, B).value], [fx.matching.semi], 1e-5, 1e-6, 'semi');
  assertAllClose([semiMatching(A, B, { abs: true }).value], [fx.matching.semi_abs], 1e-5, 1e-6, 'semi abs');
  const s = softMatching(A, B);
  assert.equal(s.method, 'transport');
  assertAllClose([s.value], [fx.matching.soft], 1e-5, 1e-6, 'soft');
  assertAllClose([softMatching(A, B, { abs: true }).value], [fx.matching.soft_abs], 1e-5, 1e-6, 'soft abs');
  assertAllClose([softMatching(B, A).value], [fx.matching.soft_reverse], 1e-5, 1e-6, 'soft reverse');
  // the plan: marginals 1/p and 1/q, equal to linprog's (unique for generic scores)
  const dense = new Float64Array(7 * 5);
  for (let t = 0; t < s.plan.mass.length; t++) dense[s.plan.rows[t] * 5 + s.plan.cols[t]] = s.plan.mass[t];
  assertAllClose(dense, fx.matching.soft_plan.flat(), 1e-6, 1e-8, 'soft plan');
  for (const [key, ref] of Object.entries<any>(fx.matching.scores)) {
    const [p, q] = key.split('x').map(Number);
    const r = softMatchingFromScores(Float64Array.from(ref.S.flat()), p, q);
    assertAllClose([r.value], [ref.value], 1e-9, 1e-9, `OT ${key}`);
    assert.ok(r.plan.mass.length <= p + q - 1, 'a vertex of the transport polytope');
  }
});

test('transport equals the Hungarian method on random unit-mass problems', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 5; trial++) {
    const n = 12;
    const cost = Float64Array.from({ length: n * n }, () => rng.uniform());
    const { colInd } = linearSumAssignment(cost, n, n);
    let hung = 0;
    for (let i = 0; i < n; i++) hung += cost[i * n + colInd[i]];
    const t = transport(cost, n, n, new Array(n).fill(1), new Array(n).fill(1));
    assertAllClose([t.cost], [hung], 1e-12, 1e-12, 'transport vs hungarian');
    assert.equal(t.augmentations, n);
  }
  assertThrowsCode(() => transport([1, 2], 1, 2, [2], [1, 2]), 'E_ARG', /total supply/);
});

test('semi-matching of a column-permuted (and rescaled) copy is 1; soft-matching too', () => {
  const A = randMatrix(100, 9, 4);
  const perm = new Rng(1).permutation(9);
  const B = A.takeCols(perm);
  for (let i = 0; i < B.size; i++) B.data[i] = 2 * B.data[i] + 1;
  const sm = semiMatching(A, B);
  assertAllClose([sm.value], [1], 0, 1e-6, 'semi of permuted copy');
  for (let i = 0; i < 9; i++) assert.equal(perm[sm.best[i]], i);
  assertAllClose([softMatching(A, B).value], [1], 0, 1e-6, 'soft of permuted copy');
  // duplicated units: soft matching must split mass, semi-matching need not
  const Bd = A.takeCols([0, 0, 0]);
  assertAllClose([semiMatching(Bd, A).value], [1], 0, 1e-6);
  assert.ok(softMatching(Bd, A).value < 0.5);
});

test('Procrustes recovers a known rotation and matches SciPy', () => {
  const A = randMatrix(80, 6, 21);
  const Q = randomOrthogonal(6, 22);
  const B = scaled(matmul(A, Q), 2);
  const r = procrustes(A, B, { center: false, scale: false });
  assertAllClose(r.R.data, Q.data, 1e-4, 1e-4, 'rotation recovered');
  assertAllClose([r.value, r.residual / (r.normB * r.normB)], [1, 0.25], 1e-5, 1e-5, 'unscaled fit');
  const rs = procrustes(A, B);
  assertAllClose([rs.value, rs.residual], [1, 0], 1e-5, 1e-5, 'scaled fit');
  const p = fx.procrustes;
  const f = procrustes(M(p.A), M(p.B));
  assertAllClose([f.value, f.residual, 1 - f.value * f.value], [p.value, p.residual, p.scipy_disparity], 1e-5, 1e-6, 'vs scipy');
  assertAllClose(f.R.data, p.R.flat(), 1e-4, 1e-4, 'R vs scipy orthogonal_procrustes');
  const u = procrustes(M(p.unequal.A), M(p.unequal.B));
  assert.equal(u.R.rows, 5);
  assertAllClose([u.value, u.residual], [p.unequal.value, p.unequal.residual], 1e-5, 1e-6, 'unequal widths (zero padding)');
  // R orthogonal
  const RtR = matmul(u.R, u.R, { transA: true });
  assertAllClose(RtR.data, Matrix.identity(5).data, 0, 1e-5, 'R orthogonal');
  // the other way round (A padded): same score, R orthogonal and it maps B̃ onto Ã's space
  const v = procrustes(M(p.unequal.B), M(p.unequal.A));
  assertAllClose([v.value, v.residual], [p.unequal.value, p.unequal.residual], 1e-5, 1e-6, 'unequal widths, reversed');
  assertAllClose(matmul(v.R, v.R, { transB: true }).data, Matrix.identity(5).data, 0, 1e-5, 'R orthogonal (reversed)');
});

test('bad inputs: mismatched samples, NaN, too few samples, unknown metric', () => {
  const A = randMatrix(10, 3, 1);
  const B = randMatrix(11, 3, 2);
  for (const metric of alignmentMetrics) {
    assertThrowsCode(() => align(A, B, metric), 'E_SHAPE', /A has 10 samples .* B has 11/);
  }
  const N = randMatrix(10, 3, 3);
  N.data[7] = NaN;
  assertThrowsCode(() => linearCKA(A, N), 'E_NONFINITE', /row 2, column 1/);
  assertThrowsCode(() => debiasedCKA(A.rowSlice(0, 3), A.rowSlice(0, 3)), 'E_SHAPE', /at least 4/);
  assertThrowsCode(() => align(A, A, 'cca' as any), 'E_ARG', /unknown alignment metric/);
  const Z = new Matrix(10, 3);
  assertThrowsCode(() => linearCKA(A, Z), 'E_DATA', /zero variance/);
});

test('align() dispatches every metric and identical inputs score at the top', () => {
  const A = randMatrix(40, 5, 8);
  for (const metric of alignmentMetrics) {
    const r = align(A, A, metric, { alpha: 1e-6 });
    assert.equal(r.metric, metric);
    assert.ok(r.value > 0.999 && r.value < 1 + 1e-6, `${metric}: ${r.value}`);
    assert.doesNotThrow(() => JSON.stringify(r));
  }
});

// ---------------------------------------------------------------------------------------
// Closed forms (PAPERS.md §4) against simulation.

function kSparseLatents(N: number, n: number, k: number, rng: Rng): Matrix {
  const Z = new Matrix(N, n);
  for (let s = 0; s < N; s++) {
    const idx = rng.choice(n, k);
    for (let t = 0; t < k; t++) Z.data[s * n + idx[t]] = rng.uniform();
  }
  return Z;
}

test('k-sparse latent covariance matches its sample covariance', () => {
  const n = 10;
  const k = 3;
  const Z = kSparseLatents(40000, n, k, new Rng(2));
  const mu = new Float64Array(n);
  for (let s = 0; s < Z.rows; s++) for (let j = 0; j < n; j++) mu[j] += Z.data[s * n + j] / Z.rows;
  let v = 0;
  let c = 0;
  for (let s = 0; s < Z.rows; s++) {
    v += (Z.data[s * n] - mu[0]) ** 2;
    c += (Z.data[s * n] - mu[0]) * (Z.data[s * n + 1] - mu[1]);
  }
  v /= Z.rows;
  c /= Z.rows;
  const pred = kSparseLatentCovariance({ nLatents: n, k });
  // SE of a sample variance ~ sqrt(Var(z^2)/N) ~ 0.0012; of the covariance ~ 0.0006
  assert.ok(Math.abs(v - pred.variance) < 0.004, `variance ${v} vs ${pred.variance}`);
  assert.ok(Math.abs(c - pred.covariance) < 0.002, `covariance ${c} vs ${pred.covariance}`);
  assert.ok(pred.covariance < 0);
  assert.equal(bernoulliLatentCovariance({ prob: 0.3 }).covariance, 0);
});

test('closed-form CKA and regression R² agree with simulation (k-sparse U(0,1) latents)', () => {
  // n = 200 latents, m = 20 per system, 5-sparse, N = 20,000 samples. Two worlds: zero-mean
  // Gaussian maps (the paper's), and maps with mean 0.5, where the latents' non-zero mean would
  // matter if one used the raw second moment E[zᵀz] instead of the covariance.
  const n = 200;
  const m = 20;
  const k = 5;
  const Z = kSparseLatents(20000, n, k, new Rng(42));
  const cov = kSparseLatentCovariance({ nLatents: n, k });
  const raw = { variance: k / n / 3, covariance: (k * (k - 1)) / (n * (n - 1)) / 4 }; // E[z_i²], E[z_i z_j]
  for (const offset of [0, 0.5]) {
    const A = randMatrix(n, m, 100);
    const B = randMatrix(n, m, 101);
    for (let i = 0; i < A.size; i++) {
      A.data[i] += offset;
      B.data[i] += offset;
    }
    const YA = matmul(Z, A);
    const YB = matmul(Z, B);
    const predCka = predictedLinearCKA(A, B, cov);
    const predR2 = predictedRegressionR2(A, B, cov);
    const simCka = linearCKA(YA, YB).value;
    const simDebiased = debiasedCKA(YA, YB).value;
    const simR2 = regression(YA, YB, { folds: 5, alpha: 1e-6, seed: 1 }).r2;
    // Tolerance 0.006, from 10 latent draws of this very setting (N = 20,000): the plug-in
    // CKA sits +0.0012 above the population value (its finite-N bias), debiased CKA +0.0002,
    // the out-of-fold R² −0.0013 (≈ −m/N); spreads sd ≤ 0.0014, worst |gap| 0.0029. So 0.006 is
    // bias + ≥ 3 sd, yet far below the gaps a wrong formula gives (raw moments: 0.86 vs 0.13).
    const what = `offset ${offset}`;
    assert.ok(Math.abs(simCka - predCka) < 0.006, `${what}: CKA sim ${simCka} vs predicted ${predCka}`);
    assert.ok(Math.abs(simDebiased - predCka) < 0.006, `${what}: debiased CKA sim ${simDebiased} vs predicted ${predCka}`);
    assert.ok(Math.abs(simR2 - predR2) < 0.006, `${what}: R² sim ${simR2} vs predicted ${predR2}`);
    if (offset === 0) {
      // the random-projection approximations are in the right place (looser: one draw of A, B)
      assert.ok(Math.abs(predCka - randomProjectionCKA(n, m)) < 0.03, `${predCka} vs m/(m+n) ${randomProjectionCKA(n, m)}`);
      assert.ok(Math.abs(predR2 - randomProjectionR2(n, m)) < 0.03, `${predR2} vs m/n`);
    } else {
      const wrong = predictedLinearCKA(A, B, raw);
      assert.ok(Math.abs(wrong - simCka) > 0.02, `raw second moments (${wrong}) must be distinguishable from sim ${simCka}`);
    }
  }
});

test('closed forms: independent latents reduce to tr(G_A G_B)/(‖G_A‖‖G_B‖) and tr(G_B P_A)/tr(G_B)', () => {
  const n = 30;
  const A = randMatrix(n, 6, 1);
  const B = randMatrix(n, 8, 2);
  const GA = matmul(A, A, { transB: true });
  const GB = matmul(B, B, { transB: true });
  let tr = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n * n; i++) {
    tr += GA.data[i] * GB.data[i];
    na += GA.data[i] ** 2;
    nb += GB.data[i] ** 2;
  }
  assertAllClose([predictedLinearCKA(A, B)], [tr / Math.sqrt(na * nb)], 1e-5, 1e-7, 'CKA formula');
  // P_A = A (AᵀA)⁻¹ Aᵀ by Gram-Schmidt on A's columns: tr(G_B P_A) = ‖Qᵀ B‖²
  const Q: Float64Array[] = [];
  for (let j = 0; j < 6; j++) {
    const v = Float64Array.from({ length: n }, (_, i) => A.data[i * 6 + j]);
    for (const u of Q) {
      let s = 0;
      for (let i = 0; i < n; i++) s += u[i] * v[i];
      for (let i = 0; i < n; i++) v[i] -= s * u[i];
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += v[i] * v[i];
    Q.push(v.map((x) => x / Math.sqrt(s)));
  }
  let num = 0;
  let den = 0;
  for (let j = 0; j < 8; j++) {
    for (const u of Q) {
      let s = 0;
      for (let i = 0; i < n; i++) s += u[i] * B.data[i * 8 + j];
      num += s * s;
    }
    for (let i = 0; i < n; i++) den += B.data[i * 8 + j] ** 2;
  }
  assertAllClose([predictedRegressionR2(A, B)], [num / den], 1e-5, 1e-7, 'R² formula');
  assertAllClose([randomProjectionCKA(500, 50)], [50 / 550], 1e-12, 0);
  assert.equal(randomProjectionR2(10, 20), 1);
  assertThrowsCode(() => predictedLinearCKA(A, randMatrix(n + 1, 3, 3)), 'E_SHAPE', /one row per latent/);
});
