import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite, assertInt, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { solveSPD } from '../linalg/cholesky.js';

/**
 * Closed-form alignment of two systems that read the same latents through different linear
 * maps (docs/papers.md §4, arXiv 2604.00208), in sparsecode's row convention:
 *
 *   y_A = z·A,  y_B = z·B,   z ∈ ℝⁿ a row of latents,  A [n x m_A],  B [n x m_B].
 *
 * Derivation. Linear CKA and regression R² centre the data, so only the latents' covariance
 * Σ = Cov(z) [n x n] matters (never the raw second moment E[zᵀz], which for non-negative sparse
 * latents carries a large rank-one mean term). The population cross-covariances are
 *   Σ_XY = Cov(y_X, y_Y) = Xᵀ Σ Y   (X, Y ∈ {A, B}),
 * and, in the infinite-sample limit,
 *   linear CKA = ‖Σ_AB‖²_F / (‖Σ_AA‖_F ‖Σ_BB‖_F),
 *   R²(A→B)    = tr(Σ_BA Σ_AA⁻¹ Σ_AB) / tr(Σ_BB)    (best linear predictor, variance-weighted).
 * For i.i.d. *independent* latents Σ = σ²I and these reduce to the paper's formulas with
 * G = A Aᵀ [n x n] (the paper writes y = Az with A [m x n], G = AᵀA: the same matrix):
 *   CKA = tr(G_A G_B) / (‖G_A‖_F ‖G_B‖_F),   R² = tr(G_B P_A) / tr(G_B),  P_A = A (AᵀA)⁻¹ Aᵀ.
 * Exactly-k-sparse latents (k active of n, support uniform) are exchangeable but not
 * independent: Σ = a·I + b·11ᵀ with a small negative b (see `kSparseLatentCovariance`); the
 * functions below take that structure (or any full Σ) into account.
 *
 * Random-projection approximations (A, B with i.i.d. zero-mean entries, Σ = σ²I):
 *   E‖AᵀB‖² ≈ n·m_A·m_B, ‖AᵀA‖² ≈ m_A n² + m_A² n  ⇒  CKA ≈ √(m_A m_B / ((n+m_A)(n+m_B)))
 *   (= m/(m+n) for equal widths), and R² ≈ m_A / n (a random m_A-dimensional subspace keeps
 *   that fraction of each direction's energy), capped at 1.
 */

/** Exchangeable latent covariance Σ = (variance − covariance)·I + covariance·11ᵀ. */
export interface LatentCovariance {
  /** Var(z_i), the same for every latent */
  variance: number;
  /** Cov(z_i, z_j), i ≠ j (0 for independent latents) */
  covariance: number;
}

/**
 * Covariance of exactly-k-sparse latents: k of n latents active (support uniform without
 * replacement), active magnitudes i.i.d. with mean `mean` and second moment `meanSquare`
 * (U(0,1): 1/2 and 1/3, the defaults).
 *   Var(z_i) = (k/n)·E[u²] − (k/n)²·E[u]²
 *   Cov(z_i, z_j) = k(k−1)/(n(n−1))·E[u]² − (k/n)²·E[u]² = −E[u]²·k(n−k) / (n²(n−1))
 */
export function kSparseLatentCovariance(opts: { nLatents: number; k: number; mean?: number; meanSquare?: number }): LatentCovariance {
  const { nLatents: n, k } = opts;
  assertInt('nLatents', n, 2);
  assertInt('k', k, 1, n);
  const mu = opts.mean ?? 0.5;
  const m2 = opts.meanSquare ?? 1 / 3;
  assertNumber('mean', mu);
  assertNumber('meanSquare', m2, mu * mu * (1 - 1e-12));
  const f = k / n;
  return { variance: f * m2 - f * f * mu * mu, covariance: ((k * (k - 1)) / (n * (n - 1)) - f * f) * mu * mu };
}

/**
 * Covariance of independently Bernoulli(prob)-gated latents with active magnitudes of the given
 * mean and second moment: Var = prob·E[u²] − prob²·E[u]², Cov = 0.
 */
export function bernoulliLatentCovariance(opts: { prob: number; mean?: number; meanSquare?: number }): LatentCovariance {
  assertNumber('prob', opts.prob, 0, 1);
  const mu = opts.mean ?? 0.5;
  const m2 = opts.meanSquare ?? 1 / 3;
  return { variance: opts.prob * m2 - opts.prob * opts.prob * mu * mu, covariance: 0 };
}

type Cov = LatentCovariance | Matrix | undefined;

function checkMaps(A: Matrix, B: Matrix, what: string): void {
  if (A.rows !== B.rows) {
    fail('E_SHAPE', `${what}: A is [${A.rows} x ${A.cols}] and B is [${B.rows} x ${B.cols}]; both maps must have one row per latent (y = z·A), so their row counts must match`);
  }
  assertFinite(`${what}: A`, A);
  assertFinite(`${what}: B`, B);
}

