import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lbfgsMinimize, type LbfgsStatus } from '../src/optim/lbfgs.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

/** Fixtures: SciPy's minimize(method="L-BFGS-B") (test/fixtures/optim/gen_lbfgs.py). */
const FIX = JSON.parse(readFileSync(new URL('./fixtures/optim/lbfgs.json', import.meta.url), 'utf8'));

interface SciPyResult { x: number[]; fun: number; nit: number; nfev: number; success: boolean; message: string }

const STATUS: Record<string, LbfgsStatus> = {
  'CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL': 'gtol',
  'CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH': 'ftol',
  'STOP: TOTAL NO. of ITERATIONS REACHED LIMIT': 'maxiter',
  ABNORMAL_TERMINATION_IN_LNSRCH: 'linesearch',
};

/** scipy.optimize.rosen / rosen_der */
function rosen(x: Float64Array, g: Float64Array): number {
  const n = x.length;
  let f = 0;
  for (let i = 0; i < n - 1; i++) f += 100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2;
  g.fill(0);
  for (let i = 0; i < n; i++) {
    if (i > 0) g[i] += 200 * (x[i] - x[i - 1] * x[i - 1]);
    if (i < n - 1) g[i] += -400 * x[i] * (x[i + 1] - x[i] * x[i]) - 2 * (1 - x[i]);
  }
  return f;
}

function optionsOf(o: Record<string, number>) {
  return { memory: o.maxcor, gtol: o.gtol, ftol: o.ftol, maxIter: o.maxiter, maxls: o.maxls };
}

test('lbfgsMinimize matches SciPy L-BFGS-B on Rosenbrock: minimiser, iterations, evaluations, status', () => {
  for (const c of FIX.rosenbrock as { name: string; x0: number[]; options: Record<string, number>; result: SciPyResult }[]) {
    const r = lbfgsMinimize(rosen, Float64Array.from(c.x0), optionsOf(c.options));
    assert.equal(r.status, STATUS[c.result.message], `${c.name}: status`);
    assert.equal(r.converged, c.result.success, `${c.name}: converged`);
    assert.equal(r.iterations, c.result.nit, `${c.name}: iterations`);
    assert.equal(r.evaluations, c.result.nfev, `${c.name}: evaluations`);
    assertAllClose(r.x, c.result.x, 1e-6, 1e-7, `${c.name}: x`);
    assert.ok(Math.abs(r.f - c.result.fun) <= 1e-9 * Math.max(1, Math.abs(c.result.fun)) + 1e-14, `${c.name}: f ${r.f} vs ${c.result.fun}`);
  }
});

test('logisticProbe (lbfgs) is SciPy L-BFGS-B on the mean log-loss with scikit-learn options: where it stops, separable or not', async () => {
  const { logisticProbe } = await import('../src/metrics/logistic-probe.js');
  const { Matrix } = await import('../src/core/matrix.js');
  for (const c of FIX.logistic as { name: string; X: number[][]; y: number[]; Xtest: number[][]; yTest: number[]; l2: number; options: Record<string, number>; result: SciPyResult; trainAccuracy: number; testAccuracy: number }[]) {
    const r = logisticProbe(Matrix.from(c.X), c.y, Matrix.from(c.Xtest), c.yTest, { l2: c.l2, tol: c.options.gtol, maxIter: c.options.maxiter });
    const d = c.X[0].length;
    assert.equal(r.status, STATUS[c.result.message], `${c.name}: status`);
    assert.equal(r.iterations, c.result.nit, `${c.name}: iterations`);
    assertAllClose(r.weights, c.result.x.slice(0, d), 1e-6, 1e-8, `${c.name}: weights`);
    assertAllClose([r.bias], [c.result.x[d]], 1e-6, 1e-8, `${c.name}: bias`);
    assert.ok(Math.abs(r.loss - c.result.fun) <= 1e-10 * Math.max(1, c.result.fun), `${c.name}: loss ${r.loss} vs ${c.result.fun}`);
    assert.equal(r.trainAccuracy, c.trainAccuracy, `${c.name}: train accuracy`);
    assert.equal(r.accuracy, c.testAccuracy, `${c.name}: test accuracy`);
  }
});

test('lbfgsMinimize: quadratic in one step pair, bad options and non-finite starts refused, callback stop, abort', () => {
  // f = ½ Σ c_i x_i², minimum at 0: L-BFGS finds it and the gradient test ends the run
  const c = Float64Array.from([1, 10, 100, 3]);
  const quad = (x: Float64Array, g: Float64Array) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      g[i] = c[i] * x[i];
      f += 0.5 * c[i] * x[i] * x[i];
    }
    return f;
  };
  const r = lbfgsMinimize(quad, Float64Array.from([1, -2, 0.5, 3]), { gtol: 1e-10, ftol: 0 });
  assert.equal(r.status, 'gtol');
  assert.ok(r.converged && r.gradMax <= 1e-10);
  assertAllClose(r.x, [0, 0, 0, 0], 0, 1e-10);
  // already optimal: no iteration
  const z = lbfgsMinimize(quad, new Float64Array(4));
  assert.equal(z.iterations, 0);
  assert.equal(z.evaluations, 1);
  // a callback can stop it
  const cb = lbfgsMinimize(quad, Float64Array.from([1, -2, 0.5, 3]), { gtol: 1e-12, onIteration: (it) => it.iteration < 2 });
  assert.equal(cb.status, 'callback');
  assert.equal(cb.iterations, 2);
  assertThrowsCode(() => lbfgsMinimize(quad, Float64Array.from([NaN, 0, 0, 0])), 'E_NONFINITE', /x0\[0\]/);
  assertThrowsCode(() => lbfgsMinimize(() => NaN, new Float64Array(2)), 'E_NONFINITE', /not finite/);
  assertThrowsCode(() => lbfgsMinimize(quad, new Float64Array(0)), 'E_ARG', /empty/);
  assertThrowsCode(() => lbfgsMinimize(quad, new Float64Array(4), { memory: 0 }), 'E_ARG', /memory/);
  assertThrowsCode(() => lbfgsMinimize(quad, new Float64Array(4), { gtol: -1 }), 'E_ARG', /gtol/);
  const ac = new AbortController();
  ac.abort();
  assertThrowsCode(() => lbfgsMinimize(quad, Float64Array.from([1, 1, 1, 1]), { signal: ac.signal }), 'E_CANCELLED');
  // an objective that is infinite away from the start: the search steps back and still descends
  const wall = (x: Float64Array, g: Float64Array) => {
    if (Math.abs(x[0]) > 2) {
      g[0] = NaN;
      return Infinity;
    }
    g[0] = 2 * (x[0] - 1.5);
    return (x[0] - 1.5) ** 2;
  };
  const w = lbfgsMinimize(wall, Float64Array.from([-1.9]), { gtol: 1e-9 });
  assert.ok(Math.abs(w.x[0] - 1.5) < 1e-6, `${w.x[0]}`);
});
