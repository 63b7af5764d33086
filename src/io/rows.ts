import { closeSync, existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { type ElementKind, MAX_SCRATCH_BYTES, openForRead, readExact, readRowBlock, type RowLayout, Scratch } from './elements.js';
import { checkRowRequest, openNpy } from './npy.js';
import { openSafetensorsIndex, type SafetensorsEntry } from './safetensors-index.js';

/**
 * Rows of a 2-D float array, read on demand: the common interface over `.npy` files, one tensor
 * of a `.safetensors` file, and in-memory matrices. Samples are rows; `readRows` returns
 * row-major float32 whatever the stored type (float16, bfloat16, float64, big-endian,
 * Fortran order are converted).
 */
export interface RowSource {
  /** the file (or a label for in-memory sources) */
  readonly path: string;
  /** how errors name this source, e.g. `acts.safetensors:layer3` */
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  /** the stored element type, e.g. 'float32', 'float16', 'F16', 'BF16' */
  readonly dtype: string;
  /** dimensions of the stored array when known (1: a vector, read as one column) */
  readonly ndim?: number;
  /**
   * Rows [start, start + count) as row-major float32 (count x cols), written into `out` when
   * given (it needs at least count*cols elements; the filled prefix is returned). Unless the
   * source was opened with `allowNonFinite`, a NaN or Inf is an E_NONFINITE error naming its
   * row (counted from the start of the file) and column.
   */
  readRows(start: number, count: number, out?: Float32Array): Float32Array;
  close(): void;
  /**
   * the rows are independent draws from one distribution (a synthetic world, worlds/world-source.ts):
   * a trainer may read them in order, without a shuffle
   */
  readonly iid?: boolean;
  /** sources with more rows than `rows` (a world): `count` rows outside [0, rows), for a held-out slice */
  heldOut?(count: number): Matrix;
}

export interface OpenRowsOptions {
  /** the tensor to read from a .safetensors file (optional when the file holds exactly one 2-D tensor) */
  tensor?: string;
  /** let NaN and Inf through instead of failing with E_NONFINITE */
  allowNonFinite?: boolean;
  /** cap on the scratch buffer used for type conversion (default 8 MiB) */
  scratchBytes?: number;
  /** what error messages call the data (default 'the data'), e.g. 'X' */
  label?: string;
}

/** Widths above this are refused as implausible (a hostile header could claim shape (0, 1e15)). */
export const MAX_COLS = 1 << 26;

/** A tensor of a .safetensors file as listed by `listTensors`. */
export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
}

const FLOAT_KINDS: Record<string, ElementKind> = { F32: 'f4', F64: 'f8', F16: 'f2', BF16: 'bf16' };

function describe(e: TensorInfo): string {
  return `${e.name} ${e.dtype} [${e.shape.join(', ')}]`;
}

/** Split `file.safetensors:NAME` into the file and the tensor name (only when `path` itself is not an existing file). */
export function splitTensorSuffix(path: string): { path: string; tensor?: string } {
  const m = /^(.*\.safetensors):([^/\\]+)$/i.exec(path);
  if (!m || existsSync(path)) return { path };
  return { path: m[1], tensor: m[2] };
}

function formatOf(path: string): 'npy' | 'safetensors' {
  const lower = path.toLowerCase();
  if (lower.endsWith('.npy')) return 'npy';
  if (lower.endsWith('.safetensors')) return 'safetensors';
  // sniff: .npy files start with \x93NUMPY
  const { fd, size } = openForRead(path);
  try {
    const head = new Uint8Array(Math.min(size, 6));
    readExact(fd, head, 0, head.length, 0, path);
    if (head.length === 6 && head[0] === 0x93 && String.fromCharCode(...head.subarray(1)) === 'NUMPY') return 'npy';
  } finally {
    closeSync(fd);
  }
  return 'safetensors';
}


/** The tensors of a .safetensors file (header only). */
export function listTensors(path: string): TensorInfo[] {
  const idx = openSafetensorsIndex(path);
  idx.close();
  return idx.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape }));
}

function pickTensor(path: string, entries: SafetensorsEntry[], tensor: string | undefined): SafetensorsEntry {
  const list = () => (entries.length ? entries.map(describe).join('; ') : 'none');
  if (tensor !== undefined) {
    const e = entries.find((t) => t.name === tensor);
    if (!e) fail('E_ARG', `${path}: no tensor named "${tensor}"; the file holds: ${list()}`);
    return e;
  }
  const twoD = entries.filter((t) => t.shape.length === 2);
  if (twoD.length === 1) return twoD[0];
  fail('E_USAGE', `${path} holds ${twoD.length === 0 ? 'no' : twoD.length} 2-D tensors; name the one to read with --tensor NAME (or ${path}:NAME). Tensors: ${list()}`);
}