/** Σ_XY = Xᵀ Σ Y as float64 [mX x mY]. */
function crossCov(X: Matrix, Y: Matrix, cov: Cov): Float64Array {
  const mx = X.cols;
  const my = Y.cols;
  if (cov instanceof Matrix) {
    if (cov.rows !== X.rows || cov.cols !== X.rows) fail('E_SHAPE', `latent covariance is [${cov.rows} x ${cov.cols}], expected [${X.rows} x ${X.rows}]`);
    return Float64Array.from(matmul(X, matmul(cov, Y), { transA: true }).data);
  }
  const c = cov ?? { variance: 1, covariance: 0 };
  assertNumber('latent variance', c.variance, 0, Infinity, { exclusiveMin: true });
  assertNumber('latent covariance', c.covariance);
  const a = c.variance - c.covariance;
  const b = c.covariance;
  const XY = matmul(X, Y, { transA: true }).data;
  const out = new Float64Array(mx * my);
  for (let i = 0; i < out.length; i++) out[i] = a * XY[i];
  if (b !== 0) {
    const sx = new Float64Array(mx);
    const sy = new Float64Array(my);
    for (let r = 0; r < X.rows; r++) {
      for (let j = 0; j < mx; j++) sx[j] += X.data[r * mx + j];
      for (let j = 0; j < my; j++) sy[j] += Y.data[r * my + j];
    }
    for (let i = 0; i < mx; i++) for (let j = 0; j < my; j++) out[i * my + j] += b * sx[i] * sy[j];
  }
  return out;
}

function frob2(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

/**
 * Population linear CKA between y_A = z·A and y_B = z·B (A [n x m_A], B [n x m_B]) for latents
 * with covariance `cov` (exchangeable form, a full [n x n] Matrix, or default σ²I).
 */
export function predictedLinearCKA(A: Matrix, B: Matrix, cov?: LatentCovariance | Matrix): number {
  checkMaps(A, B, 'predictedLinearCKA');
  const ab = frob2(crossCov(A, B, cov));
  const aa = Math.sqrt(frob2(crossCov(A, A, cov)));
  const bb = Math.sqrt(frob2(crossCov(B, B, cov)));
  if (!(aa > 0) || !(bb > 0)) fail('E_ARG', 'predictedLinearCKA: a map gives zero variance (all-zero A or B)');
  return ab / (aa * bb);
}

/**
 * Population variance-weighted R² of the best linear prediction of y_B from y_A:
 * tr(Σ_BA Σ_AA⁻¹ Σ_AB) / tr(Σ_BB). Σ_AA is solved with a 1e-10 relative ridge, so a
 * rank-deficient A (e.g. m_A > n) gives the pseudo-inverse limit.
 */
export function predictedRegressionR2(A: Matrix, B: Matrix, cov?: LatentCovariance | Matrix): number {
  checkMaps(A, B, 'predictedRegressionR2');
  const ma = A.cols;
  const mb = B.cols;
  const saa = crossCov(A, A, cov);
  const sab = crossCov(A, B, cov);
  const sbb = crossCov(B, B, cov);
  let tra = 0;
  for (let i = 0; i < ma; i++) tra += saa[i * ma + i];
  let trb = 0;
  for (let i = 0; i < mb; i++) trb += sbb[i * mb + i];
  if (!(tra > 0) || !(trb > 0)) fail('E_ARG', 'predictedRegressionR2: a map gives zero variance (all-zero A or B)');
  const ridge = 1e-10 * (tra / ma);
  for (let i = 0; i < ma; i++) saa[i * ma + i] += ridge;
  const X = solveSPD(saa, ma, sab, mb); // Σ_AA⁻¹ Σ_AB [ma x mb]
  let num = 0;
  for (let i = 0; i < sab.length; i++) num += sab[i] * X[i];
  return num / trb;
}

/** Random-projection approximation of linear CKA: √(m_A m_B / ((n+m_A)(n+m_B))) (= m/(m+n) when equal). */
export function randomProjectionCKA(nLatents: number, mA: number, mB: number = mA): number {
  assertNumber('nLatents', nLatents, 0, Infinity, { exclusiveMin: true });
  assertNumber('mA', mA, 0, Infinity, { exclusiveMin: true });
  assertNumber('mB', mB, 0, Infinity, { exclusiveMin: true });
  return Math.sqrt((mA * mB) / ((nLatents + mA) * (nLatents + mB)));
}

/** Random-projection approximation of regression R² A→B: min(1, m_A / n). */
export function randomProjectionR2(nLatents: number, mA: number): number {
  assertNumber('nLatents', nLatents, 0, Infinity, { exclusiveMin: true });
  assertNumber('mA', mA, 0);
  return Math.min(1, mA / nLatents);
}
