import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import type { RowSource } from '../io/rows.js';
import type { SynthSAEBenchWorld } from './synth-sae-bench.js';

/** A RowSource whose rows a world generates on demand (see `synthWorldSource`). */
export interface WorldRowSource extends RowSource {
  readonly iid: true;
  /** rows [rows, rows + count) of the same stream: never among the training rows [0, rows) */
  heldOut(count: number): Matrix;
  /** the true activations of rows [start, start + count) (ground truth for tests and metrics) */
  truth(start: number, count: number): Matrix;
}

/**
 * The rows of a SynthSAEBench world as a RowSource of `rows` rows (so `fit` trains from a world
 * without files: nothing is stored). Row r is `world.sampleAt(r, 1, stream)` with stream =
 * Rng(seed).fork('stream'): any row can be generated alone, the same on every read, reproducible
 * from the seed; the rows are independent draws (`iid`), so the trainer reads them in order
 * without a shuffle buffer. `heldOut(h)` gives rows past the training range (r >= rows), so a
 * held-out slice is never trained on.
 */
export function synthWorldSource(world: SynthSAEBenchWorld, o: { rows: number; seed: number; name?: string }): WorldRowSource {
  if (!Number.isSafeInteger(o.rows) || o.rows < 2) fail('E_ARG', `a world source needs rows >= 2 (--samples), got ${o.rows}`);
  const stream = new Rng(o.seed).fork('stream');
  const d = world.config.dim;
  const name = o.name ?? `world:synth-sae-bench(seed ${o.seed})`;
  return {
    path: name, name, rows: o.rows, cols: d, dtype: 'float32', ndim: 2, iid: true,
    readRows(start: number, count: number, out?: Float32Array): Float32Array {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > o.rows) {
        fail('E_ARG', `${name}: rows [${start}, ${start + count}) are outside [0, ${o.rows})`);
      }
      const X = world.sampleAt(start, count, stream).X;
      if (!out) return X.data;
      if (out.length < count * d) fail('E_ARG', `${name}: out holds ${out.length} values, need ${count * d}`);
      out.set(X.data);
      return out.subarray(0, count * d);
    },
    heldOut(count: number): Matrix {
      return world.sampleAt(o.rows, count, stream).X;
    },
    truth(start: number, count: number): Matrix {
      return world.sampleAt(start, count, stream).A;
    },
    close() {},
  };
}
