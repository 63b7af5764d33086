import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { centerCols, checkPair, pearson, rankAverage } from './common.js';

/**
 * Representational similarity analysis (Kriegeskorte et al. 2008): build each system's
 * representational dissimilarity matrix (RDM) over the samples, then correlate the upper
 * triangles.
 */
export type RdmKind = 'correlation' | 'euclidean' | 'sqeuclidean';
export type RdmCompare = 'spearman' | 'pearson';

export interface RsaOptions {
  /** dissimilarity between samples (default 'correlation': 1 − Pearson r between two rows) */
  rdm?: RdmKind;
  /** how to compare the two RDMs (default 'spearman', ties by average rank like SciPy) */
  compare?: RdmCompare;
}

export interface RsaResult {
  value: number;
  rdm: RdmKind;
  compare: RdmCompare;
  /** number of sample pairs compared, n(n−1)/2 */
  pairs: number;
}

const BLOCK = 512;

/**
 * The condensed RDM of X [n x d]: the n(n−1)/2 dissimilarities d(i, j), i < j, in the order of
 * scipy.spatial.distance.pdist (row-major upper triangle), as float64.
 *  - 'correlation': 1 − r(xᵢ, xⱼ), r the Pearson correlation across features (pdist 'correlation');
 *    a constant row has no correlation and is an error.
 *  - 'euclidean': ‖xᵢ − xⱼ‖; 'sqeuclidean': ‖xᵢ − xⱼ‖².
 * Computed blockwise through the backend GEMM (float32 products, float64 results): peak extra
 * memory is the output plus a [512 x n] block.
 */
export function rdm(X: Matrix, kind: RdmKind = 'correlation', out?: Float64Array): Float64Array {
  if (!(X instanceof Matrix)) fail('E_ARG', 'rdm: X must be a Matrix (samples are rows)');
  if (kind !== 'correlation' && kind !== 'euclidean' && kind !== 'sqeuclidean') {
    fail('E_ARG', `rdm: kind must be 'correlation', 'euclidean' or 'sqeuclidean', got ${String(kind)}`);
  }
  assertFinite('rdm: X', X);
  const n = X.rows;
  const d = X.cols;
  if (n < 2) fail('E_SHAPE', `rdm: needs at least 2 samples (rows), got ${n}`);
  if (d < 1) fail('E_SHAPE', 'rdm: X needs at least one column');
  const m = (n * (n - 1)) / 2;
  if (out && out.length !== m) fail('E_SHAPE', `rdm: out has ${out.length} entries, ${n} samples give ${m} pairs`);
  const res = out ?? new Float64Array(m);
  let Y: Matrix;
  const sq = new Float64Array(n);
  if (kind === 'correlation') {
    // rows centred across features and scaled to unit norm: the Gram holds correlations
    Y = new Matrix(n, d);
    for (let i = 0; i < n; i++) {
      const r = X.row(i);
      let mu = 0;
      for (let j = 0; j < d; j++) mu += r[j];
      mu /= d;
      let ss = 0;
      for (let j = 0; j < d; j++) ss += (r[j] - mu) * (r[j] - mu);
      if (!(ss > 1e-12 * d * Math.max(1, mu * mu))) {
        fail('E_DATA', `rdm: row ${i} of X is constant across its ${d} features, so its correlation distance is undefined; use rdm 'euclidean' or drop that sample`);
      }
      const s = 1 / Math.sqrt(ss);
      const o = Y.row(i);
      for (let j = 0; j < d; j++) o[j] = (r[j] - mu) * s;
    }
  } else {
    Y = centerCols(X); // distances are translation invariant; centring limits cancellation
    for (let i = 0; i < n; i++) {
      const r = Y.row(i);
      let s = 0;
      for (let j = 0; j < d; j++) s += r[j] * r[j];
      sq[i] = s;
    }
  }
  const buf = new Matrix(Math.min(BLOCK, n), n);
  for (let i0 = 0; i0 < n - 1; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    const b = i1 - i0;
    const w = n - i0; // columns j >= i0
    const G = new Matrix(b, w, buf.data.subarray(0, b * w));
    matmul(Y.rowSlice(i0, i1), Y.rowSlice(i0, n), { transB: true, out: G });
    const g = G.data;
    for (let i = i0; i < i1; i++) {
      // condensed index of (i, i+1)
      let t = i * n - (i * (i + 1)) / 2;
      const gr = (i - i0) * w - i0;
      if (kind === 'correlation') {
        for (let j = i + 1; j < n; j++) res[t++] = 1 - g[gr + j];
      } else {
        const si = sq[i];
        for (let j = i + 1; j < n; j++) {
          const v = Math.max(0, si + sq[j] - 2 * g[gr + j]);
          res[t++] = kind === 'sqeuclidean' ? v : Math.sqrt(v);
        }
      }
    }
  }
  return res;
}

/**
 * RSA between A [n x p] and B [n x q]: the correlation of their condensed RDMs.
 * Default: correlation-distance RDMs compared by Spearman's rank correlation.
 * Memory: two float64 vectors of n(n−1)/2 entries (10,000 samples: 0.8 GB) plus, for Spearman,
 * about 24 bytes per pair of ranking scratch (1.2 GB more, freed after ranking).
 */
export function rsa(A: Matrix, B: Matrix, opts: RsaOptions = {}): RsaResult {
  checkPair('rsa', A, B, 3);
  const kind = opts.rdm ?? 'correlation';
  const compare = opts.compare ?? 'spearman';
  if (compare !== 'spearman' && compare !== 'pearson') fail('E_ARG', `rsa: compare must be 'spearman' or 'pearson', got ${String(compare)}`);
  const ra = rdm(A, kind);
  const rb = rdm(B, kind);
  if (compare === 'spearman') {
    rankAverage(ra, ra);
    rankAverage(rb, rb);
  }
  const r = pearson(ra, rb);
  if (Number.isNaN(r)) fail('E_DATA', `rsa: an RDM is constant (all sample pairs equally dissimilar), so its correlation is undefined`);
  return { value: r, rdm: kind, compare, pairs: ra.length };
}
