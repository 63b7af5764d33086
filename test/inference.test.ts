import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { availableBackends, getBackend, loadBackends } from '../src/backend/index.js';
import {
  chooseGradient, encode, fista, ista, lassoCD, lassoObjectives, matchingPursuit, meanL0, omp,
} from '../src/inference/index.js';
import { assertAllClose, assertThrowsCode, kktViolation } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/inference/lasso_omp.json', import.meta.url), 'utf8'));
const D = Matrix.from(fx.D);
const Dn = Matrix.from(fx.Dn);
const X = Matrix.from(fx.X);
const dicts: Record<string, Matrix> = { D, Dn };


function sparseProblem(n: number, atoms: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const D = new Matrix(atoms, dim);
  rng.fillNormal(D.data);
  for (let j = 0; j < atoms; j++) {
    const row = D.row(j);
    let s = 0;
    for (const v of row) s += v * v;
    const inv = 1 / Math.sqrt(s);
    for (let c = 0; c < dim; c++) row[c] *= inv;
  }
  const Z = new Matrix(n, atoms);
  for (let i = 0; i < n; i++) for (const j of rng.choice(atoms, 3)) Z.set(i, j, rng.uniformIn(0.5, 1.5));
  const X = new Matrix(n, dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < atoms; j++) {
    const z = Z.get(i, j);
    if (z !== 0) for (let c = 0; c < dim; c++) X.data[i * dim + c] += z * D.get(j, c);
  }
  for (let i = 0; i < X.size; i++) X.data[i] += 0.01 * rng.normal();
  return { D, X, Z };
}

test('FISTA, ISTA and coordinate descent reach the scikit-learn Lasso optimum (objective and KKT)', () => {
  for (const c of fx.lasso) {
    const Dm = dicts[c.dict];
    const ref = Matrix.from(c.Z);
    const refObj = c.objective.reduce((s: number, v: number) => s + v, 0) / c.objective.length;
    const solvers = {
      fista: () => fista(X, Dm, { lambda: c.lambda, nonneg: c.nonneg, iters: 20000, tol: 1e-7 }),
      ista: () => ista(X, Dm, { lambda: c.lambda, nonneg: c.nonneg, iters: 50000, tol: 1e-8 }),
      'lasso-cd': () => lassoCD(X, Dm, { lambda: c.lambda, nonneg: c.nonneg, tol: 1e-8, iters: 5000 }),
    };
    for (const [name, run] of Object.entries(solvers)) {
      const r = run();
      const what = `${name} ${c.dict} λ=${c.lambda} nonneg=${c.nonneg}`;
      assert.ok(r.converged, `${what}: not converged after ${r.iterations}`);
      assert.ok(Math.abs(r.objective! - refObj) <= 2e-5 * refObj, `${what}: objective ${r.objective} vs sklearn ${refObj}`);
      // the per-sample objectives, too (float32 codes: relative 1e-5)
      const per = lassoObjectives(X, Dm, r.Z, c.lambda);
      assertAllClose(per, c.objective, 3e-5, 1e-7, `${what} per-sample objective`);
      assertAllClose(r.Z.data, ref.data, 0, 2e-3, `${what} codes`);
      const kkt = kktViolation(X, Dm, r.Z, c.lambda, c.nonneg);
      assert.ok(kkt <= 2e-3 * Math.max(1, c.lambda), `${what}: KKT violation ${kkt}`);
      if (c.nonneg) assert.ok(r.Z.data.every((v) => v >= 0), `${what}: negative code`);
    }
  }
});

test('OMP equals scikit-learn orthogonal_mp (n_nonzero_coefs and tol variants)', () => {
  for (const c of fx.omp) {
    const Dm = dicts[c.dict];
    const r = omp(X, Dm, c.k !== null ? { k: c.k } : { tol: c.tol });
    assertAllClose(r.Z.data, Matrix.from(c.Z).data, 0, 2e-4, `omp ${c.dict} k=${c.k} tol=${c.tol}`);
    assert.ok(r.converged);
    if (c.k !== null) assert.equal(r.iterations, c.k);
    // the path without the Gram matrix (used for very large dictionaries) gives the same codes
    const ng = omp(X, Dm, c.k !== null ? { k: c.k, gram: false } : { tol: c.tol, gram: false });
    assertAllClose(ng.Z.data, Matrix.from(c.Z).data, 0, 2e-4, `omp without Gram ${c.dict} k=${c.k} tol=${c.tol}`);
  }
});

