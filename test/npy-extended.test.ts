import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { Matrix } from '../src/core/matrix.js';
import { decodeNpy, encodeNpy, encodeNpyHeader, openNpy, readNpy, readNpyMatrix, writeNpy } from '../src/io/npy.js';
import { createNpyWriter } from '../src/io/npy-writer.js';
import { assertThrowsCode, randMatrix } from './helpers.js';

// float16, big-endian and Fortran-order files written by NumPy (test/fixtures/npy/gen2.py)
const dir = fileURLToPath(new URL('./fixtures/npy/ext/', import.meta.url));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')).files as Record<string, { shape: number[]; descr: string; fortran: boolean; values: (number | string)[] }>;
const num = (v: number | string) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number));

/** bit-exact comparison (NaN equals NaN, -0 differs from 0) */
function assertSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
}

const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-npyx-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('decodes NumPy float16, big-endian and Fortran-order files to the values NumPy reads (C order)', () => {
  const names = Object.keys(expected);
  assert.ok(names.length >= 10);
  let sawF2 = 0, sawBE = 0, sawF = 0;
  for (const name of names) {
    const e = expected[name];
    if (e.descr.endsWith('f2')) sawF2++;
    if (e.descr.startsWith('>')) sawBE++;
    if (e.fortran) sawF++;
    const a = readNpy(join(dir, name));
    assert.deepEqual(a.shape, e.shape, `${name}: shape`);
    const want = e.values.map(num);
    if (e.descr.endsWith('f8')) {
      assert.ok(a.data instanceof Float64Array, `${name}: float64 stays float64`);
      assertSame(a.data, want, name);
    } else {
      assert.ok(a.data instanceof Float32Array, `${name}: float16/float32 read as float32`);
      assertSame(a.data, want.map(Math.fround), name); // float16 -> float32 is exact
    }
  }
  assert.ok(sawF2 >= 3 && sawBE >= 4 && sawF >= 4, 'fixtures cover each feature');
  // the special float16 values, spelled out
  const h = readNpy(join(dir, 'f2_le_2d.npy')).data;
  assertSame(h.slice(0, 6), [0, -0, 1, 65504, -65504, 5.960464477539063e-8], 'float16 specials');
  assert.ok(Number.isNaN(h[11]) && h[9] === Infinity && h[10] === -Infinity);
  // Fortran 2-D: element (i, j) of np.arange(20).reshape(5, 4) / 7
  const f = readNpyMatrix(join(dir, 'fortran_f4_2d.npy'));
  assert.deepEqual(f.shape, [5, 4]);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) assert.equal(f.get(i, j), Math.fround((i * 4 + j) / 7));
});

test('openNpy: chunked reads equal the whole read for every layout, with small scratch buffers too', () => {
  for (const [name, e] of Object.entries(expected)) {
    if (e.shape.length > 2 || name === 'f8_overflow.npy') continue;
    const want = Float32Array.from(e.values.map(num));
    for (const scratchBytes of [undefined, 8, 24, 100]) {
      const r = openNpy(join(dir, name), { scratchBytes });
      try {
        assert.equal(r.rows, e.shape[0]);
        assert.equal(r.cols, e.shape.length === 2 ? e.shape[1] : 1);
        assert.equal(r.fortran, e.fortran);
        assertSame(r.readRows(0, r.rows), want, `${name}: whole`);
        for (const chunk of [1, 2, 3, 7]) {
          const out = new Float32Array(chunk * r.cols + 5); // larger than needed: the prefix is filled
          const got = new Float32Array(r.rows * r.cols);
          for (let s = 0; s < r.rows; s += chunk) {
            const n = Math.min(chunk, r.rows - s);
            const block = r.readRows(s, n, out);
            assert.equal(block.length, n * r.cols);
            assert.equal(block.buffer, out.buffer, 'fills the given buffer');
            got.set(block, s * r.cols);
          }
          assertSame(got, want, `${name}: chunk ${chunk}, scratch ${scratchBytes}`);
        }
      } finally {
        r.close();
      }
    }
  }
  const r = openNpy(join(dir, 'fortran_f8_be_2d.npy'));
  assert.equal(r.dtype, 'float64');
  assert.equal(r.descr, '>f8');
  assertThrowsCode(() => r.readRows(30, 8), 'E_ARG', /rows \[30, 38\) of an array with 37 rows/);
  assertThrowsCode(() => r.readRows(-1, 1), 'E_ARG');
  assertThrowsCode(() => r.readRows(0, 2, new Float32Array(9)), 'E_SHAPE', /2 rows x 5 columns need 10/);
  r.close();
  assertThrowsCode(() => r.readRows(0, 1), 'E_IO', /after close/);
  assert.equal(openNpy(join(dir, 'f2_le_2d.npy')).dtype, 'float16');
});

test('openNpy: float64 overflow names the row and column; 3-D, int and missing files are refused', () => {
  const r = openNpy(join(dir, 'f8_overflow.npy'));
  assert.deepEqual(Array.from(r.readRows(0, 2)), new Array(8).fill(0));
  assertThrowsCode(() => r.readRows(0, 3), 'E_DTYPE', /1e\+300 at row 2, column 1 overflows float32/);
  assertThrowsCode(() => r.readRows(2, 1), 'E_DTYPE', /row 2, column 1/);
  r.close();
  assertThrowsCode(() => readNpyMatrix(join(dir, 'f8_overflow.npy')), 'E_DTYPE', /row 2, column 1/);
  assertThrowsCode(() => openNpy(join(dir, 'fortran_f4_3d.npy')), 'E_SHAPE', /1-D or 2-D.*\(2, 3, 4\)/);
  assertThrowsCode(() => openNpy(join(dir, '..', 'int64.npy')), 'E_DTYPE', /int64/);
  assertThrowsCode(() => openNpy(join(tmp, 'nope.npy')), 'E_IO');
  assertThrowsCode(() => openNpy(tmp), 'E_IO', /not a regular file/);
});

