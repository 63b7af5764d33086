import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import type { ModelWeights } from '../src/io/model.js';
import { decoderNorms, foldActivationScale, foldDecoderNorm, foldDecoderNormIntoGate, foldFeatureScale, foldInputBias, foldWhitening, hasUnitDecoder } from '../src/dictionary/fold.js';
import { canonicalSpec, makeModel, unitNormWarning } from '../src/dictionary/model-runtime.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

/**
 * Property tests: every fold leaves the model's function unchanged, checked against a float64
 * forward pass written out here (SAELens semantics: pre = (s_in·x − a·b_dec)·W_enc + b_enc;
 * act(pre) with an optional gate on pre·‖W_dec‖; x̂ = (z·diag(fs)·W_dec + b_dec)/s_out), on
 * 20 random models and inputs per fold.
 */
interface Sem { act: 'relu' | 'jumprelu' | 'topk'; k?: number; a?: boolean; sIn?: number; sOut?: number; gate?: boolean; fs?: Float32Array }

function forward(w: ModelWeights, X: Matrix, s: Sem): { Z: Float64Array; R: Float64Array } {
  const d = w.W_dec.cols, A = w.W_dec.rows, n = X.rows;
  const E = w.W_enc!.data, D = w.W_dec.data, be = w.b_enc!, bd = w.b_dec!, th = w.threshold;
  const norms = decoderNorms(w.W_dec);
  const Z = new Float64Array(n * A), R = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const pre = new Float64Array(A);
    for (let a = 0; a < A; a++) {
      let v = be[a];
      for (let j = 0; j < d; j++) v += ((s.sIn ?? 1) * X.data[i * d + j] - (s.a === false ? 0 : bd[j])) * E[j * A + a];
      pre[a] = s.gate ? v * norms[a] : v;
    }
    let keep: (a: number) => boolean = () => true;
    if (s.act === 'topk') {
      const order = [...pre.keys()].sort((p, q) => pre[q] - pre[p]).slice(0, s.k);
      const set = new Set(order);
      keep = (a) => set.has(a);
    }
    for (let a = 0; a < A; a++) {
      let z = Math.max(0, pre[a]);
      if (s.act === 'jumprelu' && !(pre[a] > th![a])) z = 0;
      if (!keep(a)) z = 0;
      Z[i * A + a] = z;
    }
    for (let j = 0; j < d; j++) {
      let v = bd[j];
      for (let a = 0; a < A; a++) {
        const z = Z[i * A + a] * (s.fs ? s.fs[a] : 1) / (s.gate && norms[a] > 0 ? norms[a] : 1);
        v += z * D[a * d + j];
      }
      R[i * d + j] = v / (s.sOut ?? 1);
    }
  }
  return { Z, R };
}

function randomModel(rng: Rng, d: number, A: number, zeroRow = -1): ModelWeights {
  const W_dec = new Matrix(A, d);
  rng.fillNormal(W_dec.data);
  for (let a = 0; a < A; a++) {
    const s = a === zeroRow ? 0 : 0.3 + 2 * rng.uniform();
    for (let j = 0; j < d; j++) W_dec.data[a * d + j] *= s;
  }
  const W_enc = new Matrix(d, A);
  rng.fillNormal(W_enc.data);
  const b_enc = new Float32Array(A);
  rng.fillNormal(b_enc, 0, 0.3);
  const b_dec = new Float32Array(d);
  rng.fillNormal(b_dec, 0, 0.5);
  const threshold = Float32Array.from({ length: A }, () => 0.05 + 0.5 * rng.uniform());
  return { W_enc, b_enc, W_dec, b_dec, threshold };
}

const rnd = (rng: Rng, n: number, d: number) => {
  const X = new Matrix(n, d);
  rng.fillNormal(X.data);
  return X;
};

const scaleRows = (Z: Float64Array, A: number, s: ArrayLike<number>) => Z.map((v, i) => v * s[i % A]);

test('foldActivationScale: a model of s·x becomes a model of x (codes equal, reconstructions of x)', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(100 + t);
    const w = randomModel(rng, 5, 9);
    const X = rnd(rng, 12, 5);
    const s = 0.2 + 3 * rng.uniform();
    for (const act of ['relu', 'jumprelu'] as const) {
      const ref = forward(w, X, { act, sIn: s, sOut: s });
      const got = forward(foldActivationScale(w, s), X, { act });
      assertAllClose(got.Z, ref.Z, 1e-5, 1e-6, `codes t=${t}`);
      assertAllClose(got.R, ref.R, 1e-5, 1e-6, `reconstructions t=${t}`);
    }
  }
  assertThrowsCode(() => foldActivationScale(randomModel(new Rng(1), 3, 4), 0), 'E_ARG', /positive/);
  assertThrowsCode(() => foldActivationScale(randomModel(new Rng(1), 3, 4), NaN), 'E_ARG');
});