test('matching pursuit: independent float64 reference and the orthonormal closed form', () => {
  // reference MP with explicit residuals
  const k = 5;
  const r = matchingPursuit(X, Dn, { k });
  const a = Dn.rows, d = Dn.cols;
  for (let i = 0; i < X.rows; i++) {
    const res = Float64Array.from(X.row(i));
    const z = new Float64Array(a);
    for (let s = 0; s < k; s++) {
      let best = -1, lam = 0, coef = 0;
      for (let j = 0; j < a; j++) {
        let dot = 0, nn = 0;
        for (let c = 0; c < d; c++) { dot += Dn.get(j, c) * res[c]; nn += Dn.get(j, c) ** 2; }
        const score = Math.abs(dot) / Math.sqrt(nn);
        if (score > best) { best = score; lam = j; coef = dot / nn; }
      }
      z[lam] += coef;
      for (let c = 0; c < d; c++) res[c] -= coef * Dn.get(lam, c);
    }
    assertAllClose(r.Z.row(i), z, 1e-4, 1e-5, `mp row ${i}`);
  }
  assertAllClose(matchingPursuit(X, Dn, { k, gram: false }).Z.data, r.Z.data, 1e-4, 1e-5, 'mp without Gram');
  // orthonormal dictionary: MP = OMP = keep the k largest |<x, d_j>|
  const Q = Matrix.identity(6);
  const Xo = Matrix.from([[3, -1, 0.5, 2, 0, -4], [0.1, 0.2, -0.3, 0, 5, 1]]);
  const expect = [[3, 0, 0, 2, 0, -4], [0, 0, -0.3, 0, 5, 1]];
  const mp = matchingPursuit(Xo, Q, { k: 3 });
  assertAllClose(mp.Z.data, Matrix.from(expect).data, 0, 1e-6, 'mp orthonormal');
  const om = omp(Xo, Q, { k: 3 });
  assertAllClose(om.Z.data, Matrix.from(expect).data, 0, 1e-6, 'omp orthonormal');
  assert.equal(meanL0(om.Z), 3);
});

test('warm start and convergence flags', () => {
  const { D, X } = sparseProblem(64, 48, 24, 3);
  const cold = fista(X, D, { lambda: 0.05, iters: 3000, tol: 1e-6 });
  assert.ok(cold.converged && cold.iterations > 20 && cold.iterations < 3000, `cold: ${cold.iterations}`);
  const warm = fista(X, D, { lambda: 0.05, iters: 3000, tol: 1e-6, init: cold.Z });
  assert.ok(warm.converged && warm.iterations < cold.iterations / 4, `warm: ${warm.iterations} vs cold ${cold.iterations}`);
  assertAllClose(warm.Z.data, cold.Z.data, 0, 1e-3, 'warm vs cold codes');
  const short = fista(X, D, { lambda: 0.05, iters: 3, tol: 1e-6 });
  assert.equal(short.converged, false);
  assert.equal(short.iterations, 3);
  assert.ok(short.objective! > cold.objective!);
  // tol 0 runs exactly iters
  const fixed = fista(X, D, { lambda: 0.05, iters: 17, tol: 0 });
  assert.equal(fixed.iterations, 17);
  assert.equal(fixed.converged, false);
  // objective-based stopping reaches the same optimum
  const byObj = fista(X, D, { lambda: 0.05, iters: 3000, tol: 1e-9, stop: 'objective' });
  assert.ok(byObj.converged);
  assert.ok(Math.abs(byObj.objective! - cold.objective!) <= 1e-4 * cold.objective!);
  // lasso-cd warm start
  const cd = lassoCD(X, D, { lambda: 0.05, tol: 1e-8 });
  const cdWarm = lassoCD(X, D, { lambda: 0.05, tol: 1e-8, init: cd.Z });
  assert.ok(cdWarm.converged && cdWarm.iterations * 5 < cd.iterations, `cd warm sweeps ${cdWarm.iterations} vs cold ${cd.iterations}`);
  assert.ok(Math.abs(cd.objective! - cold.objective!) <= 1e-4 * cold.objective!);
  const cdShort = lassoCD(X, D, { lambda: 0.05, iters: 1 });
  assert.equal(cdShort.converged, false);
  // FISTA beats ISTA at equal iterations
  const f50 = fista(X, D, { lambda: 0.05, iters: 50, tol: 0 });
  const i50 = ista(X, D, { lambda: 0.05, iters: 50, tol: 0 });
  assert.ok(f50.objective! < i50.objective!);
});

