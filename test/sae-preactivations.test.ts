import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE, SAE_KINDS } from '../src/dictionary/sae/index.js';

/** (x − b_dec)·W + b in float64 from the saved (SAELens-layout) weights: W [dim x atoms]. */
function referencePre(X: Matrix, W: Matrix, bEnc: Float32Array, bDec: Float32Array): Float64Array {
  const n = X.rows, d = X.cols, A = W.cols, out = new Float64Array(n * A);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < A; a++) {
      let s = bEnc[a];
      for (let j = 0; j < d; j++) s += (X.data[i * d + j] - bDec[j]) * W.data[j * A + a];
      out[i * A + a] = s;
    }
  }
  return out;
}

test('preActivations = (x − b_dec)·W_enc + b_enc for every SAE kind (MP: the pursuit\'s first correlations, W_enc = W_decᵀ)', async () => {
  const rng = new Rng('preact');
  const X = new Matrix(1500, 12);
  rng.fillNormal(X.data);
  for (let i = 0; i < X.data.length; i++) X.data[i] = Math.max(0, X.data[i]);
  for (const kind of SAE_KINDS) {
    const sae = createSAE(kind, { atoms: 24, k: 3, steps: 20, batch: 64 });
    await sae.fit(X, { seed: 1 });
    const w = sae.getWeights();
    const pre = sae.preActivations(X);
    assert.equal(pre.rows, 1500);
    assert.equal(pre.cols, 24);
    const ref = referencePre(X, w.W_enc, w.b_enc, w.b_dec);
    let maxErr = 0, maxAbs = 0;
    for (let t = 0; t < ref.length; t++) {
      maxErr = Math.max(maxErr, Math.abs(pre.data[t] - ref[t]));
      maxAbs = Math.max(maxAbs, Math.abs(ref[t]));
    }
    assert.ok(maxErr <= 1e-5 * Math.max(1, maxAbs), `${kind}: max error ${maxErr}`);
    // the codes are these values gated: every ReLU / TopK / JumpReLU code is its pre-activation (or 0)
    if (kind === 'relu' || kind === 'topk' || kind === 'jumprelu') {
      const Z = sae.encode(X);
      for (let t = 0; t < Z.data.length; t++) {
        if (kind === 'relu') assert.equal(Z.data[t], Math.max(0, pre.data[t]));
        else if (Z.data[t] !== 0) assert.equal(Z.data[t], pre.data[t], `${kind} code ${t}`);
      }
    }
    if (kind === 'topk') {
      // TopK keeps each row's k largest pre-activations
      const Z = sae.encode(X);
      for (let i = 0; i < 50; i++) {
        const row = Array.from(pre.data.subarray(i * 24, (i + 1) * 24));
        const kth = [...row].sort((a, b) => b - a)[2];
        for (let a = 0; a < 24; a++) if (Z.data[i * 24 + a] !== 0) assert.ok(row[a] >= kth);
      }
    }
  }
});

test('preActivations refuses bad input like encode', async () => {
  const sae = createSAE('topk', { atoms: 8, k: 2, steps: 5, batch: 16 });
  assert.throws(() => sae.preActivations(new Matrix(3, 4)), /no weights yet/);
  const X = new Matrix(64, 4);
  new Rng(2).fillNormal(X.data);
  await sae.fit(X, { seed: 0 });
  assert.throws(() => sae.preActivations(new Matrix(3, 5)), /X has 5 columns, the SAE expects 4/);
  const bad = new Matrix(2, 4);
  bad.data[3] = NaN;
  assert.throws(() => sae.preActivations(bad), /non-finite/);
});
