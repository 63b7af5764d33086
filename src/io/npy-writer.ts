import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail, SparsecodeError } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { HOST_LITTLE_ENDIAN, swapBytes } from './elements.js';
import { encodeNpyHeader } from './npy.js';

/**
 * A 2-D .npy file written incrementally: the header first, then rows appended as they are
 * produced, so a result larger than memory can be written batch by batch. Everything goes to
 * a temporary file beside the target; `finish()` rewrites the header with the final row count,
 * fsyncs and renames it over the target (atomic: readers see the old file or the whole new
 * one, never a partial one). `abort()` (or any failure) removes the temporary file.
 */
export interface NpyWriter {
  readonly path: string;
  readonly cols: number;
  readonly dtype: 'float32' | 'float64';
  /** rows appended so far */
  readonly rowsWritten: number;
  /** Append whole rows (row-major, a multiple of `cols` values; a Matrix must have `cols` columns). */
  append(rows: Matrix | Float32Array | Float64Array): void;
  /** Finish the file: header with the final shape, fsync, rename to `path`. */
  finish(): void;
  /** Drop the temporary file (safe to call more than once, and after finish() it does nothing). */
  abort(): void;
}

export interface NpyWriterOptions {
  /** columns of every row */
  cols: number;
  /** the number of rows, when known: finish() checks it (unknown: the header is written at finish) */
  rows?: number;
  /** element type on disk (default float32); float64 files take Float64Array rows */
  dtype?: 'float32' | 'float64';
}

export function createNpyWriter(path: string, opts: NpyWriterOptions): NpyWriter {
  const { cols, rows } = opts;
  const dtype = opts.dtype ?? 'float32';
  if (!Number.isSafeInteger(cols) || cols < 0) fail('E_ARG', `npy writer: cols must be a non-negative integer, got ${cols}`);
  if (rows !== undefined && (!Number.isSafeInteger(rows) || rows < 0)) fail('E_ARG', `npy writer: rows must be a non-negative integer, got ${rows}`);
  if (dtype !== 'float32' && dtype !== 'float64') fail('E_DTYPE', `npy writer: dtype must be float32 or float64, got ${String(dtype)}`);
  const descr = dtype === 'float32' ? '<f4' : '<f8';
  const width = dtype === 'float32' ? 4 : 8;
  // reserve room for the largest row count, so the header can be rewritten in place at the end
  const reserved = encodeNpyHeader(descr, [Number.MAX_SAFE_INTEGER, cols]).length;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}.tmp`);
  let fd: number | null = null;
  let written = 0;
  let pos = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';

  const ioFail = (e: unknown): never => {
    abort();
    if (e instanceof SparsecodeError) throw e;
    fail('E_IO', `cannot write ${path}: ${(e as Error).message}`);
  };
  const writeAll = (bytes: Uint8Array, at: number) => {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd!, bytes, off, Math.min(bytes.length - off, 1 << 30), at + off);
  };
  function abort(): void {
    if (state !== 'open') return;
    state = 'aborted';
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
      fd = null;
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already gone */
    }
  }

  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w');
    const head = encodeNpyHeader(descr, [rows ?? 0, cols], reserved);
    writeAll(head, 0);
    pos = head.length;
  } catch (e) {
    ioFail(e);
  }

  return {
    path, cols, dtype,
    get rowsWritten() {
      return written;
    },
    append(data: Matrix | Float32Array | Float64Array): void {
      if (state !== 'open') fail('E_ARG', `npy writer for ${path}: append after ${state === 'done' ? 'finish()' : 'abort()'}`);
      let values: Float32Array | Float64Array;
      if (data instanceof Matrix) {
        if (data.cols !== cols) {
          abort();
          fail('E_SHAPE', `npy writer for ${path}: rows have ${data.cols} columns, the file has ${cols}`);
        }
        values = data.data;
      } else values = data;
      const want = dtype === 'float32' ? Float32Array : Float64Array;
      if (!(values instanceof want)) {
        abort();
        fail('E_DTYPE', `npy writer for ${path}: a ${dtype} file takes ${want.name} rows, got ${values?.constructor?.name}`);
      }
      const n = cols === 0 ? 0 : values.length / cols;
      if (!Number.isInteger(n)) {
        abort();
        fail('E_SHAPE', `npy writer for ${path}: ${values.length} values are not whole rows of ${cols}`);
      }
      if (rows !== undefined && written + n > rows) {
        abort();
        fail('E_SHAPE', `npy writer for ${path}: ${written + n} rows appended, the file was declared with ${rows}`);
      }
      try {
        let bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        if (!HOST_LITTLE_ENDIAN) {
          bytes = bytes.slice();
          swapBytes(bytes, width);
        }
        writeAll(bytes, pos);
      } catch (e) {
        ioFail(e);
      }
      pos += values.byteLength;
      written += n;
    },
    finish(): void {
      if (state !== 'open') fail('E_ARG', `npy writer for ${path}: finish after ${state === 'done' ? 'finish()' : 'abort()'}`);
      if (rows !== undefined && written !== rows) {
        abort();
        fail('E_SHAPE', `npy writer for ${path}: ${written} rows appended, the file was declared with ${rows}; nothing was written`);
      }
      try {
        const head = encodeNpyHeader(descr, [written, cols], reserved);
        if (head.length !== reserved) fail('E_IO', `npy writer for ${path}: header length changed (${head.length} vs ${reserved})`);
        writeAll(head, 0);
        fsyncSync(fd!);
        closeSync(fd!);
        fd = null;
        renameSync(tmp, path);
        state = 'done';
      } catch (e) {
        ioFail(e);
      }
    },
    abort,
  };
}
