import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SparsecodeError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { decodeNpy, openNpy } from '../src/io/npy.js';
import { openRows } from '../src/io/rows.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { openSafetensorsIndex } from '../src/io/safetensors-index.js';

// Property: whatever bytes the parsers get (thousands of mutated, truncated and extended copies
// of valid files, seeded), they either return arrays consistent with the file, or throw a
// SparsecodeError with code E_FORMAT / E_DTYPE / E_SHAPE. Never another exception, never a
// hang, never an allocation beyond what the file could hold (sizes claimed by headers are
// checked against the file size first).

const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-fuzz-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const PARSE_CODES = new Set(['E_FORMAT', 'E_DTYPE', 'E_SHAPE']);
const MiB = 2 ** 20;

// ---- valid inputs ---------------------------------------------------------------------------

function npyBytes(rng: Rng): Uint8Array {
  const descr = ['<f4', '<f8', '<f2', '>f4', '>f8', '>f2', '<f4', '<f4'][rng.int(8)];
  const rank = rng.int(4);
  const shape = Array.from({ length: rank }, () => rng.int(6));
  const fortran = rng.uniform() < 0.3;
  const version = [1, 1, 2, 3][rng.int(4)];
  const shapeStr = rank === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeStr}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const count = shape.reduce((a, b) => a * b, 1);
  const width = Number(descr.slice(2));
  const out = new Uint8Array(total + count * width);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  for (let i = total; i < out.length; i++) out[i] = rng.int(256);
  return out;
}

const ST_WIDTH: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8 };

