import { readFileSync } from 'node:fs';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { writeFileAtomic } from './atomic.js';

/**
 * NumPy .npy files: format versions 1.0, 2.0 and 3.0 (UTF-8 header), C order,
 * little-endian float32 ('<f4') and float64 ('<f8'); any shape, including 0-d and zero-length
 * axes. Other element types (integers, complex, big-endian, structured, object) are rejected
 * with E_DTYPE naming the NumPy conversion that fixes them; malformed, truncated or
 * over-long files with E_FORMAT. `readNpy` returns the raw shape; `readNpyMatrix` reads 1-D
 * as one column ([n x 1], n samples) and 2-D as is. `encodeNpy`/`writeNpy` write version 1.0
 * (2.0 only if the header would not fit), the layout `np.save` uses; NumPy reads them back
 * (checked by test/fixtures/npy/gen.py).
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
    if (!/^\d+L?$/.test(s)) fail('E_FORMAT', `${name}: bad dimension "${s}" in .npy shape`);
    return Number(s.replace('L', ''));
  });
  return { shape, descr, fortran: fortranM === 'True', dataOffset: start + headerLen };
}

const DTYPE_NAMES: Record<string, string> = {
  b1: 'bool', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32', i8: 'int64', u8: 'uint64',
  f2: 'float16', f4: 'float32', f8: 'float64', f16: 'float128', c8: 'complex64', c16: 'complex128', c32: 'complex256', O: 'object',
};

function dtypeError(name: string, descr: string): never {
  const base = descr.replace(/^[<>|=]/, '');
  const known = DTYPE_NAMES[base] ?? (base.startsWith('U') || base.startsWith('S') ? 'string' : base.startsWith('V') ? 'void' : undefined);
  const what = known ? `${known} ('${descr}')` : `'${descr}'`;
  if (descr.startsWith('>') && (base === 'f4' || base === 'f8')) {
    fail('E_DTYPE', `${name}: big-endian ${what} is not supported; save with x.astype('<${base}')`);
  }
  fail('E_DTYPE', `${name}: dtype ${what} is not supported (float32 and float64 are); save with x.astype(np.float32)`);
}

export function decodeNpy(buf: Uint8Array, name = 'file'): NpyArray {
  const { shape, descr, fortran, dataOffset } = parseNpyHeader(buf, name);
  let bytes: number;
  let dtype: NpyArray['dtype'];
  if (descr === '<f4') {
    bytes = 4;
    dtype = 'float32';
  } else if (descr === '<f8') {
    bytes = 8;
    dtype = 'float64';
  } else {
    dtypeError(name, descr);
  }
  if (fortran && shape.filter((s) => s > 1).length > 1) fail('E_FORMAT', `${name}: Fortran-order arrays are not supported; save with np.ascontiguousarray(x)`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * bytes)) fail('E_FORMAT', `${name}: shape (${shape.join(', ')}) is too large`);
  const need = dataOffset + count * bytes;
  if (buf.length < need) fail('E_FORMAT', `${name}: truncated: shape (${shape.join(', ')}) needs ${need} bytes, file has ${buf.length}`);
  if (buf.length > need) fail('E_FORMAT', `${name}: ${buf.length - need} unexpected trailing bytes after the array data (shape (${shape.join(', ')}) needs ${need} bytes)`);
  // copy into a fresh, aligned buffer (the input may be a view into a larger pool, e.g. a Node Buffer)
  const copy = new Uint8Array(count * bytes);
  copy.set(buf.subarray(dataOffset, need));
  const data = dtype === 'float32' ? new Float32Array(copy.buffer, 0, count) : new Float64Array(copy.buffer, 0, count);
  return { shape, dtype, data };
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
  const descr = arr.data instanceof Float64Array ? '<f8' : '<f4';
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // version 1.0 (2-byte header length) unless the header would not fit; total prefix a multiple of 64 like np.save
  let pre = 10;
  let total = Math.ceil((pre + header.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    pre = 12;
    total = Math.ceil((pre + header.length + 1) / 64) * 64;
  }
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + arr.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (pre === 10) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), total);
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

/** Read a 1-D or 2-D .npy as a float32 Matrix (1-D becomes one column; float64 is rounded to float32, E_DTYPE if a finite value overflows). */
export function readNpyMatrix(path: string): Matrix {
  const a = readNpy(path);
  if (a.shape.length > 2 || a.shape.length === 0) fail('E_SHAPE', `${path}: expected a 1-D or 2-D array, got shape (${a.shape.join(', ')})`);
  const rows = a.shape[0];
  const cols = a.shape.length === 2 ? a.shape[1] : 1;
  let data: Float32Array;
  if (a.data instanceof Float32Array) data = a.data;
  else {
    data = Float32Array.from(a.data);
    for (let i = 0; i < data.length; i++) {
      if (data[i] - data[i] !== 0 && Number.isFinite(a.data[i])) {
        fail('E_DTYPE', `${path}: float64 value ${a.data[i]} at row ${Math.floor(i / cols)}, column ${i % cols} overflows float32; rescale the data before saving`);
      }
    }
  }
  return new Matrix(rows, cols, data);
}

/** Write a Matrix (float32) or a float64 array with shape, atomically. */
export function writeNpy(path: string, m: Matrix | { shape: number[]; data: Float32Array | Float64Array }): void {
  const arr = m instanceof Matrix ? { shape: [m.rows, m.cols], data: m.data } : m;
  writeFileAtomic(path, encodeNpy(arr));
}
