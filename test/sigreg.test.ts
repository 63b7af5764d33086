import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import {
  Sigreg, sigreg, sigregGrad, sigregKnots, randomDirections, checkDirections, sigregGaussianExpectation, sigregZeroPerSample,
} from '../src/objectives/sigreg.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/lejepa/lejepa.json', import.meta.url), 'utf8'));

test('SIGReg knots: 17 on [0, 3], doubled trapezoid weights times exp(-t^2/2)', () => {
  const k = sigregKnots();
  assert.equal(k.t.length, 17);
  assert.equal(k.dt, 3 / 16);
  assert.equal(k.t[16], 3);
  assertAllClose([k.weights[0], k.weights[1], k.weights[16]], [3 / 16, (2 * 3 / 16) * Math.exp(-((3 / 16) ** 2) / 2), (3 / 16) * Math.exp(-4.5)], 1e-14, 0);
});

test('SIGReg calibration constants: 1.0525 for Gaussian data, 0.40205 N for zeros (411.7 at N = 1024)', () => {
  assert.equal(sigregGaussianExpectation().toFixed(4), '1.0525');
  assert.equal(sigregZeroPerSample().toFixed(5), '0.40205');
  const zeros = sigreg(new Matrix(1024, 8), { numDirections: 16, seed: 3 });
  assert.equal(zeros.value.toFixed(1), '411.7');
  assert.ok(Math.abs(zeros.value - 0.40205 * 1024) < 0.05);
  assert.equal(zeros.samples, 1024);
});

test('SIGReg of N(0, I) embeddings is 1.0525 in expectation, for small and large N', () => {
  // a single draw at D = 48 fluctuates by about ±0.15; the mean of 30 draws by about ±0.03
  for (const n of [16, 256, 2048]) {
    let s = 0;
    const R = n > 1000 ? 12 : 30;
    for (let r = 0; r < R; r++) s += sigreg(randMatrix(n, 48, 100 + r), { numDirections: 128, seed: r }).value;
    const mean = s / R;
    assert.ok(Math.abs(mean - 1.0525) < 0.08, `N = ${n}: mean SIGReg ${mean} over ${R} draws`);
  }
});

test('SIGReg value, per-direction statistics and gradient match the NumPy/torch fixture (fixed directions)', () => {
  const f = fx.sigreg;
  const H = new Matrix(f.n, f.d, Float32Array.from(f.H));
  const A = new Matrix(f.d, f.m, Float32Array.from(f.A));
  const r = sigregGrad(H, { directions: A });
  assertAllClose([r.value], [f.value], 2e-5, 0, 'value');
  assertAllClose(r.perDirection, f.perDirection, 2e-5, 1e-7, 'perDirection');
  assertAllClose(r.grad.data, f.grad, 1e-4, 1e-6, 'grad');
  // deterministic with fixed directions
  assert.equal(sigreg(H, { directions: A }).value, r.value);
  const k9 = sigregGrad(H, { directions: A, knots: 9, tMax: 4 });
  assertAllClose([k9.value], [fx.sigreg_k9_t4.value], 2e-5, 0, 'value (K = 9, t_max = 4)');
  assertAllClose(k9.grad.data, fx.sigreg_k9_t4.grad, 1e-4, 1e-6, 'grad (K = 9, t_max = 4)');
});

/** Direct float64 reference: cos/sin at every knot, no recurrence. */
function directStat(St: Float64Array, n: number, M: number, K = 17, tMax = 3) {
  const k = sigregKnots(K, tMax);
  const per = new Float64Array(M);
  const c = new Float64Array(M * K), q = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < K; j++) {
      let cs = 0, sn = 0;
      for (let i = 0; i < n; i++) {
        cs += Math.cos(k.t[j] * St[m * n + i]);
        sn += Math.sin(k.t[j] * St[m * n + i]);
      }
      c[m * K + j] = cs / n;
      q[m * K + j] = sn / n;
      per[m] += n * k.weights[j] * ((cs / n - k.phi[j]) ** 2 + (sn / n) ** 2);
    }
  }
  const dSt = new Float64Array(M * n);
  for (let m = 0; m < M; m++) for (let i = 0; i < n; i++) {
    let g = 0;
    for (let j = 0; j < K; j++) {
      const x = k.t[j] * St[m * n + i];
      g += 2 * k.weights[j] * k.t[j] * (q[m * K + j] * Math.cos(x) - (c[m * K + j] - k.phi[j]) * Math.sin(x));
    }
    dSt[m * n + i] = g / M;
  }
  let v = 0;
  for (const e of per) v += e / M;
  return { value: v, per, dSt };
}

