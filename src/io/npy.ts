import { readFileSync } from 'node:fs';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { writeFileAtomic } from './atomic.js';

/**
 * NumPy .npy files: format versions 1.0, 2.0 and 3.0, C order, little-endian float32
 * and float64. `readNpy` returns the raw shape; `readNpyMatrix` reads 1-D as one column
 * ([n x 1], n samples) and 2-D as is.
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

export function decodeNpy(buf: Uint8Array, name = 'file'): NpyArray {
  const { shape, descr, fortran, dataOffset } = parseNpyHeader(buf, name);
  let bytes: number;
  let dtype: NpyArray['dtype'];
  if (descr === '<f4' || descr === '|f4') {
    bytes = 4;
    dtype = 'float32';
  } else if (descr === '<f8' || descr === '|f8') {
    bytes = 8;
    dtype = 'float64';
  } else {
    fail('E_DTYPE', `${name}: dtype '${descr}' is not supported; save as float32 (e.g. x.astype(np.float32)) or float64 little-endian`);
  }
  if (fortran && shape.length > 1) fail('E_FORMAT', `${name}: Fortran-order arrays are not supported; save with np.ascontiguousarray(x)`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * bytes)) fail('E_FORMAT', `${name}: shape (${shape.join(', ')}) is too large`);
  const need = dataOffset + count * bytes;
  if (buf.length < need) fail('E_FORMAT', `${name}: truncated: shape (${shape.join(', ')}) needs ${need} bytes, file has ${buf.length}`);
  if (buf.length > need) fail('E_FORMAT', `${name}: ${buf.length - need} unexpected trailing bytes after the array data`);
  const slice = buf.slice(dataOffset, need); // copy: aligned and detached from the file buffer
  const data = dtype === 'float32' ? new Float32Array(slice.buffer, 0, count) : new Float64Array(slice.buffer, 0, count);
  return { shape, dtype, data };
}

export function encodeNpy(arr: { shape: number[]; data: Float32Array | Float64Array }): Uint8Array {
  const descr = arr.data instanceof Float64Array ? '<f8' : '<f4';
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const pre = 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) fail('E_SHAPE', `npy: shape (${arr.shape.join(', ')}) does not match ${arr.data.length} values`);
  const out = new Uint8Array(total + arr.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
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

/** Read a 1-D or 2-D .npy as a float32 Matrix (1-D becomes one column). */
export function readNpyMatrix(path: string): Matrix {
  const a = readNpy(path);
  if (a.shape.length > 2 || a.shape.length === 0) fail('E_SHAPE', `${path}: expected a 1-D or 2-D array, got shape (${a.shape.join(', ')})`);
  const rows = a.shape[0];
  const cols = a.shape.length === 2 ? a.shape[1] : 1;
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
  return new Matrix(rows, cols, data);
}

/** Write a Matrix (float32) or a float64 array with shape, atomically. */
export function writeNpy(path: string, m: Matrix | { shape: number[]; data: Float32Array | Float64Array }): void {
  const arr = m instanceof Matrix ? { shape: [m.rows, m.cols], data: m.data } : m;
  writeFileAtomic(path, encodeNpy(arr));
}
