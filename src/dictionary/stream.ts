import { backend, matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { Rng, Seed } from '../core/rng.js';
import { batches, type RowBatch, type RowSource } from '../io/rows.js';
import { hashFloat32 } from './checkpoint.js';

/**
 * Training from row sources (files larger than memory): a bounded random sample for the
 * statistics a trainer needs up front, a replayable stream of fixed-size batches, and a
 * whitening applied per read. Peak memory is bounded by the batch, the shuffle buffer and the
 * sample, never by the number of rows.
 */

/** True for a RowSource (anything with rows, cols and readRows), false for a Matrix. */
export function isRowSource(x: unknown): x is RowSource {
  return !(x instanceof Matrix) && typeof x === 'object' && x !== null && typeof (x as RowSource).readRows === 'function'
    && Number.isSafeInteger((x as RowSource).rows) && Number.isSafeInteger((x as RowSource).cols);
}

/** Rows of the statistics sample by default: all rows up to about 64 MiB of float32, at least 1024 rows (and at most n). */
export function defaultSampleRows(rows: number, cols: number): number {
  return Math.min(rows, Math.max(1024, Math.floor((64 << 20) / (4 * Math.max(1, cols)))));
}

/**
 * Up to `maxRows` rows of a source, in file order: every row when the source has at most
 * `maxRows`, otherwise a uniform random subset without replacement drawn by `rng`
 * (`rng.choice(rows, maxRows)`, sorted), read in runs of consecutive rows.
 */
export function sampleRows(source: RowSource, maxRows: number, rng: Rng): Matrix {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) fail('E_ARG', `sampleRows: maxRows must be a positive integer, got ${maxRows}`);
  const n = source.rows, d = source.cols;
  if (n <= maxRows) return new Matrix(n, d, source.readRows(0, n));
  const idx = Int32Array.from(rng.choice(n, maxRows)).sort();
  const S = new Matrix(maxRows, d);
  for (let i = 0; i < maxRows;) {
    let j = i + 1;
    while (j < maxRows && idx[j] === idx[j - 1] + 1) j++;
    source.readRows(idx[i], j - i, S.data.subarray(i * d, j * d));
    i = j;
  }
  return S;
}

/** Rows `idx` (any order) of a source, one positioned read per run of consecutive indices. */
export function readRowsAt(source: RowSource, idx: ArrayLike<number>): Matrix {
  const d = source.cols, m = idx.length;
  const S = new Matrix(m, d);
  for (let i = 0; i < m;) {
    let j = i + 1;
    while (j < m && idx[j] === idx[j - 1] + 1) j++;
    source.readRows(idx[i], j - i, S.data.subarray(i * d, j * d));
    i = j;
  }
  return S;
}

/**
 * A fingerprint of a data set for checkpoints: its shape and a hash of up to 64 evenly spaced
 * rows (the first and the last among them), read with positioned reads from a source. Another
 * file, or the same file rewritten, almost surely gives another fingerprint.
 */
export function fingerprintRows(data: Matrix | RowSource): string {
  const n = data.rows, d = data.cols;
  const m = Math.min(n, 64);
  const idx = new Int32Array(m);
  for (let i = 0; i < m; i++) idx[i] = m === 1 ? 0 : Math.round((i * (n - 1)) / (m - 1));
  const S = data instanceof Matrix ? data.takeRows(idx) : readRowsAt(data, idx);
  return `[${n} x ${d}] rows ${hashFloat32(S.data)}`;
}

/**
 * Where a trainer's batches come from: an endless stream of rows (epoch after epoch) handed out
 * `count` at a time into a caller buffer, multiplied by `scale`; a batch may straddle two
 * epochs. In memory (`PermutedRows`) and from a file (`RowStream`) alike, the order is a
 * function of the seed and the sizes, so a run resumed at row `startRow` sees the rows an
 * uninterrupted one would.
 */
export interface BatchRows {
  readonly cols: number;
  next(out: Float32Array, count: number, scale?: number): void;
  close(): void;
}

/**
 * Rows of an in-memory matrix (or the subset `rows` of it, e.g. without a held-out slice) in a
 * fresh seeded permutation every epoch: epoch e uses `orderRng.fork(e).permutation(rows)`.
 */
export class PermutedRows implements BatchRows {
  readonly cols: number;
  /** rows handed out so far (counting from the start of epoch 0) */
  consumed: number;
  private readonly count: number;
  private epoch = -1;
  private perm: Int32Array = new Int32Array(0);

  constructor(readonly X: Matrix, private readonly orderRng: Rng, private readonly rows: Int32Array | null = null, startRow = 0) {
    this.cols = X.cols;
    this.count = rows ? rows.length : X.rows;
    if (this.count < 1) fail('E_SHAPE', 'PermutedRows: no rows to train on');
    if (!Number.isSafeInteger(startRow) || startRow < 0) fail('E_ARG', `PermutedRows: startRow must be a non-negative integer, got ${startRow}`);
    this.consumed = startRow;
  }

  next(out: Float32Array, count: number, scale = 1): void {
    const d = this.cols, xd = this.X.data, nr = this.count, sub = this.rows;
    if (out.length < count * d) fail('E_ARG', `PermutedRows.next: out holds ${out.length} values, need ${count * d}`);
    for (let r = 0; r < count; r++) {
      const pos = this.consumed + r;
      const epoch = Math.floor(pos / nr);
      if (epoch !== this.epoch) {
        this.perm = this.orderRng.fork(epoch).permutation(nr);
        this.epoch = epoch;
      }
      const p = this.perm[pos - epoch * nr];
      const at = (sub ? sub[p] : p) * d;
      const o = r * d;
      for (let j = 0; j < d; j++) out[o + j] = xd[at + j] * scale;
    }
    this.consumed += count;
  }

