import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { writeNpy } from '../src/io/npy.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { batches, listTensors, matrixRows, openRows, parseBytes, planBatches, readAllRows, type RowSource } from '../src/io/rows.js';
import { assertThrowsCode, randMatrix } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-rows-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const p = (f: string) => join(tmp, f);

function same(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
}

const X = randMatrix(257, 6, 1);
writeNpy(p('x.npy'), X);
writeNpy(p('x64.npy'), { shape: [257, 6], data: Float64Array.from(X.data) });
const W = randMatrix(6, 4, 2);
// activations beside other tensors (a bias, a second 2-D tensor in another file)
writeSafetensors(p('acts.safetensors'), { acts: { shape: [257, 6], data: X.data }, bias: { shape: [6], data: new Float32Array(6) } }, { layer: '3' });
writeSafetensors(p('two.safetensors'), {
  a: { shape: [257, 6], data: X.data },
  b16: { shape: [257, 6], data: X.data, dtype: 'F16' },
  bbf: { shape: [257, 6], data: X.data, dtype: 'BF16' },
  w64: { shape: [6, 4], data: Float64Array.from(W.data) },
  cube: { shape: [2, 2, 2], data: new Float32Array(8) },
});

test('openRows: .npy and .safetensors tensors read the same rows; chunked reads equal whole reads', () => {
  for (const [path, tensor] of [['x.npy', undefined], ['x64.npy', undefined], ['acts.safetensors', undefined], ['two.safetensors', 'a'], ['two.safetensors:a', undefined]] as const) {
    const src = openRows(p(path), { tensor, scratchBytes: 100 });
    assert.equal(src.rows, 257);
    assert.equal(src.cols, 6);
    same(src.readRows(0, 257), X.data, `${path} whole`);
    for (const chunk of [1, 10, 64, 256]) {
      const out = new Float32Array(chunk * 6);
      for (let s = 0; s < 257; s += chunk) {
        const n = Math.min(chunk, 257 - s);
        same(src.readRows(s, n, out), X.data.subarray(s * 6, (s + n) * 6), `${path} rows ${s}+${n}`);
      }
    }
    src.close();
    same(readAllRows(p(path), { tensor }).data, X.data, `${path} readAllRows`);
  }
  // F16 / BF16 / F64 tensors convert to float32 (equal to the writer's rounding, read back by decodeSafetensors)
  const h = openRows(p('two.safetensors'), { tensor: 'b16' });
  assert.equal(h.dtype, 'F16');
  const got = h.readRows(100, 3);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - X.data[600 + i]) <= 1e-3 * Math.abs(X.data[600 + i]) + 1e-7, 'f16 close');
  h.close();
  const bf = readAllRows(p('two.safetensors'), { tensor: 'bbf' });
  for (let i = 0; i < bf.data.length; i++) assert.ok(Math.abs(bf.data[i] - X.data[i]) <= 4e-3 * Math.abs(X.data[i]) + 1e-30, 'bf16 close');
  same(readAllRows(p('two.safetensors:w64')).data, W.data, 'F64 tensor');
  same(matrixRows(X).readRows(5, 2), X.data.subarray(30, 42), 'matrixRows');
});

test('safetensors tensor selection: one 2-D tensor may go unnamed; otherwise a clear error lists the tensors', () => {
  assert.deepEqual(listTensors(p('two.safetensors')).map((t) => t.name).sort(), ['a', 'b16', 'bbf', 'cube', 'w64']);
  assertThrowsCode(() => openRows(p('two.safetensors')), 'E_USAGE', /holds 4 2-D tensors; name the one to read with --tensor NAME.*a F32 \[257, 6\].*w64 F64 \[6, 4\]/);
  assertThrowsCode(() => openRows(p('two.safetensors'), { tensor: 'nope' }), 'E_ARG', /no tensor named "nope"; the file holds: .*b16 F16/);
  assertThrowsCode(() => openRows(p('two.safetensors'), { tensor: 'cube' }), 'E_SHAPE', /1-D or 2-D tensor, got shape \[2, 2, 2\]/);
  // the suffix wins over the option
  assert.equal(openRows(p('two.safetensors:w64'), { tensor: 'a' }).rows, 6);
  // a 1-D tensor, named, reads as one column
  const b = openRows(p('acts.safetensors'), { tensor: 'bias' });
  assert.deepEqual([b.rows, b.cols], [6, 1]);
  // integer tensors may sit in the file; reading one is E_DTYPE
  const hdr = JSON.stringify({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] }, x: { dtype: 'F32', shape: [2, 2], data_offsets: [24, 40] } });
  const body = Buffer.alloc(40);
  [1, 2, 3, 4].forEach((v, i) => body.writeFloatLE(v, 24 + 4 * i));
  const pre = Buffer.alloc(8);
  pre.writeUInt32LE(hdr.length, 0);
  writeFileSync(p('mixed.safetensors'), Buffer.concat([pre, Buffer.from(hdr), body]));
  same(readAllRows(p('mixed.safetensors')).data, [1, 2, 3, 4], 'the only 2-D tensor');
  assertThrowsCode(() => openRows(p('mixed.safetensors'), { tensor: 'ids' }), 'E_DTYPE', /I64 is not supported/);
  // format sniffing: a .npy under another name
  writeNpy(p('plain.npy'), X);
  writeFileSync(p('noext'), readFileSync(p('plain.npy')));
  assert.equal(openRows(p('noext')).rows, 257);
  assertThrowsCode(() => openRows(p('missing.npy')), 'E_IO');
});