test('Gram and two-GEMM gradient forms agree; the cost rule', () => {
  const { D, X } = sparseProblem(40, 60, 20, 5);
  const g = fista(X, D, { lambda: 0.1, iters: 200, tol: 0, gradient: 'gram' });
  const dd = fista(X, D, { lambda: 0.1, iters: 200, tol: 0, gradient: 'direct' });
  assert.equal(g.gradient, 'gram');
  assert.equal(dd.gradient, 'direct');
  assertAllClose(g.Z.data, dd.Z.data, 0, 1e-4, 'gram vs direct');
  assert.equal(chooseGradient(4096, 1024, 256, 100), 'direct'); // 4x overcomplete
  assert.equal(chooseGradient(4096, 256, 256, 100), 'gram');
  assert.equal(chooseGradient(4096, 60, 32, 100), 'gram'); // just under 2x overcomplete
  assert.equal(chooseGradient(4096, 64, 32, 100), 'direct'); // exactly 2x: equal per-iteration cost, gram pays setup
  assert.equal(chooseGradient(10, 4096, 64, 1), 'direct'); // few rows: forming G is not worth it
});

test('direct form through the nonzeros of sparse iterates equals the Gram form', async () => {
  await loadBackends({ quiet: true });
  // 512 atoms, 3 active per row: the iterates have far fewer than 512/16 nonzeros per row
  const { D, X } = sparseProblem(60, 512, 32, 11);
  for (const name of availableBackends()) {
    const b = getBackend(name)!;
    const g = fista(X, D, { lambda: 0.1, iters: 150, tol: 0, gradient: 'gram', backend: b, nonneg: true });
    const dd = fista(X, D, { lambda: 0.1, iters: 150, tol: 0, gradient: 'direct', backend: b, nonneg: true });
    assert.equal(g.sparseSteps, 0);
    assert.ok(dd.sparseSteps > 100, `${name}: ${dd.sparseSteps} of 150 steps through the nonzeros`);
    assertAllClose(dd.Z.data, g.Z.data, 0, 1e-4, `${name}: direct (sparse) vs gram`);
    assert.ok(Math.abs(dd.objective! - g.objective!) <= 1e-5 * g.objective!, `${name}: objectives ${dd.objective} vs ${g.objective}`);
  }
});

