import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { backend, loadBackends } from '../src/backend/index.js';
import { linearSumAssignment } from '../src/linalg/hungarian.js';
import { fista, lassoObjectives } from '../src/inference/index.js';
import { learnDictionaryFista } from '../src/dictionary/dl-fista.js';
import { onlineDictionaryLearning } from '../src/dictionary/online-dl.js';
import { assertAllClose, kktViolation } from './helpers.js';

await loadBackends({ quiet: true });
/**
 * The quality world has 20k samples. DL-FISTA learns on a subset (the first 8000 rows with a
 * compiled backend, 2000 with js alone: 2-3 s of CPU either way); online DL sees all 20k.
 */
const fast = backend().name !== 'js';

/** 64 latents, exactly k=3 active with U(0,1) magnitudes, random unit-norm mixing, dim 32. */
function world(n: number, seed: number, latents = 64, dim = 32, k = 3) {
  const rng = new Rng(seed);
  const A = new Matrix(latents, dim);
  rng.fillNormal(A.data);
  for (let j = 0; j < latents; j++) {
    const r = A.row(j);
    let s = 0;
    for (const v of r) s += v * v;
    for (let c = 0; c < dim; c++) r[c] /= Math.sqrt(s);
  }
  const X = new Matrix(n, dim);
  for (let i = 0; i < n; i++) {
    for (const j of rng.choice(latents, k)) {
      const z = rng.uniform();
      for (let c = 0; c < dim; c++) X.data[i * dim + c] += z * A.get(j, c);
    }
  }
  return { A, X };
}

/** Mean |cos| between true and learned atoms after Hungarian matching (maximising). */
function matchedCosine(A: Matrix, D: Matrix): number {
  const cost = new Float64Array(A.rows * D.rows);
  for (let i = 0; i < A.rows; i++) {
    for (let j = 0; j < D.rows; j++) {
      let s = 0, na = 0, nd = 0;
      for (let c = 0; c < A.cols; c++) {
        s += A.get(i, c) * D.get(j, c);
        na += A.get(i, c) ** 2;
        nd += D.get(j, c) ** 2;
      }
      cost[i * D.rows + j] = Math.abs(s) / Math.sqrt(na * nd);
    }
  }
  const { rowInd, colInd } = linearSumAssignment(cost, A.rows, D.rows, { maximize: true });
  let m = 0;
  for (let t = 0; t < rowInd.length; t++) m += cost[rowInd[t] * D.rows + colInd[t]];
  return m / A.rows;
}

function rowNorms(D: Matrix): number[] {
  return Array.from({ length: D.rows }, (_, j) => Math.sqrt(D.row(j).reduce((s, v) => s + v * v, 0)));
}

const quality = world(20000, 1);
const n = fast ? 8000 : 2000;

test(`DL-FISTA recovers the mixing directions (mean matched |cos| >= 0.95; ${n} of 20000 samples)`, async () => {
  const steps: number[] = [];
  const r = await learnDictionaryFista(quality.X.rowSlice(0, n), {
    atoms: 64, lambda: 0.1, fistaIters: fast ? 100 : 50, maxOuter: 60, seed: 0,
    onProgress: (p) => {
      steps.push(p.step);
      assert.equal(p.total, 60);
      assert.ok(Number.isFinite(p.loss) && p.l0 >= 0 && p.relChange >= 0);
    },
  });
  const cos = matchedCosine(quality.A, r.D);
  console.log(`# DL-FISTA: mean matched |cos| ${cos.toFixed(4)} after ${r.iterations} outer steps (converged ${r.converged})`);
  assert.ok(cos >= 0.95, `mean matched |cos| ${cos}`);
  assert.ok(r.converged, `not converged in ${r.iterations}`);
  assert.deepEqual(steps, Array.from({ length: r.iterations }, (_, i) => i + 1));
  for (const v of rowNorms(r.D)) assert.ok(Math.abs(v - 1) < 1e-5);
  assert.equal(r.Z.rows, n);
  assert.equal(r.Z.cols, 64);
});

test('online dictionary learning on the same world (mean matched |cos| >= 0.9)', async () => {
  const r = await onlineDictionaryLearning(quality.X, { atoms: 64, lambda: 0.1, batch: 256, epochs: fast ? 3 : 2, seed: 0 });
  const cos = matchedCosine(quality.A, r.D);
  console.log(`# online DL: mean matched |cos| ${cos.toFixed(4)} after ${r.steps} steps`);
  assert.ok(cos >= 0.9, `mean matched |cos| ${cos}`);
  for (const v of rowNorms(r.D)) assert.ok(Math.abs(v - 1) < 1e-5);
});

