import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fail } from '../core/errors.js';

/**
 * Element decoding shared by the .npy and .safetensors readers: raw bytes of float16, bfloat16,
 * float32 or float64 elements, in either byte order, into float32. Plus small helpers for
 * reading exact byte ranges from a file descriptor.
 */
export type ElementKind = 'f2' | 'bf16' | 'f4' | 'f8';

export const ELEMENT_BYTES: Record<ElementKind, number> = { f2: 2, bf16: 2, f4: 4, f8: 8 };

/** Byte order of this machine, probed with a typed array (no node:os, so the module also loads in browsers). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;

/** All 65536 IEEE binary16 values as float32 (exact: every half is a float32). */
export function float16Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  f16Table = t;
  return t;
}

/** Reverse the byte order of every `width`-byte element of `b` in place. */
export function swapBytes(b: Uint8Array, width: number): void {
  if (width === 1) return;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (width === 2) buf.swap16();
  else if (width === 4) buf.swap32();
  else if (width === 8) buf.swap64();
  else fail('E_DTYPE', `cannot swap ${width}-byte elements`);
}

/**
 * Convert `count` elements held in `src` (their bytes in host order already, and `src.byteOffset`
 * a multiple of the element size) to float32 in `out[outOff ..]`. Returns the index (0-based,
 * within this chunk) of the first finite float64 that overflows float32, or -1.
 */
export function elementsToFloat32(src: Uint8Array, kind: ElementKind, out: Float32Array, outOff: number, count: number): number {
  if (kind === 'f4') {
    out.set(new Float32Array(src.buffer, src.byteOffset, count), outOff);
    return -1;
  }
  if (kind === 'f8') {
    const s = new Float64Array(src.buffer, src.byteOffset, count);
    let bad = -1;
    for (let i = 0; i < count; i++) {
      const v = s[i];
      const f = Math.fround(v);
      out[outOff + i] = f;
      if (bad < 0 && f - f !== 0 && v - v === 0) bad = i;
    }
    return bad;
  }
  const s = new Uint16Array(src.buffer, src.byteOffset, count);
  if (kind === 'f2') {
    const t = float16Table();
    for (let i = 0; i < count; i++) out[outOff + i] = t[s[i]];
  } else {
    const o32 = new Uint32Array(out.buffer, out.byteOffset + 4 * outOff, count);
    for (let i = 0; i < count; i++) o32[i] = s[i] << 16;
  }
  return -1;
}

/** Read exactly `length` bytes at `position` into `dst[dstOff ..]`; a short read is E_FORMAT (the file shrank). */
export function readExact(fd: number, dst: Uint8Array, dstOff: number, length: number, position: number, name: string): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      // at most 1 GiB per call: Node hands the length to libuv as a 32-bit count, so a 4 GiB read wraps to 0 bytes
      n = readSync(fd, dst, dstOff + done, Math.min(length - done, 1 << 30), position + done);
    } catch (e) {
      fail('E_IO', `cannot read ${name}: ${(e as Error).message}`);
    }
    if (n === 0) fail('E_FORMAT', `${name}: unexpected end of file at byte ${position + done} (was the file truncated while being read?)`);
    done += n;
  }
}

/** Open a file for reading; E_IO naming the path on failure. Returns the descriptor and the size in bytes. */
export function openForRead(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail('E_IO', `cannot read ${path}: not a regular file`);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** A growable, 8-byte-aligned scratch byte buffer (reused across reads so chunked reading allocates once). */
export class Scratch {
  private buf: Uint8Array = new Uint8Array(0);
  get(bytes: number): Uint8Array {
    if (this.buf.length < bytes) this.buf = new Uint8Array(new ArrayBuffer(bytes));
    return this.buf.subarray(0, bytes);
  }
  release(): void {
    this.buf = new Uint8Array(0);
  }
}

/** Where a 2-D float array lives in a file: the byte offset of element (0, 0), its shape, element type, byte order and order. */
export interface RowLayout {
  name: string;
  dataOffset: number;
  rows: number;
  cols: number;
  kind: ElementKind;
  littleEndian: boolean;
  /** column-major (Fortran order): element (i, j) at index j * rows + i */
  fortran: boolean;
}

/** The most bytes one read goes through the scratch buffer (larger reads are split). */
export const MAX_SCRATCH_BYTES = 1 << 23;

function overflow(L: RowLayout, row: number, col: number, v: number): never {
  fail('E_DTYPE', `${L.name}: float64 value ${v} at row ${row}, column ${col} overflows float32; rescale the data before saving`);
}

/**
 * Read rows [start, start + count) of the array described by `L` from `fd` into `out` (row-major
 * float32, count x cols). Extra memory is bounded by MAX_SCRATCH_BYTES (plus one column segment
 * of `count` elements for Fortran order, which is read column by column: cols reads of count
 * contiguous elements each).
 */
export function readRowBlock(fd: number, L: RowLayout, start: number, count: number, out: Float32Array, scratch: Scratch, maxScratch = MAX_SCRATCH_BYTES): void {
  const { cols, kind } = L;
  const w = ELEMENT_BYTES[kind];
  const swap = L.littleEndian !== HOST_LITTLE_ENDIAN;
  if (count === 0 || cols === 0) return;
  if (!L.fortran) {
    if (kind === 'f4') {
      // straight into the caller's buffer, no copy
      const bytes = new Uint8Array(out.buffer, out.byteOffset, count * cols * 4);
      readExact(fd, bytes, 0, bytes.length, L.dataOffset + start * cols * 4, L.name);
      if (swap) swapBytes(bytes, 4);
      return;
    }
    const rowBytes = cols * w;
    const step = Math.max(1, Math.floor(maxScratch / rowBytes));
    for (let r = 0; r < count; r += step) {
      const n = Math.min(step, count - r);
      const buf = scratch.get(n * rowBytes);
      readExact(fd, buf, 0, buf.length, L.dataOffset + (start + r) * rowBytes, L.name);
      if (swap) swapBytes(buf, w);
      const bad = elementsToFloat32(buf, kind, out, r * cols, n * cols);
      if (bad >= 0) overflow(L, start + r + Math.floor(bad / cols), bad % cols, new DataView(buf.buffer, buf.byteOffset).getFloat64(bad * 8, HOST_LITTLE_ENDIAN));
    }
    return;
  }
  // Fortran order: each column's rows are contiguous
  const step = Math.max(1, Math.floor(maxScratch / w));
  const seg = new Float32Array(Math.min(step, count));
  for (let j = 0; j < cols; j++) {
    for (let r = 0; r < count; r += step) {
      const n = Math.min(step, count - r);
      const buf = scratch.get(n * w);
      readExact(fd, buf, 0, buf.length, L.dataOffset + (j * L.rows + start + r) * w, L.name);
      if (swap) swapBytes(buf, w);
      const bad = elementsToFloat32(buf, kind, seg, 0, n);
      if (bad >= 0) overflow(L, start + r + bad, j, new DataView(buf.buffer, buf.byteOffset).getFloat64(bad * 8, HOST_LITTLE_ENDIAN));
      for (let i = 0; i < n; i++) out[(r + i) * cols + j] = seg[i];
    }
  }
}