test('sparse-gram form (row by row through the nonzeros) equals the dense forms from a warm start; rows past the cap run dense', async () => {
  await loadBackends({ quiet: true });
  const { D, X, Z: truth } = sparseProblem(80, 400, 48, 21);
  // warm start: a converged solve on a slightly perturbed dictionary (as in DL-FISTA's alternation)
  const Dp = D.clone();
  const r = new Rng(3);
  for (let i = 0; i < Dp.size; i++) Dp.data[i] += 0.01 * r.normal();
  const warm = fista(X, Dp, { lambda: 0.1, iters: 300, tol: 0, nonneg: true, gradient: 'direct' }).Z;
  for (const name of availableBackends()) {
    const b = getBackend(name)!;
    for (const momentum of [true, false]) {
      const solve = momentum ? fista : ista;
      const opts = { lambda: 0.1, iters: 60, tol: 0, nonneg: true, init: warm, backend: b };
      const sg = solve(X, D, { ...opts, gradient: 'sparse-gram' });
      const dd = solve(X, D, { ...opts, gradient: 'direct' });
      assert.equal(sg.gradient, 'sparse-gram');
      assert.equal(sg.denseRows, 0, `${name}: every row stays sparse`);
      assert.equal(sg.iterations, 60);
      assertAllClose(sg.Z.data, dd.Z.data, 1e-5, 1e-4, `${name} momentum=${momentum}: sparse-gram vs direct`);
      assert.ok(Math.abs(sg.objective! - dd.objective!) <= 1e-5 * dd.objective!, `${name}: objectives ${sg.objective} vs ${dd.objective}`);
    }
    // signed codes, and a warm start with some rows far denser than the cap (max(8, 48/2) = 24): those run dense
    const init = warm.clone();
    for (const i of [3, 17, 42]) for (let j = 0; j < 400; j += 7) init.data[i * 400 + j] = 0.05;
    const opts = { lambda: 0.1, iters: 40, tol: 0, init, backend: b };
    const sg = fista(X, D, { ...opts, gradient: 'sparse-gram' });
    const dd = fista(X, D, { ...opts, gradient: 'direct' });
    assert.ok(sg.denseRows >= 3, `${name}: ${sg.denseRows} rows ran dense`);
    assert.ok(sg.denseRows < 80);
    assertAllClose(sg.Z.data, dd.Z.data, 1e-5, 1e-4, `${name}: sparse-gram with dense rows vs direct`);
  }
  // auto picks it for a sparse warm start at tol 0, never with a tolerance or without a warm start
  assert.equal(fista(X, D, { lambda: 0.1, iters: 60, tol: 0, nonneg: true, init: warm }).gradient, 'sparse-gram');
  assert.notEqual(fista(X, D, { lambda: 0.1, iters: 60, tol: 1e-6, nonneg: true, init: warm }).gradient, 'sparse-gram');
  assert.notEqual(fista(X, D, { lambda: 0.1, iters: 60, tol: 0, nonneg: true }).gradient, 'sparse-gram');
  assert.throws(() => fista(X, D, { lambda: 0.1, iters: 60, tol: 1e-6, init: warm, gradient: 'sparse-gram' }), (e: any) => e.code === 'E_ARG' && /tol: 0/.test(e.message));
  assert.ok(truth.rows === 80);
});

test('cost rule with a warm start: sparse-gram for sparse iterates, never past the cap or for a huge Gram', () => {
  assert.equal(chooseGradient(5000, 10000, 139, 100, 2), 'sparse-gram');
  assert.equal(chooseGradient(5000, 10000, 139, 100, 80), 'direct'); // past the cap ceil(139/2) = 70
  assert.equal(chooseGradient(5000, 10000, 139, 100), 'direct'); // no warm start
  assert.equal(chooseGradient(5000, 20000, 139, 100, 2), 'direct'); // I − G/L would take 1.6 GB
  assert.equal(chooseGradient(10, 4096, 64, 1, 1), 'direct'); // few rows, one iteration: forming G is not worth it
  assert.equal(chooseGradient(4096, 256, 256, 100, 4), 'sparse-gram');
});

test('every loaded backend gives the same codes', async () => {
  await loadBackends({ quiet: true });
  const names = availableBackends();
  const { D, X } = sparseProblem(50, 80, 32, 7);
  const ref = { f: fista(X, D, { lambda: 0.05, iters: 300, tol: 0, backend: getBackend('js') }), o: omp(X, D, { k: 4, backend: getBackend('js') }) };
  for (const name of names) {
    const b = getBackend(name)!;
    const f = fista(X, D, { lambda: 0.05, iters: 300, tol: 0, backend: b });
    assertAllClose(f.Z.data, ref.f.Z.data, 0, 2e-3, `fista on ${name}`);
    const fd = fista(X, D, { lambda: 0.05, iters: 300, tol: 0, backend: b, gradient: 'direct' });
    assertAllClose(fd.Z.data, ref.f.Z.data, 0, 2e-3, `fista direct on ${name}`);
    const c = lassoCD(X, D, { lambda: 0.05, backend: b });
    assert.ok(Math.abs(c.objective! - ref.f.objective!) <= 1e-3 * ref.f.objective!, `lasso-cd on ${name}`);
    const o = omp(X, D, { k: 4, backend: b });
    assertAllClose(o.Z.data, ref.o.Z.data, 0, 1e-3, `omp on ${name}`);
  }
});

