import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearSumAssignment } from '../src/linalg/hungarian.js';
import { cholesky, choleskySolveInPlace, solveSPD } from '../src/linalg/cholesky.js';
import { availableBackends, getBackend, loadBackends } from '../src/backend/index.js';
import { spectralNormSquared } from '../src/linalg/power.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

function bruteForce(cost: number[], r: number, c: number): number {
  // minimal total over injective maps from the smaller side
  const small = Math.min(r, c), big = Math.max(r, c);
  const at = (i: number, j: number) => (r <= c ? cost[i * c + j] : cost[j * c + i]);
  let best = Infinity;
  const used = new Array(big).fill(false);
  const rec = (i: number, acc: number) => {
    if (i === small) { best = Math.min(best, acc); return; }
    for (let j = 0; j < big; j++) if (!used[j]) { used[j] = true; rec(i + 1, acc + at(i, j)); used[j] = false; }
  };
  rec(0, 0);
  return best;
}

test('Hungarian equals brute force on random square and rectangular problems', () => {
  const rng = new Rng(11);
  for (const [r, c] of [[1, 1], [3, 3], [4, 6], [6, 4], [5, 5], [2, 7], [7, 2], [6, 6]]) {
    for (let t = 0; t < 5; t++) {
      const cost = Array.from({ length: r * c }, () => Math.round(rng.uniform() * 20) - 5);
      const { rowInd, colInd } = linearSumAssignment(cost, r, c);
      assert.equal(rowInd.length, Math.min(r, c));
      assert.equal(new Set(colInd).size, colInd.length);
      assert.equal(new Set(rowInd).size, rowInd.length);
      let total = 0;
      for (let i = 0; i < rowInd.length; i++) total += cost[rowInd[i] * c + colInd[i]];
      assert.equal(total, bruteForce(cost, r, c), `${r}x${c}`);
      for (let i = 1; i < rowInd.length; i++) assert.ok(rowInd[i] > rowInd[i - 1]);
    }
  }
  const neg = [1, 2, 3, 9];
  const mx = linearSumAssignment(neg, 2, 2, { maximize: true });
  assert.deepEqual(Array.from(mx.colInd), [0, 1]);
  assertThrowsCode(() => linearSumAssignment([NaN], 1, 1), 'E_NONFINITE');
  assertThrowsCode(() => linearSumAssignment([1, 2], 2, 2), 'E_SHAPE');
});

test('Cholesky reconstructs A and solves A x = b', () => {
  const n = 12;
  const X = randMatrix(30, n, 4);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < 30; t++) s += X.get(t, i) * X.get(t, j);
    A[i * n + j] = s + (i === j ? 0.1 : 0);
  }
  const L = cholesky(A, n);
  const R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < n; t++) s += L[i * n + t] * L[j * n + t];
    R[i * n + j] = s;
  }
  assertAllClose(R, A, 1e-10, 1e-10, 'L L^T');
  const xTrue = Float64Array.from({ length: n * 2 }, (_, i) => Math.sin(i));
  const b = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) for (let c = 0; c < 2; c++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += A[i * n + j] * xTrue[j * 2 + c];
    b[i * 2 + c] = s;
  }
  assertAllClose(solveSPD(A, n, b, 2), xTrue, 1e-8, 1e-8, 'solve');
  assertThrowsCode(() => cholesky([1, 2, 2, 1], 2), 'E_ARG', /positive definite/);
});

test('power iteration gives the squared spectral norm of a known matrix', () => {
  // D = U diag(s) V^T with orthonormal U, V built from Householder reflections.
  const D = Matrix.from([[3, 0, 0], [0, 1, 0], [0, 0, 0.5], [0, 0, 0]]);
  assert.ok(Math.abs(spectralNormSquared(D) - 9) < 1e-8);
  assert.ok(Math.abs(spectralNormSquared(D.transpose()) - 9) < 1e-8);
  // random: compare with the largest eigenvalue from many plain iterations of the other Gram
  const R = randMatrix(40, 15, 8);
  const l1 = spectralNormSquared(R), l2 = spectralNormSquared(R.transpose());
  assert.ok(Math.abs(l1 - l2) / l1 < 1e-8);
  assert.equal(spectralNormSquared(new Matrix(0, 4)), 0);
});

/** The O(n²m) Hungarian method with potentials (e-maxx form): an independent reference for larger problems. */
function hungarianReference(cost: ArrayLike<number>, rows: number, cols: number, sign: number): number {
  const tr = rows > cols;
  const n = tr ? cols : rows, m = tr ? rows : cols;
  const at = (i: number, j: number) => sign * (tr ? cost[j * cols + i] : cost[i * cols + j]);
  const u = new Float64Array(n + 1), v = new Float64Array(m + 1), p = new Int32Array(m + 1), way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
        if (minv[j] < delta) { delta = minv[j]; j1 = j; }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) { u[p[j]] += delta; v[j] -= delta; } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do { const j1 = way[j0]; p[j0] = p[j1]; j0 = j1; } while (j0);
  }
  let total = 0;
  for (let j = 1; j <= m; j++) if (p[j]) total += at(p[j] - 1, j - 1);
  return sign * total;
}

