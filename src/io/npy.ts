import { closeSync, readFileSync } from 'node:fs';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { writeFileAtomic } from './atomic.js';
import { type ElementKind, ELEMENT_BYTES, elementsToFloat32, HOST_LITTLE_ENDIAN, MAX_SCRATCH_BYTES, openForRead, readExact, readRowBlock, type RowLayout, Scratch, swapBytes } from './elements.js';

/**
 * NumPy .npy files: format versions 1.0, 2.0 and 3.0 (UTF-8 header); float16 ('f2', widened
 * to float32), float32 ('f4') and float64 ('f8'), little- or big-endian; C or Fortran order
 * (Fortran-order data is transposed to row-major on read); any shape, including 0-d and
 * zero-length axes. Other element types (integers, complex, structured, object) are rejected
 * with E_DTYPE naming the NumPy conversion that fixes them; malformed, truncated or
 * over-long files with E_FORMAT. `readNpy` returns the raw shape; `readNpyMatrix` reads 1-D
 * as one column ([n x 1], n samples) and 2-D as is. `openNpy` reads rows in chunks through a
 * file descriptor without loading the file. `encodeNpy`/`writeNpy` write version 1.0 (2.0 only
 * if the header would not fit), the layout `np.save` uses; NumPy reads them back (checked by
 * test/fixtures/npy/gen.py). Sizes claimed by a header are checked against the file size
 * before anything is allocated.
 */
