import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE, loadCheckpoint, type SparseAutoencoder } from '../src/dictionary/index.js';
import { onlineDictionaryLearning } from '../src/dictionary/online-dl.js';
import { RowStream, sampleRows, transformedRows } from '../src/dictionary/stream.js';
import { trainSAE } from '../src/dictionary/trainer.js';
import { writeNpy } from '../src/io/npy.js';
import { matrixRows, openRows, type RowSource } from '../src/io/rows.js';
import { fitWhitening } from '../src/preprocess/whiten.js';
import { assertAllClose } from './helpers.js';

useBackend('js');
const dir = mkdtempSync(join(tmpdir(), 'fit-stream-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// 2 active of 24 planted atoms in 16 dims, plus noise and an offset
function world(n: number, seed = 0): Matrix {
  const rng = new Rng(seed);
  const A = new Matrix(24, 16);
  rng.fillNormal(A.data);
  const X = new Matrix(n, 16);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 16; j++) X.data[i * 16 + j] = 0.5 + 0.02 * rng.normal();
    for (const a of rng.choice(24, 2)) {
      const m = 0.5 + rng.uniform();
      for (let j = 0; j < 16; j++) X.data[i * 16 + j] += m * A.data[a * 16 + j];
    }
  }
  return X;
}
const X = world(3000);
const xPath = join(dir, 'x.npy');
writeNpy(xPath, X);

function fvu(sae: SparseAutoencoder, X: Matrix): number {
  const R = sae.reconstruct(X);
  const d = X.cols;
  let sse = 0, tv = 0;
  for (let j = 0; j < d; j++) {
    let mu = 0;
    for (let i = 0; i < X.rows; i++) mu += X.data[i * d + j] / X.rows;
    for (let i = 0; i < X.rows; i++) tv += (X.data[i * d + j] - mu) ** 2;
  }
  for (let i = 0; i < X.data.length; i++) sse += (X.data[i] - R.data[i]) ** 2;
  return sse / tv;
}

/** A source that records the size of every read. */
function recording(src: RowSource): RowSource & { counts: number[] } {
  const counts: number[] = [];
  return { ...src, counts, readRows: (s: number, c: number, out?: Float32Array) => (counts.push(c), src.readRows(s, c, out)), close: () => src.close() };
}

test('RowStream: every row once per epoch, batches straddle epochs, a stream started at row p is the tail of one started at 0', () => {
  const n = 103, d = 2;
  const M = new Matrix(n, d);
  for (let i = 0; i < n; i++) M.data[i * d] = M.data[i * d + 1] = i;
  const opts = { batch: 10, seed: 5, chunkRows: 7, bufferChunks: 3 };
  const s = new RowStream(matrixRows(M), opts);
  const buf = new Float32Array(3 * n * d);
  for (let p = 0; p < 3 * n; p += 10) s.next(buf.subarray(p * d), Math.min(10, 3 * n - p));
  for (let e = 0; e < 3; e++) {
    const seen = Array.from({ length: n }, (_, i) => buf[(e * n + i) * d]).sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i), `epoch ${e} is a permutation`);
  }
  const firstEpoch = Array.from({ length: n }, (_, i) => buf[i * d]);
  assert.notDeepEqual(firstEpoch, Array.from({ length: n }, (_, i) => i), 'shuffled');
  for (const start of [0, 1, 9, 10, 57, 103, 150]) {
    const t = new RowStream(matrixRows(M), { ...opts, startRow: start });
    assert.deepEqual(t.position(), RowStream.positionOf(start, n, 10));
    const out = new Float32Array(40 * d);
    t.next(out, 40, 2);
    for (let i = 0; i < 40; i++) assert.equal(out[i * d], 2 * buf[(start + i) * d], `start ${start}, row ${i}`);
  }
  assert.deepEqual(RowStream.positionOf(3200, 3000, 128), { epoch: 1, batch: 1, offset: 72 });
});

