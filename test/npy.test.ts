import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../src/core/matrix.js';
import { decodeNpy, encodeNpy, readNpy, readNpyMatrix, writeNpy, parseNpyHeader } from '../src/io/npy.js';
import { assertAllClose, assertThrowsCode, randMatrix } from './helpers.js';

// Files written by NumPy (test/fixtures/npy/gen.py, which also checks that NumPy reads ours).
const dir = fileURLToPath(new URL('./fixtures/npy/', import.meta.url));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));

test('reads files written by NumPy: v1.0, v2.0, v3.0, float32/float64, 0-d, 1-D, 2-D, 3-D, zero rows', () => {
  const names = Object.keys(expected.good);
  assert.ok(names.length >= 8);
  for (const name of names) {
    const e = expected.good[name];
    const a = readNpy(join(dir, name));
    assert.deepEqual(a.shape, e.shape, `${name}: shape`);
    assert.equal(a.dtype, e.dtype, `${name}: dtype`);
    assert.ok(a.data instanceof (e.dtype === 'float32' ? Float32Array : Float64Array), `${name}: array type`);
    assertAllClose(a.data, e.values, 0, 0, `${name}: values (bit-exact)`);
  }
  // the three header versions really are different on disk
  const ver = (n: string) => readFileSync(join(dir, n))[6];
  assert.deepEqual([ver('v1_f32_2d.npy'), ver('v2_f32_2d.npy'), ver('v3_f64_2d.npy')], [1, 2, 3]);
});

test('readNpyMatrix: 2-D as is, 1-D as a column, zero rows; other ranks rejected', () => {
  const m = readNpyMatrix(join(dir, 'v1_f32_2d.npy'));
  assert.deepEqual(m.shape, [4, 3]);
  assert.ok(m.data instanceof Float32Array);
  assertAllClose(m.data, expected.good['v1_f32_2d.npy'].values, 0, 0);
  const v = readNpyMatrix(join(dir, 'v3_f64_2d.npy'));
  assert.deepEqual(v.shape, [3, 2]);
  assert.ok(v.data instanceof Float32Array);
  assertAllClose(v.data, expected.good['v3_f64_2d.npy'].values.map(Math.fround), 0, 0, 'float64 -> float32');
  // 1-D becomes one column; a finite float64 beyond float32's range is an error, not a silent Infinity
  assertThrowsCode(() => readNpyMatrix(join(dir, 'v1_f64_1d.npy')), 'E_DTYPE', /1e\+300 at row 4, column 0 overflows float32/);
  const col = readNpyMatrix(join(dir, 'f32_col.npy'));
  assert.deepEqual(col.shape, [4, 1]);
  assertAllClose(col.data, [0, 1, 2, 3], 0, 0);
  assert.deepEqual(readNpyMatrix(join(dir, 'zero_rows_f32.npy')).shape, [0, 5]);
  assertThrowsCode(() => readNpyMatrix(join(dir, 'f32_3d.npy')), 'E_SHAPE', /1-D or 2-D.*\(2, 2, 3\)/);
  assertThrowsCode(() => readNpyMatrix(join(dir, 'scalar_f64.npy')), 'E_SHAPE');
});

test('malformed and unsupported files give E_FORMAT / E_DTYPE with the file name and a fix', () => {
  const bad = expected.bad as Record<string, string>;
  assert.ok(Object.keys(bad).length >= 10);
  for (const [name, code] of Object.entries(bad)) {
    assertThrowsCode(() => readNpy(join(dir, name)), code, new RegExp(name.replace('.', '\\.')));
  }
  assertThrowsCode(() => readNpy(join(dir, 'int64.npy')), 'E_DTYPE', /int64.*astype\(np\.float32\)/);
  assertThrowsCode(() => readNpy(join(dir, 'complex128.npy')), 'E_DTYPE', /complex128/);
  assertThrowsCode(() => readNpy(join(dir, 'float16_as_int.npy')), 'E_DTYPE', /int16/);
  assertThrowsCode(() => readNpy(join(dir, 'structured.npy')), 'E_DTYPE', /structured/);
  assertThrowsCode(() => readNpy(join(dir, 'truncated_data.npy')), 'E_FORMAT', /truncated/);
  assertThrowsCode(() => readNpy(join(dir, 'truncated_header.npy')), 'E_FORMAT', /truncated .npy header/);
  assertThrowsCode(() => readNpy(join(dir, 'too_short.npy')), 'E_FORMAT', /too short/);
  assertThrowsCode(() => readNpy(join(dir, 'bad_magic.npy')), 'E_FORMAT', /magic/);
  assertThrowsCode(() => readNpy(join(dir, 'trailing_garbage.npy')), 'E_FORMAT', /3 unexpected trailing bytes/);
  assertThrowsCode(() => readNpy(join(dir, 'bad_version.npy')), 'E_FORMAT', /version 7\.0/);
  assertThrowsCode(() => readNpy(join(dir, 'does-not-exist.npy')), 'E_IO');
  // a header that is not a dict
  const junk = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 4, 0, 0x7b, 0x7d, 0x20, 0x0a]);
  assertThrowsCode(() => decodeNpy(junk), 'E_FORMAT', /malformed/);
});