export interface NpyArray {
  shape: number[];
  dtype: 'float32' | 'float64';
  data: Float32Array | Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 20; // a sane bound on the header length

export function parseNpyHeader(buf: Uint8Array, name = 'file'): { shape: number[]; descr: string; fortran: boolean; dataOffset: number } {
  if (buf.length < 10) fail('E_FORMAT', `${name}: too short to be a .npy file (${buf.length} bytes)`);
  for (let i = 0; i < 6; i++) if (buf[i] !== MAGIC[i]) fail('E_FORMAT', `${name}: not a .npy file (bad magic bytes)`);
  const major = buf[6];
  let headerLen: number;
  let start: number;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('E_FORMAT', `${name}: truncated .npy header`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else fail('E_FORMAT', `${name}: unsupported .npy format version ${major}.${buf[7]} (1.0, 2.0 and 3.0 are supported)`);
  if (headerLen > MAX_HEADER) fail('E_FORMAT', `${name}: .npy header length ${headerLen} is implausibly large`);
  if (start + headerLen > buf.length) fail('E_FORMAT', `${name}: truncated .npy header (needs ${start + headerLen} bytes, file has ${buf.length})`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  // the header is a Python dict literal, padded with spaces and ended by one '\n' (as np.save
  // writes it); anything else in the padding (NUL bytes, other characters) is malformed, and
  // NumPy's reader refuses such files too
  if (!header.endsWith('\n')) fail('E_FORMAT', `${name}: malformed .npy header: it must end with a newline ('\\n'), ends with ${JSON.stringify(header.slice(-1))}`);
  let end = header.length - 1;
  while (end > 0 && header[end - 1] === ' ') end--;
  if (!header.startsWith('{') || header[end - 1] !== '}') {
    const bad = header.startsWith('{') ? header[end - 1] : header[0];
    fail('E_FORMAT', `${name}: malformed .npy header: a dict literal {...} padded with spaces before the final newline is required; found ${JSON.stringify(bad ?? '')} ${header.startsWith('{') ? `at offset ${start + end - 1}` : 'at its start'}`);
  }
  // the '{' at the start must close exactly at that last '}' (brackets outside quotes balanced)
  let depth = 0;
  let quote = '';
  for (let i = 0; i < end; i++) {
    const c = header[i];
    if (quote) {
      if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (depth < 0 || (depth === 0 && i !== end - 1)) fail('E_FORMAT', `${name}: malformed .npy header: unbalanced ${JSON.stringify(c)} at offset ${start + i}`);
    }
  }
  if (depth !== 0 || quote) fail('E_FORMAT', `${name}: malformed .npy header: unbalanced brackets or quotes`);
  const keys = [...header.slice(0, end).matchAll(/['"](\w+)['"]\s*:/g)].map((m) => m[1]).sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') fail('E_FORMAT', `${name}: malformed .npy header: the keys must be exactly 'descr', 'fortran_order' and 'shape', got ${keys.map((k) => `'${k.slice(0, 40)}'`).join(', ') || 'none'}`);
  if (/'descr'\s*:\s*\[/.test(header)) {
    fail('E_DTYPE', `${name}: structured (record) arrays are not supported; save one plain float32 array per file`);
  }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortranM === undefined || shapeM === undefined) {
    fail('E_FORMAT', `${name}: malformed .npy header: ${JSON.stringify(header.slice(0, 120))}`);
  }
  const shape = shapeM.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d{1,20}L?$/.test(s)) fail('E_FORMAT', `${name}: bad dimension "${s.slice(0, 40)}" in .npy shape`);
    const v = Number(s.replace('L', ''));
    if (!Number.isSafeInteger(v)) fail('E_FORMAT', `${name}: dimension ${s} in .npy shape is too large`);
    return v;
  });
  if (shape.length > 64) fail('E_FORMAT', `${name}: .npy shape has ${shape.length} dimensions (at most 64 are supported)`);
  return { shape, descr, fortran: fortranM === 'True', dataOffset: start + headerLen };
}

const DTYPE_NAMES: Record<string, string> = {
  b1: 'bool', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32', i8: 'int64', u8: 'uint64',
  f2: 'float16', f4: 'float32', f8: 'float64', f16: 'float128', c8: 'complex64', c16: 'complex128', c32: 'complex256', O: 'object',
};

function dtypeError(name: string, descr: string): never {
  const base = descr.replace(/^[<>|=]/, '');
  const known = DTYPE_NAMES[base] ?? (base.startsWith('U') || base.startsWith('S') ? 'string' : base.startsWith('V') ? 'void' : undefined);
  const what = known ? `${known} ('${descr.slice(0, 40)}')` : `'${descr.slice(0, 40)}'`;
  fail('E_DTYPE', `${name}: dtype ${what} is not supported (float16, float32 and float64 are); save with x.astype(np.float32)`);
}

/** The element type and byte order of a float descr ('<f4', '>f8', '<f2', '=f4'); E_DTYPE otherwise. */
export function npyElement(descr: string, name = 'file'): { kind: ElementKind; littleEndian: boolean } {
  const m = /^([<>=])(f2|f4|f8)$/.exec(descr);
  if (!m) dtypeError(name, descr);
  return { kind: m[2] as ElementKind, littleEndian: m[1] === '<' || (m[1] === '=' && HOST_LITTLE_ENDIAN) };
}

/** Check that a .npy of `shape` with `width`-byte elements fits the file exactly. Returns the element count. */
function checkDataSize(name: string, shape: number[], width: number, dataOffset: number, fileSize: number): number {
  let count = 1;
  for (const s of shape) count *= s;
  if (!Number.isSafeInteger(count * width)) fail('E_FORMAT', `${name}: shape (${shape.join(', ')}) is too large`);
  const need = dataOffset + count * width;
  if (fileSize < need) fail('E_FORMAT', `${name}: truncated: shape (${shape.join(', ')}) needs ${need} bytes, file has ${fileSize}`);
  if (fileSize > need) fail('E_FORMAT', `${name}: ${fileSize - need} unexpected trailing bytes after the array data (shape (${shape.join(', ')}) needs ${need} bytes)`);
  return count;
}

/** Reorder Fortran-order (column-major) data of `shape` to C order (row-major). */
function fortranToC<T extends Float32Array | Float64Array>(src: T, shape: number[]): T {
  const nd = shape.length;
  const out = new (src.constructor as { new (n: number): T })(src.length);
  if (src.length === 0) return out;
  // Fortran strides: stride[0] = 1, stride[k] = stride[k-1] * shape[k-1]
  const stride = new Array<number>(nd);
  let acc = 1;
  for (let k = 0; k < nd; k++) {
    stride[k] = acc;
    acc *= shape[k];
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < out.length; c++) {
    out[c] = src[f];
    // advance the C-order multi-index (last axis fastest), keeping the Fortran offset f in step
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]++;
      f += stride[k];
      if (idx[k] < shape[k]) break;
      f -= stride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

export function decodeNpy(buf: Uint8Array, name = 'file'): NpyArray {
  const { shape, descr, fortran, dataOffset } = parseNpyHeader(buf, name);
  const { kind, littleEndian } = npyElement(descr, name);
  const w = ELEMENT_BYTES[kind];
  const count = checkDataSize(name, shape, w, dataOffset, buf.length);
  // copy into a fresh, aligned buffer (the input may be a view into a larger pool, e.g. a Node Buffer)
  const copy = new Uint8Array(count * w);
  copy.set(buf.subarray(dataOffset, dataOffset + count * w));
  if (littleEndian !== HOST_LITTLE_ENDIAN) swapBytes(copy, w);
  let data: Float32Array | Float64Array;
  let dtype: NpyArray['dtype'];
  if (kind === 'f8') {
    data = new Float64Array(copy.buffer, 0, count);
    dtype = 'float64';
  } else if (kind === 'f4') {
    data = new Float32Array(copy.buffer, 0, count);
    dtype = 'float32';
  } else {
    data = new Float32Array(count);
    elementsToFloat32(copy, kind, data, 0, count);
    dtype = 'float32';
  }
  if (fortran && shape.filter((s) => s > 1).length > 1) data = fortranToC(data, shape);
  return { shape, dtype, data };
}

/**
 * The .npy prefix (magic, version, header length, header dict padded with spaces and '\n') for
 * `descr` and `shape`, its length a multiple of 64 like np.save, and at least `minLength` bytes
 * (the streaming writer reserves room to rewrite the header with the final row count).
 */
export function encodeNpyHeader(descr: string, shape: number[], minLength = 0): Uint8Array {
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) fail('E_SHAPE', `npy: shape (${shape.join(', ')}) must hold non-negative integers`);
  }
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // version 1.0 (2-byte header length) unless the header would not fit; total prefix a multiple of 64 like np.save
  let pre = 10;
  let total = Math.ceil(Math.max(pre + header.length + 1, minLength) / 64) * 64;
  if (total - pre > 0xffff) {
    pre = 12;
    total = Math.ceil(Math.max(pre + header.length + 1, minLength) / 64) * 64;
  }
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (pre === 10) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  return out;
}

export function encodeNpy(arr: { shape: number[]; data: Float32Array | Float64Array }): Uint8Array {
  if (!(arr.data instanceof Float32Array) && !(arr.data instanceof Float64Array)) {
    fail('E_DTYPE', 'npy: data must be a Float32Array or a Float64Array');
  }
  for (const s of arr.shape) {
    if (!Number.isSafeInteger(s) || s < 0) fail('E_SHAPE', `npy: shape (${arr.shape.join(', ')}) must hold non-negative integers`);
  }
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) fail('E_SHAPE', `npy: shape (${arr.shape.join(', ')}) does not match ${arr.data.length} values`);
  const head = encodeNpyHeader(arr.data instanceof Float64Array ? '<f8' : '<f4', arr.shape);
  const out = new Uint8Array(head.length + arr.data.byteLength);
  out.set(head, 0);
  const bytes = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  if (HOST_LITTLE_ENDIAN) out.set(bytes, head.length);
  else {
    const body = out.subarray(head.length);
    body.set(bytes);
    swapBytes(body, arr.data.BYTES_PER_ELEMENT);
  }
  return out;
}

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeNpy(buf, path);
}

