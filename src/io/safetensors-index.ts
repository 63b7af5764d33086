import { closeSync } from 'node:fs';
import { fail } from '../core/errors.js';
import { openForRead, readExact } from './elements.js';
import { MAX_HEADER_BYTES, parseSafetensorsHeader } from './safetensors.js';

/**
 * The header of a .safetensors file, read without reading the tensor data: for streaming rows
 * of one tensor out of a file that may be larger than memory. The same validation as
 * `decodeSafetensors` (header size limit and bounds checked against the file size before
 * anything is allocated, JSON shape, dtype x shape = byte length, offsets in bounds, tensors
 * contiguous, non-overlapping and covering the data section), but every dtype of the format is
 * accepted here (integer and 8-bit float tensors may sit beside the float activations); only
 * the tensor that is read must be F32, F64, F16 or BF16.
 */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** byte offsets relative to the start of the data section */
  begin: number;
  end: number;
}

export interface SafetensorsIndex {
  path: string;
  fd: number;
  size: number;
  /** absolute byte offset of the data section */
  dataStart: number;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  close(): void;
}

/** Bytes per element of every dtype the safetensors format defines. */
export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** Validate a parsed header object against a data section of `dataLen` bytes. */
export function validateSafetensorsHeader(header: unknown, dataLen: number, name: string): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('E_FORMAT', `${name}: safetensors header must be a JSON object`);
  const metadata: Record<string, string> = Object.create(null);
  const entries: SafetensorsEntry[] = [];
  for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
    const k = JSON.stringify(key.length > 80 ? key.slice(0, 80) + '...' : key);
    if (key === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E_FORMAT', `${name}: __metadata__ must be an object of strings`);
      for (const [mk, mv] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail('E_FORMAT', `${name}: __metadata__ entry ${JSON.stringify(mk.slice(0, 80))} must be a string`);
        metadata[mk] = mv;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('E_FORMAT', `${name}: tensor ${k} has no {dtype, shape, data_offsets} entry`);
    const t = raw as Record<string, unknown>;
    if (typeof t.dtype !== 'string') fail('E_FORMAT', `${name}: tensor ${k} has no dtype`);
    const width = Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, t.dtype) ? SAFETENSORS_DTYPE_BYTES[t.dtype] : undefined;
    if (width === undefined) fail('E_DTYPE', `${name}: tensor ${k} has unknown dtype ${JSON.stringify(t.dtype.slice(0, 40))}`);
    if (!Array.isArray(t.shape) || t.shape.length > 64 || !t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      fail('E_FORMAT', `${name}: tensor ${k} shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)?.slice(0, 120)}`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail('E_FORMAT', `${name}: tensor ${k} data_offsets must be [begin, end], got ${JSON.stringify(off)?.slice(0, 120)}`);
    }
    const [begin, end] = off as number[];
    if (end < begin) fail('E_FORMAT', `${name}: tensor ${k} has data_offsets [${begin}, ${end}] with end before begin`);
    if (end > dataLen) fail('E_FORMAT', `${name}: tensor ${k} data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section`);
    const shape = t.shape as number[];
    let count = 1;
    for (const s of shape) count *= s;
    if (count * width !== end - begin) {
      fail('E_FORMAT', `${name}: tensor ${k} is ${t.dtype} with shape [${shape.join(', ')}] = ${count * width} bytes, but data_offsets span ${end - begin}`);
    }
    entries.push({ name: key, dtype: t.dtype, shape, begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail('E_FORMAT', `${name}: tensor ${JSON.stringify(e.name.slice(0, 80))} overlaps the previous tensor (starts at ${e.begin}, previous ends at ${pos})`);
    if (e.begin > pos) fail('E_FORMAT', `${name}: gap of ${e.begin - pos} bytes before tensor ${JSON.stringify(e.name.slice(0, 80))}; tensors must be contiguous`);
    pos = e.end;
  }
  if (pos !== dataLen) fail('E_FORMAT', `${name}: ${dataLen - pos} bytes after the last tensor are not described by the header`);
  return { entries, metadata };
}

/** Open a .safetensors file and read and validate its header only. The caller closes it. */
export function openSafetensorsIndex(path: string): SafetensorsIndex {
  const { fd, size } = openForRead(path);
  try {
    if (size < 8) fail('E_FORMAT', `${path}: too short to be a safetensors file (${size} bytes)`);
    const pre = new Uint8Array(8);
    readExact(fd, pre, 0, 8, 0, path);
    const dv = new DataView(pre.buffer);
    const n = dv.getUint32(4, true) * 4294967296 + dv.getUint32(0, true);
    if (n > MAX_HEADER_BYTES) fail('E_FORMAT', `${path}: safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    if (8 + n > size) fail('E_FORMAT', `${path}: truncated safetensors header (needs ${8 + n} bytes, file has ${size})`);
    const hb = new Uint8Array(n);
    readExact(fd, hb, 0, n, 8, path);
    const header = parseSafetensorsHeader(hb, path);
    const { entries, metadata } = validateSafetensorsHeader(header, size - 8 - n, path);
    let open = true;
    return {
      path, fd, size, dataStart: 8 + n, entries, metadata,
      close() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
