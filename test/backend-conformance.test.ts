/**
 * Every loaded backend (native, wasm, ...) against the js reference backend, op by op, on
 * awkward shapes: 1x1, primes, tall-skinny, short-wide, empty, all transposes, alpha/beta
 * variants, leading dimensions larger than the width, top-k ties, sparse ops with padding.
 * Generic over availableBackends(): a new backend is tested by loading it, nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, getBackend, jsBackend, loadBackends } from '../src/backend/index.js';
import type { Backend, BackendName } from '../src/backend/types.js';
import { Rng } from '../src/core/rng.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });
const others: BackendName[] = availableBackends().filter((n) => n !== 'js');

function normal(n: number, seed: number): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n)) as Float32Array;
}

/** small integers: many exact ties */
function ints(n: number, levels: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(levels) - Math.floor(levels / 2);
  return out;
}

/** a == b elementwise (0 and -0 equal, NaN equals NaN), naming the first difference */
function assertSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (!(a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) assert.fail(`${what}: element ${i} is ${a[i]}, js gives ${b[i]}`);
  }
}

function forEachBackend(title: string, fn: (b: Backend) => void): void {
  if (others.length === 0) {
    test(title, { skip: 'only the js backend is loaded (build the native addon or the wasm kernels to run this)' }, () => {});
    return;
  }
  for (const name of others) test(`[${name}] ${title}`, () => fn(getBackend(name)!));
}

// ---------------------------------------------------------------------------------------------
// sgemm

/** Run sgemm on both backends with A, B, C embedded in buffers with row strides lda, ldb, ldc. */
function gemmCase(
  b: Backend, tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, beta: number,
  opts: { padA?: number; padB?: number; padC?: number; nanC?: boolean; seed?: number } = {},
): void {
  const seed = opts.seed ?? m * 7919 + n * 104729 + k;
  const [aRows, aCols] = tA ? [k, m] : [m, k];
  const [bRows, bCols] = tB ? [n, k] : [k, n];
  const lda = Math.max(1, aCols + (opts.padA ?? 0));
  const ldb = Math.max(1, bCols + (opts.padB ?? 0));
  const ldc = Math.max(1, n + (opts.padC ?? 0));
  const a = normal(aRows * lda, seed);
  const bb = normal(bRows * ldb, seed + 1);
  const c0 = normal(m * ldc, seed + 2);
  if (opts.nanC) c0.fill(NaN);
  const cRef = c0.slice();
  const cGot = c0.slice();
  jsBackend.sgemm(tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, cRef, ldc);
  b.sgemm(tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, cGot, ldc);
  const what = `${b.name} sgemm m=${m} n=${n} k=${k} tA=${tA} tB=${tB} alpha=${alpha} beta=${beta} lda=${lda} ldb=${ldb} ldc=${ldc}`;
  // float32 products summed over k: allow error growing with k
  assertAllClose(cGot, cRef, 1e-4, 1e-5 + 2e-6 * k * Math.max(1, Math.abs(alpha)), what);
  if (opts.padC) {
    for (let i = 0; i < m; i++) {
      for (let j = n; j < ldc; j++) {
        if (!Object.is(cGot[i * ldc + j], c0[i * ldc + j])) assert.fail(`${what}: wrote into the padding of C at row ${i}, column ${j}`);
      }
    }
  }
  for (let i = 0; i < cGot.length; i++) if (Number.isNaN(cGot[i]) && !opts.nanC) assert.fail(`${what}: NaN at ${i}`);
}

const SHAPES: [number, number, number][] = [
  // m, n, k
  [1, 1, 1],
  [17, 11, 13],
  [97, 83, 89],
  [1000, 7, 3], // tall-skinny
  [3, 1000, 7], // short-wide
  [5, 4, 2000], // long inner dimension
  [64, 64, 64],
  [2, 3, 1],
  [1, 37, 1],
];

forEachBackend('sgemm matches js for every transpose, on awkward shapes', (b) => {
  for (const [m, n, k] of SHAPES) {
    for (const tA of [false, true]) for (const tB of [false, true]) gemmCase(b, tA, tB, m, n, k, 1, 0);
  }
});