/**
 * A .npy file opened for reading rows in chunks (1-D files read as one column). Only the header
 * is read on open; `readRows` reads what it is asked for with positioned reads, converting
 * float16/float64 and big-endian data to float32 and Fortran order to row-major. Memory besides
 * `out` is bounded by a few MiB of scratch (Fortran order: one column segment of `count` values).
 */
export interface NpyReader {
  readonly path: string;
  /** the array's shape as stored */
  readonly shape: number[];
  /** the stored element type (float16 and float64 are converted to float32 by readRows) */
  readonly dtype: 'float16' | 'float32' | 'float64';
  readonly descr: string;
  readonly fortran: boolean;
  readonly rows: number;
  readonly cols: number;
  /** byte offset of the array data in the file */
  readonly dataOffset: number;
  /** Rows [start, start + count) as row-major float32 (count x cols), into `out` if given (it needs >= count*cols elements; the filled prefix is returned). */
  readRows(start: number, count: number, out?: Float32Array): Float32Array;
  close(): void;
}

const DTYPE_OF: Record<ElementKind, NpyReader['dtype']> = { f2: 'float16', f4: 'float32', f8: 'float64', bf16: 'float32' };

/** Check a row range request against a reader's shape; returns the output buffer to fill. */
export function checkRowRequest(name: string, rows: number, cols: number, start: number, count: number, out?: Float32Array): Float32Array {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > rows) {
    fail('E_ARG', `${name}: cannot read rows [${start}, ${start + count}) of an array with ${rows} rows`);
  }
  const need = count * cols;
  if (out === undefined) return new Float32Array(need);
  if (!(out instanceof Float32Array) || out.length < need) {
    fail('E_SHAPE', `${name}: the output buffer holds ${out?.length} floats; ${count} rows x ${cols} columns need ${need}`);
  }
  return out.length === need ? out : out.subarray(0, need);
}