test('round trip: write then read (float32 Matrix, float64, 0-d, zero rows, views); layout matches np.save', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-npy-'));
  try {
    const M = randMatrix(17, 5, 3);
    writeNpy(join(tmp, 'm.npy'), M);
    const back = readNpyMatrix(join(tmp, 'm.npy'));
    assert.deepEqual(back.shape, [17, 5]);
    assert.deepEqual(Array.from(back.data), Array.from(M.data));
    // a row-slice view (non-zero byteOffset) writes only its own rows
    const view = M.rowSlice(3, 6);
    writeNpy(join(tmp, 'view.npy'), view);
    assert.deepEqual(Array.from(readNpyMatrix(join(tmp, 'view.npy')).data), Array.from(view.data));
    const f64 = { shape: [2, 3], data: Float64Array.from([Math.PI, -0, 1e-310, 1e308, -1, 0.1]) };
    writeNpy(join(tmp, 'f64.npy'), f64);
    const r = readNpy(join(tmp, 'f64.npy'));
    assert.equal(r.dtype, 'float64');
    assert.deepEqual(Array.from(r.data), Array.from(f64.data));
    assert.ok(Object.is(r.data[1], -0));
    writeNpy(join(tmp, 'v.npy'), { shape: [5], data: Float32Array.from([5, 4, 3, 2, 1]) });
    const v = readNpyMatrix(join(tmp, 'v.npy'));
    assert.deepEqual(v.shape, [5, 1], '1-D reads as one column');
    assertAllClose(v.data, [5, 4, 3, 2, 1], 0, 0);
    writeNpy(join(tmp, 'z.npy'), new Matrix(0, 9));
    assert.deepEqual(readNpyMatrix(join(tmp, 'z.npy')).shape, [0, 9]);
    writeNpy(join(tmp, 's.npy'), { shape: [], data: Float64Array.from([2.75]) });
    assert.deepEqual(readNpy(join(tmp, 's.npy')).shape, []);
    // no temporary files left behind (atomic writes)
    assert.deepEqual(readdirSync(tmp).sort(), ['f64.npy', 'm.npy', 's.npy', 'v.npy', 'view.npy', 'z.npy']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // our bytes equal NumPy's for the same array (np.save wrote v1_f32_2d.npy)
  const e = expected.good['v1_f32_2d.npy'];
  const ours = encodeNpy({ shape: e.shape, data: Float32Array.from(e.values) });
  assert.deepEqual(Buffer.from(ours), readFileSync(join(dir, 'v1_f32_2d.npy')), 'byte-identical to np.save');
  const hdr = parseNpyHeader(ours);
  assert.equal(hdr.dataOffset % 64, 0);
  // decoding from a view into a larger buffer (byteOffset != 0) reads the right bytes
  const padded = new Uint8Array(ours.length + 13);
  padded.set(ours, 13);
  assertAllClose(decodeNpy(padded.subarray(13)).data, e.values, 0, 0, 'decode from an offset view');
  assertThrowsCode(() => encodeNpy({ shape: [2, 2], data: new Float32Array(3) }), 'E_SHAPE');
  assertThrowsCode(() => encodeNpy({ shape: [-1], data: new Float32Array(0) }), 'E_SHAPE');
  assertThrowsCode(() => encodeNpy({ shape: [2], data: [1, 2] as any }), 'E_DTYPE');
});