/** Solve (M) W = R in float64 by Gaussian elimination with partial pivoting (independent of linalg/). */
function gaussSolve(M: number[][], R: number[][]): number[][] {
  const k = M.length;
  const a = M.map((row, i) => [...row, ...R[i]]);
  for (let col = 0; col < k; col++) {
    let p = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(a[r][col]) > Math.abs(a[p][col])) p = r;
    [a[col], a[p]] = [a[p], a[col]];
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = a[r][col] / a[col][col];
      for (let c = col; c < a[r].length; c++) a[r][c] -= f * a[col][c];
    }
  }
  return a.map((row, i) => row.slice(k).map((v) => v / a[i][i]));
}

test('one DL-FISTA step is FISTA then the MOD solution (ZᵀZ + ridge·I)⁻¹ZᵀX with unit rows', async () => {
  const { X } = world(300, 4, 12, 8, 2);
  const D0 = new Matrix(12, 8);
  new Rng(9).fillNormal(D0.data);
  const r = await learnDictionaryFista(X, { atoms: 12, lambda: 0.05, fistaIters: 30, maxOuter: 1, ridge: 1e-3, init: D0, seed: 1 });
  assert.equal(r.iterations, 1);
  // independent reference: normalise D0, run the same FISTA, solve the normal equations in float64
  const Dn = D0.clone();
  for (let j = 0; j < 12; j++) {
    const s = Math.sqrt(Dn.row(j).reduce((t, v) => t + v * v, 0));
    for (let c = 0; c < 8; c++) Dn.row(j)[c] /= s;
  }
  const Z = fista(X, Dn, { lambda: 0.05, iters: 30, tol: 0 }).Z;
  const M = Array.from({ length: 12 }, (_, i) => Array.from({ length: 12 }, (_, j) => {
    let s = i === j ? 1e-3 : 0;
    for (let t = 0; t < X.rows; t++) s += Z.get(t, i) * Z.get(t, j);
    return s;
  }));
  const R = Array.from({ length: 12 }, (_, i) => Array.from({ length: 8 }, (_, c) => {
    let s = 0;
    for (let t = 0; t < X.rows; t++) s += Z.get(t, i) * X.get(t, c);
    return s;
  }));
  const W = gaussSolve(M, R).map((row) => {
    const s = Math.sqrt(row.reduce((t, v) => t + v * v, 0));
    return row.map((v) => v / s);
  });
  assertAllClose(r.D.data, Matrix.from(W).data, 0, 1e-3, 'MOD update');
});

test('DL-FISTA: determinism, warm start from the truth, re-drawn dead atoms, cancellation', async () => {
  const { A, X } = world(1500, 2, 16, 12, 2);
  const a = await learnDictionaryFista(X, { atoms: 16, maxOuter: 5, fistaIters: 20, seed: 3 });
  const b = await learnDictionaryFista(X, { atoms: 16, maxOuter: 5, fistaIters: 20, seed: 3 });
  const c = await learnDictionaryFista(X, { atoms: 16, maxOuter: 5, fistaIters: 20, seed: 4 });
  assert.deepEqual(a.D.data, b.D.data);
  assert.notDeepEqual(a.D.data, c.D.data);
  // started at the true dictionary with non-negative codes, it stays there
  const t = await learnDictionaryFista(X, { atoms: 16, lambda: 0.02, nonneg: true, maxOuter: 20, init: A, seed: 0 });
  assert.ok(matchedCosine(A, t.D) > 0.995, `from the truth: ${matchedCosine(A, t.D)}`);
  assert.ok(t.Z.data.every((v) => v >= 0));
  // data in the first 4 coordinates; an atom orthogonal to them is never used and gets re-drawn
  const Xs = new Matrix(200, 6);
  const rng = new Rng(5);
  for (let i = 0; i < 200; i++) for (let cc = 0; cc < 4; cc++) Xs.set(i, cc, rng.normal());
  const init = Matrix.from([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0]]);
  const dead = await learnDictionaryFista(Xs, { atoms: 5, maxOuter: 1, fistaIters: 10, init, seed: 0 });
  const dn = rowNorms(dead.D);
  for (const v of dn) assert.ok(Math.abs(v - 1) < 1e-5, `row norms ${dn}`);
  assert.notDeepEqual(Array.from(dead.D.row(4)), [0, 0, 0, 0, 1, 0]);
  // deadAtoms 'zero' (the Stop-Probing reference): the unused atom stays zero and coded zero for good,
  // the others are the same as with re-drawing after one step (the re-draw touches only that row)
  const zero = await learnDictionaryFista(Xs, { atoms: 5, maxOuter: 6, fistaIters: 10, init, seed: 0, deadAtoms: 'zero' });
  assert.deepEqual(Array.from(zero.D.row(4)), [0, 0, 0, 0, 0, 0]);
  for (let i = 0; i < Xs.rows; i++) assert.equal(zero.Z.get(i, 4), 0);
  const zn = rowNorms(zero.D);
  for (let a = 0; a < 4; a++) assert.ok(Math.abs(zn[a] - 1) < 1e-5, `row norms ${zn}`);
  const zero1 = await learnDictionaryFista(Xs, { atoms: 5, maxOuter: 1, fistaIters: 10, init, seed: 0, deadAtoms: 'zero' });
  assert.deepEqual(Array.from(zero1.D.data.subarray(0, 24)), Array.from(dead.D.data.subarray(0, 24)));
  // over-relaxed MOD does not bring a dead atom back
  const zx = await learnDictionaryFista(Xs, { atoms: 5, maxOuter: 6, fistaIters: 10, init, seed: 0, deadAtoms: 'zero', extrapolate: 1 });
  assert.deepEqual(Array.from(zx.D.row(4)), [0, 0, 0, 0, 0, 0]);
  await assert.rejects(learnDictionaryFista(Xs, { atoms: 5, maxOuter: 1, deadAtoms: 'keep' as any }), (e: any) => e.code === 'E_ARG' && /deadAtoms/.test(e.message));
  // cancellation
  const ac = new AbortController();
  await assert.rejects(
    learnDictionaryFista(X, { atoms: 16, maxOuter: 50, seed: 0, signal: ac.signal, onProgress: (p) => { if (p.step === 2) ac.abort(); } }),
    (e: any) => e.code === 'E_CANCELLED',
  );
});