function wrapFinite(src: RowSource, allowNonFinite: boolean, label: string): RowSource {
  if (allowNonFinite) return src;
  const { cols, name } = src;
  return {
    path: src.path, name, rows: src.rows, cols, dtype: src.dtype, ndim: src.ndim,
    readRows(start: number, count: number, out?: Float32Array): Float32Array {
      const d = src.readRows(start, count, out);
      for (let i = 0; i < d.length; i++) {
        const v = d[i];
        if (v - v !== 0) {
          const row = start + Math.floor(i / cols);
          fail('E_NONFINITE', `${name}: ${label} has a non-finite value (${v}) at row ${row}, column ${i % cols} (rows counted from the start of the file); clean the data (e.g. np.nan_to_num) or drop that row`, { row, col: i % cols });
        }
      }
      return d;
    },
    close: () => src.close(),
  };
}

/**
 * Open a 2-D float array for row reads: a `.npy` file (1-D reads as one column), or one tensor
 * of a `.safetensors` file (`opts.tensor`, or a `file.safetensors:NAME` suffix, which wins;
 * the name may be left out when the file holds exactly one 2-D tensor). Only headers are read
 * here; rows are read on demand with positioned reads, so files larger than memory work.
 */
export function openRows(path: string, opts: OpenRowsOptions = {}): RowSource {
  const split = splitTensorSuffix(path);
  const file = split.path;
  const tensor = split.tensor ?? opts.tensor;
  let src: RowSource;
  if (formatOf(file) === 'npy') {
    const r = openNpy(file, { scratchBytes: opts.scratchBytes });
    src = { path: file, name: file, rows: r.rows, cols: r.cols, dtype: r.dtype, ndim: r.shape.length, readRows: r.readRows, close: r.close };
  } else {
    const idx = openSafetensorsIndex(file);
    try {
      const e = pickTensor(file, idx.entries, tensor);
      const name = `${file}:${e.name}`;
      const kind = FLOAT_KINDS[e.dtype];
      if (!kind) fail('E_DTYPE', `${name}: dtype ${e.dtype} is not supported (F32, F64, F16 and BF16 are); convert with t.float()`);
      if (e.shape.length !== 1 && e.shape.length !== 2) fail('E_SHAPE', `${name}: expected a 1-D or 2-D tensor, got shape [${e.shape.join(', ')}]`);
      const rows = e.shape[0];
      const cols = e.shape.length === 2 ? e.shape[1] : 1;
      const layout: RowLayout = { name, dataOffset: idx.dataStart + e.begin, rows, cols, kind, littleEndian: true, fortran: false };
      const scratch = new Scratch();
      const maxScratch = opts.scratchBytes ?? MAX_SCRATCH_BYTES;
      let open = true;
      src = {
        path: file, name, rows, cols, dtype: e.dtype, ndim: e.shape.length,
        readRows(start: number, count: number, out?: Float32Array): Float32Array {
          if (!open) fail('E_IO', `${name}: read after close()`);
          const dst = checkRowRequest(name, rows, cols, start, count, out);
          readRowBlock(idx.fd, layout, start, count, dst, scratch, maxScratch);
          return dst;
        },
        close() {
          open = false;
          scratch.release();
          idx.close();
        },
      };
    } catch (err) {
      idx.close();
      throw err;
    }
  }
  if (src.cols > MAX_COLS) {
    src.close();
    fail('E_SHAPE', `${src.name}: ${src.cols} columns is implausibly wide (at most ${MAX_COLS}); is the array transposed?`);
  }
  return wrapFinite(src, !!opts.allowNonFinite, opts.label ?? 'the data');
}

/** An in-memory matrix as a RowSource (for tests, and for code that takes either). */
export function matrixRows(X: Matrix, name = 'matrix'): RowSource {
  return {
    path: name, name, rows: X.rows, cols: X.cols, dtype: 'float32',
    readRows(start: number, count: number, out?: Float32Array): Float32Array {
      const dst = checkRowRequest(name, X.rows, X.cols, start, count, out);
      dst.set(X.data.subarray(start * X.cols, (start + count) * X.cols));
      return dst;
    },
    close() {},
  };
}

/**
 * The memory budget for reading a whole file into memory: the environment variable
 * SPARSECODE_MAX_BYTES (bytes; suffixes K, M, G, T for powers of 1024 allowed) or half the
 * machine's memory.
 */