test('openNpy on larger files: random chunks of float32/float64 C-order data match the matrix', () => {
  const M = randMatrix(1000, 7, 5);
  writeNpy(join(tmp, 'm32.npy'), M);
  const m64 = { shape: [1000, 7], data: Float64Array.from(M.data) };
  writeNpy(join(tmp, 'm64.npy'), m64);
  const rng = new Rng(3);
  for (const f of ['m32.npy', 'm64.npy']) {
    const r = openNpy(join(tmp, f), { scratchBytes: 200 });
    for (let t = 0; t < 50; t++) {
      const s = rng.int(1000);
      const n = rng.int(1001 - s);
      assertSame(r.readRows(s, n), M.data.subarray(s * 7, (s + n) * 7), `${f} [${s}, ${s + n})`);
    }
    r.close();
  }
  // a hand-made big-endian Fortran-order float32 file (not from NumPy) decodes the same way
  const rows = 9, cols = 4;
  const X = randMatrix(rows, cols, 8);
  const head = encodeNpyHeader('>f4', [rows, cols]);
  const text = Buffer.from(head).toString('latin1').replace("'fortran_order': False", "'fortran_order': True ");
  const body = Buffer.alloc(rows * cols * 4);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) body.writeFloatBE(X.get(i, j), 4 * (j * rows + i));
  const file = Buffer.concat([Buffer.from(text, 'latin1'), body]);
  writeFileSync(join(tmp, 'fbe.npy'), file);
  assertSame(decodeNpy(file).data, X.data, 'decodeNpy, F-order >f4');
  assertSame(readNpyMatrix(join(tmp, 'fbe.npy')).data, X.data, 'readNpyMatrix, F-order >f4');
  const r = openNpy(join(tmp, 'fbe.npy'), { scratchBytes: 8 });
  assertSame(r.readRows(3, 4), X.data.subarray(12, 28), 'openNpy rows 3..6');
  r.close();
  // encodeNpyHeader: padded to a minimum length and 64-byte multiples
  assert.equal(encodeNpyHeader('<f4', [3, 4]).length, 128);
  assert.equal(encodeNpyHeader('<f4', [3, 4], 150).length, 192);
});

test('createNpyWriter: rows appended in pieces read back (NumPy layout), atomic finish, abort leaves nothing', () => {
  const M = randMatrix(50, 3, 9);
  const out = join(tmp, 'w', 'streamed.npy');
  const w = createNpyWriter(out, { cols: 3, rows: 50 });
  w.append(M.rowSlice(0, 7));
  w.append(M.data.subarray(21, 60));
  assert.equal(existsSync(out), false, 'nothing at the target before finish');
  w.append(M.rowSlice(20, 50));
  assert.equal(w.rowsWritten, 50);
  w.finish();
  assert.deepEqual(readFileSync(out), Buffer.from(encodeNpy({ shape: [50, 3], data: M.data })), 'byte-identical to encodeNpy / np.save');
  assert.deepEqual(readdirSync(join(tmp, 'w')), ['streamed.npy']);
  // unknown row count: the header is written at finish
  const u = createNpyWriter(join(tmp, 'w', 'u.npy'), { cols: 3, dtype: 'float64' });
  u.append(Float64Array.from(M.data.subarray(0, 12)));
  u.append(new Float64Array(0));
  u.finish();
  const back = readNpy(join(tmp, 'w', 'u.npy'));
  assert.deepEqual(back.shape, [4, 3]);
  assert.equal(back.dtype, 'float64');
  assertSame(back.data, Float64Array.from(M.data.subarray(0, 12)), 'float64 rows');
  // declared rows not met, wrong widths and types: E_SHAPE / E_DTYPE, and the temporary file is gone
  const short = createNpyWriter(join(tmp, 'w', 'short.npy'), { cols: 3, rows: 5 });
  short.append(M.rowSlice(0, 2));
  assertThrowsCode(() => short.finish(), 'E_SHAPE', /2 rows appended, the file was declared with 5/);
  const bad = createNpyWriter(join(tmp, 'w', 'bad.npy'), { cols: 3 });
  assertThrowsCode(() => bad.append(new Float32Array(4)), 'E_SHAPE', /not whole rows of 3/);
  assertThrowsCode(() => bad.append(new Float32Array(3)), 'E_ARG', /after abort/);
  assertThrowsCode(() => createNpyWriter(join(tmp, 'w', 'x.npy'), { cols: 2 }).append(new Float64Array(2)), 'E_DTYPE', /Float32Array/);
  assertThrowsCode(() => createNpyWriter(join(tmp, 'w', 'y.npy'), { cols: 2, rows: 1 }).append(new Matrix(1, 3)), 'E_SHAPE', /3 columns, the file has 2/);
  const ab = createNpyWriter(join(tmp, 'w', 'ab.npy'), { cols: 3 });
  ab.append(M.rowSlice(0, 1));
  ab.abort();
  ab.abort();
  assert.deepEqual(readdirSync(join(tmp, 'w')).sort(), ['streamed.npy', 'u.npy']);
  assertThrowsCode(() => createNpyWriter(join(tmp, 'w', 'z.npy'), { cols: -1 }), 'E_ARG');
});