forEachBackend('sgemm alpha/beta variants (incl. beta = 0 over NaN, alpha = 0)', (b) => {
  const cases: [number, number][] = [[1, 0], [0.5, 1], [-2, 0.25], [1, -1], [0, 2], [0, 0], [3, 1]];
  for (const [m, n, k] of [[17, 11, 13], [1, 1, 1], [40, 33, 70]] as [number, number, number][]) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of cases) gemmCase(b, tA, tB, m, n, k, alpha, beta);
      gemmCase(b, tA, tB, m, n, k, 1.5, 0, { nanC: true });
      gemmCase(b, tA, tB, m, n, k, 0, 0, { nanC: true });
    }
  }
  // beta = 0 over NaN must give finite numbers (BLAS semantics)
  const c = new Float32Array([NaN, NaN, NaN, NaN]);
  b.sgemm(false, false, 2, 2, 1, 1, new Float32Array([1, 2]), 1, new Float32Array([3, 4]), 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [3, 4, 6, 8]);
});

forEachBackend('sgemm with empty dimensions (m, n or k = 0)', (b) => {
  for (const [m, n, k] of [[0, 5, 3], [4, 0, 3], [4, 5, 0], [0, 0, 0], [1, 1, 0]] as [number, number, number][]) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of [[1, 0], [1, 1], [2, 0.5]]) gemmCase(b, tA, tB, m, n, k, alpha, beta);
      gemmCase(b, tA, tB, m, n, k, 1, 0, { nanC: true });
    }
  }
  // k = 0: C = beta * C exactly
  const c = new Float32Array([1, -2, 3, 4]);
  b.sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 3, c, 2);
  assert.deepEqual(Array.from(c), [3, -6, 9, 12]);
});

forEachBackend('sgemm on sub-matrices: lda, ldb, ldc larger than the width', (b) => {
  for (const [m, n, k] of [[17, 11, 13], [5, 1, 9], [1, 6, 4], [33, 40, 20]] as [number, number, number][]) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      gemmCase(b, tA, tB, m, n, k, 1, 0, { padA: 3, padB: 5, padC: 2 });
      gemmCase(b, tA, tB, m, n, k, -0.5, 0.75, { padA: 1, padB: 0, padC: 7 });
      gemmCase(b, tA, tB, m, n, k, 2, 1, { padA: 0, padB: 4, padC: 0 });
    }
  }
  // A as the top-left 2 x 2 block of a 3 x 4 matrix, by hand
  const big = new Float32Array([1, 2, 99, 99, 3, 4, 99, 99, 99, 99, 99, 99]);
  const c = new Float32Array(4);
  b.sgemm(false, false, 2, 2, 2, 1, big, 4, new Float32Array([1, 0, 0, 1]), 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [1, 2, 3, 4]);
});

// ---------------------------------------------------------------------------------------------
// elementwise

const SIZES = [0, 1, 7, 8, 9, 31, 1000, 4099];

forEachBackend('softThreshold and relu equal js exactly (incl. aliasing and special values)', (b) => {
  for (const n of SIZES) {
    const x = normal(n, n + 11);
    for (const t of [0, 0.25, Math.fround(0.3), 2]) {
      for (const nonneg of [false, true]) {
        const ref = new Float32Array(n);
        const got = new Float32Array(n).fill(NaN);
        jsBackend.softThreshold(x, t, nonneg, ref);
        b.softThreshold(x, t, nonneg, got);
        assertSame(got, ref, `${b.name} softThreshold n=${n} t=${t} nonneg=${nonneg}`);
        const inPlace = x.slice();
        b.softThreshold(inPlace, t, nonneg, inPlace);
        assertSame(inPlace, ref, `${b.name} softThreshold in place n=${n} t=${t}`);
      }
    }
    const ref = new Float32Array(n);
    const got = new Float32Array(n).fill(NaN);
    jsBackend.relu(x, ref);
    b.relu(x, got);
    assertSame(got, ref, `${b.name} relu n=${n}`);
    const inPlace = x.slice();
    b.relu(inPlace, inPlace);
    assertSame(inPlace, ref, `${b.name} relu in place n=${n}`);
  }
  const special = new Float32Array([0, -0, 0.5, -0.5, 0.25, -0.25, Infinity, -Infinity, NaN, 1e-30, -1e30, 3, -3, 0.5, 0.5, 0.5, 7]);
  for (const t of [0, 0.5]) {
    for (const nonneg of [false, true]) {
      const ref = new Float32Array(special.length);
      const got = new Float32Array(special.length);
      jsBackend.softThreshold(special, t, nonneg, ref);
      b.softThreshold(special, t, nonneg, got);
      assertSame(got, ref, `${b.name} softThreshold special values t=${t} nonneg=${nonneg}`);
    }
  }
  const ref = new Float32Array(special.length);
  const got = new Float32Array(special.length);
  jsBackend.relu(special, ref);
  b.relu(special, got);
  assertSame(got, ref, `${b.name} relu special values`);
});