/**
 * Open a 1-D or 2-D .npy for chunked row reads (see NpyReader). Validates the header and the
 * file size first. `scratchBytes` caps the scratch buffer used for converting reads (default 8 MiB).
 * `flattenLeading: true` also opens C-order arrays of 3 or more dimensions, as rows of the last
 * axis (e.g. [videos x T x D] reads as [videos·T x D]; `shape` keeps the stored shape).
 */
export function openNpy(path: string, opts: { scratchBytes?: number; flattenLeading?: boolean } = {}): NpyReader {
  const maxScratch = opts.scratchBytes ?? MAX_SCRATCH_BYTES;
  const { fd, size } = openForRead(path);
  try {
    const head = new Uint8Array(Math.min(size, 12));
    readExact(fd, head, 0, head.length, 0, path);
    let prefixLen = head.length;
    if (head.length >= 10 && head[6] === 1) prefixLen = 10 + (head[8] | (head[9] << 8));
    else if (head.length >= 12 && (head[6] === 2 || head[6] === 3)) prefixLen = 12 + new DataView(head.buffer).getUint32(8, true);
    // parseNpyHeader rejects headers over 1 MiB and those running past the end of the file
    const prefix = new Uint8Array(Math.min(size, prefixLen, 12 + MAX_HEADER));
    readExact(fd, prefix, 0, prefix.length, 0, path);
    const { shape, descr, fortran, dataOffset } = parseNpyHeader(prefix, path);
    const { kind, littleEndian } = npyElement(descr, path);
    checkDataSize(path, shape, ELEMENT_BYTES[kind], dataOffset, size);
    // flattenLeading: an N-D C-order array [a, b, ..., d] reads as rows of its last axis ([a·b·… x d])
    const flat = opts.flattenLeading === true && shape.length > 2;
    if (flat && fortran && shape.filter((s) => s > 1).length > 1) {
      fail('E_FORMAT', `${path}: a ${shape.length}-D Fortran-order array cannot be read row by row; save it with np.save(path, np.ascontiguousarray(x))`);
    }
    if (!flat && shape.length !== 1 && shape.length !== 2) fail('E_SHAPE', `${path}: expected a 1-D or 2-D array, got shape (${shape.join(', ')})`);
    const rows = flat ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : shape[0];
    const cols = shape.length >= 2 ? shape[shape.length - 1] : 1;
    const layout: RowLayout = { name: path, dataOffset, rows, cols, kind, littleEndian, fortran: fortran && shape.length === 2 };
    const scratch = new Scratch();
    let open = true;
    return {
      path, shape, dtype: DTYPE_OF[kind], descr, fortran, rows, cols, dataOffset,
      readRows(start: number, count: number, out?: Float32Array): Float32Array {
        if (!open) fail('E_IO', `${path}: read after close()`);
        const dst = checkRowRequest(path, rows, cols, start, count, out);
        readRowBlock(fd, layout, start, count, dst, scratch, maxScratch);
        return dst;
      },
      close() {
        if (!open) return;
        open = false;
        scratch.release();
        closeSync(fd);
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Read a 1-D or 2-D .npy as a float32 Matrix (1-D becomes one column; float16/float64 become float32, E_DTYPE if a finite float64 overflows). */
export function readNpyMatrix(path: string): Matrix {
  const r = openNpy(path);
  try {
    if (!Number.isSafeInteger(r.rows * r.cols) || r.rows * r.cols > MAX_TYPED_LENGTH) {
      fail('E_SHAPE', `${path}: [${r.rows} x ${r.cols}] is too large for one in-memory array; stream it with openRows/batches`);
    }
    return new Matrix(r.rows, r.cols, r.readRows(0, r.rows));
  } finally {
    r.close();
  }
}

/** The most elements one typed array may hold here. */
const MAX_TYPED_LENGTH = 2 ** 32 - 1;

/** Write a Matrix (float32) or a float64 array with shape, atomically. */
export function writeNpy(path: string, m: Matrix | { shape: number[]; data: Float32Array | Float64Array }): void {
  const arr = m instanceof Matrix ? { shape: [m.rows, m.cols], data: m.data } : m;
  writeFileAtomic(path, encodeNpy(arr));
}