  close(): void {}
}

/** Where a stream is: epoch, batch index within the epoch, row offset within that batch. */
export interface StreamPosition {
  epoch: number;
  batch: number;
  offset: number;
}

export interface RowStreamOptions {
  /** rows per batch of the underlying `batches()` iterator (the trainer's batch size) */
  batch: number;
  /** seed of the chunked shuffle; epoch e's order depends only on (seed, e) */
  seed: Seed;
  /** rows per chunk [about 4 MiB of float32 rows] */
  chunkRows?: number;
  /** chunks in the shuffle buffer [16] */
  bufferChunks?: number;
  /** rows already consumed (to resume); the stream replays up to there */
  startRow?: number;
}

/**
 * An endless stream of rows in chunked-shuffle order (`batches(source, {shuffle: 'chunked'})`,
 * epoch after epoch), handed out `rows` at a time into caller buffers, so that a batch can
 * straddle two epochs exactly as the in-memory trainer's do. The order is a function of
 * (seed, chunkRows, bufferChunks, batch), so a stream started at `startRow` gives the rows an
 * uninterrupted one would: it opens the epoch containing `startRow` and replays that epoch's
 * earlier batches (reading them again, without copying them out: at most one epoch of I/O).
 */
export class RowStream implements BatchRows {
  readonly rows: number;
  readonly cols: number;
  readonly batch: number;
  /** rows handed out so far (counting from the start of epoch 0) */
  consumed: number;
  private readonly gen: Generator<RowBatch, void, undefined>;
  private cur: RowBatch | null = null;
  private off = 0;

  constructor(readonly source: RowSource, opts: RowStreamOptions) {
    const n = source.rows;
    if (n < 1) fail('E_SHAPE', `${source.name}: no rows to train on`);
    if (!Number.isSafeInteger(opts.batch) || opts.batch < 1) fail('E_ARG', `RowStream: batch must be a positive integer, got ${opts.batch}`);
    const start = opts.startRow ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) fail('E_ARG', `RowStream: startRow must be a non-negative integer, got ${start}`);
    this.rows = n;
    this.cols = source.cols;
    this.batch = opts.batch;
    const p = RowStream.positionOf(start, n, opts.batch);
    this.gen = batches(source, {
      batch: opts.batch, shuffle: 'chunked', seed: opts.seed, chunkRows: opts.chunkRows, bufferChunks: opts.bufferChunks,
      epochs: Number.MAX_SAFE_INTEGER, startEpoch: p.epoch,
    });
    for (let b = 0; b < p.batch; b++) this.pull();
    this.pull();
    this.off = p.offset;
    this.consumed = start;
  }

  /** The position of row `pos` of the stream for `rows` rows per epoch and batches of `batch`. */
  static positionOf(pos: number, rows: number, batch: number): StreamPosition {
    const epoch = Math.floor(pos / rows);
    const r = pos - epoch * rows;
    return { epoch, batch: Math.floor(r / batch), offset: r % batch };
  }

  /** Where the next row comes from. */
  position(): StreamPosition {
    return RowStream.positionOf(this.consumed, this.rows, this.batch);
  }

  private pull(): void {
    const it = this.gen.next();
    if (it.done) fail('E_IO', `${this.source.name}: the row stream ended`);
    this.cur = it.value;
    this.off = 0;
  }

  /** The next `count` rows, multiplied by `scale`, into out[0 .. count*cols). */
  next(out: Float32Array, count: number, scale = 1): void {
    const d = this.cols;
    if (out.length < count * d) fail('E_ARG', `RowStream.next: out holds ${out.length} values, need ${count * d}`);
    let filled = 0;
    while (filled < count) {
      if (this.off >= this.cur!.X.rows) this.pull();
      const b = this.cur!;
      const take = Math.min(count - filled, b.X.rows - this.off);
      const src = b.X.data;
      const s0 = this.off * d, o0 = filled * d, len = take * d;
      if (scale === 1) out.set(src.subarray(s0, s0 + len), o0);
      else for (let i = 0; i < len; i++) out[o0 + i] = src[s0 + i] * scale;
      this.off += take;
      filled += take;
    }
    this.consumed += count;
  }

  close(): void {
    this.gen.return();
  }
}

/**
 * A source whose rows come out transformed, `u = (x − mean)·W` (a whitening fitted on a sample):
 * each read is transformed in place through a scratch buffer of at most `blockRows` rows.
 */
export function transformedRows(source: RowSource, mean: Float32Array, W: Matrix, blockRows = 1024): RowSource {
  const d = source.cols;
  if (mean.length !== d || W.rows !== d) fail('E_SHAPE', `transformedRows: the source has ${d} columns, mean has ${mean.length} and W is [${W.rows} x ${W.cols}]`);
  if (W.cols !== d) fail('E_SHAPE', `transformedRows: W must be square [${d} x ${d}], got [${W.rows} x ${W.cols}]`);
  let scratch: Matrix | null = null;
  return {
    path: source.path, name: source.name, rows: source.rows, cols: d, dtype: source.dtype,
    readRows(start: number, count: number, out?: Float32Array): Float32Array {
      const x = source.readRows(start, count, out);
      const b = backend();
      for (let s = 0; s < count; s += blockRows) {
        const m = Math.min(blockRows, count - s);
        if (!scratch || scratch.rows < m) scratch = new Matrix(Math.min(blockRows, Math.max(m, count)), d);
        const X = new Matrix(m, d, x.subarray(s * d, (s + m) * d));
        b.addRowVector(X.data, m, d, mean, -1);
        const U = new Matrix(m, d, scratch.data.subarray(0, m * d));
        matmul(X, W, { out: U });
        X.data.set(U.data);
      }
      return x;
    },
    close: () => source.close(),
  };
}
