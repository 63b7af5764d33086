import { backend } from '../backend/index.js';
import { Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';

/**
 * Row and column helpers used across the layers: one of each in the codebase.
 * Sums accumulate in float64.
 */

/** Column means of X [rows x cols] in float64 (zeros for an empty X). */
export function columnMeans(X: Matrix): Float64Array {
  const { rows, cols, data } = X;
  const m = new Float64Array(cols);
  if (rows === 0) return m;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) m[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) m[j] /= rows;
  return m;
}

/** Counts the generator's `fillNormal` calls made by re-draws (a checkpoint stores it to replay the stream). */
export interface DrawCounter {
  draws: number;
}

/** Overwrite row `row` of D with a random unit vector (N(0,1) entries, normalised; drawn again in the measure-zero case of a zero row). */
export function redrawUnitRow(D: Matrix, row: number, rng: Rng, counter?: DrawCounter): void {
  const cols = D.cols;
  const r = D.data.subarray(row * cols, (row + 1) * cols);
  let s = 0;
  do {
    rng.fillNormal(r);
    if (counter) counter.draws++;
    s = 0;
    for (let c = 0; c < cols; c++) s += r[c] * r[c];
  } while (!(s > 0));
  const inv = 1 / Math.sqrt(s);
  for (let c = 0; c < cols; c++) r[c] *= inv;
}

/**
 * Scale each row of D to unit Euclidean norm in place. A row whose norm is at most
 * `eps` (default 0) or not finite is re-drawn as a random unit vector when `redraw` (an Rng) is
 * given, and left as it is otherwise. Returns how many rows were re-drawn.
 */
export function normalizeRows(D: Matrix, opts: { redraw?: Rng; eps?: number; counter?: DrawCounter } = {}): number {
  const { rows, cols, data: w } = D;
  const eps = opts.eps ?? 0;
  const fast = backend().normalizeRows;
  if (fast && !opts.redraw && rows * cols >= 4096) {
    fast(w, rows, cols, eps); // the same bits, on every core
    return 0;
  }
  let redrawn = 0;
  for (let a = 0; a < rows; a++) {
    const o = a * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += w[o + j] * w[o + j];
    const norm = Math.sqrt(s);
    if (!(norm > eps) || !Number.isFinite(norm)) {
      if (opts.redraw) {
        redrawUnitRow(D, a, opts.redraw, opts.counter);
        redrawn++;
      }
      continue;
    }
    const inv = 1 / norm;
    for (let j = 0; j < cols; j++) w[o + j] *= inv;
  }
  return redrawn;
}

/** A new [rows x cols] matrix of random unit-norm rows (Gaussian directions), drawn row by row. */
export function randomUnitRows(rows: number, cols: number, rng: Rng): Matrix {
  const D = new Matrix(rows, cols);
  for (let a = 0; a < rows; a++) redrawUnitRow(D, a, rng);
  return D;
}
