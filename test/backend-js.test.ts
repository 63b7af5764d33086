import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend } from '../src/backend/js/index.js';
import { matmul, SparseLeftProduct, topkRows } from '../src/backend/ops.js';
import { Matrix } from '../src/core/matrix.js';
import { assertAllClose, assertThrowsCode, randMatrix, refGemm } from './helpers.js';

test('js sgemm equals a naive float64 product for every transpose, alpha and beta', () => {
  const shapes = [[1, 1, 1], [3, 5, 7], [17, 1, 13], [1, 19, 2], [33, 31, 29], [64, 3, 100]];
  for (const [m, n, k] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
        const a = randMatrix(1, m * k, m + n).data;
        const b = randMatrix(1, k * n, k + 1).data;
        const c = randMatrix(1, m * n, 5).data;
        const exp = refGemm(tA, tB, m, n, k, alpha, a, b, beta, c);
        const got = c.slice();
        jsBackend.sgemm(tA, tB, m, n, k, alpha, a, tA ? m : k, b, tB ? k : n, beta, got, n);
        assertAllClose(got, exp, 1e-4, 1e-4, `gemm ${m}x${n}x${k} tA=${tA} tB=${tB}`);
      }
    }
  }
});

test('sgemm with beta = 0 ignores NaN already in C; k = 0 gives beta*C', () => {
  const c = new Float32Array([NaN, NaN]);
  jsBackend.sgemm(false, false, 1, 2, 1, 1, new Float32Array([2]), 1, new Float32Array([3, 4]), 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [6, 8]);
  const c2 = new Float32Array([1, 2]);
  jsBackend.sgemm(false, false, 1, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 3, c2, 2);
  assert.deepEqual(Array.from(c2), [3, 6]);
});

test('matmul validates shapes and handles empty matrices', () => {
  const A = randMatrix(4, 3), B = randMatrix(5, 3);
  assertThrowsCode(() => matmul(A, B), 'E_SHAPE', /inner dimensions/);
  const C = matmul(A, B, { transB: true });
  assert.deepEqual(C.shape, [4, 5]);
  assertThrowsCode(() => matmul(A, B, { transB: true, out: new Matrix(5, 4) }), 'E_SHAPE');
  assert.deepEqual(matmul(new Matrix(0, 3), B, { transB: true }).shape, [0, 5]);
  const Z = matmul(new Matrix(2, 0), new Matrix(0, 3));
  assert.deepEqual(Array.from(Z.data), [0, 0, 0, 0, 0, 0]);
});

