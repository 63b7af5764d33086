/**
 * The fast sparse-inference path: lassoCD's working-set solver (src/inference/working-set.ts).
 * References: the scikit-learn Lasso fixtures (test/fixtures/inference/gen.py), the dense
 * coordinate-descent sweeps (workingSet: false), long FISTA runs, the KKT conditions in float64,
 * and closed forms for the pathological cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { availableBackends, getBackend, loadBackends } from '../src/backend/index.js';
import { solveSPD } from '../src/linalg/cholesky.js';
import { fista, lassoCD, lassoObjectives } from '../src/inference/index.js';
import { assertAllClose, assertThrowsCode, kktViolation } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/inference/lasso_omp.json', import.meta.url), 'utf8'));
const dicts: Record<string, Matrix> = { D: Matrix.from(fx.D), Dn: Matrix.from(fx.Dn) };
const FX = Matrix.from(fx.X);

const meanOf = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);


function unitDictionary(atoms: number, dim: number, rng: Rng): Matrix {
  const D = new Matrix(atoms, dim);
  rng.fillNormal(D.data);
  for (let j = 0; j < atoms; j++) {
    const row = D.row(j);
    let s = 0;
    for (const v of row) s += v * v;
    const inv = 1 / Math.sqrt(s);
    for (let c = 0; c < dim; c++) row[c] *= inv;
  }
  return D;
}

/** k-sparse codes (signed, or positive) through a unit-norm dictionary, 1% noise. */
function problem(n: number, atoms: number, dim: number, k: number, seed: number, positive = false) {
  const rng = new Rng(seed);
  const D = unitDictionary(atoms, dim, rng);
  const X = new Matrix(n, dim);
  for (let i = 0; i < n; i++) {
    for (const j of rng.choice(atoms, k)) {
      const z = rng.uniformIn(0.2, 1.5) * (positive || rng.uniform() < 0.5 ? 1 : -1);
      for (let c = 0; c < dim; c++) X.data[i * dim + c] += z * D.data[j * dim + c];
    }
  }
  for (let i = 0; i < X.size; i++) X.data[i] += 0.01 * rng.normal();
  return { D, X };
}

test('working set reaches the scikit-learn Lasso optimum: objective, codes, KKT, nonneg', () => {
  for (const c of fx.lasso) {
    const D = dicts[c.dict];
    const what = `${c.dict} λ=${c.lambda} nonneg=${c.nonneg}`;
    const refObj = meanOf(Float64Array.from(c.objective));
    for (const initialSet of [1, 4, 16, 40]) {
      const r = lassoCD(FX, D, { lambda: c.lambda, nonneg: c.nonneg, tol: 1e-8, iters: 5000, initialSet });
      const w = `${what} initialSet=${initialSet}`;
      assert.ok(r.converged, `${w}: not converged after ${r.iterations} sweeps`);
      assert.ok(r.rounds! >= 2, `${w}: a first (support-discovery) round and a tight one, got ${r.rounds}`);
      assert.ok(Math.abs(r.objective! - refObj) <= 1e-6 * refObj, `${w}: objective ${r.objective} vs sklearn ${refObj}`);
      assertAllClose(lassoObjectives(FX, D, r.Z, c.lambda), c.objective, 2e-6, 1e-8, `${w} per-sample objective`);
      assertAllClose(r.Z.data, Matrix.from(c.Z).data, 0, 2e-4, `${w} codes`);
      const kkt = kktViolation(FX, D, r.Z, c.lambda, c.nonneg);
      assert.ok(kkt <= 1e-5 * Math.max(1, c.lambda), `${w}: KKT violation ${kkt}`);
      assert.ok(r.kkt! <= 1e-5 * Math.max(1, c.lambda), `${w}: reported KKT ${r.kkt}`);
      if (c.nonneg) assert.ok(r.Z.data.every((v) => v >= 0), `${w}: negative code`);
    }
  }
});

