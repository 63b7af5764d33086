import { fail } from '../core/errors.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertNumber } from '../core/validate.js';
import { Matrix as Mat } from '../core/matrix.js';
import { columnMeans, crossProduct } from '../linalg/gram.js';
import { linearSumAssignment } from '../linalg/hungarian.js';
import { argsortDesc, checkMatrix, checkSameRows, columnVariances, crossDots, normalizedColumns } from './util.js';

export interface MccOptions {
  /**
   * OOD rule (PAPERS sec. 1): keep only the true latents active in this set and the same
   * number of code columns of largest variance (the code side never looks at the truth).
   */
  ood?: boolean;
  /**
   * 'noise' (default, as the reference code): when the two sides differ in width, pad the
   * narrower one with N(0,1) noise columns and average over all max(width) matched pairs.
   * 'none': average over the min(width) matched pairs only.
   */
  pad?: 'noise' | 'none';
  /** seed of the padding noise (default 42, the reference code's) */
  seed?: Seed;
  /**
   * Drop true latents whose variance is <= varianceTol before matching (default true; the
   * reference code does this for both ID and OOD MCC, so latents that never appear are
   * replaced by noise columns when the codes are wider).
   */
  dropInactive?: boolean;
  /** variance threshold for "active" columns (default 1e-8) */
  varianceTol?: number;
  /**
   * Correlations by float64 dot products throughout (default: only for small problems).
   * Large problems (pairs x samples > 2^26) use the backend GEMM on blocks with float64
   * accumulation across blocks (relative error ~1e-6 in each correlation).
   */
  exact?: boolean;
}

export interface MccResult {
  /** mean |Pearson r| over the matched pairs (padding pairs included with pad='noise') */
  mcc: number;
  /**
   * per true latent (length truth.cols): |r| with its matched column (a noise column when
   * it was matched to padding), NaN when the latent was left out (inactive, or unmatched
   * with pad='none')
   */
  perLatent: Float64Array;
  /** per true latent: the matched code column, -1 when none (left out or matched to noise) */
  matching: Int32Array;
  /** number of matched pairs averaged in `mcc` */
  pairs: number;
  /** true latents used, code columns used */
  latentsUsed: Int32Array;
  codesUsed: Int32Array;
}

/**
 * Mean correlation coefficient between codes [n x c] and true latents [n x l]: the
 * absolute Pearson correlation of every (latent, code) column pair, a one-to-one matching
 * that maximises the summed |r| (Hungarian), and the mean |r| over the matched pairs.
 * Invariant to permutation, scaling and sign of the code columns. Float64 inside.
 */
export function mcc(codes: Mat, truth: Mat, opts: MccOptions = {}): MccResult {
  checkMatrix('codes', codes, 2);
  checkMatrix('truth', truth, 2);
  checkSameRows('codes', codes, 'truth', truth);
  const pad = opts.pad ?? 'noise';
  if (pad !== 'noise' && pad !== 'none') fail('E_ARG', `mcc: pad must be 'noise' or 'none', got '${pad as string}'`);
  const tol = opts.varianceTol ?? 1e-8;
  assertNumber('varianceTol', tol, 0);
  const ood = !!opts.ood;
  const drop = ood || (opts.dropInactive ?? true);
  const n = truth.rows;

  let latents: Int32Array;
  if (drop) {
    const v = columnVariances(truth);
    const keep: number[] = [];
    for (let j = 0; j < truth.cols; j++) if (v[j] > tol) keep.push(j);
    latents = Int32Array.from(keep);
  } else latents = Int32Array.from({ length: truth.cols }, (_, j) => j);
  if (latents.length === 0) {
    fail('E_DATA', `mcc: no true latent varies in this set (all ${truth.cols} columns have variance <= ${tol}); check the truth file or the split`);
  }

  let codeCols: Int32Array;
  if (ood) {
    const order = argsortDesc(columnVariances(codes));
    codeCols = order.slice(0, Math.min(latents.length, codes.cols));
  } else codeCols = Int32Array.from({ length: codes.cols }, (_, j) => j);

  const wl = latents.length;
  const wc = codeCols.length;
  let padL = 0;
  let padC = 0;
  let noise: Float64Array | undefined;
  if (pad === 'noise' && wl !== wc) {
    const extra = Math.abs(wl - wc);
    noise = new Float64Array(n * extra);
    new Rng(opts.seed ?? 42).fillNormal(noise);
    if (wl < wc) padL = extra;
    else padC = extra;
  }
  const WL = wl + padL;
  const WC = wc + padC;
  let corr: Float64Array;
  if (!opts.exact && WL * WC * n > 2 ** 26) {
    corr = gemmCorrelations(assemble(truth, latents, noise, padL), assemble(codes, codeCols, noise, padC));
  } else {
    const L = normalizedColumns(truth, latents, padL ? noise : undefined, padL);
    const C = normalizedColumns(codes, codeCols, padC ? noise : undefined, padC);
    corr = crossDots(L, WL, C, WC, n);
  }
  for (let i = 0; i < corr.length; i++) corr[i] = Math.abs(corr[i]);
  const { rowInd, colInd } = linearSumAssignment(corr, WL, WC, { maximize: true });

  const perLatent = new Float64Array(truth.cols).fill(NaN);
  const matching = new Int32Array(truth.cols).fill(-1);
  let sum = 0;
  for (let t = 0; t < rowInd.length; t++) {
    const a = rowInd[t];
    const b = colInd[t];
    const r = corr[a * WC + b];
    sum += r;
    if (a < wl) {
      perLatent[latents[a]] = r;
      if (b < wc) matching[latents[a]] = codeCols[b];
    }
  }
  return { mcc: sum / rowInd.length, perLatent, matching, pairs: rowInd.length, latentsUsed: latents, codesUsed: codeCols };
}

/** The selected columns of m followed by `padCols` columns of `pad` ([rows x padCols]), as float32. */
function assemble(m: Mat, index: Int32Array, pad: Float64Array | undefined, padCols: number): Mat {
  const w = index.length + padCols;
  const out = new Mat(m.rows, w);
  for (let i = 0; i < m.rows; i++) {
    const o = i * w;
    const src = i * m.cols;
    for (let c = 0; c < index.length; c++) out.data[o + c] = m.data[src + index[c]];
    for (let c = 0; c < padCols; c++) out.data[o + index.length + c] = pad![i * padCols + c];
  }
  return out;
}

/** Pearson correlations between the columns of A and B through blocked GEMM (float64 across blocks). */
function gemmCorrelations(A: Mat, B: Mat): Float64Array {
  const ma = columnMeans(A);
  const mb = columnMeans(B);
  const na = centredNorms(A, ma);
  const nb = centredNorms(B, mb);
  const C = crossProduct(A, B, { meanA: ma, meanB: mb });
  for (let a = 0; a < A.cols; a++) {
    for (let b = 0; b < B.cols; b++) C[a * B.cols + b] /= na[a] * nb[b];
  }
  return C;
}

function centredNorms(m: Mat, mean: Float64Array): Float64Array {
  const out = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    for (let j = 0; j < m.cols; j++) {
      const d = m.data[o + j] - mean[j];
      out[j] += d * d;
    }
  }
  for (let j = 0; j < m.cols; j++) {
    const v = Math.sqrt(out[j]);
    out[j] = v < 1e-8 ? 1 : v;
  }
  return out;
}
