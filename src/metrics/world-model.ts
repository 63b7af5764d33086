import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { svd } from '../linalg/svd.js';
import { crossProduct, columnMeans } from '../linalg/gram.js';
import { linearIdentifiabilityR2 } from './identifiability.js';
import { checkMatrix, checkSameRows } from './util.js';

/**
 * Linear identifiability of a learned representation h of a world's latents z, and the
 * quantities of the world-model bound of "When does LeJEPA learn a world model?"
 * (arXiv 2605.26379; docs/lejepa.md, read from `klindtlab/lejepa-identifiability`
 * `experiments/lejepa_id/metrics.py`). Every quantity is in-sample on one evaluation set:
 *
 *  - `r2_ab`: pooled (variance-weighted) R² of the least-squares fit with intercept that predicts
 *    b from a, 1 − Σ SS_res / Σ SS_tot over b's columns: `r2_hz` (h → z), `r2_zh` (z → h),
 *    `r2_xz` (x → z: how nonlinear the mixing is) and `r2_zx`;
 *  - `orth_err` = ‖AᵀA − I‖_F/√N with A the slope matrix of the fit h ≈ A·z + b (the issue's
 *    normalised error; the reference logs it as `orth_err_normalized`), `orth_err_raw` = ‖AᵀA − I‖_F;
 *  - `epsilon` = ‖Cov(h) − I‖_F (unbiased covariance), `trace_cov` = tr Cov(h);
 *    `L_h` = mean ‖h(z′) − h(z)‖² with z′ one OU step from z;
 *    `delta` = max(L_h − 2(1 − ρ)·tr Cov(h), 0); spectral gap 2ρ(1 − ρ); `D_bound` = δ/gap;
 *    `approx_bound` = D + (ε + D)²;
 *  - `procrustes_mse` = mean ‖h − z·Qᵀ‖² with Q = U·Vᵀ from the SVD of hᵀz/n (no centring).
 */

/** Pooled R² of predicting b from a (with intercept), and of predicting a from b. */
export function r2Both(a: Matrix, b: Matrix): { ab: number; ba: number } {
  return { ab: linearIdentifiabilityR2(a, b).r2, ba: linearIdentifiabilityR2(b, a).r2 };
}

/**
 * Orthogonality of the linear map from z to h: A [dim_h × N] = slope of h ≈ A·z + b (least
 * squares with intercept); returns ‖AᵀA − I_N‖_F and that divided by √N.
 */
export function orthogonalityError(Z: Matrix, H: Matrix): { raw: number; normalized: number } {
  const fit = linearIdentifiabilityR2(Z, H); // weights W [N × dim_h]: ĥ = z·W + b, so A = Wᵀ
  const N = Z.cols, q = H.cols;
  const W = fit.weights.data;
  let ss = 0;
  for (let a = 0; a < N; a++) {
    for (let c = 0; c < N; c++) {
      let s = 0;
      for (let k = 0; k < q; k++) s += W[a * q + k] * W[c * q + k];
      ss += (s - (a === c ? 1 : 0)) ** 2;
    }
  }
  const raw = Math.sqrt(ss);
  return { raw, normalized: raw / Math.sqrt(N) };
}

/**
 * Orthogonal Procrustes error mean_i ‖h_i − Q·z_i‖² with Q = U·Vᵀ from the SVD of M = hᵀz/n
 * (H and Z of the same width; not centred, as the reference).
 */
export function procrustesError(H: Matrix, Z: Matrix): number {
  checkMatrix('H', H);
  checkMatrix('Z', Z);
  checkSameRows('H', H, 'Z', Z);
  if (H.cols !== Z.cols) fail('E_SHAPE', `procrustesError: H has ${H.cols} columns, Z has ${Z.cols}; the Procrustes map is square`);
  const n = H.rows, N = H.cols;
  const M = crossProduct(H, Z); // Hᵀ Z, float64 [N × N]
  for (let i = 0; i < M.length; i++) M[i] /= n;
  const { U, Vt } = svd(M, N, N);
  const Q = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < N; k++) s += U[i * N + k] * Vt[k * N + j];
    Q[i * N + j] = s;
  }
  let total = 0;
  for (let r = 0; r < n; r++) {
    const o = r * N;
    for (let i = 0; i < N; i++) {
      let p = 0;
      for (let k = 0; k < N; k++) p += Q[i * N + k] * Z.data[o + k];
      total += (H.data[o + i] - p) ** 2;
    }
  }
  return total / n;
}