test('non-finite values are reported with their row (counted from the start of the file) and column', () => {
  const Y = randMatrix(300, 5, 3);
  Y.data[123 * 5 + 4] = NaN;
  writeNpy(p('nan.npy'), Y);
  writeSafetensors(p('inf.safetensors'), { y: { shape: [300, 5], data: Y.data.map((v, i) => (i === 123 * 5 + 4 ? -Infinity : v)) } });
  const src = openRows(p('nan.npy'));
  assert.equal(src.readRows(0, 100).length, 500);
  assertThrowsCode(() => src.readRows(120, 10), 'E_NONFINITE', /nan\.npy: the data has a non-finite value \(NaN\) at row 123, column 4/);
  assertThrowsCode(() => readAllRows(p('inf.safetensors')), 'E_NONFINITE', /inf\.safetensors:y: the data has a non-finite value \(-Infinity\) at row 123, column 4/);
  const ok = openRows(p('nan.npy'), { allowNonFinite: true }).readRows(123, 1);
  assert.ok(Number.isNaN(ok[4]));
  const it = batches(openRows(p('nan.npy')), { batch: 64, shuffle: 'chunked', chunkRows: 16, seed: 1 });
  assert.throws(() => [...it], /row 123, column 4/);
});

test('readAllRows refuses files over the memory budget (option or SPARSECODE_MAX_BYTES)', () => {
  assertThrowsCode(() => readAllRows(p('x.npy'), { maxBytes: 1000 }), 'E_SHAPE', /\[257 x 6\] needs 6168 bytes as float32, over the 1000 bytes memory budget/);
  assert.equal(readAllRows(p('x.npy'), { maxBytes: 6168 }).rows, 257);
  const old = process.env.SPARSECODE_MAX_BYTES;
  try {
    process.env.SPARSECODE_MAX_BYTES = '4K';
    assertThrowsCode(() => readAllRows(p('x.npy')), 'E_SHAPE', /4096 bytes memory budget.*SPARSECODE_MAX_BYTES/);
    process.env.SPARSECODE_MAX_BYTES = 'lots';
    assertThrowsCode(() => readAllRows(p('x.npy')), 'E_ARG', /SPARSECODE_MAX_BYTES/);
  } finally {
    if (old === undefined) delete process.env.SPARSECODE_MAX_BYTES;
    else process.env.SPARSECODE_MAX_BYTES = old;
  }
  assert.deepEqual([parseBytes('8G'), parseBytes('512MiB'), parseBytes('1e6'), parseBytes('100')], [8 * 2 ** 30, 512 * 2 ** 20, 1e6, 100]);
});

/** A source that records every read, to check what batches() asks for. */
function spy(src: RowSource) {
  const reads: [number, number][] = [];
  return {
    reads,
    source: { ...src, readRows: (s: number, c: number, out?: Float32Array) => (reads.push([s, c]), src.readRows(s, c, out)) } as RowSource,
  };
}

test("batches, shuffle 'none': file order, last batch partial or dropped, epochs", () => {
  const src = matrixRows(X);
  const got: number[] = [];
  const sizes: number[] = [];
  for (const b of batches(src, { batch: 50, shuffle: 'none', epochs: 2 })) {
    sizes.push(b.X.rows);
    for (let i = 0; i < b.X.rows; i++) {
      got.push(b.rows[i]);
      same(b.X.row(i), X.row(b.rows[i]), 'row content');
    }
  }
  assert.deepEqual(sizes, [50, 50, 50, 50, 50, 7, 50, 50, 50, 50, 50, 7]);
  assert.deepEqual(got.slice(0, 257), Array.from({ length: 257 }, (_, i) => i));
  assert.equal([...batches(src, { batch: 50, shuffle: 'none', dropLast: true })].length, 5);
  assert.equal(planBatches(src, { batch: 50, dropLast: true }).batchesPerEpoch, 5);
  assert.equal(planBatches(src, { batch: 50 }).batchesPerEpoch, 6);
  assertThrowsCode(() => [...batches(src, { batch: 0 })], 'E_ARG', /batch must be an integer >= 1/);
  assertThrowsCode(() => [...batches(src, { batch: 4, shuffle: 'full' as any })], 'E_ARG', /shuffle/);
});

