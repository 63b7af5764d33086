import { readFileSync } from 'node:fs';
import { fail } from '../core/errors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON mapping tensor names to `{dtype, shape, data_offsets}` (and
 * an optional `__metadata__` string map), then the tensor bytes. Offsets are relative to the
 * end of the header.
 *
 * Reading validates everything: header size limit, JSON shape, known dtype, dtype x shape =
 * byte length, offsets in bounds, tensors contiguous and non-overlapping and covering the
 * whole data section. F32, F64, F16 and BF16 are read (F16/BF16 widen to float32) and written.
 */
export type SafetensorsDtype = 'F32' | 'F64' | 'F16' | 'BF16';

export interface Tensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32, F16 and BF16 tensors are returned as Float32Array; F64 as Float64Array. */
  data: Float32Array | Float64Array;
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** A tensor to write: the stored dtype defaults to F32 for Float32Array and F64 for Float64Array. */
export interface TensorInput {
  shape: number[];
  data: Float32Array | Float64Array;
  dtype?: SafetensorsDtype;
}

/** Headers larger than this are refused (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

function isDtype(s: unknown): s is SafetensorsDtype {
  return s === 'F32' || s === 'F64' || s === 'F16' || s === 'BF16';
}

// ---- half-precision conversions -------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary16 bits to a number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A number to IEEE binary16 bits, rounding to nearest even (overflow gives Inf). */
export function numberToF16(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest finite half (65504)
  if (a < 2 ** -14) {
    // subnormal: units of 2^-24, round half to even
    const q = a / 2 ** -24; // exact: a power-of-two scaling
    const f = Math.floor(q);
    const rem = q - f;
    const r = rem > 0.5 || (rem === 0.5 && f % 2 === 1) ? f + 1 : f;
    return sign | r; // r == 1024 becomes the smallest normal, which is the right encoding
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const frac = a / 2 ** e - 1; // in [0, 1)
  const q = frac * 1024;
  let m = Math.floor(q);
  const rem = q - m;
  if (rem > 0.5 || (rem === 0.5 && m % 2 === 1)) m++;
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e + 15 >= 31) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function bf16ToNumber(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0];
}

function numberToBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return 0x7fc0; // NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff; // round to nearest even
}

// ---- reading --------------------------------------------------------------------------------

/**
 * Parse the header bytes of a safetensors file as the format specifies: UTF-8 JSON that starts
 * with `{` and is followed by nothing but spaces (0x20) up to the header length. JSON.parse alone
 * would also take leading whitespace and trailing tabs or newlines; the reference implementation
 * refuses them, and so does this (E_FORMAT).
 */
export function parseSafetensorsHeader(hb: Uint8Array, name: string): unknown {
  if (hb.length === 0 || hb[0] !== 0x7b) fail('E_FORMAT', `${name}: safetensors header must be a JSON object starting with '{' (found ${hb.length ? `byte 0x${hb[0].toString(16).padStart(2, '0')}` : 'an empty header'})`);
  let end = hb.length;
  while (end > 0 && hb[end - 1] === 0x20) end--;
  if (end === 0 || hb[end - 1] !== 0x7d) {
    const bad = end > 0 ? hb[end - 1] : 0;
    fail('E_FORMAT', `${name}: safetensors header must be JSON ending with '}' followed only by spaces (padding); found byte 0x${bad.toString(16).padStart(2, '0')} at offset ${8 + end - 1}`);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb.subarray(0, end)));
  } catch (e) {
    fail('E_FORMAT', `${name}: safetensors header is not valid UTF-8 JSON (${(e as Error).message.slice(0, 200)})`);
  }
}

