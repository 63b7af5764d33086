import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { jointRows, TopKTranscoder } from '../src/dictionary/index.js';
import { gradcheck } from '../src/nn/gradcheck.js';

useBackend('js');

const DIN = 5, DOUT = 4, ATOMS = 7, ROWS = 6;

function setup(skip: boolean, seed: number): { tc: TopKTranscoder; J: Matrix } {
  const rng = new Rng(seed);
  const tc = new TopKTranscoder({ atoms: ATOMS, k: 3, inputDim: DIN, skip });
  tc.initParams(DIN + DOUT, rng.fork('init'));
  for (const p of tc.paramList()) for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  const J = new Matrix(ROWS, DIN + DOUT);
  rng.fork('x').fillNormal(J.data);
  return { tc, J };
}

/** Independent dense float64 loss: top-k of x·W_encᵀ + b_enc (ReLU), ŷ = z·W_dec + b_dec (+ x·W_skipᵀ), mean squared error. */
function denseLoss(tc: TopKTranscoder, J: Matrix): number {
  const w = tc.getWeights();
  let sse = 0;
  for (let i = 0; i < J.rows; i++) {
    const x = Array.from(J.data.subarray(i * J.cols, i * J.cols + DIN));
    const y = Array.from(J.data.subarray(i * J.cols + DIN, (i + 1) * J.cols));
    const pre = Array.from({ length: ATOMS }, (_, a) => w.b_enc[a] + x.reduce((s, v, j) => s + v * w.W_enc.data[j * ATOMS + a], 0));
    const order = pre.map((v, a) => [v, a]).sort((p, q) => q[0] - p[0]).slice(0, 3);
    const z = new Array(ATOMS).fill(0);
    for (const [v, a] of order) z[a] = Math.max(0, v);
    for (let o = 0; o < DOUT; o++) {
      let yh = w.b_dec[o];
      for (let a = 0; a < ATOMS; a++) yh += z[a] * w.W_dec.data[a * DOUT + o];
      if (w.W_skip) for (let j = 0; j < DIN; j++) yh += w.W_skip.data[o * DIN + j] * x[j];
      sse += (yh - y[o]) ** 2;
    }
  }
  return sse / J.rows;
}

test('TopK transcoder: loss equals a dense float64 computation; backward matches finite differences (plain and skip)', () => {
  for (const skip of [false, true]) {
    const { tc, J } = setup(skip, skip ? 2 : 1);
    const st = tc.forwardBackward(J);
    assert.ok(Math.abs(st.sqErr - denseLoss(tc, J)) < 1e-4 * (1 + st.sqErr), `skip ${skip}: sqErr ${st.sqErr} vs dense ${denseLoss(tc, J)}`);
    const r = gradcheck({ params: tc.paramList(), loss: () => tc.forwardBackward(J).loss, lossAndGrad: () => tc.forwardBackward(J).loss, h: 1e-3, atol: 3e-3, rtol: 3e-2 });
    assert.deepEqual(r.failures, [], `skip ${skip}: backward vs finite differences`);
    assert.ok(r.checked >= ATOMS * (DIN + DOUT) + (skip ? DIN * DOUT : 0), `skip ${skip}: checked ${r.checked} entries`);
  }
});

test('TopK transcoder learns a sparse map x -> y (FVU of y falls well below 1; the skip connection learns a linear part)', async () => {
  const rng = new Rng(3);
  const n = 3000, dIn = 12, dOut = 8, G = 24;
  const Din = new Matrix(G, dIn), Dout = new Matrix(G, dOut), L = new Matrix(dOut, dIn);
  rng.fillNormal(Din.data); rng.fillNormal(Dout.data); rng.fillNormal(L.data, 0, 0.3);
  const X = new Matrix(n, dIn), Y = new Matrix(n, dOut);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < 2; t++) {
      const g = rng.int(G), a = 1 + rng.uniform();
      for (let j = 0; j < dIn; j++) X.data[i * dIn + j] += a * Din.data[g * dIn + j];
      for (let o = 0; o < dOut; o++) Y.data[i * dOut + o] += a * Dout.data[g * dOut + o];
    }
  }
  const Ylin = new Matrix(n, dOut);
  for (let i = 0; i < n; i++) for (let o = 0; o < dOut; o++) {
    let s = Y.data[i * dOut + o];
    for (let j = 0; j < dIn; j++) s += L.data[o * dIn + j] * X.data[i * dIn + j];
    Ylin.data[i * dOut + o] = s;
  }
  const fvu = (tc: TopKTranscoder, Yt: Matrix) => {
    const P = tc.predict(X);
    let sse = 0, sst = 0;
    const mean = new Float64Array(dOut);
    for (let t = 0; t < Yt.data.length; t++) mean[t % dOut] += Yt.data[t] / n;
    for (let t = 0; t < Yt.data.length; t++) { sse += (P.data[t] - Yt.data[t]) ** 2; sst += (Yt.data[t] - mean[t % dOut]) ** 2; }
    return sse / sst;
  };
  const plain = new TopKTranscoder({ atoms: 32, k: 2, inputDim: dIn, steps: 1500, batch: 256, lr: 3e-3 });
  const r = await plain.fit(X, Y, { seed: 0 });
  assert.ok(r.fvu < 0.2 && fvu(plain, Y) < 0.2, `plain transcoder FVU ${fvu(plain, Y)} (trainer ${r.fvu})`);
  const skip = new TopKTranscoder({ atoms: 32, k: 2, inputDim: dIn, skip: true, steps: 1500, batch: 256, lr: 3e-3 });
  await skip.fit(X, Ylin, { seed: 0 });
  const noSkip = new TopKTranscoder({ atoms: 32, k: 2, inputDim: dIn, steps: 1500, batch: 256, lr: 3e-3 });
  await noSkip.fit(X, Ylin, { seed: 0 });
  assert.ok(fvu(skip, Ylin) < 0.2, `skip transcoder FVU ${fvu(skip, Ylin)}`);
  assert.ok(fvu(skip, Ylin) < fvu(noSkip, Ylin), `the skip connection helps on a map with a linear part: ${fvu(skip, Ylin)} vs ${fvu(noSkip, Ylin)}`);
});

test('transcoder: a target with other rows than the input is refused naming both row counts', () => {
  assert.throws(() => jointRows(new Matrix(10, 3), new Matrix(9, 2), { input: 'x.npy', target: 'y.npy' }), (e: any) => e.code === 'E_SHAPE' && /9 rows/.test(e.message) && /10 rows/.test(e.message));
  const tc = new TopKTranscoder({ atoms: 4, k: 1, inputDim: 3 });
  assert.throws(() => tc.fit(new Matrix(10, 3), new Matrix(9, 2)), (e: any) => e.code === 'E_SHAPE');
  assert.throws(() => new TopKTranscoder({ atoms: 4, k: 1, inputDim: 0 }), (e: any) => e.code === 'E_ARG');
});
