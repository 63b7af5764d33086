import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jsBackend } from '../src/backend/js/index.js';
import { loadWasmBackend } from '../src/backend/wasm/index.js';
import { Rng } from '../src/core/rng.js';
import { assertAllClose, refGemm } from './helpers.js';

// These tests need the built kernels: `npm run build` (npm ci runs it) writes dist/wasm/.
const one = await loadWasmBackend({ threads: 1 });
const two = await loadWasmBackend({ threads: 2 });
const root = fileURLToPath(new URL('..', import.meta.url));

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  new Rng(seed).fillNormal(a);
  return a;
}

/** op(A) [m x k] stored with row stride lda >= its width, padding filled with junk. */
function strided(rows: number, cols: number, ld: number, seed: number): Float32Array {
  const a = rand(rows * ld, seed);
  const dense = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) dense[i * cols + j] = a[i * ld + j];
  return a;
}
function dense(a: Float32Array, rows: number, cols: number, ld: number): Float32Array {
  const d = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) d[i * cols + j] = a[i * ld + j];
  return d;
}

test('wasm sgemm matches a float64 reference for transposes, alpha/beta and leading dimensions', () => {
  const shapes = [[1, 1, 1], [3, 5, 7], [4, 8, 256], [5, 9, 257], [17, 1, 13], [1, 19, 2], [2, 40, 33], [40, 7, 9], [33, 31, 29], [130, 70, 300]];
  for (const [m, n, k] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
        const [ar, ac] = tA ? [k, m] : [m, k];
        const [br, bc] = tB ? [n, k] : [k, n];
        const lda = ac + 3, ldb = bc + 1, ldc = n + 2;
        const a = strided(ar, ac, lda, m + n);
        const b = strided(br, bc, ldb, k + 1);
        const c = rand(m * ldc, 5);
        const exp = refGemm(tA, tB, m, n, k, alpha, dense(a, ar, ac, lda), dense(b, br, bc, ldb), beta, dense(c, m, n, ldc));
        for (const be of [one, two]) {
          const got = c.slice();
          be.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc);
          assertAllClose(dense(got, m, n, ldc), exp, 1e-4, 1e-4, `wasm gemm ${m}x${n}x${k} tA=${tA} tB=${tB} a=${alpha} b=${beta} threads=${be.threads}`);
          // the gaps between rows of C (ldc > n) are left alone
          for (let i = 0; i < m; i++) for (let j = n; j < ldc && i * ldc + j < c.length; j++) assert.equal(got[i * ldc + j], c[i * ldc + j]);
        }
      }
    }
  }
});

test('wasm sgemm: beta = 0 ignores NaN in C; k = 0 and alpha = 0 give beta*C', () => {
  for (const be of [one, two]) {
    const c = new Float32Array([NaN, NaN]);
    be.sgemm(false, false, 1, 2, 1, 1, new Float32Array([2]), 1, new Float32Array([3, 4]), 2, 0, c, 2);
    assert.deepEqual(Array.from(c), [6, 8]);
    const c2 = new Float32Array([1, 2]);
    be.sgemm(false, false, 1, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 3, c2, 2);
    assert.deepEqual(Array.from(c2), [3, 6]);
    const c3 = new Float32Array([1, 2]);
    be.sgemm(false, false, 1, 2, 1, 0, new Float32Array([NaN]), 1, new Float32Array([3, 4]), 2, 0.5, c3, 2);
    assert.deepEqual(Array.from(c3), [0.5, 1]);
  }
});