/** Parse and validate a safetensors byte buffer. `name` appears in error messages. */
export function decodeSafetensors(buf: Uint8Array, name = 'file'): SafetensorsFile {
  if (buf.length < 8) fail('E_FORMAT', `${name}: too short to be a safetensors file (${buf.length} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 4294967296 + lo;
  if (n > MAX_HEADER_BYTES) fail('E_FORMAT', `${name}: safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + n > buf.length) fail('E_FORMAT', `${name}: truncated safetensors header (needs ${8 + n} bytes, file has ${buf.length})`);
  const header = parseSafetensorsHeader(buf.subarray(8, 8 + n), name);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('E_FORMAT', `${name}: safetensors header must be a JSON object`);
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { key: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E_FORMAT', `${name}: __metadata__ must be an object of strings`);
      for (const [mk, mv] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail('E_FORMAT', `${name}: __metadata__.${mk} must be a string`);
        Object.defineProperty(metadata, mk, { value: mv, enumerable: true, writable: true, configurable: true }); // own key even for "__proto__"
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail('E_FORMAT', `${name}: tensor "${key}" has no {dtype, shape, data_offsets} entry`);
    const t = raw as Record<string, unknown>;
    if (typeof t.dtype !== 'string') fail('E_FORMAT', `${name}: tensor "${key}" has no dtype`);
    if (!isDtype(t.dtype)) fail('E_DTYPE', `${name}: tensor "${key}" has dtype ${t.dtype}; supported: F32, F64, F16, BF16`);
    if (!Array.isArray(t.shape) || !t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      fail('E_FORMAT', `${name}: tensor "${key}" shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail('E_FORMAT', `${name}: tensor "${key}" data_offsets must be [begin, end], got ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as number[];
    if (end < begin) fail('E_FORMAT', `${name}: tensor "${key}" has data_offsets [${begin}, ${end}] with end before begin`);
    if (end > dataLen) fail('E_FORMAT', `${name}: tensor "${key}" data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section`);
    const shape = t.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count * BYTES[t.dtype] !== end - begin) {
      fail('E_FORMAT', `${name}: tensor "${key}" is ${t.dtype} with shape [${shape.join(', ')}] = ${count * BYTES[t.dtype]} bytes, but data_offsets span ${end - begin}`);
    }
    entries.push({ key, dtype: t.dtype, shape, begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail('E_FORMAT', `${name}: tensor "${e.key}" overlaps the previous tensor (starts at ${e.begin}, previous ends at ${pos})`);
    if (e.begin > pos) fail('E_FORMAT', `${name}: gap of ${e.begin - pos} bytes before tensor "${e.key}"; tensors must be contiguous`);
    pos = e.end;
  }
  if (pos !== dataLen) fail('E_FORMAT', `${name}: ${dataLen - pos} bytes after the last tensor are not described by the header`);

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    const count = (e.end - e.begin) / BYTES[e.dtype];
    const at = dataStart + e.begin;
    const tdv = new DataView(buf.buffer, buf.byteOffset + at, e.end - e.begin);
    let data: Float32Array | Float64Array;
    if (e.dtype === 'F32') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = tdv.getFloat32(4 * i, true);
    } else if (e.dtype === 'F64') {
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = tdv.getFloat64(8 * i, true);
    } else if (e.dtype === 'F16') {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = f16ToNumber(tdv.getUint16(2 * i, true));
    } else {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = bf16ToNumber(tdv.getUint16(2 * i, true));
    }
    // defineProperty: a tensor named "__proto__" must become an own key, not the object's prototype
    Object.defineProperty(tensors, e.key, { value: { dtype: e.dtype, shape: e.shape, data }, enumerable: true, writable: true, configurable: true });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeSafetensors(buf, path);
}

// ---- writing --------------------------------------------------------------------------------

/** Encode tensors (in key order) and string metadata to safetensors bytes, as chunks. */
export function encodeSafetensors(tensors: Record<string, TensorInput>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail('E_ARG', `safetensors metadata "${k}" must be a string`);
    header.__metadata__ = metadata;
  }
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    if (key === '__metadata__') fail('E_ARG', 'a tensor may not be named __metadata__');
    const dtype: SafetensorsDtype = t.dtype ?? (t.data instanceof Float64Array ? 'F64' : 'F32');
    if (!isDtype(dtype)) fail('E_DTYPE', `tensor "${key}": dtype ${dtype} is not supported; use F32, F64, F16 or BF16`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((s) => Number.isSafeInteger(s) && s >= 0) || count !== t.data.length) {
      fail('E_SHAPE', `tensor "${key}": shape [${t.shape.join(', ')}] does not match its ${t.data.length} values`);
    }
    const bytes = new Uint8Array(count * BYTES[dtype]);
    const dv = new DataView(bytes.buffer);
    const d = t.data;
    if (dtype === 'F32') for (let i = 0; i < count; i++) dv.setFloat32(4 * i, d[i], true);
    else if (dtype === 'F64') for (let i = 0; i < count; i++) dv.setFloat64(8 * i, d[i], true);
    else if (dtype === 'F16') for (let i = 0; i < count; i++) dv.setUint16(2 * i, numberToF16(d[i]), true);
    else for (let i = 0; i < count; i++) dv.setUint16(2 * i, numberToBf16(d[i]), true);
    Object.defineProperty(header, key, { value: { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] }, enumerable: true, writable: true, configurable: true });
    offset += bytes.length;
    bodies.push(bytes);
  }
  let json = JSON.stringify(header);
  // pad with spaces so the data section starts 8-byte aligned (as the reference writer does)
  const pad = (8 - ((8 + Buffer.byteLength(json, 'utf8')) % 8)) % 8;
  json += ' '.repeat(pad);
  const hb = Buffer.from(json, 'utf8');
  const pre = new Uint8Array(8);
  const pdv = new DataView(pre.buffer);
  pdv.setUint32(0, hb.length >>> 0, true);
  pdv.setUint32(4, Math.floor(hb.length / 4294967296), true);
  return [pre, hb, ...bodies];
}

/** Write a safetensors file atomically. */
export function writeSafetensors(path: string, tensors: Record<string, TensorInput>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