function safetensorsBytes(rng: Rng): { bytes: Uint8Array; names: string[] } {
  const n = 1 + rng.int(3);
  const header: Record<string, unknown> = {};
  if (rng.uniform() < 0.3) header.__metadata__ = { format: 'pt', note: 'x'.repeat(rng.int(5)) };
  let off = 0;
  const names: string[] = [];
  for (let t = 0; t < n; t++) {
    const dtype = ['F32', 'F32', 'F64', 'F16', 'BF16', 'I64'][rng.int(6)];
    const shape = Array.from({ length: 1 + rng.int(2) }, () => rng.int(5));
    const len = shape.reduce((a, b) => a * b, 1) * ST_WIDTH[dtype];
    const name = `t${t}`;
    names.push(name);
    header[name] = { dtype, shape, data_offsets: [off, off + len] };
    off += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setUint32(0, json.length, true);
  for (let i = 0; i < json.length; i++) out[8 + i] = json.charCodeAt(i);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = rng.int(256);
  return { bytes: out, names };
}

// ---- mutations ------------------------------------------------------------------------------

const HOSTILE_NUMBERS = ['0', '1', '-1', '1000000000000000', '99999999999999999999', '4294967296', '9007199254740993', '1e15', '3.5', 'NaN', '[]', '"7"', 'null'];
const HOSTILE_TEXT = ['(', ')', ',', '[', ']', '{', '}', "'", '"', ':', 'L', 'True', '\u00ff', '\n', '<f16', '|u1', '>c8', 'O', '__metadata__', '__proto__', 'dtype', 'shape', 'data_offsets'];

function mutate(src: Uint8Array, rng: Rng, headerEnd: number): Uint8Array {
  const kind = rng.int(8);
  let b: Uint8Array = src.slice();
  switch (kind) {
    case 0: {
      // flip bytes, mostly in the header
      const k = 1 + rng.int(6);
      for (let i = 0; i < k && b.length; i++) {
        const at = rng.uniform() < 0.8 ? rng.int(Math.max(1, Math.min(b.length, headerEnd))) : rng.int(b.length);
        b[at] = rng.int(256);
      }
      break;
    }
    case 1:
      b = b.subarray(0, rng.int(b.length + 1)); // truncate
      break;
    case 2: {
      const extra = new Uint8Array(1 + rng.int(40));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      const c = new Uint8Array(b.length + extra.length);
      c.set(b);
      c.set(extra, b.length);
      b = c;
      break;
    }
    case 3:
    case 4: {
      // textual edits of the header: a number replaced by a hostile one, or hostile text spliced in
      const text = Buffer.from(b.subarray(0, headerEnd)).toString('latin1');
      const nums = [...text.matchAll(/\d+/g)].filter((m) => (m.index ?? 0) >= 8);
      let edited: string;
      if (kind === 3 && nums.length) {
        const m = nums[rng.int(nums.length)];
        edited = text.slice(0, m.index) + HOSTILE_NUMBERS[rng.int(HOSTILE_NUMBERS.length)] + text.slice(m.index! + m[0].length);
      } else {
        const at = 8 + rng.int(Math.max(1, text.length - 8));
        const del = rng.int(4);
        edited = text.slice(0, at) + HOSTILE_TEXT[rng.int(HOSTILE_TEXT.length)] + text.slice(at + del);
      }
      const head = Buffer.from(edited, 'latin1');
      const c = new Uint8Array(head.length + b.length - headerEnd);
      c.set(head);
      c.set(b.subarray(headerEnd), head.length);
      b = c;
      break;
    }
    case 5: {
      // the length field: random, huge, or off by a little
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (b.length >= 12) {
        const choice = rng.int(4);
        const v = choice === 0 ? 0xffffffff : choice === 1 ? rng.nextU32() : choice === 2 ? Math.max(0, dv.getUint16(8, true) + rng.int(9) - 4) : 0;
        if (b[0] === 0x93) {
          if (b[6] === 1) dv.setUint16(8, v & 0xffff, true);
          else dv.setUint32(8, v >>> 0, true);
        } else {
          dv.setUint32(0, v >>> 0, true);
          dv.setUint32(4, choice === 3 ? rng.nextU32() : 0, true);
        }
      }
      break;
    }
    case 6:
      // version byte / magic
      if (b.length > 7) b[rng.uniform() < 0.5 ? 6 : rng.int(8)] = rng.int(6);
      break;
    default: {
      // splice: drop a random slice
      const a = rng.int(b.length + 1);
      const z = a + rng.int(b.length - a + 1);
      const c = new Uint8Array(b.length - (z - a));
      c.set(b.subarray(0, a));
      c.set(b.subarray(z), a);
      b = c;
    }
  }
  return b;
}

// ---- the property ---------------------------------------------------------------------------

interface Stats {
  ok: number;
  rejected: Record<string, number>;
  slowest: number;
}

function check(stats: Stats, what: string, fn: () => void, allowed = PARSE_CODES): void {
  const t0 = performance.now();
  try {
    fn();
    stats.ok++;
  } catch (e) {
    if (!(e instanceof SparsecodeError)) assert.fail(`${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!allowed.has(e.code)) assert.fail(`${what}: unexpected code ${e.code}: ${e.message}`);
    stats.rejected[e.code] = (stats.rejected[e.code] ?? 0) + 1;
  }
  const dt = performance.now() - t0;
  stats.slowest = Math.max(stats.slowest, dt);
  assert.ok(dt < 1000, `${what}: took ${dt.toFixed(0)} ms`);
  const ab = process.memoryUsage().arrayBuffers;
  assert.ok(ab < 512 * MiB, `${what}: ${(ab / MiB).toFixed(0)} MiB of array buffers alive`);
}

function npyHeaderEnd(b: Uint8Array): number {
  return Math.min(b.length, b[6] === 1 ? 10 + (b[8] | (b[9] << 8)) : 12 + new DataView(b.buffer, b.byteOffset).getUint32(8, true));
}

test('fuzz decodeNpy: 8000 mutated files give arrays or E_FORMAT/E_DTYPE/E_SHAPE', (t) => {
  const rng = new Rng('fuzz-npy');
  const stats: Stats = { ok: 0, rejected: {}, slowest: 0 };
  for (let i = 0; i < 8000; i++) {
    const valid = npyBytes(rng);
    const bytes = i % 10 === 0 ? valid : mutate(valid, rng, npyHeaderEnd(valid));
    check(stats, `npy case ${i}`, () => {
      const a = decodeNpy(bytes, `case${i}`);
      const count = a.shape.reduce((x, y) => x * y, 1);
      assert.equal(a.data.length, count, `case ${i}: data length matches the shape`);
      assert.ok(a.data.byteLength <= 2 * bytes.length, `case ${i}: output no larger than the file allows`);
    });
  }
  t.diagnostic(JSON.stringify(stats));
  assert.ok(stats.ok > 800, `some files decode (${stats.ok})`);
  assert.ok((stats.rejected.E_FORMAT ?? 0) > 2000 && (stats.rejected.E_DTYPE ?? 0) > 40, JSON.stringify(stats));
});

test('fuzz decodeSafetensors: 8000 mutated files give tensors or E_FORMAT/E_DTYPE/E_SHAPE', (t) => {
  const rng = new Rng('fuzz-st');
  const stats: Stats = { ok: 0, rejected: {}, slowest: 0 };
  for (let i = 0; i < 8000; i++) {
    const { bytes: valid } = safetensorsBytes(rng);
    const hEnd = 8 + new DataView(valid.buffer).getUint32(0, true);
    const bytes = i % 10 === 0 ? valid : mutate(valid, rng, hEnd);
    check(stats, `safetensors case ${i}`, () => {
      const f = decodeSafetensors(bytes, `case${i}`);
      let total = 0;
      for (const x of Object.values(f.tensors)) {
        assert.equal(x.data.length, x.shape.reduce((a, b) => a * b, 1));
        total += x.data.byteLength;
      }
      assert.ok(total <= 2 * bytes.length, `case ${i}: output no larger than the file allows`);
    });
  }
  t.diagnostic(JSON.stringify(stats));
  assert.ok(stats.ok > 600, `some files decode (${stats.ok})`);
  assert.ok((stats.rejected.E_FORMAT ?? 0) > 2000, JSON.stringify(stats));
});

test('fuzz the streaming readers (openNpy, openSafetensorsIndex, openRows + readRows) on 3000 mutated files', (t) => {
  const rng = new Rng('fuzz-files');
  const stats: Stats = { ok: 0, rejected: {}, slowest: 0 };
  // openRows may also refuse a tensor choice (E_ARG/E_USAGE naming the tensors)
  const rowCodes = new Set([...PARSE_CODES, 'E_ARG', 'E_USAGE']);
  for (let i = 0; i < 3000; i++) {
    const isNpy = i % 2 === 0;
    let bytes: Uint8Array;
    let tensor: string | undefined;
    if (isNpy) {
      const valid = npyBytes(rng);
      bytes = i % 20 === 0 ? valid : mutate(valid, rng, npyHeaderEnd(valid));
    } else {
      const { bytes: valid, names } = safetensorsBytes(rng);
      bytes = i % 20 === 1 ? valid : mutate(valid, rng, 8 + new DataView(valid.buffer).getUint32(0, true));
      tensor = rng.uniform() < 0.7 ? names[rng.int(names.length)] : undefined;
    }
    const path = join(tmp, `f${i % 7}.${isNpy ? 'npy' : 'safetensors'}`);
    writeFileSync(path, bytes);
    check(stats, `file case ${i}`, () => {
      if (isNpy) {
        try {
          const r = openNpy(path, { scratchBytes: 16 });
          r.close();
        } catch (e) {
          if (!(e instanceof SparsecodeError && e.code === 'E_SHAPE' && /1-D or 2-D/.test(e.message))) throw e;
        }
      } else openSafetensorsIndex(path).close();
    });
    check(
      stats,
      `rows case ${i}`,
      () => {
        const src = openRows(path, { tensor, allowNonFinite: true, scratchBytes: 24 });
        try {
          const out = new Float32Array(3 * src.cols);
          for (let s = 0; s < src.rows; s += 3) src.readRows(s, Math.min(3, src.rows - s), out);
        } finally {
          src.close();
        }
      },
      rowCodes,
    );
  }
  t.diagnostic(JSON.stringify(stats));
  // (the strict padding rules of .npy and .safetensors headers refuse more of the mutants than before)
  assert.ok(stats.ok > 500, JSON.stringify(stats));
});

test('hostile headers fail before allocating: huge shapes, huge lengths, huge offsets', () => {
  const npy = (header: string, version = 1, tail = 16) => {
    const pre = version === 1 ? 10 : 12;
    const b = new Uint8Array(pre + header.length + tail);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
    if (version === 1) new DataView(b.buffer).setUint16(8, header.length, true);
    else new DataView(b.buffer).setUint32(8, header.length, true);
    for (let i = 0; i < header.length; i++) b[pre + i] = header.charCodeAt(i);
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['1e15 elements', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000,), }\n"), /truncated: shape \(1000000000000000\) needs/],
    ['1e15 x 1e15', npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000000, 1000000000000000), }\n"), /too large/],
    ['unsafe dimension', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 0), }\n"), /too large/],
    ['very long dimension', npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'9'.repeat(5000)},), }\n`), /bad dimension/],
    ['header length 4 GiB', (() => {
      const b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", 2);
      new DataView(b.buffer).setUint32(8, 0xffffffff, true);
      return b;
    })(), /implausibly large/],
    ['Fortran 1e12 x 1e3', npy("{'descr': '<f2', 'fortran_order': True, 'shape': (1000000000000, 1000), }\n"), /truncated/],
  ];
  for (const [what, bytes, re] of cases) {
    const t0 = performance.now();
    assert.throws(() => decodeNpy(bytes, what), (e: any) => e instanceof SparsecodeError && e.code === 'E_FORMAT' && re.test(e.message), what);
    const path = join(tmp, 'hostile.npy');
    writeFileSync(path, bytes);
    assert.throws(() => openNpy(path), (e: any) => e instanceof SparsecodeError && e.code === 'E_FORMAT' && re.test(e.message), `${what} (openNpy)`);
    assert.ok(performance.now() - t0 < 200, `${what}: fails fast`);
  }
  // a zero-row array may claim any width, but the row reader refuses absurd ones
  const wide = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000000000), }\n", 1, 0);
  writeFileSync(join(tmp, 'wide.npy'), wide);
  assert.throws(() => openRows(join(tmp, 'wide.npy')), (e: any) => e?.code === 'E_SHAPE' && /implausibly wide/.test(e.message));
  // safetensors: header length 2^63-ish, offsets and shapes far beyond the file
  const st = (n: number, hi: number, json: string) => {
    const h = Buffer.from(json);
    const b = new Uint8Array(8 + h.length + 8);
    new DataView(b.buffer).setUint32(0, n >>> 0, true);
    new DataView(b.buffer).setUint32(4, hi, true);
    b.set(h, 8);
    return b;
  };
  const stCases: [string, Uint8Array, RegExp][] = [
    ['header length 2^63', st(0, 0x80000000, '{}'), /exceeds/],
    ['header length past the file', st(1 << 26, 0, '{}'), /truncated safetensors header/],
    ['offsets past the data', st(74, 0, JSON.stringify({ x: { dtype: 'F32', shape: [250000000000000], data_offsets: [0, 1000000000000000] } })), /run past/],
    ['shape disagrees with offsets', st(61, 0, JSON.stringify({ x: { dtype: 'F64', shape: [1e15, 1e15], data_offsets: [0, 8] } })), /data_offsets span 8/],
    ['unsafe offsets', st(66, 0, JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 1e300] } })), /data_offsets must be/],
  ];
  for (const [what, bytes0, re] of stCases) {
    // fix the length field for the JSON cases (their JSON is the header)
    const bytes = bytes0;
    const json = Buffer.from(bytes.subarray(8, bytes.length - 8)).toString();
    if (json.startsWith('{"')) new DataView(bytes.buffer).setUint32(0, json.length, true);
    assert.throws(() => decodeSafetensors(bytes, what), (e: any) => e instanceof SparsecodeError && e.code === 'E_FORMAT' && re.test(e.message), `${what}: ${(() => { try { decodeSafetensors(bytes); return ''; } catch (e) { return (e as Error).message; } })()}`);
    const path = join(tmp, 'hostile.safetensors');
    writeFileSync(path, bytes);
    assert.throws(() => openSafetensorsIndex(path), (e: any) => e instanceof SparsecodeError && e.code === 'E_FORMAT' && re.test(e.message), `${what} (index)`);
  }
});

