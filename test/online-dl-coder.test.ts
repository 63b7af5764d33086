// Online DL's minibatch coders: the default 'lasso-cd' step equals a float64 re-derivation of one
// Mairal step from exact lasso codes; 'fista' solves the same problem (close dictionaries);
// bad coders are refused; progress reports carry the current dictionary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { iidSparseWorld } from '../src/worlds/index.js';
import { lassoCD } from '../src/inference/index.js';
import { onlineDictionaryLearning } from '../src/dictionary/index.js';

const world = iidSparseWorld({ latents: 24, active: 3, samples: 1200, dim: 16, seed: 5, valFraction: 0.5 });
const X = world.X.train; // 600 rows
const D0 = world.A.clone();
// start near the truth, perturbed, so every atom is used
for (let i = 0; i < D0.data.length; i++) D0.data[i] += 0.2 * Math.sin(i * 1.7);

/** One Mairal step on the full batch in float64: A = ZᵀZ/n, B = ZᵀX/n, one BCD pass, unit rows. */
function referenceStep(X: Matrix, D0: Matrix, lambda: number): Float64Array {
  const a = D0.rows, d = D0.cols, n = X.rows;
  const D = new Float64Array(a * d);
  for (let j = 0; j < a; j++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += D0.data[j * d + c] ** 2;
    for (let c = 0; c < d; c++) D[j * d + c] = D0.data[j * d + c] / Math.sqrt(s);
  }
  const Dm = new Matrix(a, d);
  for (let i = 0; i < D.length; i++) Dm.data[i] = D[i];
  const Z = lassoCD(X, Dm, { lambda, tol: 1e-10, objective: false }).Z;
  const A = new Float64Array(a * a), B = new Float64Array(a * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < a; p++) {
      const zp = Z.data[i * a + p];
      if (zp === 0) continue;
      for (let q = 0; q < a; q++) A[p * a + q] += (zp * Z.data[i * a + q]) / n;
      for (let c = 0; c < d; c++) B[p * d + c] += (zp * X.data[i * d + c]) / n;
    }
  }
  for (let j = 0; j < a; j++) {
    const u = new Float64Array(d);
    for (let c = 0; c < d; c++) {
      let s = B[j * d + c];
      for (let l = 0; l < a; l++) s -= A[j * a + l] * D[l * d + c];
      u[c] = D[j * d + c] + s / A[j * a + j];
    }
    const norm = Math.hypot(...u);
    for (let c = 0; c < d; c++) D[j * d + c] = u[c] / Math.max(norm, 1);
  }
  for (let j = 0; j < a; j++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += D[j * d + c] ** 2;
    for (let c = 0; c < d; c++) D[j * d + c] /= Math.sqrt(s);
  }
  return D;
}

test("online DL, coder 'lasso-cd' (default): one full-batch step equals the float64 Mairal step from exact lasso codes", async () => {
  const ref = referenceStep(X, D0, 0.05);
  const box: { seen: Matrix | null } = { seen: null };
  const r = await onlineDictionaryLearning(X, { atoms: 24, lambda: 0.05, batch: X.rows, steps: 1, init: D0, seed: 0, onProgress: (p) => { box.seen = p.D.clone(); } });
  let maxErr = 0;
  for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(r.D.data[i] - ref[i]));
  assert.ok(maxErr < 2e-4, `max |D - D_ref| = ${maxErr}`);
  console.log(`one step: max |D - D_ref| = ${maxErr.toExponential(2)}`);
  const seen = box.seen;
  assert.ok(seen !== null, 'onProgress got the dictionary');
  // before the final renormalisation the reported D is the same up to row scale
  for (let j = 0; j < 24; j++) {
    const u = seen.row(j), v = r.D.row(j);
    let dot = 0, nu = 0;
    for (let c = 0; c < 16; c++) { dot += u[c] * v[c]; nu += u[c] * u[c]; }
    assert.ok(dot / Math.sqrt(nu) > 0.99999, `progress D row ${j}`);
  }
});

test("online DL: coder 'fista' solves the same problem (dictionaries within 1e-3 after 20 steps); bad coder refused", async () => {
  const opts = { atoms: 24, lambda: 0.05, batch: 100, steps: 20, init: D0, seed: 3 };
  const a = await onlineDictionaryLearning(X, { ...opts, coder: 'lasso-cd' });
  const b = await onlineDictionaryLearning(X, { ...opts, coder: 'fista', fistaIters: 2000 });
  let maxErr = 0;
  for (let i = 0; i < a.D.data.length; i++) maxErr = Math.max(maxErr, Math.abs(a.D.data[i] - b.D.data[i]));
  assert.ok(maxErr < 1e-3, `max |D_cd - D_fista| = ${maxErr}`);
  console.log(`20 steps: max |D_cd - D_fista| = ${maxErr.toExponential(2)}`);
  assert.ok(maxErr > 0, 'the two coders are different code paths');
  await assert.rejects(onlineDictionaryLearning(X, { ...opts, coder: 'omp' as never }), (e: { code?: string }) => e.code === 'E_ARG');
});