test('online DL: determinism and staying at the true dictionary', async () => {
  const { A, X } = world(2000, 6, 16, 12, 2);
  const a = await onlineDictionaryLearning(X, { atoms: 16, lambda: 0.05, batch: 100, steps: 15, seed: 1 });
  const b = await onlineDictionaryLearning(X, { atoms: 16, lambda: 0.05, batch: 100, steps: 15, seed: 1 });
  assert.equal(a.steps, 15);
  assert.deepEqual(a.D.data, b.D.data);
  const t = await onlineDictionaryLearning(X, { atoms: 16, lambda: 0.01, batch: 200, epochs: 1, init: A, nonneg: true, seed: 0 });
  assert.ok(matchedCosine(A, t.D) > 0.99, `from the truth: ${matchedCosine(A, t.D)}`);
  const calls: number[] = [];
  await onlineDictionaryLearning(X, { atoms: 16, lambda: 0.05, batch: 500, epochs: 2, seed: 1, onProgress: (p) => calls.push(p.total) });
  assert.deepEqual(calls, [8, 8, 8, 8, 8, 8, 8, 8]);
});

test('dictionary learners reject bad input', async () => {
  const { X } = world(50, 1, 8, 6, 2);
  await assert.rejects(learnDictionaryFista(X, { atoms: 0 }), (e: any) => e.code === 'E_ARG' && /atoms/.test(e.message));
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, lambda: -1 }), (e: any) => e.code === 'E_ARG' && /lambda/.test(e.message));
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, init: new Matrix(4, 5) }), (e: any) => e.code === 'E_SHAPE' && /init dictionary is \[4 x 5\], expected \[4 x 6\]/.test(e.message));
  const bad = X.clone();
  bad.set(3, 2, Infinity);
  await assert.rejects(learnDictionaryFista(bad, { atoms: 4 }), (e: any) => e.code === 'E_NONFINITE');
  await assert.rejects(onlineDictionaryLearning(X, { atoms: 4, lambda: 0.1 } as any), (e: any) => e.code === 'E_ARG' && /seed/.test(e.message));
  await assert.rejects(onlineDictionaryLearning(X, { atoms: 4, lambda: 0.1, seed: 0, batch: 0 }), (e: any) => e.code === 'E_ARG' && /batch/.test(e.message));
});


test(`DL-FISTA with the lasso-cd coder: same recovery (|cos| >= 0.95) and codes that satisfy the lasso KKT conditions`, async () => {
  const X = quality.X.rowSlice(0, n);
  const r = await learnDictionaryFista(X, { atoms: 64, lambda: 0.1, coder: 'lasso-cd', maxOuter: 60, seed: 0 });
  const cos = matchedCosine(quality.A, r.D);
  console.log(`# DL-FISTA (lasso-cd coder): mean matched |cos| ${cos.toFixed(4)} after ${r.iterations} outer steps (converged ${r.converged})`);
  assert.ok(cos >= 0.95, `mean matched |cos| ${cos}`);
  for (const v of rowNorms(r.D)) assert.ok(Math.abs(v - 1) < 1e-5);
  // the returned codes: converged lasso under the returned D (tol 1e-6 change ⇒ KKT to ~1e-4 in float32)
  const v = kktViolation(X, r.D, r.Z, 0.1);
  assert.ok(v < 1e-3, `KKT violation ${v}`);
  // and not trivially zero
  assert.ok(r.Z.data.some((z) => z !== 0));
});