test('sampleRows: all rows when the source is small, else a sorted seeded subset; transformedRows whitens per read', () => {
  const src = matrixRows(X);
  assert.deepEqual(Array.from(sampleRows(src, 5000, new Rng(1)).data), Array.from(X.data));
  const S = sampleRows(src, 50, new Rng(1));
  const idx = Int32Array.from(new Rng(1).choice(3000, 50)).sort();
  assert.deepEqual(Array.from(S.data), Array.from(X.takeRows(idx).data));
  const wh = fitWhitening(X, { method: 'zca' });
  const T = transformedRows(src, wh.mean, wh.transformMatrix(), 64);
  assertAllClose(T.readRows(100, 300), wh.apply(X.rowSlice(100, 400)).data, 1e-5, 1e-5, 'whitened reads');
});

const cfg = { atoms: 24, k: 2, batch: 128, epochs: 4, lr: 3e-3 };

test('streamed fit: initialisation equals the in-memory one, results statistically equivalent (same FVU within 10%), file = in-memory source bitwise', async () => {
  // one step at lr ~ 0: every weight is its initial value (b_dec from the geometric median, input scale)
  const a = createSAE('topk', { ...cfg, steps: 1, lr: 1e-12, epochs: undefined });
  const b = createSAE('topk', { ...cfg, steps: 1, lr: 1e-12, epochs: undefined });
  const ra = await trainSAE(a, X, { seed: 3 });
  const src = openRows(xPath);
  const rb = await trainSAE(b, src, { seed: 3 });
  src.close();
  assert.equal(rb.inputScale, ra.inputScale);
  assert.equal(rb.stream!.sampleRows, 3000);
  assertAllClose(b.bdec, a.bdec, 1e-8, 1e-8, 'b_dec init');
  assertAllClose(b.Wdec.data, a.Wdec.data, 1e-8, 1e-8, 'W_dec init');

  const mem = createSAE('topk', cfg);
  await trainSAE(mem, X, { seed: 3 });
  const str = createSAE('topk', cfg);
  const f = openRows(xPath);
  const res = await trainSAE(str, f, { seed: 3, stream: { chunkRows: 100 } });
  f.close();
  const fm = fvu(mem, X), fs = fvu(str, X);
  assert.ok(fm < 0.5 && fs < 0.5, `fvu in memory ${fm}, streamed ${fs}`);
  assert.ok(Math.abs(fm - fs) <= 0.1 * fm, `fvu in memory ${fm}, streamed ${fs}`);
  assert.notDeepEqual(Array.from(str.Wdec.data), Array.from(mem.Wdec.data), 'different batch order');
  assert.deepEqual(res.stream!.position, RowStream.positionOf(res.steps * 128, 3000, 128));
  // the same source in memory gives the same stream, so the same weights
  const again = createSAE('topk', cfg);
  await trainSAE(again, matrixRows(X), { seed: 3, stream: { chunkRows: 100 } });
  assert.deepEqual(Array.from(again.Wdec.data), Array.from(str.Wdec.data));
  assert.deepEqual(Array.from(again.benc), Array.from(str.benc));
});

test('streamed fit reads in bounded pieces: the sample, then chunks, never the whole file', async () => {
  const src = recording(openRows(xPath));
  const sae = createSAE('topk', { ...cfg, epochs: 2 });
  const res = await trainSAE(sae, src, { seed: 4, stream: { chunkRows: 64, bufferChunks: 4, sampleRows: 500 } });
  src.close();
  assert.equal(res.stream!.sampleRows, 500);
  const total = src.counts.reduce((s, c) => s + c, 0);
  assert.ok(Math.max(...src.counts) <= 500, `largest read ${Math.max(...src.counts)} rows`);
  // after the sample (500 rows in runs), only chunk reads of <= 64 rows
  let acc = 0, k = 0;
  while (acc < 500) acc += src.counts[k++];
  assert.equal(acc, 500);
  assert.ok(src.counts.slice(k).every((c) => c <= 64), 'chunk reads');
  assert.ok(total >= 500 + 2 * 3000 - 64 && total <= 500 + 3 * 3000, `rows read ${total}`);
  assert.ok(fvu(sae, X) < 0.6);
});