test('linearSumAssignment (JV: greedy start, augmenting row reduction, shortest augmenting paths) equals the Hungarian method on larger problems', () => {
  const rng = new Rng(23);
  for (const [r, c] of [[40, 40], [30, 70], [70, 30], [90, 90], [1, 50], [50, 1], [200, 200], [150, 260]]) {
    for (const kind of ['int', 'float', 'corr'] as const) {
      const cost = new Float64Array(r * c);
      for (let i = 0; i < cost.length; i++) cost[i] = kind === 'int' ? Math.round(rng.uniform() * 6) : Math.abs(rng.normal()) * 0.05;
      if (kind === 'corr') {
        // |correlation|-like: a dominant entry for most rows, some rows competing for the same column
        const perm = rng.permutation(Math.max(r, c));
        for (let i = 0; i < Math.min(r, c); i++) {
          const j = i % 4 === 3 ? perm[0] % c : perm[i] % c;
          cost[(r <= c ? i : perm[i] % r) * c + (r <= c ? j : i)] = 0.5 + 0.5 * rng.uniform();
        }
      }
      for (const maximize of [false, true]) {
        const { rowInd, colInd } = linearSumAssignment(cost, r, c, { maximize });
        assert.equal(rowInd.length, Math.min(r, c));
        assert.equal(new Set(colInd).size, colInd.length, 'columns unique');
        for (let i = 1; i < rowInd.length; i++) assert.ok(rowInd[i] > rowInd[i - 1], 'sorted by row');
        let total = 0;
        for (let i = 0; i < rowInd.length; i++) total += cost[rowInd[i] * c + colInd[i]];
        const ref = hungarianReference(cost, r, c, maximize ? -1 : 1);
        assert.ok(Math.abs(total - ref) <= 1e-9 * Math.max(1, Math.abs(ref)), `${r}x${c} ${kind} maximize=${maximize}: ${total} vs ${ref}`);
      }
    }
  }
  // float32 input, as the metrics pass it sometimes
  const f32 = new Float32Array(25 * 25).map(() => rng.uniform());
  const res = linearSumAssignment(f32, 25, 25);
  let t32 = 0;
  for (let i = 0; i < 25; i++) t32 += f32[res.rowInd[i] * 25 + res.colInd[i]];
  assert.ok(Math.abs(t32 - hungarianReference(f32, 25, 25, 1)) < 1e-9);
});

test('choleskySolveInPlace (LAPACK through the native backend, blocked JS otherwise) solves SPD systems and names a bad pivot', async () => {
  await loadBackends({ quiet: true });
  const rng = new Rng(5);
  for (const name of availableBackends()) {
    const bk = getBackend(name)!;
    for (const [n, r] of [[0, 2], [1, 1], [7, 0], [7, 3], [130, 5]]) {
      // A = MᵀM + I (SPD), float64
      const m = n + 3;
      const M = new Float64Array(m * n).map(() => rng.normal());
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = i === j ? 1 : 0;
        for (let t = 0; t < m; t++) s += M[t * n + i] * M[t * n + j];
        A[i * n + j] = s;
      }
      const B = new Float64Array(n * r).map(() => rng.normal());
      const a = A.slice(), x = B.slice();
      assert.equal(choleskySolveInPlace(a, n, x, r, bk), -1, `${name} n=${n}`);
      // A·X = B
      for (let i = 0; i < n; i++) for (let c = 0; c < r; c++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[i * n + k] * x[k * r + c];
        assert.ok(Math.abs(s - B[i * r + c]) <= 1e-9 * (1 + Math.abs(B[i * r + c])), `${name} n=${n} residual ${s - B[i * r + c]}`);
      }
      // the lower triangle holds L with L·Lᵀ = A, and equals the column-form factor
      const L = cholesky(A, n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) assert.ok(Math.abs(a[i * n + j] - L[i * n + j]) <= 1e-10 * (1 + Math.abs(L[i * n + j])), `${name} n=${n} L[${i},${j}]`);
    }
    // not positive definite at pivot 1 (and 2 x 2 principal minor negative)
    const bad = new Float64Array([1, 2, 0, 2, 1, 0, 0, 0, 1]);
    assert.equal(choleskySolveInPlace(bad, 3, new Float64Array(3), 1, bk), 1, `${name}: first bad pivot`);
    assert.equal(choleskySolveInPlace(new Float64Array([1, 0, 0, NaN]), 2, new Float64Array(2), 1, bk), 1, `${name}: NaN pivot`);
  }
  assertThrowsCode(() => choleskySolveInPlace(new Float64Array(3), 2, new Float64Array(2), 1), 'E_SHAPE');
});
