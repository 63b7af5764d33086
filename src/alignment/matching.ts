import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/ops.js';
import { linearSumAssignment } from '../linalg/hungarian.js';
import { checkPair, standardizeCols } from './common.js';
import { gcd, transport } from './transport.js';

/**
 * Unit-level alignment between the columns (units) of A [n x p] and B [n x q]: Pearson
 * correlations between every source unit (column of A) and every target unit (column of B),
 * then a matching. Constant columns have correlation 0 with everything.
 */
export interface MatchingOptions {
  /** match on |r| instead of r (default false: signed correlations) */
  abs?: boolean;
}

/** Pearson correlations between the columns of A and of B: float64 [p x q], row-major. */
export function crossCorrelation(A: Matrix, B: Matrix): Float64Array {
  checkPair('crossCorrelation', A, B);
  const za = standardizeCols(A).Z;
  const zb = standardizeCols(B).Z;
  const C = matmul(za, zb, { transA: true });
  const out = new Float64Array(C.size);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(-1, Math.min(1, C.data[i]));
  return out;
}

export interface SemiMatchingResult {
  value: number;
  /** per source unit, the index of its best target unit */
  best: Int32Array;
  /** per source unit, its (signed, or absolute with abs) correlation with that target */
  r: Float64Array;
}

/**
 * Semi-matching: mean over source units (columns of A) of the maximum Pearson r with any
 * target unit (column of B). Not symmetric: several source units may pick the same target.
 */
export function semiMatching(A: Matrix, B: Matrix, opts: MatchingOptions = {}): SemiMatchingResult {
  checkPair('semiMatching', A, B);
  const p = A.cols;
  const q = B.cols;
  const C = crossCorrelation(A, B);
  const best = new Int32Array(p);
  const r = new Float64Array(p);
  let sum = 0;
  for (let i = 0; i < p; i++) {
    let bj = 0;
    let bv = -Infinity;
    for (let j = 0; j < q; j++) {
      const v = opts.abs ? Math.abs(C[i * q + j]) : C[i * q + j];
      if (v > bv) {
        bv = v;
        bj = j;
      }
    }
    best[i] = bj;
    r[i] = bv;
    sum += bv;
  }
  return { value: sum / p, best, r };
}

export interface SoftMatchingResult {
  value: number;
  /** the optimal transport plan in sparse form: mass[t] moves from source rows[t] to target cols[t] */
  plan: { rows: Int32Array; cols: Int32Array; mass: Float64Array };
  /** 'assignment' for equal widths, 'transport' otherwise */
  method: 'assignment' | 'transport';
}

/**
 * Soft matching (Khosla & Williams 2024): the optimal transport plan P between source units
 * (mass 1/p each) and target units (mass 1/q each) that maximises Σ P_ij s_ij with s = r (or
 * |r| with abs); the score is that maximum, in [−1, 1]. For p = q the optimum is a
 * permutation (Birkhoff), solved exactly by the Hungarian method; otherwise the transportation
 * problem is solved exactly as an integral min-cost flow with masses q/g and p/g
 * (g = gcd(p, q)), then scaled.
 */
export function softMatching(A: Matrix, B: Matrix, opts: MatchingOptions = {}): SoftMatchingResult {
  checkPair('softMatching', A, B);
  const C = crossCorrelation(A, B);
  return softMatchingFromScores(opts.abs ? C.map(Math.abs) : C, A.cols, B.cols);
}

/** Soft matching on a given score matrix s [p x q] (maximised). */
export function softMatchingFromScores(s: Float64Array, p: number, q: number): SoftMatchingResult {
  if (s.length !== p * q) fail('E_SHAPE', `softMatching: scores have ${s.length} entries, [${p} x ${q}] needs ${p * q}`);
  if (p === q) {
    const { rowInd, colInd } = linearSumAssignment(s, p, q, { maximize: true });
    let sum = 0;
    for (let t = 0; t < rowInd.length; t++) sum += s[rowInd[t] * q + colInd[t]];
    return { value: sum / p, plan: { rows: rowInd, cols: colInd, mass: new Float64Array(p).fill(1 / p) }, method: 'assignment' };
  }
  const g = gcd(p, q);
  const cost = new Float64Array(p * q);
  for (let i = 0; i < cost.length; i++) cost[i] = -s[i];
  const { flow } = transport(cost, p, q, new Array(p).fill(q / g), new Array(q).fill(p / g));
  const total = (p * q) / g;
  const rows: number[] = [];
  const cols: number[] = [];
  const mass: number[] = [];
  let value = 0;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      const f = flow[i * q + j];
      if (f > 0) {
        rows.push(i);
        cols.push(j);
        mass.push(f / total);
        value += (f / total) * s[i * q + j];
      }
    }
  }
  return { value, plan: { rows: Int32Array.from(rows), cols: Int32Array.from(cols), mass: Float64Array.from(mass) }, method: 'transport' };
}