/** Unbiased covariance (n − 1) of the columns of H, float64 [d × d]. */
export function covariance(H: Matrix): Float64Array {
  if (H.rows < 2) fail('E_SHAPE', `covariance needs at least 2 rows, got ${H.rows}`);
  const C = crossProduct(H, H, { meanA: columnMeans(H), meanB: columnMeans(H) });
  for (let i = 0; i < C.length; i++) C[i] /= H.rows - 1;
  return C;
}

export interface BoundQuantities {
  epsilon: number;
  trace_cov: number;
  L_h: number;
  delta: number;
  spectral_gap: number;
  D_bound: number;
  approx_bound: number;
}

/**
 * The bound's quantities from h = f(g(z)) and h′ = f(g(z′)), z′ one OU step (correlation ρ) from z.
 */
export function boundQuantities(H: Matrix, HPrime: Matrix, rho: number): BoundQuantities {
  checkMatrix('H', H, 2);
  checkMatrix('HPrime', HPrime, 2);
  if (H.rows !== HPrime.rows || H.cols !== HPrime.cols) fail('E_SHAPE', `boundQuantities: H is [${H.rows} x ${H.cols}], HPrime [${HPrime.rows} x ${HPrime.cols}]; they must match`);
  const d = H.cols, n = H.rows;
  const C = covariance(H);
  let eps = 0, tr = 0;
  for (let i = 0; i < d; i++) {
    tr += C[i * d + i];
    for (let j = 0; j < d; j++) eps += (C[i * d + j] - (i === j ? 1 : 0)) ** 2;
  }
  const epsilon = Math.sqrt(eps);
  let L = 0;
  for (let i = 0; i < H.data.length; i++) L += (HPrime.data[i] - H.data[i]) ** 2;
  const L_h = L / n;
  const delta = Math.max(L_h - 2 * (1 - rho) * tr, 0);
  const gap = 2 * rho * (1 - rho);
  const D = gap > 0 ? delta / gap : Infinity;
  return { epsilon, trace_cov: tr, L_h, delta, spectral_gap: gap, D_bound: D, approx_bound: D + (epsilon + D) ** 2 };
}

export interface WorldModelMetrics extends BoundQuantities {
  r2_zx: number;
  r2_xz: number;
  r2_zh: number;
  r2_hz: number;
  orth_err: number;
  orth_err_raw: number;
  procrustes_mse: number;
}

/**
 * Every metric of one evaluation set: latents Z, observations X = g(Z), embeddings H = f(X),
 * and H′ = f(g(z′)) for one OU step z′ from each z (correlation ρ).
 */
export function worldModelMetrics(o: { z: Matrix; x: Matrix; h: Matrix; hPrime: Matrix; rho: number }): WorldModelMetrics {
  const zx = r2Both(o.z, o.x);
  const zh = r2Both(o.z, o.h);
  const orth = orthogonalityError(o.z, o.h);
  return {
    r2_zx: zx.ab, r2_xz: zx.ba, r2_zh: zh.ab, r2_hz: zh.ba,
    orth_err: orth.normalized, orth_err_raw: orth.raw,
    ...boundQuantities(o.h, o.hPrime, o.rho),
    procrustes_mse: o.h.cols === o.z.cols ? procrustesError(o.h, o.z) : NaN,
  };
}

/** The recovery metrics on the evaluation grid (N = 2): `r2_hz_grid`, `r2_zh_grid`, `orth_err_grid`. */
export function gridMetrics(zGrid: Matrix, hGrid: Matrix): { r2_hz_grid: number; r2_zh_grid: number; orth_err_grid: number } {
  const zh = r2Both(zGrid, hGrid);
  return { r2_hz_grid: zh.ba, r2_zh_grid: zh.ab, orth_err_grid: orthogonalityError(zGrid, hGrid).normalized };
}