test('working set equals the dense sweeps and long FISTA on an overcomplete problem', () => {
  for (const nonneg of [false, true]) {
    const { D, X } = problem(80, 256, 48, 5, 11, nonneg);
    const lambda = 0.05;
    const ws = lassoCD(X, D, { lambda, nonneg });
    const dense = lassoCD(X, D, { lambda, nonneg, workingSet: false });
    const fi = fista(X, D, { lambda, nonneg, iters: 3000, tol: 1e-8 });
    assert.ok(ws.converged && dense.converged, `nonneg=${nonneg}: converged ws ${ws.converged} dense ${dense.converged}`);
    assert.ok(ws.meanWorkingSet! < 64, `working sets stay small: mean ${ws.meanWorkingSet}`);
    // the reported objective (sparse residual) is the dense one
    assert.ok(Math.abs(ws.objective! - meanOf(lassoObjectives(X, D, ws.Z, lambda))) <= 1e-9 * ws.objective!);
    assert.ok(Math.abs(ws.objective! - dense.objective!) <= 1e-7 * dense.objective!, `nonneg=${nonneg}: ws ${ws.objective} dense ${dense.objective}`);
    assert.ok(ws.objective! <= fi.objective! * (1 + 1e-7), `nonneg=${nonneg}: ws ${ws.objective} fista ${fi.objective}`);
    assertAllClose(ws.Z.data, dense.Z.data, 0, 1e-4, `nonneg=${nonneg}: ws vs dense codes`);
    assert.ok(kktViolation(X, D, ws.Z, lambda, nonneg) <= 1e-5, `nonneg=${nonneg}: KKT`);
    if (nonneg) assert.ok(ws.Z.data.every((v) => v >= 0));
  }
});

test('every loaded backend gives the same working-set codes', async () => {
  await loadBackends({ quiet: true });
  const { D, X } = problem(60, 96, 32, 4, 12);
  const ref = lassoCD(X, D, { lambda: 0.05, backend: getBackend('js') });
  for (const name of availableBackends()) {
    const r = lassoCD(X, D, { lambda: 0.05, backend: getBackend(name)! });
    assert.ok(r.converged, name);
    assertAllClose(r.Z.data, ref.Z.data, 0, 1e-4, `working set on ${name}`);
    assert.ok(Math.abs(r.objective! - ref.objective!) <= 1e-6 * ref.objective!, `objective on ${name}`);
  }
});

test('warm starts: from the solution, from another λ, and the sweep budget', () => {
  const { D, X } = problem(80, 128, 32, 4, 13);
  const cold = lassoCD(X, D, { lambda: 0.05, tol: 1e-6 });
  const warm = lassoCD(X, D, { lambda: 0.05, tol: 1e-6, init: cold.Z });
  assert.ok(warm.converged, 'warm converged');
  assert.equal(warm.rounds, 1, 'a converged start passes the first check');
  assert.ok(warm.iterations <= 3 && cold.iterations >= 10, `warm ${warm.iterations} sweeps vs cold ${cold.iterations}`);
  assertAllClose(warm.Z.data, cold.Z.data, 0, 1e-6, 'warm vs cold');
  // a path step: the λ = 0.1 solution as the start for λ = 0.05 (its support is kept in W)
  const prev = lassoCD(X, D, { lambda: 0.1 });
  const step = lassoCD(X, D, { lambda: 0.05, tol: 1e-6, init: prev.Z });
  assert.ok(step.converged, 'path step converged');
  assert.ok(Math.abs(step.objective! - cold.objective!) <= 1e-7 * cold.objective!, `path step ${step.objective} vs cold ${cold.objective}`);
  // a nonneg solve from signed codes clips them first
  const pos = problem(80, 128, 32, 4, 17, true);
  const signed = lassoCD(pos.X, pos.D, { lambda: 0.05 });
  assert.ok(signed.Z.data.some((v) => v < 0), 'the signed solution has negative codes to clip');
  const nn = lassoCD(pos.X, pos.D, { lambda: 0.05, nonneg: true, init: signed.Z });
  const nnCold = lassoCD(pos.X, pos.D, { lambda: 0.05, nonneg: true });
  assert.ok(nn.converged && nnCold.converged, 'nonneg converged');
  assert.ok(nn.Z.data.every((v) => v >= 0));
  assert.ok(Math.abs(nn.objective! - nnCold.objective!) <= 1e-6 * nnCold.objective!, `nonneg warm ${nn.objective} vs cold ${nnCold.objective}`);
  // one sweep is never enough from zero
  const short = lassoCD(X, D, { lambda: 0.05, iters: 1 });
  assert.equal(short.converged, false);
  assert.equal(short.iterations, 1);
  // init is copied, not modified
  const init = prev.Z.clone();
  lassoCD(X, D, { lambda: 0.05, init });
  assert.deepEqual(init.data, prev.Z.data);
});

