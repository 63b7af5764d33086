import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { linearIdentifiabilityR2 } from './identifiability.js';
import { checkMatrix, checkSameRows } from './util.js';

/**
 * Linear R² from a representation H to latents Z with a fresh fit/test split, as the
 * cross-entropy/DIET code scores "linear disentanglement" (`linear_disentanglement(z, h,
 * mode='r2', train_test_split=True)`, PROTOCOLS.md §2.1): scikit-learn's LinearRegression
 * (with intercept) fitted on the first half of the rows (⌊n/2⌋), scored on the rest with
 * `r2_score`, whose default is the UNIFORM average of the per-dimension R² (not the
 * variance-weighted pooled R² of linearIdentifiabilityR2's `r2`).
 */
export interface SplitR2 {
  /** uniform average over the latent dimensions (scikit-learn's r2_score default) */
  r2: number;
  /** variance-weighted pooled R² on the same split */
  r2Weighted: number;
  perDim: Float64Array;
}

export function linearR2Split(H: Matrix, Z: Matrix): SplitR2 {
  checkMatrix('H', H, 4);
  checkMatrix('Z', Z, 4);
  checkSameRows('H', H, 'Z', Z);
  const nTrain = Math.floor(H.rows / 2);
  if (nTrain < 2) fail('E_SHAPE', `linearR2Split: ${H.rows} rows are too few; give at least 4 (half to fit, half to score)`);
  const fit = linearIdentifiabilityR2(H.rowSlice(0, nTrain), Z.rowSlice(0, nTrain), { test: { H: H.rowSlice(nTrain, H.rows), Z: Z.rowSlice(nTrain, Z.rows) } });
  let s = 0;
  for (const v of fit.perDim) s += v;
  return { r2: s / fit.perDim.length, r2Weighted: fit.r2, perDim: fit.perDim };
}
