import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { linearSumAssignment } from '../linalg/hungarian.js';
import { checkMatrix, checkSameRows } from './util.js';

/**
 * The mean correlation coefficient of disentanglement_lib's `mcc` metric as the SlowVAE code
 * configures it (`mcc_metric/metric.py`, `metric_configs/mcc.gin`; PROTOCOLS.md §3.2):
 *  - the ground-truth factors [n x F] are padded with N(0, 1) noise columns up to the code
 *    width z_dim (the codes must be at least as wide as the factors);
 *  - SPEARMAN correlation (Pearson on average ranks, ties share their mean rank, as
 *    scipy.stats.spearmanr) between every factor column (padding included) and every code;
 *  - a one-to-one matching maximising Σ|corr| (Hungarian);
 *  - score = mean |corr| over the F real factors' matched pairs.
 * The reference fills the padding from the evaluation's numpy RandomState; here from `seed`.
 */

/** Average ranks (1-based, ties share their mean rank) of each column, as float64 [rows x cols]. */
export function columnRanks(m: Matrix): Float64Array {
  const { rows, cols } = m;
  const out = new Float64Array(rows * cols);
  const idx = new Int32Array(rows);
  for (let j = 0; j < cols; j++) {
    for (let i = 0; i < rows; i++) idx[i] = i;
    idx.sort((a, b) => m.data[a * cols + j] - m.data[b * cols + j]);
    let i = 0;
    while (i < rows) {
      let k = i;
      const v = m.data[idx[i] * cols + j];
      while (k + 1 < rows && m.data[idx[k + 1] * cols + j] === v) k++;
      const r = (i + k) / 2 + 1;
      for (let t = i; t <= k; t++) out[idx[t] * cols + j] = r;
      i = k + 1;
    }
  }
  return out;
}

/** Pearson correlations [ca x cb] between the columns of two float64 [rows x c] arrays (0 where a column is constant). */
function pearsonColumns(A: Float64Array, ca: number, B: Float64Array, cb: number, rows: number): Float64Array {
  const center = (X: Float64Array, c: number) => {
    const Y = new Float64Array(X.length);
    const norms = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += X[i * c + j];
      const mean = s / rows;
      let ss = 0;
      for (let i = 0; i < rows; i++) {
        const v = X[i * c + j] - mean;
        Y[i * c + j] = v;
        ss += v * v;
      }
      norms[j] = Math.sqrt(ss);
    }
    return { Y, norms };
  };
  const a = center(A, ca), b = center(B, cb);
  const C = new Float64Array(ca * cb);
  for (let i = 0; i < rows; i++) {
    for (let p = 0; p < ca; p++) {
      const v = a.Y[i * ca + p];
      if (v === 0) continue;
      for (let q = 0; q < cb; q++) C[p * cb + q] += v * b.Y[i * cb + q];
    }
  }
  for (let p = 0; p < ca; p++) {
    for (let q = 0; q < cb; q++) {
      const d = a.norms[p] * b.norms[q];
      C[p * cb + q] = d > 0 ? C[p * cb + q] / d : 0;
    }
  }
  return C;
}

/** Spearman correlations [A.cols x B.cols] between the columns of A and B (same rows). */
export function spearmanCorrelation(A: Matrix, B: Matrix): Float64Array {
  checkMatrix('A', A, 2);
  checkMatrix('B', B, 2);
  checkSameRows('A', A, 'B', B);
  return pearsonColumns(columnRanks(A), A.cols, columnRanks(B), B.cols, A.rows);
}

export interface SpearmanMccResult {
  /** mean |Spearman corr| over the real factors' matched pairs */
  mcc: number;
  /** per factor: |corr| with its matched code */
  perFactor: Float64Array;
  /** per factor: the matched code column */
  matching: Int32Array;
}

/**
 * Spearman MCC of codes [n x z_dim] (encoder means) against factors [n x F], F <= z_dim.
 * Factors are padded with `z_dim − F` N(0, 1) noise columns (drawn from `seed`).
 */
export function spearmanMcc(codes: Matrix, factors: Matrix, opts: { seed?: Seed } = {}): SpearmanMccResult {
  checkMatrix('codes', codes, 2);
  checkMatrix('factors', factors, 2);
  checkSameRows('codes', codes, 'factors', factors);
  const n = codes.rows, z = codes.cols, F = factors.cols;
  if (F > z) fail('E_SHAPE', `spearmanMcc: ${F} factors but only ${z} code dimensions; the metric pads the factors up to the code width, so use codes at least as wide`);
  const truth = new Matrix(n, z);
  const rng = new Rng(opts.seed ?? 0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < F; j++) truth.data[i * z + j] = factors.data[i * F + j];
  }
  // noise rows drawn factor-row-major like the reference (one row of n draws per padding column)
  for (let j = F; j < z; j++) for (let i = 0; i < n; i++) truth.data[i * z + j] = rng.normal();
  const corr = spearmanCorrelation(truth, codes);
  const abs = corr.map(Math.abs);
  const { rowInd, colInd } = linearSumAssignment(abs, z, z, { maximize: true });
  const perFactor = new Float64Array(F);
  const matching = new Int32Array(F);
  for (let t = 0; t < rowInd.length; t++) {
    if (rowInd[t] < F) {
      perFactor[rowInd[t]] = abs[rowInd[t] * z + colInd[t]];
      matching[rowInd[t]] = colInd[t];
    }
  }
  let s = 0;
  for (let j = 0; j < F; j++) s += perFactor[j];
  return { mcc: s / F, perFactor, matching };
}
