/**
 * Native-backend specifics: loading and its error messages, threads, argument checking in the
 * addon (a bad call throws instead of touching memory), typed-array views, multi-threaded
 * GEMM against a float64 reference. Op-by-op agreement with js is in backend-conformance.
 * Skips (saying why) when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { backendLoadError, getBackend, jsBackend, loadBackends } from '../src/backend/index.js';
import type { NativeBackend } from '../src/backend/native/index.js';
import { ADDON_RELATIVE_PATH, loadNative, threadsFromEnv } from '../src/backend/native/load.js';
import { Rng } from '../src/core/rng.js';
import { assertAllClose, refGemm } from './helpers.js';

await loadBackends({ quiet: true });
const native = getBackend('native') as NativeBackend | undefined;
const skip = native ? false : `native backend not loaded: ${backendLoadError('native') ?? 'no reason recorded; build it with: node scripts/build-native.mjs'}`;
const addonPath = join(process.cwd(), ADDON_RELATIVE_PATH);

function normal(n: number, seed: number): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n)) as Float32Array;
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  return fn().finally(() => {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
}

test('threadsFromEnv: SPARSECODE_THREADS wins, OpenBLAS variables are respected, else every core', () => {
  assert.equal(threadsFromEnv({}, 8), 8);
  assert.equal(threadsFromEnv({ SPARSECODE_THREADS: '3' }, 8), 3);
  assert.equal(threadsFromEnv({ SPARSECODE_THREADS: '3', OPENBLAS_NUM_THREADS: '1' }, 8), 3);
  assert.equal(threadsFromEnv({ OPENBLAS_NUM_THREADS: '1' }, 8), null);
  assert.equal(threadsFromEnv({ OMP_NUM_THREADS: '2' }, 8), null);
  assert.equal(threadsFromEnv({ SPARSECODE_THREADS: '' }, 4), 4);
  assert.equal(threadsFromEnv({}, 0), 1);
  assert.throws(() => threadsFromEnv({ SPARSECODE_THREADS: 'many' }, 8), /SPARSECODE_THREADS must be a positive integer, got "many"/);
  assert.throws(() => threadsFromEnv({ SPARSECODE_THREADS: '0' }, 8), /positive integer/);
});

test('a missing addon gives a reason that says how to build it', async () => {
  await withEnv({ SPARSECODE_NATIVE_PATH: join(process.cwd(), 'native/build/Release/does-not-exist.node') }, async () => {
    await assert.rejects(loadNative(), /native addon is not built .*does-not-exist\.node is missing.*libopenblas-dev.*build-native\.mjs/);
  });
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-native-'));
  const bogus = join(dir, 'bogus.node');
  writeFileSync(bogus, 'not a shared object');
  try {
    await withEnv({ SPARSECODE_NATIVE_PATH: bogus }, async () => {
      await assert.rejects(loadNative(), /the native addon .*bogus\.node does not load \(.+\); install OpenBLAS/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native: loads, reports OpenBLAS, threads follow SPARSECODE_THREADS and setThreads', { skip }, async () => {
  const b = native!;
  assert.equal(b.name, 'native');
  assert.match(b.blasInfo, /OpenBLAS/);
  const before = b.threads;
  assert.ok(before >= 1);
  b.setThreads(1);
  assert.equal(b.threads, 1);
  b.setThreads(2);
  assert.equal(b.threads, 2);
  assert.throws(() => b.setThreads(0), RangeError);
  assert.throws(() => b.setThreads(1.5), RangeError);
  b.setThreads(before);
  // a fresh process honours SPARSECODE_THREADS
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e',
    "const m = await import('./src/backend/index.ts'); await m.loadBackends({ quiet: true }); console.log(m.getBackend('native')?.threads ?? m.backendLoadError('native'));"],
  { encoding: 'utf8', env: { ...process.env, SPARSECODE_THREADS: '1' } });
  assert.equal(r.stdout.trim(), '1', r.stderr);
});

test('native: OpenBLAS idle threads are told to sleep while the addon loads; the variable does not leak to child processes', { skip }, async () => {
  // a fresh process: the addon loads with OPENBLAS_THREAD_TIMEOUT set, then the variable is gone again
  const code = "const m = await import('./src/backend/native/load.ts'); await m.loadNative(); console.log(JSON.stringify(process.env.OPENBLAS_THREAD_TIMEOUT ?? null));";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, OPENBLAS_THREAD_TIMEOUT: undefined } as NodeJS.ProcessEnv });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'null');
  // a value the user set is kept as it is
  const u = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, OPENBLAS_THREAD_TIMEOUT: '12' } });
  assert.equal(u.stdout.trim(), '"12"', u.stderr);
});

test('native: bad arguments throw (wrong types, short buffers, bad atoms) instead of touching memory', { skip }, () => {
  const b = native!;
  const f = (n: number) => new Float32Array(n);
  const code = (fn: () => unknown, c: string, re: RegExp) =>
    assert.throws(fn, (e: any) => e?.code === c && re.test(e.message), `expected ${c} ${re}`);
  code(() => b.sgemm(false, false, 2, 2, 2, 1, f(3), 2, f(4), 2, 0, f(4), 2), 'E_SHAPE', /a has 3 elements, needs at least 4/);
  code(() => b.sgemm(false, false, 2, 2, 2, 1, f(4), 2, f(4), 2, 0, f(3), 2), 'E_SHAPE', /c has 3 elements/);
  code(() => b.sgemm(false, false, 2, 2, 2, 1, f(4), 1, f(4), 2, 0, f(4), 2), 'E_SHAPE', /leading dimensions too small: lda=1/);
  code(() => b.sgemm(true, false, 3, 2, 2, 1, f(6), 2, f(4), 2, 0, f(6), 2), 'E_SHAPE', /lda=2 \(>= 3\)/);
  code(() => b.sgemm(false, false, -1, 2, 2, 1, f(4), 2, f(4), 2, 0, f(4), 2), 'E_SHAPE', /m must be a non-negative integer/);
  code(() => b.sgemm(false, false, 2, 2, 2, 1, new Float64Array(4) as any, 2, f(4), 2, 0, f(4), 2), 'E_ARG', /a must be a Float32Array/);
  code(() => (b.sgemm as any)(false, false, 2), 'E_ARG', /expected 13 arguments, got 3/);
  code(() => b.relu(f(4), f(3)), 'E_SHAPE', /out has 3 elements/);
  code(() => b.topkRows(f(6), 2, 3, 4, new Int32Array(8), f(8)), 'E_SHAPE', /k = 4 exceeds the row width 3/);
  code(() => b.topkRows(f(6), 2, 3, 2, new Int32Array(3), f(4)), 'E_SHAPE', /outIdx has 3 elements/);
  code(() => b.sumCols(f(6), 2, 3, new Float32Array(3) as any), 'E_ARG', /out must be a Float64Array/);
  code(() => b.gatherDecode(new Int32Array([0, 5]), f(2), 1, 2, f(10), 2, 0, f(2)), 'E_SHAPE', /idx\[0, 1\] = 5 is out of range: the dictionary has 5 atoms/);
  code(() => b.gatherDot(new Int32Array([9]), 1, 1, f(2), f(4), 2, f(1)), 'E_SHAPE', /out of range/);
  code(() => b.scatterOuter(new Int32Array([2]), f(1), 1, 1, f(2), 2, f(4)), 'E_SHAPE', /out of range/);
  code(() => b.gatherDecode(new Float32Array(1) as any, f(1), 1, 1, f(2), 2, 0, f(2)), 'E_ARG', /idx must be a Int32Array/);
  code(() => b.compressRows(f(5), 2, 3, 1, new Int32Array(2), f(2)), 'E_SHAPE', /x has 5 elements, needs at least 6/);
  code(() => b.compressRows(f(6), 2, 3, 2, new Int32Array(3), f(4)), 'E_SHAPE', /outIdx has 3 elements/);
  code(() => b.fistaGramRows(f(6), f(8), 2, 3, 0.1, true, f(2), 3, f(6), new Uint8Array(2)), 'E_SHAPE', /m has 8 elements, needs at least 9/);
  code(() => b.fistaGramRows(f(6), f(9), 2, 3, 0.1, true, f(2), 3, f(6), new Uint8Array(1)), 'E_SHAPE', /flags has 1 elements/);
  code(() => b.fistaGramRows(f(6), f(9), 2, 3, -1, true, f(2), 3, f(6), new Uint8Array(2)), 'E_SHAPE', /t must be >= 0/);
  code(() => b.fistaGramRows(f(6), f(9), 2, 3, 0.1, true, f(2), 3, f(6), new Int32Array(2) as any), 'E_ARG', /flags must be a Uint8Array/);
});

test('native: typed-array views (byteOffset) and SharedArrayBuffer memory are used in place', { skip }, () => {
  const b = native!;
  const buf = new Float32Array(20).fill(-1);
  const a = buf.subarray(2, 6); // [2 x 2]
  a.set([1, 2, 3, 4]);
  const bb = new Float32Array([1, 1, 0, 1]);
  const c = buf.subarray(10, 14);
  b.sgemm(false, false, 2, 2, 2, 1, a, 2, bb, 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [1, 3, 3, 7]);
  assert.deepEqual(Array.from(buf.subarray(6, 10)), [-1, -1, -1, -1], 'nothing written outside the view');
  assert.deepEqual(Array.from(buf.subarray(14)), [-1, -1, -1, -1, -1, -1]);
  const shared = new Float32Array(new SharedArrayBuffer(4 * 8));
  shared.set([-1, 2, -3, 4, 0.5, -0.5, 6, -7]);
  b.relu(shared, shared);
  assert.deepEqual(Array.from(shared), [0, 2, 0, 4, 0.5, 0, 6, 0]);
});

test('native: multi-threaded sgemm equals a float64 reference at 1 and 2 threads', { skip }, () => {
  const b = native!;
  const before = b.threads;
  const [m, n, k] = [192, 160, 300];
  for (const threads of [1, 2]) {
    b.setThreads(threads);
    for (const tA of [false, true]) for (const tB of [false, true]) {
      const a = normal(m * k, 1);
      const bb = normal(k * n, 2);
      const c = normal(m * n, 3);
      const exp = refGemm(tA, tB, m, n, k, 0.75, a, bb, 0.5, c);
      b.sgemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, bb, tB ? k : n, 0.5, c, n);
      assertAllClose(c, exp, 1e-4, 2e-4, `native sgemm threads=${threads} tA=${tA} tB=${tB}`);
    }
  }
  b.setThreads(before);
});

test('native: topkRows with NaN and garbage outputs behaves exactly like js', { skip }, () => {
  const b = native!;
  const x = new Float32Array([NaN, 1, 2, NaN, 3, 0, -1, NaN, 5, 5, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  for (const [rows, cols] of [[1, 24], [2, 12], [3, 8], [4, 6]]) {
    for (let k = 1; k <= cols; k++) {
      const ri = new Int32Array(rows * k), rv = new Float32Array(rows * k);
      const gi = new Int32Array(rows * k).fill(99), gv = new Float32Array(rows * k).fill(NaN);
      jsBackend.topkRows(x, rows, cols, k, ri, rv);
      b.topkRows(x, rows, cols, k, gi, gv);
      assert.deepEqual(Array.from(gi), Array.from(ri), `indices rows=${rows} k=${k}`);
      assert.deepEqual(Array.from(gv), Array.from(rv), `values rows=${rows} k=${k}`);
    }
  }
});

test('the addon file is where the loader looks for it', { skip }, () => {
  assert.ok(existsSync(addonPath), `${addonPath} exists`);
});

test('bench gemm prints one JSON line per backend and thread count, and skips a missing Python peer', { skip }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'bench', 'gemm', '--json', '--sizes', '48x32x40', '--backends', 'native,js', '--repeats', '1', '--budget', '0.05'], {
    encoding: 'utf8',
    env: { ...process.env, SPARSECODE_PYTHON: '/nonexistent/python3' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /NumPy peer skipped: python3 not found/);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const nativeRows = rows.filter((x) => x.backend === 'native');
  assert.ok(nativeRows.length >= 1 && rows.some((x) => x.backend === 'js'), r.stdout);
  for (const row of rows) {
    assert.deepEqual([row.bench, row.m, row.k, row.n], ['gemm', 48, 32, 40]);
    assert.ok(row.gflops > 0 && row.seconds > 0, JSON.stringify(row));
    assert.equal(row.ratio, null, 'no NumPy figure, no ratio');
  }
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'bench', 'gemm', '--sizes', '4x4'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /"4x4" is not MxKxN/);
  const unknown = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'bench', 'gem'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown benchmark "gem" \(did you mean "gemm"\?\)/);
});

test('native: OpenBLAS threads chosen per GEMM by size (gemmThreading); results the same on both sides of the threshold', { skip }, () => {
  const b = native!;
  const set = b.addon.gemmThreading;
  if (!set) return; // an addon built before gemmThreading
  const before = set();
  assert.equal(before, Number(process.env.SPARSECODE_GEMM_MT_MIN_FLOPS || 2 ** 24), 'default threshold 2^24 flops (or the environment)');
  const threads = b.threads;
  try {
    const [m, n, k] = [37, 45, 29];
    const a = new Float32Array(m * k).map((_, i) => Math.sin(i));
    const bb = new Float32Array(k * n).map((_, i) => Math.cos(i));
    const want = refGemm(false, false, m, n, k, 1, a, bb, 0, new Float32Array(m * n));
    for (const minFlops of [0, 2 * m * n * k + 1, 2 ** 28]) {
      assert.equal(set(minFlops), minFlops);
      const c = new Float32Array(m * n);
      b.sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n);
      assertAllClose(c, want, 1e-5, 1e-5, `sgemm with threshold ${minFlops}`);
      assert.equal(b.threads, threads, 'a small GEMM on one thread leaves the setThreads count as it was');
    }
    assert.throws(() => set(-1), /minFlops must be >= 0/);
    assert.throws(() => set(NaN), /minFlops must be >= 0/);
  } finally {
    set(before);
  }
});