test('SIGReg kernel: the angle-addition recurrence equals cos/sin at every knot to 1e-12 (float64, large projections, odd N)', () => {
  const rng = new Rng(5);
  for (const [n, M] of [[7, 3], [13, 5], [64, 2]]) {
    const St = new Float64Array(n * M);
    for (let i = 0; i < St.length; i++) St[i] = rng.normal() * (i % 5 === 0 ? 20 : 1.5);
    const ref = directStat(St, n, M);
    const s = new Sigreg();
    const v = s.forwardProjections(St, n, M);
    assertAllClose([v], [ref.value], 1e-12, 1e-13, 'value');
    assertAllClose(s.perDirection, ref.per, 1e-12, 1e-13, 'perDirection');
    const dSt = new Float64Array(n * M);
    s.backwardProjections(1, dSt);
    assertAllClose(dSt, ref.dSt, 1e-10, 1e-13, 'dS');
  }
});

test('SIGReg gradient passes a central-difference gradient check (float32 embeddings)', () => {
  const H = randMatrix(11, 3, 9);
  for (let i = 0; i < H.data.length; i++) H.data[i] *= 0.8;
  const A = randomDirections(3, 7, 4);
  const g = sigregGrad(H, { directions: A }).grad;
  const h = 1e-2;
  // float64 evaluation of the value for the finite differences
  const value = (X: Float64Array) => {
    const St = new Float64Array(7 * 11);
    for (let m = 0; m < 7; m++) for (let i = 0; i < 11; i++) {
      let s = 0;
      for (let d = 0; d < 3; d++) s += X[i * 3 + d] * A.data[d * 7 + m];
      St[m * 11 + i] = s;
    }
    return new Sigreg().forwardProjections(St, 11, 7);
  };
  const X = Float64Array.from(H.data);
  let worst = 0;
  for (let p = 0; p < X.length; p++) {
    const x0 = X[p];
    X[p] = x0 + h;
    const fp = value(X);
    X[p] = x0 - h;
    const fm = value(X);
    X[p] = x0;
    const fd = (fp - fm) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - g.data[p]) / (1e-3 + Math.abs(fd)));
  }
  assert.ok(worst < 2e-3, `worst relative error ${worst}`);
});

test('SIGReg gradient passes nn gradcheck (pooled, N = 24, D = 5, M = 16, and K = 9 knots on [0, 4])', () => {
  for (const o of [{}, { knots: 9, tMax: 4 }]) {
    const H = randMatrix(24, 5, 21);
    const A = randomDirections(5, 16, 22);
    const grad = new Float32Array(H.data.length);
    const r = gradcheck({
      params: [{ name: 'H', param: H.data, grad }],
      loss: () => sigreg(H, { directions: A, ...o }).value,
      lossAndGrad: () => {
        const g = sigregGrad(H, { directions: A, ...o });
        for (let i = 0; i < grad.length; i++) grad[i] += g.grad.data[i];
        return g.value;
      },
      h: 1e-2,
    });
    assert.equal(r.checked, H.data.length);
    assert.deepEqual(r.failures, []);
  }
});

test('random directions: unit columns, reproducible from the seed, fresh for another seed', () => {
  const A = randomDirections(5, 9, 1);
  checkDirections(A, 5);
  assert.deepEqual(randomDirections(5, 9, 1).data, A.data);
  assert.notDeepEqual(randomDirections(5, 9, 2).data, A.data);
  const H = randMatrix(32, 5, 2);
  assert.equal(sigreg(H, { numDirections: 9, seed: 1 }).value, sigreg(H, { directions: A }).value);
  assert.equal(sigreg(H, { numDirections: 9, seed: 1 }).directions.cols, 9);
  assert.equal(sigreg(H).directions.cols, 256);
});

test('SIGReg refuses bad input with an error naming the argument and the fix', () => {
  const H = randMatrix(8, 3, 1);
  const bad = H.clone();
  bad.data[7] = NaN;
  assertThrowsCode(() => sigreg(bad), 'E_NONFINITE', /embeddings H.*row 2, column 1/);
  bad.data[7] = Infinity;
  assertThrowsCode(() => sigregGrad(bad), 'E_NONFINITE', /embeddings/);
  assertThrowsCode(() => sigreg(H, { directions: randomDirections(4, 5, 0) }), 'E_SHAPE', /directions.*\[3 x M\]/);
  const notUnit = randomDirections(3, 5, 0);
  notUnit.data[0] *= 1.5;
  assertThrowsCode(() => sigreg(H, { directions: notUnit }), 'E_ARG', /column 0.*unit.*divide each column by its norm/);
  const nanDir = randomDirections(3, 5, 0);
  nanDir.data[2] = NaN;
  assertThrowsCode(() => sigreg(H, { directions: nanDir }), 'E_NONFINITE', /directions/);
  assertThrowsCode(() => sigreg(H, { directions: randomDirections(3, 5, 0), numDirections: 6 }), 'E_ARG', /numDirections/);
  assertThrowsCode(() => sigreg(H, { knots: 1 }), 'E_ARG', /knots/);
  assertThrowsCode(() => sigreg(H, { tMax: 0 }), 'E_ARG', /tMax/);
  assertThrowsCode(() => sigreg(H, { numDirections: 0 }), 'E_ARG', /numDirections/);
  assertThrowsCode(() => sigreg(new Matrix(0, 3)), 'E_SHAPE', /at least one sample/);
});