test('1 and 2 threads give bit-identical results (GEMM and the sparse kernels)', () => {
  const shapes = [[300, 260, 200, false, false], [257, 129, 300, true, true], [64, 1000, 70, false, true],
    // thin products (m < 4 or n < 8) take another path; split across threads it must agree too
    [2, 3000, 1000, false, false], [3, 2000, 900, true, true], [3000, 5, 800, true, false], [2500, 7, 900, false, false]] as const;
  for (const [m, n, k, tA, tB] of shapes) {
    const a = rand(m * k, 1), b = rand(k * n, 2), c = rand(m * n, 3);
    const c1 = c.slice(), c2 = c.slice();
    one.sgemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, 0.5, c1, n);
    two.sgemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, 0.5, c2, n);
    assert.deepEqual(c2, c1, `gemm ${m}x${n}x${k}`);
  }
  const rows = 700, k = 16, atoms = 300, dim = 200;
  const rng = new Rng(9);
  const idx = new Int32Array(rows * k).map(() => (rng.uniform() < 0.1 ? -1 : rng.int(atoms)));
  const val = rand(rows * k, 4), d = rand(atoms * dim, 5), g = rand(rows * dim, 6);
  const dec1 = rand(rows * dim, 7), dec2 = dec1.slice();
  one.gatherDecode(idx, val, rows, k, d, dim, 0.5, dec1);
  two.gatherDecode(idx, val, rows, k, d, dim, 0.5, dec2);
  assert.deepEqual(dec2, dec1);
  const dot1 = new Float32Array(rows * k), dot2 = new Float32Array(rows * k);
  one.gatherDot(idx, rows, k, g, d, dim, dot1);
  two.gatherDot(idx, rows, k, g, d, dim, dot2);
  assert.deepEqual(dot2, dot1);
  const gd1 = rand(atoms * dim, 8), gd2 = gd1.slice();
  one.scatterOuter(idx, val, rows, k, g, dim, gd1);
  two.scatterOuter(idx, val, rows, k, g, dim, gd2);
  assert.deepEqual(gd2, gd1);
  const x = rand(2000 * 300, 10);
  const ti1 = new Int32Array(2000 * 20), tv1 = new Float32Array(2000 * 20), ti2 = ti1.slice(), tv2 = tv1.slice();
  one.topkRows(x, 2000, 300, 20, ti1, tv1);
  two.topkRows(x, 2000, 300, 20, ti2, tv2);
  assert.deepEqual(ti2, ti1);
  assert.deepEqual(tv2, tv1);
});

test('element-wise kernels and column sums agree with js bit for bit', () => {
  const n = 1003;
  const x = rand(n, 11);
  x[3] = NaN; x[10] = 0.3; x[11] = -0.3; x[12] = -0; x[13] = Infinity; x[14] = -Infinity;
  for (const nonneg of [false, true]) {
    const e = new Float32Array(n), g = new Float32Array(n);
    jsBackend.softThreshold(x, 0.3, nonneg, e);
    two.softThreshold(x, 0.3, nonneg, g);
    assert.deepEqual(g, e, `softThreshold nonneg=${nonneg}`);
  }
  const inPlace = x.slice();
  two.softThreshold(inPlace, 0.1, false, inPlace);
  const expIn = new Float32Array(n);
  jsBackend.softThreshold(x, 0.1, false, expIn);
  assert.deepEqual(inPlace, expIn, 'softThreshold in place');
  const r1 = new Float32Array(n), r2 = new Float32Array(n);
  jsBackend.relu(x, r1);
  two.relu(x, r2);
  assert.deepEqual(r2, r1);
  const y = rand(n, 12), y1 = y.slice(), y2 = y.slice();
  jsBackend.axpby(0.3, x, -1.7, y1);
  two.axpby(0.3, x, -1.7, y2);
  assert.deepEqual(y2, y1);
  const zp = rand(n, 13), o1 = new Float32Array(n), o2 = new Float32Array(n);
  jsBackend.extrapolate(x, zp, 0.61, o1);
  two.extrapolate(x, zp, 0.61, o2);
  assert.deepEqual(o2, o1);
  const rows = 17, cols = 59;
  const m = rand(rows * cols, 14), v = rand(cols, 15), m1 = m.slice(), m2 = m.slice();
  jsBackend.addRowVector(m1, rows, cols, v, -0.37);
  two.addRowVector(m2, rows, cols, v, -0.37);
  assert.deepEqual(m2, m1);
  const sc1 = new Float64Array(cols), sc2 = new Float64Array(cols);
  jsBackend.sumCols(m, rows, cols, sc1);
  two.sumCols(m, rows, cols, sc2);
  assert.deepEqual(sc2, sc1);
  const sr1 = new Float64Array(rows), sr2 = new Float64Array(rows);
  jsBackend.sumRows(m, rows, cols, sr1);
  two.sumRows(m, rows, cols, sr2);
  assertAllClose(sr2, sr1, 1e-12, 1e-12, 'sumRows');
  assertAllClose([two.sumSquares(m)], [jsBackend.sumSquares(m)], 1e-12, 0, 'sumSquares');
  assert.equal(two.sumSquares(new Float32Array(0)), 0);
});

