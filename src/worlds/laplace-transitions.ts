import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Sparse temporal transitions on discrete factor grids, as SlowVAE's data loader draws them
 * (`TupleLoader.truncated_laplace` of `bethgelab/slow_disentanglement`; PROTOCOLS.md §3.2):
 *  - the first frame is a uniformly random grid point;
 *  - each factor moves independently to x ∈ {0, …, size−1} with probability
 *    ∝ Laplace(x; loc = current, scale = ln(size)/rate) (a discretised, truncated Laplace);
 *  - categorical factors (a sprite's shape) are held fixed;
 *  - if nothing changed, one non-categorical factor is redrawn from the same law with its
 *    current value excluded (every pair differs);
 *  - rate = −1 draws rate ~ U(1, 10) per pair.
 */

export interface FactorGrid {
  /** number of values of each factor (>= 2) */
  sizes: number[];
  /** factors held fixed within a pair (e.g. shape) */
  categorical: boolean[];
  /** names, for reports */
  names?: string[];
}

export function checkGrid(g: FactorGrid): void {
  if (!Array.isArray(g.sizes) || g.sizes.length === 0) fail('E_ARG', 'factor grid: sizes must be a non-empty list of integers >= 2');
  for (const s of g.sizes) assertInt('factor size', s, 2);
  if (!Array.isArray(g.categorical) || g.categorical.length !== g.sizes.length) {
    fail('E_ARG', `factor grid: categorical must have one flag per factor (${g.sizes.length})`);
  }
  if (g.categorical.every((c) => c)) fail('E_ARG', 'factor grid: every factor is categorical, so no transition can change anything; mark at least one factor non-categorical');
}

/** Laplace(x; loc, scale) weights over x = 0..size−1 (unnormalised), with x = `exclude` zeroed. */
function laplaceWeights(size: number, loc: number, scale: number, exclude = -1): Float64Array {
  const p = new Float64Array(size);
  for (let x = 0; x < size; x++) p[x] = x === exclude ? 0 : Math.exp(-Math.abs(x - loc) / scale);
  return p;
}

function drawFrom(p: Float64Array, rng: Rng): number {
  let s = 0;
  for (const v of p) s += v;
  let u = rng.uniform() * s;
  for (let x = 0; x < p.length; x++) {
    u -= p[x];
    if (u < 0) return x;
  }
  for (let x = p.length - 1; x >= 0; x--) if (p[x] > 0) return x;
  return 0;
}

/** The next frame's factors from `start` (one transition of the reference's truncated Laplace prior). */
export function laplaceTransition(start: ArrayLike<number>, g: FactorGrid, rate: number, rng: Rng, out?: Int32Array): Int32Array {
  const F = g.sizes.length;
  const end = out ?? new Int32Array(F);
  const r = rate === -1 ? rng.uniformIn(1, 10) : rate;
  let changed = false;
  for (let f = 0; f < F; f++) {
    if (g.categorical[f]) {
      end[f] = start[f];
      continue;
    }
    end[f] = drawFrom(laplaceWeights(g.sizes[f], start[f], Math.log(g.sizes[f]) / r), rng);
    if (end[f] !== start[f]) changed = true;
  }
  if (!changed) {
    const free: number[] = [];
    for (let f = 0; f < F; f++) if (!g.categorical[f]) free.push(f);
    const f = free[rng.int(free.length)];
    end[f] = drawFrom(laplaceWeights(g.sizes[f], start[f], Math.log(g.sizes[f]) / r, start[f]), rng);
  }
  return end;
}

/** Uniformly random grid points [rows x F] (factor indices as float32). */
export function uniformFactors(g: FactorGrid, rows: number, rng: Rng): Matrix {
  checkGrid(g);
  const F = g.sizes.length;
  const out = new Matrix(rows, F);
  for (let i = 0; i < rows; i++) for (let f = 0; f < F; f++) out.data[i * F + f] = rng.int(g.sizes[f]);
  return out;
}

/**
 * `pairs` transition pairs as SlowVAE batches them: rows 2i (frame t) and 2i + 1 (frame t + 1),
 * [2·pairs x F] factor indices. rate > 0, or −1 for U(1, 10) per pair.
 */
export function laplacePairs(g: FactorGrid, pairs: number, rate: number, rng: Rng): Matrix {
  checkGrid(g);
  assertInt('pairs', pairs, 1);
  if (rate !== -1) assertNumber('transition rate', rate, 0, Infinity, { exclusiveMin: true });
  const F = g.sizes.length;
  const out = new Matrix(2 * pairs, F);
  const start = new Int32Array(F);
  const end = new Int32Array(F);
  for (let i = 0; i < pairs; i++) {
    for (let f = 0; f < F; f++) start[f] = rng.int(g.sizes[f]);
    laplaceTransition(start, g, rate, rng, end);
    for (let f = 0; f < F; f++) {
      out.data[2 * i * F + f] = start[f];
      out.data[(2 * i + 1) * F + f] = end[f];
    }
  }
  return out;
}