forEachBackend('axpby, extrapolate and addRowVector match js', (b) => {
  for (const n of SIZES) {
    const x = normal(n, n + 1);
    const y0 = normal(n, n + 2);
    for (const [alpha, beta] of [[1, 1], [0.5, -2], [0, 1], [1, 0], [-1.25, 0.75]]) {
      const ref = y0.slice();
      const got = y0.slice();
      jsBackend.axpby(alpha, x, beta, ref);
      b.axpby(alpha, x, beta, got);
      assertAllClose(got, ref, 1e-6, 1e-6, `${b.name} axpby n=${n} alpha=${alpha} beta=${beta}`);
    }
    // y aliasing x
    const xy = x.slice();
    const refXY = x.slice();
    jsBackend.axpby(2, refXY, 3, refXY);
    b.axpby(2, xy, 3, xy);
    assertAllClose(xy, refXY, 1e-6, 1e-6, `${b.name} axpby aliased n=${n}`);
    for (const beta of [0, 0.5, 0.9, -0.1]) {
      const ref = new Float32Array(n);
      const got = new Float32Array(n).fill(NaN);
      jsBackend.extrapolate(x, y0, beta, ref);
      b.extrapolate(x, y0, beta, got);
      assertAllClose(got, ref, 1e-6, 1e-6, `${b.name} extrapolate n=${n} beta=${beta}`);
    }
  }
  for (const [rows, cols] of [[0, 5], [5, 0], [1, 1], [1, 1000], [1000, 1], [17, 13], [64, 33]] as [number, number][]) {
    const x0 = normal(rows * cols, rows + cols);
    const v = normal(cols, 3);
    for (const alpha of [1, -0.5, 0]) {
      const ref = x0.slice();
      const got = x0.slice();
      jsBackend.addRowVector(ref, rows, cols, v, alpha);
      b.addRowVector(got, rows, cols, v, alpha);
      assertAllClose(got, ref, 1e-6, 1e-6, `${b.name} addRowVector ${rows}x${cols} alpha=${alpha}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// top-k

function topkCase(b: Backend, x: Float32Array, rows: number, cols: number, k: number, what: string): void {
  const ri = new Int32Array(rows * k);
  const rv = new Float32Array(rows * k);
  jsBackend.topkRows(x, rows, cols, k, ri, rv);
  // output buffers start with garbage: a backend must not depend on their contents
  const gi = new Int32Array(rows * k).fill(-7);
  const gv = new Float32Array(rows * k).fill(Infinity);
  b.topkRows(x, rows, cols, k, gi, gv);
  assertSame(gi, ri, `${b.name} topkRows indices ${what} rows=${rows} cols=${cols} k=${k}`);
  assertSame(gv, rv, `${b.name} topkRows values ${what} rows=${rows} cols=${cols} k=${k}`);
}

forEachBackend('topkRows equals js exactly: ties to the lower index, k = 1, k = width', (b) => {
  const shapes: [number, number][] = [[1, 1], [3, 4], [17, 13], [5, 8], [7, 9], [50, 100], [20, 1000], [4, 4099], [0, 10], [601, 1000]];
  for (const [rows, cols] of shapes) {
    const ks = [...new Set([1, 2, 3, 8, 32, cols - 1, cols].filter((k) => k >= 1 && k <= cols))];
    for (const k of ks) {
      topkCase(b, normal(rows * cols, rows * 31 + cols), rows, cols, k, 'normal');
      topkCase(b, ints(rows * cols, 5, rows + cols * 3), rows, cols, k, 'many ties');
    }
  }
  // all equal, descending, ascending, with infinities
  const cols = 37;
  for (const k of [1, 5, 37]) {
    topkCase(b, new Float32Array(cols).fill(2), 1, cols, k, 'constant');
    topkCase(b, Float32Array.from({ length: cols }, (_, i) => -i), 1, cols, k, 'descending');
    topkCase(b, Float32Array.from({ length: cols }, (_, i) => i), 1, cols, k, 'ascending');
    topkCase(b, Float32Array.from({ length: cols }, (_, i) => (i % 3 === 0 ? -Infinity : i % 3 === 1 ? Infinity : 0)), 1, cols, k, 'infinities');
    topkCase(b, Float32Array.from({ length: cols }, (_, i) => (i % 2 ? 0 : -0)), 1, cols, k, 'signed zeros');
  }
  // the doc example
  const gi = new Int32Array(6);
  const gv = new Float32Array(6);
  b.topkRows(new Float32Array([1, 3, 3, 2, 0, 0, 0, 0, -1, -5, 7, 7]), 3, 4, 2, gi, gv);
  assert.deepEqual(Array.from(gi), [1, 2, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(gv), [3, 3, 0, 0, 7, 7]);
});

// ---------------------------------------------------------------------------------------------
// reductions

forEachBackend('sumRows, sumCols, sumSquares agree with js (float64 accumulation)', (b) => {
  for (const [rows, cols] of [[0, 0], [0, 5], [5, 0], [1, 1], [1, 1001], [1001, 1], [17, 13], [300, 257]] as [number, number][]) {
    const x = normal(rows * cols, rows * 13 + cols);
    // a large offset makes float32 accumulation visibly wrong, float64 not
    for (let i = 0; i < x.length; i += 3) x[i] += 4096;
    const rRef = new Float64Array(rows);
    const rGot = new Float64Array(rows).fill(NaN);
    jsBackend.sumRows(x, rows, cols, rRef);
    b.sumRows(x, rows, cols, rGot);
    assertAllClose(rGot, rRef, 1e-12, 1e-9, `${b.name} sumRows ${rows}x${cols}`);
    const cRef = new Float64Array(cols);
    const cGot = new Float64Array(cols).fill(NaN);
    jsBackend.sumCols(x, rows, cols, cRef);
    b.sumCols(x, rows, cols, cGot);
    assertAllClose(cGot, cRef, 1e-12, 1e-9, `${b.name} sumCols ${rows}x${cols}`);
    const s = b.sumSquares(x);
    const sRef = jsBackend.sumSquares(x);
    assert.ok(Math.abs(s - sRef) <= 1e-12 * Math.abs(sRef) + 1e-12, `${b.name} sumSquares ${rows}x${cols}: ${s} vs ${sRef}`);
  }
  // exactness where float32 accumulation would fail: 1e7 ones plus a small value
  const n = 1 << 20;
  const x = new Float32Array(n).fill(1);
  x[n - 1] = 1 + 2 ** -20;
  const out = new Float64Array(1);
  b.sumRows(x, 1, n, out);
  assert.equal(out[0], n + 2 ** -20, `${b.name} sumRows accumulates in float64`);
  assert.equal(b.sumSquares(new Float32Array([3, 4])), 25);
});

// ---------------------------------------------------------------------------------------------
// sparse ops

interface SparseCase {
  rows: number;
  k: number;
  atoms: number;
  dim: number;
  idx: Int32Array;
  val: Float32Array;
  d: Float32Array;
  g: Float32Array;
}

/** random codes with -1 padding, repeated atoms within rows and zero weights */
function sparseCase(rows: number, k: number, atoms: number, dim: number, seed: number): SparseCase {
  const r = new Rng(seed);
  const idx = new Int32Array(rows * k);
  const val = normal(rows * k, seed + 1);
  for (let i = 0; i < rows * k; i++) {
    const u = r.uniform();
    idx[i] = atoms === 0 || u < 0.2 ? -1 : r.int(atoms);
    if (u > 0.9) val[i] = 0;
  }
  if (rows * k >= 2 && atoms > 0) idx[1] = idx[0] = Math.min(atoms - 1, 2); // a repeated atom
  return { rows, k, atoms, dim, idx, val, d: normal(atoms * dim, seed + 2), g: normal(rows * dim, seed + 3) };
}

const SPARSE: [number, number, number, number][] = [
  // rows, k, atoms, dim
  [1, 1, 1, 1],
  [0, 3, 5, 4],
  [4, 0, 5, 4],
  [3, 2, 5, 0],
  [17, 5, 13, 11],
  [64, 8, 100, 33],
  [10, 32, 64, 1000],
  [200, 3, 7, 9],
  [300, 8, 50, 250], // large enough for multi-threaded kernels (dim not a multiple of 16)
];

forEachBackend('gatherDecode matches js (padding skipped, beta = 0 overwrites NaN)', (b) => {
  for (const [rows, k, atoms, dim] of SPARSE) {
    const s = sparseCase(rows, k, atoms, dim, rows * 101 + k * 7 + dim);
    for (const beta of [0, 1, 0.5]) {
      const out0 = normal(rows * dim, 77);
      if (beta === 0) out0.fill(NaN);
      const ref = out0.slice();
      const got = out0.slice();
      jsBackend.gatherDecode(s.idx, s.val, rows, k, s.d, dim, beta, ref);
      b.gatherDecode(s.idx, s.val, rows, k, s.d, dim, beta, got);
      assertAllClose(got, ref, 1e-5, 1e-5, `${b.name} gatherDecode rows=${rows} k=${k} atoms=${atoms} dim=${dim} beta=${beta}`);
    }
  }
  // all padding: out = beta * out
  const out = new Float32Array([1, 2, 3, 4]);
  b.gatherDecode(new Int32Array([-1, -1]), new Float32Array([5, 5]), 2, 1, new Float32Array([9, 9]), 2, 2, out);
  assert.deepEqual(Array.from(out), [2, 4, 6, 8]);
});

forEachBackend('fistaUpdate matches js and the unfused softThreshold + extrapolate', (b) => {
  for (const n of [0, 1, 7, 1000, 40001]) {
    for (const nonneg of [false, true]) {
      const v = normal(n, n + 1), z = normal(n, n + 2), y0 = normal(n, n + 3);
      const t = 0.3, beta = 0.7;
      const refY = y0.slice(), refZ = new Float32Array(n);
      jsBackend.fistaUpdate(v, refY, z, t, nonneg, beta, refZ);
      const gotY = y0.slice(), gotZ = new Float32Array(n).fill(NaN);
      b.fistaUpdate(v, gotY, z, t, nonneg, beta, gotZ);
      assertAllClose(gotZ, refZ, 1e-6, 1e-6, `${b.name} fistaUpdate zNew n=${n} nonneg=${nonneg}`);
      assertAllClose(gotY, refY, 1e-6, 1e-6, `${b.name} fistaUpdate y n=${n} nonneg=${nonneg}`);
      // unfused: V = y + v stored, threshold, extrapolate
      const V = new Float32Array(n);
      for (let i = 0; i < n; i++) V[i] = y0[i] + v[i];
      const zn = new Float32Array(n), y = new Float32Array(n);
      b.softThreshold(V, t, nonneg, zn);
      b.extrapolate(zn, z, beta, y);
      assertAllClose(gotZ, zn, 1e-6, 1e-6, `${b.name} fused vs unfused zNew n=${n}`);
      assertAllClose(gotY, y, 1e-6, 1e-6, `${b.name} fused vs unfused y n=${n}`);
    }
  }
});

forEachBackend('compressRows matches js (column order, padding, NaN kept, -0 dropped, overflow count)', (b) => {
  for (const [rows, cols, density, k] of [[0, 5, 0.5, 2], [1, 1, 1, 1], [7, 13, 0.3, 13], [50, 100, 0.05, 8], [40, 257, 0.02, 4], [300, 1000, 0.01, 40], [9, 33, 0.9, 3]] as const) {
    const r = new Rng(rows * 31 + cols);
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < x.length; i++) if (r.uniform() < density) x[i] = r.normal();
    if (x.length > 3) {
      x[1] = -0;
      x[2] = NaN;
    }
    const ri = new Int32Array(rows * k).fill(99), rv = new Float32Array(rows * k).fill(99);
    const gi = new Int32Array(rows * k).fill(-99), gv = new Float32Array(rows * k).fill(-99);
    const want = jsBackend.compressRows(x, rows, cols, k, ri, rv);
    const got = b.compressRows(x, rows, cols, k, gi, gv);
    assert.equal(got, want, `${b.name} compressRows rows=${rows} cols=${cols}: largest count`);
    if (want <= k) {
      assertSame(gi, ri, `${b.name} compressRows idx rows=${rows} cols=${cols}`);
      assertSame(gv, rv, `${b.name} compressRows val rows=${rows} cols=${cols}`);
    }
  }
});

forEachBackend('gatherDot matches js (padding gives 0)', (b) => {
  for (const [rows, k, atoms, dim] of SPARSE) {
    const s = sparseCase(rows, k, atoms, dim, rows * 17 + k + dim * 5);
    const ref = new Float32Array(rows * k);
    const got = new Float32Array(rows * k).fill(NaN);
    jsBackend.gatherDot(s.idx, rows, k, s.g, s.d, dim, ref);
    b.gatherDot(s.idx, rows, k, s.g, s.d, dim, got);
    assertAllClose(got, ref, 1e-5, 1e-5, `${b.name} gatherDot rows=${rows} k=${k} atoms=${atoms} dim=${dim}`);
    for (let i = 0; i < rows * k; i++) if (s.idx[i] < 0) assert.ok(Object.is(got[i], 0) || got[i] === 0, `${b.name} gatherDot padding at ${i} gives ${got[i]}`);
  }
});

forEachBackend('scatterOuter matches js (accumulates, padding skipped)', (b) => {
  for (const [rows, k, atoms, dim] of SPARSE) {
    const s = sparseCase(rows, k, atoms, dim, rows * 3 + k * 11 + dim);
    const g0 = normal(atoms * dim, 5);
    const ref = g0.slice();
    const got = g0.slice();
    jsBackend.scatterOuter(s.idx, s.val, rows, k, s.g, dim, ref);
    b.scatterOuter(s.idx, s.val, rows, k, s.g, dim, got);
    assertAllClose(got, ref, 1e-5, 1e-5, `${b.name} scatterOuter rows=${rows} k=${k} atoms=${atoms} dim=${dim}`);
  }
});

test('the conformance suite sees every backend that loaded', () => {
  const names = availableBackends();
  assert.ok(names.includes('js'));
  for (const n of names) assert.ok(getBackend(n), `${n} is listed but getBackend returns nothing`);
});

/**
 * The dense Gram-form FISTA that fistaGramRows computes row by row through the nonzeros:
 * V = c + Y·m (sgemm), softThreshold, extrapolate (the js reference ops), for every row.
 */
function denseGramRows(c: Float32Array, m: Float32Array, rows: number, atoms: number, t: number, nonneg: boolean, betas: Float32Array, z0: Float32Array): Float32Array {
  let z = z0.slice();
  const y = z0.slice();
  const v = new Float32Array(rows * atoms);
  const zn = new Float32Array(rows * atoms);
  for (const beta of betas) {
    v.set(c);
    jsBackend.sgemm(false, false, rows, atoms, atoms, 1, y, atoms, m, atoms, 1, v, atoms);
    jsBackend.softThreshold(v, t, nonneg, zn);
    jsBackend.extrapolate(zn, z, beta, y);
    z = zn.slice();
  }
  return z;
}

/** a Gram-form problem: unit-norm D [atoms x dim], c = X·Dᵀ/L, m = I − D·Dᵀ/L, a sparse warm start */
function gramCase(rows: number, atoms: number, dim: number, active: number, seed: number) {
  const r = new Rng(seed);
  const d = normal(atoms * dim, seed + 1);
  for (let j = 0; j < atoms; j++) {
    let s = 0;
    for (let q = 0; q < dim; q++) s += d[j * dim + q] ** 2;
    for (let q = 0; q < dim; q++) d[j * dim + q] /= Math.sqrt(s);
  }
  const z0 = new Float32Array(rows * atoms);
  for (let i = 0; i < rows; i++) for (let q = 0; q < active; q++) z0[i * atoms + r.int(atoms)] = 0.5 + r.uniform();
  const x = new Float32Array(rows * dim);
  jsBackend.sgemm(false, false, rows, dim, atoms, 1, z0, atoms, d, dim, 0, x, dim);
  for (let i = 0; i < x.length; i++) x[i] += 0.01 * r.normal();
  const L = (1 + Math.sqrt(atoms / dim)) ** 2;
  const c = new Float32Array(rows * atoms);
  jsBackend.sgemm(false, true, rows, atoms, dim, 1 / L, x, dim, d, dim, 0, c, atoms);
  const m = new Float32Array(atoms * atoms);
  jsBackend.sgemm(false, true, atoms, atoms, dim, -1 / L, d, dim, d, dim, 0, m, atoms);
  for (let j = 0; j < atoms; j++) m[j * atoms + j] += 1;
  // warm start: the true codes, shrunk (an iterate near, not at, the solution)
  for (let i = 0; i < z0.length; i++) z0[i] *= 0.9;
  return { c, m, z0, L };
}

function fistaBetas(iters: number): Float32Array {
  const betas = new Float32Array(iters);
  let t = 1;
  for (let k = 0; k < iters; k++) {
    const tn = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    betas[k] = (t - 1) / tn;
    t = tn;
  }
  return betas;
}

test('fistaGramRows equals the dense Gram-form FISTA on every backend (js included); capped rows are left and flagged', () => {
  for (const name of ['js', ...others] as BackendName[]) {
    const b = getBackend(name)!;
    for (const [rows, atoms, dim, active, t, nonneg, iters] of [
      [7, 37, 30, 2, 0.02, true, 40], [5, 200, 60, 3, 0.01, false, 60], [1, 16, 16, 1, 0.05, true, 1], [3, 1, 1, 1, 0.1, false, 5],
    ] as [number, number, number, number, number, boolean, number][]) {
      const { c, m, z0 } = gramCase(rows, atoms, dim, active, rows * 31 + atoms);
      for (const betas of [fistaBetas(iters), new Float32Array(iters)]) {
        const ref = denseGramRows(c, m, rows, atoms, t, nonneg, betas, z0);
        const z = z0.slice();
        const flags = new Uint8Array(rows).fill(7);
        const left = b.fistaGramRows(c, m, rows, atoms, t, nonneg, betas, atoms, z, flags);
        assert.equal(left, 0, `${name}: no row exceeds cap = atoms`);
        assert.deepEqual(Array.from(flags), new Array(rows).fill(0));
        assertAllClose(z, ref, 1e-5, 1e-5, `${name} fistaGramRows rows=${rows} atoms=${atoms} nonneg=${nonneg}`);
      }
    }
    // a cap every row outgrows at once (a dense warm start): nothing changes, every row is flagged
    const { c, m } = gramCase(4, 50, 20, 2, 99);
    const dense = normal(4 * 50, 5);
    const z = dense.slice();
    const flags = new Uint8Array(4);
    assert.equal(b.fistaGramRows(c, m, 4, 50, 0.01, false, fistaBetas(10), 3, z, flags), 4, `${name}: all rows flagged`);
    assertSame(z, dense, `${name}: flagged rows untouched`);
    assert.deepEqual(Array.from(flags), [1, 1, 1, 1]);
    // a cap some rows outgrow during the iterations: those are untouched, the others finished
    const g = gramCase(6, 120, 40, 2, 7);
    const ref = denseGramRows(g.c, g.m, 6, 120, 0.005, false, fistaBetas(30), g.z0);
    const z2 = g.z0.slice();
    const f2 = new Uint8Array(6);
    const left = b.fistaGramRows(g.c, g.m, 6, 120, 0.005, false, fistaBetas(30), 12, z2, f2);
    assert.deepEqual(Array.from(f2), [1, 0, 1, 1, 1, 0], `${name}: the rows that outgrow 12 nonzeros`);
    assert.equal(left, 4);
    for (let i = 0; i < 6; i++) {
      const got = z2.subarray(i * 120, (i + 1) * 120);
      if (f2[i]) assertSame(got, g.z0.subarray(i * 120, (i + 1) * 120), `${name}: flagged row ${i} untouched`);
      else assertAllClose(got, ref.subarray(i * 120, (i + 1) * 120), 1e-5, 1e-5, `${name}: row ${i} finished`);
    }
  }
});