test('encode dispatches to every method', () => {
  const { D, X } = sparseProblem(20, 30, 16, 9);
  const f = encode(X, D, { method: 'fista', lambda: 0.1, iters: 50, tol: 0 });
  assert.equal(f.method, 'fista');
  assertAllClose(f.Z.data, fista(X, D, { lambda: 0.1, iters: 50, tol: 0 }).Z.data, 0, 0);
  assert.equal(encode(X, D, { method: 'omp', k: 2 }).iterations, 2);
  assert.equal(meanL0(encode(X, D, { method: 'mp', k: 1 }).Z), 1);
  const cd = encode(X, D, { method: 'lasso-cd', lambda: 0.1, nonneg: true });
  assert.ok(cd.Z.data.every((v) => v >= 0));
  assert.ok(encode(X, D, { method: 'ista', lambda: 0.1, iters: 10 }).objective! > 0);
  assertThrowsCode(() => encode(X, D, { method: 'fista' }), 'E_ARG', /needs lambda/);
  assertThrowsCode(() => encode(X, D, { method: 'mp' }), 'E_ARG', /needs k/);
  assertThrowsCode(() => encode(X, D, { method: 'fista', lambda: 0.1, k: 3 }), 'E_ARG', /k applies to omp and mp/);
  assertThrowsCode(() => encode(X, D, { method: 'omp', k: 2, nonneg: true }), 'E_ARG', /nonneg/);
  assertThrowsCode(() => encode(X, D, { method: 'nope' as any, lambda: 1 }), 'E_ARG', /unknown method/);
});

test('bad input gives clear errors', () => {
  const Xw = new Matrix(3, 512);
  const Dw = new Matrix(4, 768);
  Dw.data.fill(1);
  assertThrowsCode(() => fista(Xw, Dw, { lambda: 0.1 }), 'E_SHAPE', /^shape mismatch: X has 512 columns, dictionary has 768$/);
  assertThrowsCode(() => omp(Xw, Dw, { k: 1 }), 'E_SHAPE', /X has 512 columns, dictionary has 768/);
  const { D, X } = sparseProblem(5, 8, 4, 1);
  assertThrowsCode(() => fista(X, D, { lambda: -1 }), 'E_ARG', /lambda/);
  assertThrowsCode(() => lassoCD(X, D, { lambda: NaN }), 'E_ARG', /lambda/);
  assertThrowsCode(() => ista(X, D, { lambda: 0.1, iters: 0 }), 'E_ARG', /iters/);
  assertThrowsCode(() => fista(X, D, { lambda: 0.1, tol: -1 }), 'E_ARG', /tol/);
  assertThrowsCode(() => omp(X, D, { k: 9 }), 'E_ARG', /k must be an integer in \[1, 8\]/);
  assertThrowsCode(() => matchingPursuit(X, D, { k: 0 }), 'E_ARG', /k/);
  assertThrowsCode(() => fista(X, D, { lambda: 0.1, init: new Matrix(5, 7) }), 'E_SHAPE', /init codes are \[5 x 7\], expected \[5 x 8\]/);
  const Xbad = X.clone();
  Xbad.set(2, 1, NaN);
  assertThrowsCode(() => fista(Xbad, D, { lambda: 0.1 }), 'E_NONFINITE', /X has a non-finite value \(NaN\) at row 2, column 1/);
  const Dz = D.clone();
  Dz.row(5).fill(0);
  assertThrowsCode(() => lassoCD(X, Dz, { lambda: 0.1 }), 'E_ARG', /atom 5 has zero norm/);
  assertThrowsCode(() => omp(X, Dz, { k: 2 }), 'E_ARG', /atom 5 has zero norm/);
  // FISTA refuses a zero atom unless asked; allowed, its codes are 0 and the rest are the codes
  // of the dictionary without it (the same Lipschitz constant: a zero row adds nothing to ||D||₂)
  assertThrowsCode(() => fista(X, Dz, { lambda: 0.1 }), 'E_ARG', /atom 5 has zero norm/);
  const withZero = fista(X, Dz, { lambda: 0.1, iters: 200, tol: 0, nonneg: true, allowZeroAtoms: true });
  const keep = [0, 1, 2, 3, 4, 6, 7];
  const without = fista(X, D.takeRows(keep), { lambda: 0.1, iters: 200, tol: 0, nonneg: true });
  for (let i = 0; i < X.rows; i++) {
    assert.equal(withZero.Z.get(i, 5), 0);
    keep.forEach((a, c) => assert.ok(Math.abs(withZero.Z.get(i, a) - without.Z.get(i, c)) < 1e-5, `row ${i} atom ${a}`));
  }
  // lambda = 0 is allowed (least squares); empty batches work
  assert.equal(fista(new Matrix(0, 4), D, { lambda: 0 }).Z.rows, 0);
});