test('DL-FISTA over-relaxed MOD (extrapolate 1): full recovery, and ahead of plain MOD after the same early steps', async () => {
  const X = quality.X.rowSlice(0, n);
  const D0 = new Matrix(64, 32);
  new Rng(5).fillNormal(D0.data);
  const run = (extrapolate: number, maxOuter: number) => learnDictionaryFista(X, { atoms: 64, lambda: 0.1, fistaIters: 10, maxOuter, tol: 1e-4, init: D0, extrapolate, seed: 0 });
  const early = 10;
  const [plainEarly, overEarly, over] = [await run(0, early), await run(1, early), await run(1, 200)];
  const cp = matchedCosine(quality.A, plainEarly.D), co = matchedCosine(quality.A, overEarly.D);
  const cos = matchedCosine(quality.A, over.D);
  console.log(`# DL-FISTA after ${early} steps: |cos| plain ${cp.toFixed(4)}, extrapolate 1 ${co.toFixed(4)}; extrapolate 1 to convergence: ${cos.toFixed(4)} in ${over.iterations} steps`);
  assert.ok(co > cp, `extrapolated ${co} vs plain ${cp} after ${early} steps`);
  assert.ok(cos >= 0.95 && over.converged, `mean matched |cos| ${cos}, converged ${over.converged}`);
});

test('DL-FISTA progress loss (from the MOD statistics) is the mean lasso objective of the codes under the dictionary that made them', async () => {
  const { X } = world(400, 6, 12, 8, 2);
  const D0 = new Matrix(12, 8);
  new Rng(2).fillNormal(D0.data);
  for (const coder of ['fista', 'lasso-cd'] as const) {
    const losses: number[] = [];
    const Ds: Matrix[] = [];
    await learnDictionaryFista(X, { atoms: 12, lambda: 0.05, coder, fistaIters: 30, maxOuter: 2, tol: 0, init: D0, seed: 1, onProgress: (p) => { losses.push(p.loss); Ds.push(p.D.clone()); } });
    // step 2's codes were computed under step 1's dictionary; recompute them independently (FISTA
    // run long: both coders solve the same lasso, fista to a fixed budget, so compare loosely for it)
    const Z = fista(X, Ds[0], { lambda: 0.05, iters: 3000, tol: 0 }).Z;
    const exact = lassoObjectives(X, Ds[0], Z, 0.05).reduce((s, v) => s + v, 0) / X.rows;
    assert.ok(Math.abs(losses[1] - exact) <= (coder === 'fista' ? 2e-2 : 1e-3) * exact, `${coder}: progress loss ${losses[1]} vs exact ${exact}`);
    assert.ok(losses[1] >= exact * (1 - 1e-4), `${coder}: progress loss ${losses[1]} below the minimum ${exact}`);
  }
});

test('DL-FISTA rejects bad coder options', async () => {
  const { X } = world(50, 1, 8, 6, 2);
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, coder: 'lars' as any }), (e: any) => e.code === 'E_ARG' && /coder/.test(e.message));
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, extrapolate: 1.5 }), (e: any) => e.code === 'E_ARG' && /extrapolate/.test(e.message));
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, coder: 'lasso-cd', codeTol: -1 }), (e: any) => e.code === 'E_ARG' && /codeTol/.test(e.message));
  await assert.rejects(learnDictionaryFista(X, { atoms: 4, coder: 'lasso-cd', codeIters: 0 }), (e: any) => e.code === 'E_ARG' && /codeIters/.test(e.message));
});

test('DL-FISTA with deadAtoms zero follows a NumPy float64 run of the reference protocol step by step (fixture)', async () => {
  // test/fixtures/dictionary/gen.py: 8 atoms, 2 orthogonal to the data and one that dies on the way
  const f = JSON.parse(readFileSync(new URL('./fixtures/dictionary/dl_fista_dead.json', import.meta.url), 'utf8'));
  const X = Matrix.from(f.X);
  const init = Matrix.from(f.D0);
  const opts = { atoms: f.atoms, lambda: f.lambda, fistaIters: f.iters, tol: 0, nonneg: true, ridge: f.ridge, init, seed: 0, deadAtoms: 'zero' as const };
  for (let k = 1; k <= f.outer; k++) {
    const r = await learnDictionaryFista(X, { ...opts, maxOuter: k });
    assertAllClose(r.D.data, Float64Array.from(f.D_steps[k - 1].flat()), 1e-4, 2e-4, `D after ${k} outer steps`);
    if (k === f.outer) {
      assertAllClose(r.Z.data, Float64Array.from(f.Z_final.flat()), 1e-4, 2e-4, 'final codes');
      const dead = [...Array(f.atoms).keys()].filter((a) => r.D.row(a).every((v) => v === 0));
      assert.deepEqual(dead, [2, 6, 7]);
    }
  }
});