test('foldDecoderNorm: unit rows; codes scale by the norms; reconstructions, supports and JumpReLU gates unchanged; dead rows stay finite', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(200 + t);
    const w = randomModel(rng, 6, 8, t % 4 === 0 ? 3 : -1);
    const X = rnd(rng, 10, 6);
    const n = decoderNorms(w.W_dec);
    const f = foldDecoderNorm(w);
    for (const v of decoderNorms(f.W_dec)) assert.ok(v === 0 || Math.abs(v - 1) < 1e-6);
    for (const x of [...f.W_enc!.data, ...f.b_enc!, ...f.threshold!, ...f.W_dec.data]) assert.ok(Number.isFinite(x));
    for (const act of ['relu', 'jumprelu'] as const) {
      const ref = forward(w, X, { act });
      const got = forward(f, X, { act });
      assertAllClose(got.Z, scaleRows(ref.Z, 8, Array.from(n, (v) => (v === 0 ? 1 : v))), 1e-5, 1e-6, `codes t=${t}`);
      assertAllClose(got.R, ref.R, 1e-5, 1e-5, `reconstructions t=${t}`);
    }
    assert.ok(hasUnitDecoder(f.W_dec));
  }
  // the input is not modified
  const w = randomModel(new Rng(3), 4, 5);
  const before = w.W_dec.data.slice();
  foldDecoderNorm(w);
  assert.deepEqual(w.W_dec.data, before);
});

test('foldDecoderNormIntoGate: a TopK or JumpReLU gate on pre·‖W_dec‖ becomes a plain one (SAELens rescale_acts_by_decoder_norm)', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(300 + t);
    const w = randomModel(rng, 6, 9, t % 5 === 0 ? 2 : -1);
    const X = rnd(rng, 10, 6);
    const f = foldDecoderNormIntoGate(w);
    for (const s of [{ act: 'topk' as const, k: 3 }, { act: 'jumprelu' as const }]) {
      const ref = forward(w, X, { ...s, gate: true });
      const got = forward(f, X, s);
      assertAllClose(got.Z, ref.Z, 1e-5, 1e-6, `codes t=${t} ${s.act}`);
      assertAllClose(got.R, ref.R, 1e-5, 1e-5, `reconstructions t=${t} ${s.act}`);
    }
  }
});

test('foldInputBias: an encoder of x (apply_b_dec_to_input false) as one of x − b_dec', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(400 + t);
    const w = randomModel(rng, 5, 7);
    const X = rnd(rng, 9, 5);
    const ref = forward(w, X, { act: 'jumprelu', a: false });
    const got = forward(foldInputBias(w), X, { act: 'jumprelu' });
    assertAllClose(got.Z, ref.Z, 1e-5, 1e-5, `codes t=${t}`);
    assertAllClose(got.R, ref.R, 1e-5, 1e-5, `reconstructions t=${t}`);
  }
});

test('foldFeatureScale: SAELens\' finetuning scaling factor into the decoder rows', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(500 + t);
    const w = randomModel(rng, 4, 6);
    const X = rnd(rng, 8, 4);
    const fs = Float32Array.from({ length: 6 }, () => 0.5 + rng.uniform());
    const ref = forward(w, X, { act: 'relu', fs });
    const got = forward(foldFeatureScale(w, fs), X, { act: 'relu' });
    assertAllClose(got.R, ref.R, 1e-5, 1e-5, `reconstructions t=${t}`);
    assertAllClose(got.Z, ref.Z, 0, 0, `codes t=${t}`);
  }
});