test('topkRows: descending, ties to the lower index, NaN never chosen over numbers, same as js', () => {
  const rows = 40, cols = 37;
  const rng = new Rng(21);
  // few distinct values: many ties
  const x = new Float32Array(rows * cols).map(() => rng.int(5) - 2);
  x[5] = NaN; x[cols + 7] = NaN;
  for (const k of [1, 3, 8, cols]) {
    const ei = new Int32Array(rows * k), ev = new Float32Array(rows * k), gi = ei.slice(), gv = ev.slice();
    jsBackend.topkRows(x, rows, cols, k, ei, ev);
    two.topkRows(x, rows, cols, k, gi, gv);
    assert.deepEqual(gi, ei, `topk indices k=${k}`);
    assert.deepEqual(gv, ev, `topk values k=${k}`);
  }
  // explicit case: ties go to the lower column
  const oi = new Int32Array(2), ov = new Float32Array(2);
  two.topkRows(new Float32Array([1, 5, 5, 2, 5]), 1, 5, 2, oi, ov);
  assert.deepEqual(Array.from(oi), [1, 2]);
});

test('sparse gather/scatter kernels match js and skip negative indices', () => {
  const rows = 50, k = 7, atoms = 40, dim = 37;
  const rng = new Rng(31);
  const idx = new Int32Array(rows * k).map(() => (rng.uniform() < 0.2 ? -1 : rng.int(atoms)));
  const val = rand(rows * k, 32);
  val[4] = 0;
  const d = rand(atoms * dim, 33);
  const g = rand(rows * dim, 34);
  for (const beta of [0, 1, 0.5]) {
    const base = rand(rows * dim, 35);
    if (beta === 0) base[0] = NaN;
    const e = base.slice(), w = base.slice();
    jsBackend.gatherDecode(idx, val, rows, k, d, dim, beta, e);
    two.gatherDecode(idx, val, rows, k, d, dim, beta, w);
    assertAllClose(w, e, 1e-5, 1e-5, `gatherDecode beta=${beta}`);
  }
  const e = new Float32Array(rows * k), w = new Float32Array(rows * k).fill(9);
  jsBackend.gatherDot(idx, rows, k, g, d, dim, e);
  two.gatherDot(idx, rows, k, g, d, dim, w);
  assertAllClose(w, e, 1e-5, 1e-5, 'gatherDot');
  for (let i = 0; i < idx.length; i++) if (idx[i] < 0) assert.equal(w[i], 0);
  const gd = rand(atoms * dim, 36), ge = gd.slice(), gw = gd.slice();
  jsBackend.scatterOuter(idx, val, rows, k, g, dim, ge);
  two.scatterOuter(idx, val, rows, k, g, dim, gw);
  assertAllClose(gw, ge, 1e-5, 1e-5, 'scatterOuter');
});

test('large inputs grow the memory; repeated and interleaved calls stay correct', async () => {
  const be = await loadWasmBackend({ threads: 2 });
  const memory = (be as unknown as { memory: WebAssembly.Memory }).memory;
  const before = memory.buffer.byteLength;
  const m = 520, n = 610, k = 530;
  const a = rand(m * k, 41), b = rand(k * n, 42);
  const exp = new Float32Array(m * n);
  jsBackend.sgemm(false, true, m, n, k, 1, a, k, b, k, 0, exp, n);
  const x = rand(3_000_001, 43); // more than one streaming chunk
  const stExp = new Float32Array(x.length);
  jsBackend.softThreshold(x, 0.5, false, stExp);
  const ssExp = jsBackend.sumSquares(x);
  for (let rep = 0; rep < 3; rep++) {
    const c = new Float32Array(m * n).fill(NaN);
    be.sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n);
    assertAllClose(c, exp, 1e-4, 1e-4, `gemm rep ${rep}`);
    const st = new Float32Array(x.length);
    be.softThreshold(x, 0.5, false, st);
    assert.deepEqual(st, stExp);
    assertAllClose([be.sumSquares(x)], [ssExp], 1e-10, 0, 'sumSquares');
  }
  assert.ok(memory.buffer.byteLength > before, 'memory grew');
  be.close();
});

