import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { assertThrowsCode } from './helpers.js';

/** A SAELens-layout ReLU SAE written by hand (no sparsecode block). */
function saelensDir(cfgExtra: Record<string, unknown>, d = 5, A = 7, seed = 1) {
  const rng = new Rng(seed);
  const W_enc = rng.fillNormal(new Float32Array(d * A)) as Float32Array;
  const b_enc = rng.fillNormal(new Float32Array(A), 0, 0.1) as Float32Array;
  const W_dec = rng.fillNormal(new Float32Array(A * d)) as Float32Array;
  const b_dec = rng.fillNormal(new Float32Array(d)) as Float32Array;
  const dir = mkdtempSync(join(tmpdir(), 'sc-saelens-'));
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: d, d_sae: A, activation_fn_str: 'relu', ...cfgExtra }));
  writeSafetensors(join(dir, 'sae_weights.safetensors'), {
    W_enc: { shape: [d, A], data: W_enc }, b_enc: { shape: [A], data: b_enc },
    W_dec: { shape: [A, d], data: W_dec }, b_dec: { shape: [d], data: b_dec },
  } as any);
  return { dir, W_enc, b_enc, b_dec, d, A };
}

function reluCodes(X: Matrix, W_enc: Float32Array, b_enc: Float32Array, shift: Float32Array | null, A: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < X.rows; i++) for (let a = 0; a < A; a++) {
    let s = b_enc[a];
    for (let j = 0; j < X.cols; j++) s += (X.get(i, j) - (shift ? shift[j] : 0)) * W_enc[j * A + a];
    out.push(Math.max(0, s));
  }
  return out;
}

test('SAELens models: apply_b_dec_to_input true/false is honoured by encode', () => {
  for (const apply of [true, false]) {
    const m = saelensDir({ apply_b_dec_to_input: apply });
    const X = new Matrix(4, m.d);
    new Rng(9).fillNormal(X.data);
    const Z = loadModel(m.dir).encode(X);
    const ref = reluCodes(X, m.W_enc, m.b_enc, apply ? m.b_dec : null, m.A);
    for (let t = 0; t < ref.length; t++) assert.ok(Math.abs(Z.data[t] - ref[t]) < 1e-4, `apply=${apply} code ${t}: ${Z.data[t]} vs ${ref[t]}`);
  }
});

test('SAELens models with an unstored activation normalisation are refused with the fix', () => {
  const m = saelensDir({ normalize_activations: 'expected_average_only_in' });
  assertThrowsCode(() => loadModel(m.dir), 'E_FORMAT', /normalize_activations/);
  const ok = saelensDir({ normalize_activations: 'none' });
  assert.equal(loadModel(ok.dir).atoms, ok.A);
});