test('foldWhitening: a model of whitened inputs as a model of raw inputs', () => {
  for (let t = 0; t < 10; t++) {
    const rng = new Rng(600 + t);
    const d = 4;
    const w = randomModel(rng, d, 6);
    const X = rnd(rng, 8, d);
    // a random invertible whitening: W = Q·diag, W_inv its inverse
    const W = new Matrix(d, d), Winv = new Matrix(d, d);
    const diag = Array.from({ length: d }, () => 0.5 + rng.uniform());
    for (let i = 0; i < d; i++) {
      W.data[i * d + i] = diag[i];
      Winv.data[i * d + i] = 1 / diag[i];
    }
    // a rotation in the (0, 1) plane on top
    const c = Math.cos(0.3 + t), s = Math.sin(0.3 + t);
    const Rm = new Matrix(d, d);
    for (let i = 0; i < d; i++) Rm.data[i * d + i] = 1;
    Rm.data[0] = c; Rm.data[1] = -s; Rm.data[d] = s; Rm.data[d + 1] = c;
    const mul = (P: Matrix, Q: Matrix) => {
      const O = new Matrix(P.rows, Q.cols);
      for (let i = 0; i < P.rows; i++) for (let j = 0; j < Q.cols; j++) { let v = 0; for (let q = 0; q < P.cols; q++) v += P.data[i * P.cols + q] * Q.data[q * Q.cols + j]; O.data[i * Q.cols + j] = v; }
      return O;
    };
    const Wr = mul(Rm, W), Wrinv = mul(Winv, Rm.transpose());
    const mean = Float32Array.from({ length: d }, () => rng.normal());
    const U = new Matrix(X.rows, d);
    for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) { let v = 0; for (let q = 0; q < d; q++) v += (X.data[i * d + q] - mean[q]) * Wr.data[q * d + j]; U.data[i * d + j] = v; }
    const ref = forward(w, U, { act: 'relu' });
    const refRaw = new Float64Array(ref.R.length);
    for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) { let v = mean[j]; for (let q = 0; q < d; q++) v += ref.R[i * d + q] * Wrinv.data[q * d + j]; refRaw[i * d + j] = v; }
    const got = forward(foldWhitening(w, mean, Wr, Wrinv), X, { act: 'relu' });
    assertAllClose(got.Z, ref.Z, 1e-4, 1e-5, `codes t=${t}`);
    assertAllClose(got.R, refRaw, 1e-4, 1e-5, `reconstructions t=${t}`);
  }
  const w = randomModel(new Rng(1), 3, 4);
  const I = new Matrix(3, 3);
  assertThrowsCode(() => foldWhitening(w, new Float32Array(3), I, I), 'E_ARG', /not invertible/);
});

test('canonicalSpec folds every layout meaning at once (scales in ≠ out, no input bias, gate, feature scale) without changing the function', () => {
  for (let t = 0; t < 20; t++) {
    const rng = new Rng(700 + t);
    const w = randomModel(rng, 5, 8);
    const X = rnd(rng, 10, 5);
    const sIn = 0.3 + 2 * rng.uniform(), sOut = 0.3 + 2 * rng.uniform();
    const fs = Float32Array.from({ length: 8 }, () => 0.5 + rng.uniform());
    for (const a of [true, false]) {
      const sem: Sem = { act: 'jumprelu', a, sIn, sOut, gate: true, fs };
      const ref = forward(w, X, sem);
      const spec = canonicalSpec({ kind: 'jumprelu', weights: w, applyBDecToInput: a, inputScale: sIn, outputScale: sOut, gateOnDecoderNorm: true, featureScale: fs });
      assert.equal(spec.inputScale, undefined);
      assert.equal(spec.gateOnDecoderNorm, undefined);
      const model = makeModel('m', {}, spec, { name: 'sparsecode', description: '', root: 'm', files: [], notes: [] });
      const Z = model.encode(X), R = model.decode(Z);
      // codes: the gate's fold scales codes by ‖W_dec·diag(fs)‖ relative to the reference ... compare reconstructions and supports
      for (let i = 0; i < ref.Z.length; i++) assert.equal(Z.data[i] !== 0, ref.Z[i] !== 0, `support t=${t} a=${a} at ${i}`);
      assertAllClose(R.data, ref.R, 1e-4, 1e-4, `reconstructions t=${t} a=${a}`);
    }
  }
});

test('unitNormWarning names the evaluation and the norm range, and is null for unit-norm decoders', () => {
  const w = randomModel(new Rng(5), 4, 6);
  assert.match(unitNormWarning({ weights: w, kind: 'jumprelu' }, 'the Neuronpedia export')!, /Neuronpedia export assumes unit-norm decoder rows.*norms \d/);
  assert.equal(unitNormWarning({ weights: foldDecoderNorm(w), kind: 'jumprelu' }, 'x'), null);
});