test('calls larger than the memory budget are split and stay correct', async () => {
  const small = await loadWasmBackend({ threads: 2, budgetBytes: 64 * 1024 });
  const m = 97, n = 130, k = 61;
  for (const [tA, tB] of [[false, false], [true, true]]) {
    const a = rand(m * k, 51), b = rand(k * n, 52), c = rand(m * n, 53);
    const e = c.slice(), w = c.slice();
    jsBackend.sgemm(tA, tB, m, n, k, 1.5, a, tA ? m : k, b, tB ? k : n, 0.5, e, n);
    small.sgemm(tA, tB, m, n, k, 1.5, a, tA ? m : k, b, tB ? k : n, 0.5, w, n);
    assertAllClose(w, e, 1e-4, 1e-4, `split gemm tA=${tA} tB=${tB}`);
  }
  // a dictionary larger than the budget: rows stream through, or js takes over
  const rows = 300, kk = 5, atoms = 200, dim = 100;
  const rng = new Rng(54);
  const idx = new Int32Array(rows * kk).map(() => rng.int(atoms));
  const val = rand(rows * kk, 55), d = rand(atoms * dim, 56), g = rand(rows * dim, 57);
  const e = new Float32Array(rows * dim), w = new Float32Array(rows * dim);
  jsBackend.gatherDecode(idx, val, rows, kk, d, dim, 0, e);
  small.gatherDecode(idx, val, rows, kk, d, dim, 0, w);
  assertAllClose(w, e, 1e-5, 1e-5, 'gatherDecode over budget');
  const gde = rand(atoms * dim, 58), gdw = gde.slice();
  jsBackend.scatterOuter(idx, val, rows, kk, g, dim, gde);
  small.scatterOuter(idx, val, rows, kk, g, dim, gdw);
  assertAllClose(gdw, gde, 1e-5, 1e-5, 'scatterOuter over budget');
  const x = rand(1000 * 300, 59);
  const ti = new Int32Array(1000 * 4), tv = new Float32Array(1000 * 4), ei = ti.slice(), ev = tv.slice();
  jsBackend.topkRows(x, 1000, 300, 4, ei, ev);
  small.topkRows(x, 1000, 300, 4, ti, tv);
  assert.deepEqual(ti, ei);
  small.close();
});

test('threads: setThreads validates; the unshared build runs on one thread', async () => {
  assert.equal(one.threads, 1);
  assert.equal(two.threads, 2);
  assert.throws(() => two.setThreads(0), (e: any) => e.code === 'E_ARG' && /threads/.test(e.message));
  assert.throws(() => two.setThreads(1.5), (e: any) => e.code === 'E_ARG');
  const single = await loadWasmBackend({ shared: false, threads: 4 });
  assert.equal(single.threads, 1);
  single.setThreads(3);
  assert.equal(single.threads, 1);
  const c = new Float32Array(4);
  single.sgemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 2, new Float32Array([5, 6, 7, 8]), 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [19, 22, 43, 50]);
});

test('loading without built kernels fails with a reason that names the fix', async () => {
  await assert.rejects(loadWasmBackend({ dir: '/nonexistent-sparsecode-wasm' }), (e: any) => {
    assert.equal(e.code, 'E_BACKEND');
    assert.match(e.message, /not found/);
    assert.match(e.message, /nonexistent-sparsecode-wasm/);
    assert.match(e.message, /npm run build/);
    return true;
  });
});

test('idle worker threads do not keep a Node process alive; SPARSECODE_THREADS is honoured and checked', () => {
  const script = `
    import { loadWasmBackend } from './src/backend/wasm/index.ts';
    const be = await loadWasmBackend();
    const n = 200, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
    be.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
    console.log(be.threads, c[0]);
  `;
  const run = (threads: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root, env: { ...process.env, SPARSECODE_THREADS: threads }, encoding: 'utf8', timeout: 20000,
    });
  const ok = run('2');
  assert.equal(ok.status, 0, `child failed or hung: ${ok.stderr} ${ok.error ?? ''}`);
  assert.equal(ok.stdout.trim(), '2 200');
  const bad = run('zero');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /SPARSECODE_THREADS must be a positive integer/);
});

test('a task that traps fails the call without hanging, and the pool keeps working', async () => {
  const be = await loadWasmBackend({ threads: 2 });
  const n = 300, a = rand(n * n, 61), c = new Float32Array(n * n);
  be.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n); // workers are up
  await new Promise((r) => setTimeout(r, 100));
  const inner = be as unknown as { setParams(i: number[]): void; pool: { run(t: number): void } };
  inner.setParams([99]); // no such job: runTask traps on every thread
  assert.throws(() => inner.pool.run(16));
  const e = new Float32Array(n * n), w = new Float32Array(n * n);
  jsBackend.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, e, n);
  be.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, w, n);
  assertAllClose(w, e, 1e-4, 1e-4, 'gemm after a failed job');
  be.close();
});