export function memoryBudgetBytes(): number {
  const env = process.env.SPARSECODE_MAX_BYTES;
  if (env !== undefined && env.trim() !== '') return parseBytes(env, 'SPARSECODE_MAX_BYTES');
  return Math.floor(totalmem() / 2);
}

/** Parse a byte count such as 4096, 1.5e9, 512M or 8G (powers of 1024). */
export function parseBytes(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d*)?(?:e\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) fail('E_ARG', `${what}: cannot read "${text}" as a byte count (e.g. 8G, 512M, 1e9)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

export interface ReadAllOptions extends OpenRowsOptions {
  /** refuse files whose float32 matrix would be larger than this (default: memoryBudgetBytes()) */
  maxBytes?: number;
}

/** Read a whole 2-D array (.npy, or a .safetensors tensor) into a float32 Matrix, refusing ones larger than the memory budget. */
export function readAllRows(path: string, opts: ReadAllOptions = {}): Matrix {
  const src = openRows(path, opts);
  try {
    const bytes = src.rows * src.cols * 4;
    const budget = opts.maxBytes ?? memoryBudgetBytes();
    if (bytes > budget) {
      fail('E_SHAPE', `${src.name}: [${src.rows} x ${src.cols}] needs ${fmtBytes(bytes)} as float32, over the ${fmtBytes(budget)} memory budget; use a streaming command (e.g. encode --batch) or raise SPARSECODE_MAX_BYTES`, { bytes, budget });
    }
    if (src.rows * src.cols > 2 ** 32 - 1) fail('E_SHAPE', `${src.name}: [${src.rows} x ${src.cols}] is too large for one in-memory array; stream it in batches`);
    return new Matrix(src.rows, src.cols, src.readRows(0, src.rows));
  } finally {
    src.close();
  }
}

function fmtBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${b} bytes`;
}

// ---- batches --------------------------------------------------------------------------------

export interface BatchOptions {
  /** rows per batch */
  batch: number;
  /** 'none': file order; 'chunked' (default): chunks of contiguous rows in random order, rows shuffled within a buffer of a few chunks */
  shuffle?: 'none' | 'chunked';
  /** rows per chunk (default: about 4 MiB of float32 rows) */
  chunkRows?: number;
  /** chunks held in the shuffle buffer at once (default 16) */
  bufferChunks?: number;
  /** seed of the shuffle; epoch e uses new Rng(seed).fork('epoch:e') (default 0) */
  seed?: Seed;
  /** passes over the data (default 1) */
  epochs?: number;
  /** first epoch to produce (to resume a run; default 0) */
  startEpoch?: number;
  /** drop each epoch's last, smaller batch (default false) */
  dropLast?: boolean;
  /**
   * reuse one buffer for every batch (default true: no allocation per batch, but a batch's data
   * is overwritten by the next one; copy it to keep it). false gives each batch fresh arrays.
   */
  reuse?: boolean;
}

export interface RowBatch {
  /** the rows, [count x cols] float32 */
  X: Matrix;
  /** their row indices in the source */
  rows: Float64Array;
  epoch: number;
  /** batch number within the epoch */
  index: number;
}

export interface BatchPlan {
  batch: number;
  shuffle: 'none' | 'chunked';
  chunkRows: number;
  bufferChunks: number;
  epochs: number;
  batchesPerEpoch: number;
  /** float32 bytes held by the iterator (shuffle buffer + batch buffer), independent of the number of rows */
  bufferBytes: number;
}

/** The sizes `batches(source, opts)` will use (validates opts). */
export function planBatches(source: { rows: number; cols: number }, opts: BatchOptions): BatchPlan {
  const int = (v: unknown, what: string, min: number) => {
    if (!Number.isSafeInteger(v) || (v as number) < min) fail('E_ARG', `batches: ${what} must be an integer >= ${min}, got ${String(v)}`);
    return v as number;
  };
  const batch = int(opts.batch, 'batch', 1);
  const shuffle = opts.shuffle ?? 'chunked';
  if (shuffle !== 'none' && shuffle !== 'chunked') fail('E_ARG', `batches: shuffle must be 'none' or 'chunked', got ${String(shuffle)}`);
  const rowBytes = Math.max(4, source.cols * 4);
  const chunkRows = int(opts.chunkRows ?? Math.max(1, Math.floor((4 << 20) / rowBytes)), 'chunkRows', 1);
  const bufferChunks = int(opts.bufferChunks ?? 16, 'bufferChunks', 1);
  const epochs = int(opts.epochs ?? 1, 'epochs', 0);
  int(opts.startEpoch ?? 0, 'startEpoch', 0);
  const n = source.rows;
  const batchesPerEpoch = opts.dropLast ? Math.floor(n / batch) : Math.ceil(n / batch);
  const poolRows = shuffle === 'none' ? 0 : Math.min(n, bufferChunks * chunkRows) + batch - 1;
  return { batch, shuffle, chunkRows, bufferChunks, epochs, batchesPerEpoch, bufferBytes: (poolRows + batch) * source.cols * 4 };
}