test('streamed fit: a cancelled run checkpoints its stream position; resuming gives exactly the uninterrupted result', async () => {
  const ck = join(dir, 'ck');
  const c = { atoms: 24, k: 2, batch: 128, steps: 60, lr: 3e-3, deadAfter: 300 };
  const so = { chunkRows: 50, bufferChunks: 5 };
  const full = createSAE('topk', c);
  const f0 = openRows(xPath);
  await trainSAE(full, f0, { seed: 9, stream: so });
  f0.close();
  const ac = new AbortController();
  const f1 = openRows(xPath);
  await assert.rejects(
    trainSAE(createSAE('topk', c), f1, { seed: 9, stream: so, signal: ac.signal, checkpointDir: ck, checkpointEvery: 7, progressIntervalMs: 0, onProgress: (p) => { if (p.step === 25) ac.abort(); } }),
    (e: any) => e.code === 'E_CANCELLED',
  );
  f1.close();
  const saved = loadCheckpoint(ck)!;
  assert.equal(saved.step, 25);
  // 25 steps x 128 rows = 3200 rows: epoch 1, its batch 1, 72 rows into it
  assert.deepEqual(saved.state.position, { epoch: 1, batch: 1, offset: 72 });
  const second = createSAE('topk', c);
  const f2 = openRows(xPath);
  const res = await trainSAE(second, f2, { seed: 9, stream: so, checkpointDir: ck, resume: true });
  f2.close();
  assert.equal(res.resumedFrom, 25);
  assert.deepEqual(Array.from(second.Wdec.data), Array.from(full.Wdec.data));
  assert.deepEqual(Array.from(second.benc), Array.from(full.benc));
  // an in-memory run cannot resume a streamed checkpoint (the batch order differs)
  await assert.rejects(trainSAE(createSAE('topk', c), X, { seed: 9, checkpointDir: ck, resume: true }), (e: any) => e.code === 'E_ARG' && /order/.test(e.message) && /--stream/.test(e.message));
});

test('online-dl streams from a source: unit-norm atoms, objective comparable to the in-memory run', async () => {
  const opts = { atoms: 24, lambda: 0.1, batch: 64, steps: 60, seed: 2, fistaIters: 50 };
  const mem = await onlineDictionaryLearning(X, opts);
  const src = recording(openRows(xPath));
  const str = await onlineDictionaryLearning(src, { ...opts, stream: { chunkRows: 32 } });
  src.close();
  assert.ok(Math.max(...src.counts) <= 32);
  for (const D of [mem.D, str.D]) for (let a = 0; a < 24; a++) assert.ok(Math.abs(Math.hypot(...D.row(a)) - 1) < 1e-5);
  const { fista } = await import('../src/inference/fista.js');
  const om = fista(X, mem.D, { lambda: 0.1, iters: 100 }).objective!;
  const os = fista(X, str.D, { lambda: 0.1, iters: 100 }).objective!;
  assert.ok(Math.abs(om - os) <= 0.15 * om, `objective in memory ${om}, streamed ${os}`);
});

test('fit CLI streams files over --memory-budget (or with --stream); dl-fista refuses to stream', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  // x.npy is 3000 x 16 x 4 = 188 KiB; a 0.1 MB budget is not expressible, so write a bigger file
  const big = join(dir, 'big.npy');
  writeNpy(big, world(17000, 1)); // 1.04 MiB
  const out = join(dir, 'm');
  let r = cli(['fit', 'topk-sae', '--input', big, '--atoms', '24', '--k', '2', '--steps', '30', '--batch', '256', '--memory-budget', '1', '--seed', '0', '--out', out, '--json', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  let j = JSON.parse(r.stdout);
  assert.equal(j.streamed, true);
  assert.equal(j.samples, 17000);
  assert.ok(j.fvu < 1);
  r = cli(['fit', 'topk-sae', '--input', big, '--atoms', '24', '--k', '2', '--steps', '30', '--batch', '256', '--seed', '0', '--out', out, '--json', '--quiet']);
  j = JSON.parse(r.stdout);
  assert.equal(j.streamed, false);
  r = cli(['fit', 'online-dl', '--input', xPath, '--atoms', '24', '--steps', '20', '--stream', '--whiten', 'zca', '--seed', '0', '--out', join(dir, 'o'), '--json', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).streamed, true);
  r = cli(['fit', 'dl-fista', '--input', xPath, '--atoms', '24', '--stream', '--seed', '0', '--out', join(dir, 'd')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dl-fista does not take --stream; its options are /);
});