test('top-k: descending, ties to the lower index, k >= width', () => {
  const X = Matrix.from([[1, 3, 3, 2], [0, 0, 0, 0], [-1, -5, 7, 7]]);
  const r = topkRows(X, 2, undefined, jsBackend);
  assert.deepEqual(Array.from(r.idx), [1, 2, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(r.val), [3, 3, 0, 0, 7, 7]);
  const all = topkRows(X, 10, undefined, jsBackend);
  assert.equal(all.k, 4);
  assert.deepEqual(Array.from(all.idx.subarray(8, 12)), [2, 3, 0, 1]);
  // against a sort on random data
  const R = randMatrix(50, 37, 9);
  const t = topkRows(R, 5, undefined, jsBackend);
  for (let i = 0; i < 50; i++) {
    const order = Array.from(R.row(i)).map((v, j) => [v, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
    assert.deepEqual(Array.from(t.idx.subarray(i * 5, i * 5 + 5)), order.map((o) => o[1]));
  }
});

test('elementwise ops and reductions match closed forms', () => {
  const x = new Float32Array([-3, -0.5, 0, 0.5, 3]);
  const out = new Float32Array(5);
  jsBackend.softThreshold(x, 1, false, out);
  assert.deepEqual(Array.from(out), [-2, 0, 0, 0, 2]);
  jsBackend.softThreshold(x, 1, true, out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0, 2]);
  jsBackend.relu(x, out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0.5, 3]);
  const y = new Float32Array([1, 1, 1, 1, 1]);
  jsBackend.axpby(2, x, 3, y);
  assert.deepEqual(Array.from(y), [-3, 2, 3, 4, 9]);
  jsBackend.extrapolate(new Float32Array([1, 2]), new Float32Array([0, 4]), 0.5, out.subarray(0, 2));
  assert.deepEqual(Array.from(out.subarray(0, 2)), [1.5, 1]);
  const M = new Float32Array([1, 2, 3, 4, 5, 6]);
  const rs = new Float64Array(2), cs = new Float64Array(3);
  jsBackend.sumRows(M, 2, 3, rs);
  jsBackend.sumCols(M, 2, 3, cs);
  assert.deepEqual(Array.from(rs), [6, 15]);
  assert.deepEqual(Array.from(cs), [5, 7, 9]);
  assert.equal(jsBackend.sumSquares(M), 91);
  jsBackend.addRowVector(M, 2, 3, new Float32Array([1, 0, -1]), 2);
  assert.deepEqual(Array.from(M), [3, 2, 1, 6, 5, 4]);
});

test('compressRows lists each row\'s nonzeros in column order and reports the largest count', () => {
  const x = new Float32Array([0, 2, 0, -3, /* row 1 */ 0, 0, 0, 0, /* row 2 */ 1, -0, NaN, 4]);
  const idx = new Int32Array(9).fill(7), val = new Float32Array(9).fill(7);
  assert.equal(jsBackend.compressRows(x, 3, 4, 3, idx, val), 3);
  assert.deepEqual(Array.from(idx), [1, 3, -1, -1, -1, -1, 0, 2, 3]);
  assert.deepEqual(Array.from(val), [2, -3, 0, 0, 0, 0, 1, NaN, 4]);
  // a row over k: the count says so, the first k are kept
  const i2 = new Int32Array(6), v2 = new Float32Array(6);
  assert.equal(jsBackend.compressRows(x, 3, 4, 2, i2, v2), 3);
  assert.deepEqual(Array.from(i2.subarray(4)), [0, 2]);
  // SparseLeftProduct: the product of the compressed rows equals the dense product
  const A = new Matrix(3, 4, x.map((v) => (Number.isNaN(v) ? 5 : v)));
  const B = randMatrix(4, 6, 9);
  const want = matmul(A, B);
  const out = new Matrix(3, 6);
  const sp = new SparseLeftProduct(3, 4, 3);
  assert.equal(sp.multiply(A, B, 0, out, jsBackend), true);
  assertAllClose(out.data, want.data, 1e-6, 1e-6, 'SparseLeftProduct sparse path');
  const dense = new SparseLeftProduct(3, 4, 2);
  out.data.fill(1);
  assert.equal(dense.multiply(A, B, 1, out, jsBackend), false, 'a row with 3 nonzeros > maxNnz 2 takes the GEMM');
  assertAllClose(out.data, want.data.map((v) => v + 1), 1e-6, 1e-6, 'SparseLeftProduct dense path, beta = 1');
  assert.throws(() => sp.multiply(randMatrix(2, 4, 1), B, 0, out, jsBackend), /built for \[3 x 4\]/);
});

test('sparse gather-decode, gather-dot and scatter equal their dense forms', () => {
  const rows = 6, atoms = 9, dim = 5, k = 3;
  const D = randMatrix(atoms, dim, 1);
  const G = randMatrix(rows, dim, 2);
  const idx = new Int32Array([0, 4, 8, 1, 1 + 1, -1, 3, 5, 7, 8, 0, 2, -1, -1, -1, 6, 2, 4]);
  const val = randMatrix(1, rows * k, 3).data;
  const dense = new Matrix(rows, atoms);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) if (idx[i * k + j] >= 0) dense.data[i * atoms + idx[i * k + j]] += val[i * k + j];
  const out = new Float32Array(rows * dim).fill(7);
  jsBackend.gatherDecode(idx, val, rows, k, D.data, dim, 0, out);
  assertAllClose(out, matmul(dense, D).data, 1e-5, 1e-6, 'gatherDecode');
  const dots = new Float32Array(rows * k);
  jsBackend.gatherDot(idx, rows, k, G.data, D.data, dim, dots);
  const GD = matmul(G, D, { transB: true });
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) {
    const a = idx[i * k + j];
    assert.ok(Math.abs(dots[i * k + j] - (a < 0 ? 0 : GD.get(i, a))) < 1e-5);
  }
  const grad = new Float32Array(atoms * dim);
  jsBackend.scatterOuter(idx, val, rows, k, G.data, dim, grad);
  assertAllClose(grad, matmul(dense, G, { transA: true }).data, 1e-5, 1e-6, 'scatterOuter');
});