/**
 * Batches of rows from a source, epoch after epoch. Peak memory is the shuffle buffer
 * (bufferChunks x chunkRows rows, plus one batch) and one batch, whatever the number of rows.
 * With shuffle 'chunked', each epoch visits the chunks (runs of chunkRows contiguous rows) in
 * a random order, bufferChunks at a time, and shuffles the rows in the buffer (rows left over
 * after the last full batch carry into the next fill); every row appears exactly once per
 * epoch. Deterministic for a given seed; each epoch's order depends only on (seed, epoch).
 */
export function* batches(source: RowSource, opts: BatchOptions): Generator<RowBatch, void, undefined> {
  const plan = planBatches(source, opts);
  const { batch, chunkRows, bufferChunks } = plan;
  const n = source.rows;
  const d = source.cols;
  const reuse = opts.reuse !== false;
  const dropLast = !!opts.dropLast;
  if (n === 0) return;
  let batchBuf = new Float32Array(batch * d);
  let idxBuf = new Float64Array(batch);
  const emit = (count: number, epoch: number, index: number): RowBatch => {
    const X = new Matrix(count, d, batchBuf.subarray(0, count * d));
    const b = { X, rows: idxBuf.subarray(0, count), epoch, index };
    if (!reuse) {
      batchBuf = new Float32Array(batch * d);
      idxBuf = new Float64Array(batch);
    }
    return b;
  };
  const startEpoch = opts.startEpoch ?? 0;
  if (plan.shuffle === 'none') {
    for (let epoch = startEpoch; epoch < plan.epochs; epoch++) {
      let index = 0;
      for (let s = 0; s < n; s += batch) {
        const count = Math.min(batch, n - s);
        if (count < batch && dropLast) break;
        source.readRows(s, count, batchBuf);
        for (let i = 0; i < count; i++) idxBuf[i] = s + i;
        yield emit(count, epoch, index++);
      }
    }
    return;
  }
  const nChunks = Math.ceil(n / chunkRows);
  const poolRows = Math.min(n, bufferChunks * chunkRows) + batch - 1;
  const pool = new Float32Array(poolRows * d);
  const poolIdx = new Float64Array(poolRows);
  const perm = new Int32Array(poolRows);
  const root = new Rng(opts.seed ?? 0);
  const gather = (from: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const r = perm[from + i];
      const src = r * d;
      const dst = i * d;
      for (let j = 0; j < d; j++) batchBuf[dst + j] = pool[src + j];
      idxBuf[i] = poolIdx[r];
    }
  };
  for (let epoch = startEpoch; epoch < plan.epochs; epoch++) {
    const rng = root.fork(`epoch:${epoch}`);
    const order = rng.permutation(nChunks);
    let carry = 0;
    let index = 0;
    for (let w = 0; w < nChunks; w += bufferChunks) {
      let fill = carry;
      for (let c = w; c < Math.min(nChunks, w + bufferChunks); c++) {
        const s = order[c] * chunkRows;
        const cnt = Math.min(chunkRows, n - s);
        source.readRows(s, cnt, pool.subarray(fill * d, (fill + cnt) * d));
        for (let i = 0; i < cnt; i++) poolIdx[fill + i] = s + i;
        fill += cnt;
      }
      for (let i = 0; i < fill; i++) perm[i] = i;
      rng.shuffle(perm.subarray(0, fill));
      let p = 0;
      while (fill - p >= batch) {
        gather(p, batch);
        p += batch;
        yield emit(batch, epoch, index++);
      }
      const rest = fill - p;
      if (w + bufferChunks >= nChunks) {
        if (rest > 0 && !dropLast) {
          gather(p, rest);
          yield emit(rest, epoch, index++);
        }
      } else if (rest > 0) {
        // carry the leftover rows to the front of the pool (through the batch buffer: they may overlap)
        gather(p, rest);
        pool.set(batchBuf.subarray(0, rest * d), 0);
        poolIdx.set(idxBuf.subarray(0, rest), 0);
        carry = rest;
      } else carry = 0;
    }
  }
}
