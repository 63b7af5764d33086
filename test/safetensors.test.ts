import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors, f16ToNumber, numberToF16 } from '../src/io/safetensors.js';
import { assertThrowsCode } from './helpers.js';

const FIX = 'test/fixtures/sae';
// the fixture spells infinities as Python's json does (Infinity); 1e999 parses to Infinity
const ref = JSON.parse(readFileSync(join(FIX, 'mixed.json'), 'utf8').replace(/\bInfinity\b/g, '1e999'));

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Build a file from a header object and a data section (for malformed-input tests). */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), lenOverride?: number): Uint8Array {
  const h = Buffer.from(JSON.stringify(header));
  const pre = new Uint8Array(8);
  new DataView(pre.buffer).setUint32(0, lenOverride ?? h.length, true);
  return concat([pre, h, data]);
}

test('reads a spec-built file with F32, F64, F16 (NumPy) and BF16 (PyTorch) tensors and metadata', () => {
  const f = readSafetensors(join(FIX, 'mixed.safetensors'));
  assert.deepEqual(f.metadata, { format: 'pt', note: 'fixture' });
  assert.deepEqual(f.tensors.b_f64.shape, [5, 6]);
  assert.ok(f.tensors.b_f64.data instanceof Float64Array);
  assert.deepEqual(Array.from(f.tensors.a_f32.data), ref.f32);
  assert.deepEqual(Array.from(f.tensors.b_f64.data), ref.f64);
  assert.deepEqual(Array.from(f.tensors.c_f16.data), ref.f16);
  assert.deepEqual(Array.from(f.tensors.d_bf16.data), ref.bf16);
  assert.deepEqual(f.tensors.e_empty.shape, [0, 4]);
  assert.equal(f.tensors.e_empty.data.length, 0);
});

test('F16 and BF16 encodings round to nearest even exactly as NumPy and PyTorch do', () => {
  const bytes = concat(encodeSafetensors({
    h: { shape: [30], data: Float64Array.from(ref.inputs), dtype: 'F16' },
    b: { shape: [30], data: Float32Array.from(ref.f32), dtype: 'BF16' },
  }));
  const hdrLen = new DataView(bytes.buffer).getUint32(0, true);
  const dv = new DataView(bytes.buffer, 8 + hdrLen);
  for (let i = 0; i < 30; i++) assert.equal(dv.getUint16(2 * i, true), ref.f16_bits[i], `F16 bits of ${ref.inputs[i]}`);
  for (let i = 0; i < 30; i++) assert.equal(dv.getUint16(60 + 2 * i, true), ref.bf16_bits[i], `BF16 bits of ${ref.f32[i]}`);
  // every finite half round-trips
  for (let h = 0; h < 0x7c00; h++) assert.equal(numberToF16(f16ToNumber(h)), h);
});

test('write/read round trip is exact for F32 and F64, and the data section is 8-byte aligned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const a = Float32Array.from([1, -2.5, 3e-20, 1e30, 0, 7]);
    const b = Float64Array.from([Math.PI, -1e-300]);
    const p = join(dir, 'x.safetensors');
    writeSafetensors(p, { W: { shape: [2, 3], data: a }, v: { shape: [2], data: b } }, { k: 'v' });
    const buf = readFileSync(p);
    assert.equal((8 + new DataView(buf.buffer, buf.byteOffset).getUint32(0, true)) % 8, 0);
    const f = readSafetensors(p);
    assert.deepEqual(Array.from(f.tensors.W.data), Array.from(a));
    assert.deepEqual(Array.from(f.tensors.v.data), Array.from(b));
    assert.equal(f.tensors.W.dtype, 'F32');
    assert.equal(f.tensors.v.dtype, 'F64');
    assert.deepEqual(f.metadata, { k: 'v' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed headers are refused with E_FORMAT / E_DTYPE naming the problem', () => {
  const four = new Uint8Array(16);
  assertThrowsCode(() => decodeSafetensors(new Uint8Array(4)), 'E_FORMAT', /too short/);
  assertThrowsCode(() => decodeSafetensors(raw({}, new Uint8Array(0), 200_000_000)), 'E_FORMAT', /exceeds/);
  assertThrowsCode(() => decodeSafetensors(raw({}, new Uint8Array(0), 500)), 'E_FORMAT', /truncated/);
  const bad = concat([new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x:')]);
  assertThrowsCode(() => decodeSafetensors(bad), 'E_FORMAT', /JSON/);
  assertThrowsCode(() => decodeSafetensors(raw([1, 2])), 'E_FORMAT', /object/);
  assertThrowsCode(() => decodeSafetensors(raw({ t: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, four)), 'E_DTYPE', /I64/);
  assertThrowsCode(() => decodeSafetensors(raw({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, four)), 'E_FORMAT', /shape \[3\] = 12 bytes/);
  assertThrowsCode(() => decodeSafetensors(raw({ t: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, four)), 'E_FORMAT', /run past/);
  assertThrowsCode(() => decodeSafetensors(raw({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, four)), 'E_FORMAT', /end before begin/);
  assertThrowsCode(() => decodeSafetensors(raw({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four)), 'E_FORMAT', /non-negative/);
  assertThrowsCode(() => decodeSafetensors(raw({
    a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
    b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
  }, four)), 'E_FORMAT', /overlaps/);
  assertThrowsCode(() => decodeSafetensors(raw({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, four)), 'E_FORMAT', /gap/);
  assertThrowsCode(() => decodeSafetensors(raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, four)), 'E_FORMAT', /after the last tensor/);
  assertThrowsCode(() => decodeSafetensors(raw({ __metadata__: { a: 1 } })), 'E_FORMAT', /string/);
  assertThrowsCode(() => encodeSafetensors({ t: { shape: [3], data: new Float32Array(2) } }), 'E_SHAPE', /does not match/);
  assertThrowsCode(() => readSafetensors('/nonexistent/x.safetensors'), 'E_IO');
});