test('found by fuzzing: a tensor or metadata key named "__proto__" is an ordinary name (not dropped, not a prototype)', () => {
  const file = Buffer.concat(encodeSafetensors({ ['__proto__']: { shape: [2, 1], data: Float32Array.from([3, 4]) }, b: { shape: [1], data: Float32Array.from([5]) } }, { ['__proto__']: 'm' }));
  const f = decodeSafetensors(file);
  assert.deepEqual(Object.keys(f.tensors).sort(), ['__proto__', 'b']);
  assert.deepEqual(Array.from(f.tensors['__proto__'].data), [3, 4]);
  assert.equal(Object.getPrototypeOf(f.tensors), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(f.metadata, '__proto__')?.value, 'm');
  const path = join(tmp, 'proto.safetensors');
  writeFileSync(path, file);
  assert.deepEqual(Array.from(openRows(path).readRows(0, 2)), [3, 4], 'the only 2-D tensor');
  assert.deepEqual(openSafetensorsIndex(path).entries.map((e) => e.name), ['__proto__', 'b']);
});

test('header padding is strict: any byte but a space in the padding is refused (.npy before the final newline, .safetensors after the JSON), seeded', () => {
  const rng = new Rng(2024);
  let npyCases = 0, stCases = 0;
  const refuses = (fn: () => unknown, what: string) => {
    assert.throws(fn, (e: any) => e instanceof SparsecodeError && e.code === 'E_FORMAT', what);
  };
  for (let trial = 0; trial < 300; trial++) {
    // .npy: the header is {...} + spaces + '\n'; replace one padding space (or the newline)
    const bytes = npyBytes(rng);
    const version = bytes[6];
    const pre = version === 1 ? 10 : 12;
    const hlen = version === 1 ? bytes[8] | (bytes[9] << 8) : new DataView(bytes.buffer).getUint32(8, true);
    const header = Buffer.from(bytes.subarray(pre, pre + hlen)).toString('latin1');
    const close = header.lastIndexOf('}');
    assert.doesNotThrow(() => decodeNpy(bytes, 'valid'), 'the unmutated file decodes');
    const pos = pre + close + 1 + rng.int(hlen - close - 1); // a padding space or the final '\n'
    const isNewline = pos === pre + hlen - 1;
    const choices = isNewline ? [0x20, 0x00, 0x09, 0x0d, 0x41] : [0x00, 0x09, 0x0a, 0x0d, 0x41, 0x7d, 0xff];
    const mutated = bytes.slice();
    mutated[pos] = choices[rng.int(choices.length)];
    const path = join(tmp, `pad-${trial}.npy`);
    writeFileSync(path, mutated);
    refuses(() => decodeNpy(mutated, path), `npy trial ${trial}: byte 0x${mutated[pos].toString(16)} at header offset ${pos - pre}`);
    refuses(() => openNpy(path), `npy trial ${trial} (openNpy)`);
    npyCases++;

    // .safetensors: JSON + spaces; replace one padding space (when there is one) or prepend whitespace
    const st = safetensorsBytes(rng).bytes;
    const n = new DataView(st.buffer).getUint32(0, true);
    const json = Buffer.from(st.subarray(8, 8 + n)).toString('utf8');
    const last = json.lastIndexOf('}');
    const spath = join(tmp, `pad-${trial}.safetensors`);
    const m2 = st.slice();
    if (last < n - 1) m2[8 + last + 1 + rng.int(n - last - 1)] = [0x0a, 0x09, 0x0d, 0x00, 0x41][rng.int(5)];
    else {
      // no padding: shift the JSON right by one and put whitespace in front
      m2.set(st.subarray(8, 8 + n - 1), 9);
      m2[8] = [0x20, 0x0a, 0x09][rng.int(3)];
      if (st[8 + n - 1] !== 0x7d) continue;
    }
    writeFileSync(spath, m2);
    refuses(() => decodeSafetensors(m2, spath), `safetensors trial ${trial}`);
    refuses(() => openSafetensorsIndex(spath), `safetensors trial ${trial} (index)`);
    stCases++;
  }
  // a header with an extra key, or without the newline, is malformed too
  const ok = npyBytes(new Rng(5));
  const hl = ok[6] === 1 ? ok[8] | (ok[9] << 8) : new DataView(ok.buffer).getUint32(8, true);
  const pre = ok[6] === 1 ? 10 : 12;
  const txt = Buffer.from(ok.subarray(pre, pre + hl)).toString('latin1');
  const extra = txt.replace("'shape'", "'extra': 1, 'shape'").slice(0, hl - 1).padEnd(hl - 1, ' ') + '\n';
  if (extra.trimEnd().endsWith('}')) {
    const e = ok.slice();
    e.set(Buffer.from(extra, 'latin1'), pre);
    refuses(() => decodeNpy(e, 'extra key'), 'extra key');
  }
  assert.ok(npyCases === 300 && stCases > 250, `${npyCases} npy, ${stCases} safetensors cases`);
});