test('pathological inputs: zero rows, λ above max|x·Dᵀ|, duplicated atoms, λ = 0', () => {
  const { D, X } = problem(20, 40, 16, 3, 14);
  // all-zero rows give all-zero codes
  const Xz = X.clone();
  Xz.row(3).fill(0);
  Xz.row(7).fill(0);
  const rz = lassoCD(Xz, D, { lambda: 0.05 });
  assert.ok(rz.converged);
  for (const i of [3, 7]) assert.ok(rz.Z.row(i).every((v) => v === 0), `row ${i}`);
  // λ >= max |x·d_j| over the batch: z = 0 is optimal (KKT) and found without a sweep
  let cmax = 0;
  for (let i = 0; i < X.rows; i++) {
    for (let j = 0; j < D.rows; j++) {
      let s = 0;
      for (let c = 0; c < D.cols; c++) s += X.get(i, c) * D.get(j, c);
      cmax = Math.max(cmax, Math.abs(s));
    }
  }
  const big = lassoCD(X, D, { lambda: cmax * 1.001 });
  assert.ok(big.converged);
  assert.ok(big.Z.data.every((v) => v === 0));
  assert.equal(big.meanWorkingSet, 0);
  let half = 0;
  for (let i = 0; i < X.size; i++) half += 0.5 * X.data[i] * X.data[i];
  assert.ok(Math.abs(big.objective! - half / X.rows) <= 1e-6 * big.objective!);
  // just below: some codes move
  assert.ok(lassoCD(X, D, { lambda: cmax * 0.9 }).Z.data.some((v) => v !== 0));
  // duplicated atoms: same optimum as without the copies (the weight may split between them)
  const Dd = new Matrix(D.rows + 2, D.cols);
  Dd.data.set(D.data);
  Dd.row(D.rows).set(D.row(5));
  Dd.row(D.rows + 1).set(D.row(11));
  const single = lassoCD(X, D, { lambda: 0.05, tol: 1e-9 });
  const dup = lassoCD(X, Dd, { lambda: 0.05, tol: 1e-9 });
  assert.ok(dup.converged);
  assert.ok(Math.abs(dup.objective! - single.objective!) <= 1e-6 * single.objective!, `dup ${dup.objective} vs ${single.objective}`);
  assert.ok(kktViolation(X, Dd, dup.Z, 0.05, false) <= 1e-5);
  // λ = 0 with an undercomplete dictionary: least squares, z = x·Dᵀ(D·Dᵀ)⁻¹
  const Du = unitDictionary(6, 16, new Rng(15));
  const rls = lassoCD(X, Du, { lambda: 0, tol: 1e-10, iters: 100000 });
  assert.ok(rls.converged);
  const G = new Float64Array(36);
  for (let p = 0; p < 6; p++) for (let q = 0; q < 6; q++) for (let c = 0; c < 16; c++) G[p * 6 + q] += Du.get(p, c) * Du.get(q, c);
  for (let i = 0; i < X.rows; i++) {
    const rhs = new Float64Array(6);
    for (let p = 0; p < 6; p++) for (let c = 0; c < 16; c++) rhs[p] += X.get(i, c) * Du.get(p, c);
    assertAllClose(rls.Z.row(i), solveSPD(G, 6, rhs), 1e-4, 1e-5, `least squares row ${i}`);
  }
});

test('working-set options are validated; empty batches work', () => {
  const { D, X } = problem(5, 8, 4, 1, 16);
  assertThrowsCode(() => lassoCD(X, D, { lambda: 0.1, initialSet: 0 }), 'E_ARG', /initialSet/);
  assertThrowsCode(() => lassoCD(X, D, { lambda: 0.1, initialSet: 2.5 }), 'E_ARG', /initialSet/);
  const e = lassoCD(new Matrix(0, 4), D, { lambda: 0.1 });
  assert.equal(e.Z.rows, 0);
  assert.ok(e.converged);
  // an initial set larger than the dictionary is clipped
  assert.ok(lassoCD(X, D, { lambda: 0.01, initialSet: 1000 }).converged);
});