test("batches, shuffle 'chunked': each epoch a permutation of the rows, deterministic by seed, bounded buffer", () => {
  const n = 1000;
  const Y = new Matrix(n, 3);
  for (let i = 0; i < n; i++) Y.data.set([i, -i, i / 2], i * 3);
  const opts = { batch: 32, shuffle: 'chunked' as const, chunkRows: 25, bufferChunks: 3, seed: 7, epochs: 3 };
  const run = (o: typeof opts) => {
    const perEpoch: number[][] = [];
    const sp = spy(matrixRows(Y));
    let maxRead = 0;
    for (const b of batches(sp.source, o)) {
      (perEpoch[b.epoch] ??= []).push(...b.rows);
      for (let i = 0; i < b.X.rows; i++) assert.equal(b.X.get(i, 0), b.rows[i], 'rows and indices agree');
      assert.ok(b.X.rows === 32 || b.index === 31, 'only the last batch of an epoch is partial');
    }
    for (const [, c] of sp.reads) maxRead = Math.max(maxRead, c);
    assert.ok(maxRead <= 25, 'reads whole chunks at most');
    return perEpoch;
  };
  const a = run(opts);
  assert.equal(a.length, 3);
  for (const e of a) {
    assert.equal(e.length, n);
    assert.deepEqual([...e].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), 'a permutation');
  }
  assert.notDeepEqual(a[0], a[1], 'epochs differ');
  assert.notDeepEqual(a[0].slice(0, 100), Array.from({ length: 100 }, (_, i) => i), 'shuffled');
  assert.deepEqual(run(opts), a, 'deterministic');
  assert.notDeepEqual(run({ ...opts, seed: 8 })[0], a[0], 'seed matters');
  // resuming at epoch 2 gives the same epoch 2
  const resumed: number[] = [];
  for (const b of batches(matrixRows(Y), { ...opts, startEpoch: 2 })) {
    assert.equal(b.epoch, 2);
    resumed.push(...b.rows);
  }
  assert.deepEqual(resumed, a[2]);
  // bounded buffer: the first window's batches draw on at most bufferChunks chunks
  const first = a[0].slice(0, 64); // 2 full batches from a 75-row window
  assert.ok(new Set(first.map((r) => Math.floor(r / 25))).size <= 3, 'first batches come from <= 3 chunks');
  // the iterator holds (bufferChunks x chunkRows + batch - 1) + batch rows, whatever n is
  const small = planBatches({ rows: 1000, cols: 3 }, opts);
  const huge = planBatches({ rows: 1e9, cols: 3 }, opts);
  assert.equal(small.bufferBytes, (75 + 31 + 32) * 3 * 4);
  assert.equal(huge.bufferBytes, small.bufferBytes);
  // and reads happen lazily: taking one batch reads at most one window
  const sp = spy(matrixRows(Y));
  const it = batches(sp.source, opts);
  it.next();
  assert.equal(sp.reads.reduce((t, [, c]) => t + c, 0), 75);
  it.return(undefined);
  // dropLast: every batch full; reuse false: batches kept are independent
  const kept = [...batches(matrixRows(Y), { ...opts, epochs: 1, dropLast: true, reuse: false })];
  assert.equal(kept.length, 31);
  assert.ok(kept.every((b) => b.X.rows === 32));
  assert.notEqual(kept[0].X.data.buffer, kept[1].X.data.buffer);
  for (const b of kept) for (let i = 0; i < 32; i++) assert.equal(b.X.get(i, 0), b.rows[i]);
  // default sizes: about 4 MiB chunks
  assert.equal(planBatches({ rows: 10, cols: 1024 }, { batch: 8 }).chunkRows, 1024);
});

test('batches over a .safetensors file: chunked shuffle reads the same rows as from memory', () => {
  const o = { batch: 40, chunkRows: 16, bufferChunks: 2, seed: 3, epochs: 1 };
  const fromFile = [...batches(openRows(p('acts.safetensors')), { ...o, reuse: false })];
  const fromMem = [...batches(matrixRows(X), { ...o, reuse: false })];
  assert.equal(fromFile.length, Math.ceil(257 / 40));
  for (let k = 0; k < fromFile.length; k++) {
    same(fromFile[k].rows, fromMem[k].rows, 'same order');
    same(fromFile[k].X.data, fromMem[k].X.data, 'same rows');
  }
});
