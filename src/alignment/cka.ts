import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { centerCols, checkPair, medianInPlace } from './common.js';

/**
 * Centred kernel alignment (Kornblith et al. 2019).
 *
 *   CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),  HSIC(K, L) = tr(H K H L) / (n-1)^2
 *
 * with K, L the [n x n] sample kernels of A [n x p] and B [n x q] and H the centring matrix.
 * For the linear kernel K = A_c A_cᵀ and HSIC(K, L) = ‖A_cᵀ B_c‖²_F, so the metric can be
 * computed from [p x q]-sized feature products (cheap when n is large) or [n x n] Grams
 * (cheap when the widths are large); `space: 'auto'` picks the one with fewer flops.
 */
export type CkaSpace = 'auto' | 'feature' | 'sample';

export interface CkaOptions {
  /** compute through feature-space products or sample Grams (default 'auto': fewer flops) */
  space?: CkaSpace;
}

export interface CkaResult {
  value: number;
  /** HSIC(A, B), HSIC(A, A), HSIC(B, B) up to the common factor (the estimator's scale) */
  hsicAB: number;
  hsicAA: number;
  hsicBB: number;
  /** which computation path was used (linear kernels only) */
  space?: 'feature' | 'sample';
}

/** Sufficient statistics of linear-kernel HSIC for centred A, B. */
interface LinearTerms {
  kl: number; // tr(K L) = ‖AᵀB‖²
  kk: number; // ‖AᵀA‖²
  ll: number; // ‖BᵀB‖²
  dA: Float64Array; // diag(K) = squared row norms of centred A
  dB: Float64Array;
  space: 'feature' | 'sample';
}

function frob2(M: Matrix): number {
  const d = M.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return s;
}

/**
 * ‖XᵀX‖²_F using the symmetry of XᵀX: split the columns into blocks X_1..X_k (~512 wide) and
 * sum ‖X_iᵀX_j‖² over i <= j, off-diagonal blocks twice. For k blocks this costs
 * (k+1)/(2k) of one full GEMM (56% for 4,096 columns), the role SYRK plays in BLAS.
 */
function gramFrob2(X: Matrix): number {
  const p = X.cols;
  if (p < 1024) return frob2(matmul(X, X, { transA: true }));
  const nb = Math.ceil(p / 512);
  const b = Math.ceil(p / nb);
  const blocks: Matrix[] = [];
  for (let s = 0; s < p; s += b) blocks.push(X.takeCols(Array.from({ length: Math.min(p, s + b) - s }, (_, t) => s + t)));
  const buf = new Float32Array(b * b);
  let total = 0;
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i; j < blocks.length; j++) {
      const G = new Matrix(blocks[i].cols, blocks[j].cols, buf.subarray(0, blocks[i].cols * blocks[j].cols));
      matmul(blocks[i], blocks[j], { transA: true, out: G });
      total += (i === j ? 1 : 2) * frob2(G);
    }
  }
  return total;
}

function rowSq(X: Matrix): Float64Array {
  const { rows, cols, data } = X;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const o = i * cols;
    for (let j = 0; j < cols; j++) s += data[o + j] * data[o + j];
    out[i] = s;
  }
  return out;
}

function linearTerms(Ac: Matrix, Bc: Matrix, space: CkaSpace): LinearTerms {
  const n = Ac.rows;
  const p = Ac.cols;
  const q = Bc.cols;
  let use: 'feature' | 'sample';
  if (space === 'auto') use = n * (p + q) < p * p + q * q + p * q ? 'sample' : 'feature';
  else if (space === 'feature' || space === 'sample') use = space;
  else fail('E_ARG', `CKA: space must be 'auto', 'feature' or 'sample', got ${String(space)}`);
  const dA = rowSq(Ac);
  const dB = rowSq(Bc);
  if (use === 'feature') {
    const kl = frob2(matmul(Ac, Bc, { transA: true }));
    return { kl, kk: gramFrob2(Ac), ll: gramFrob2(Bc), dA, dB, space: use };
  }
  const K = matmul(Ac, Ac, { transB: true });
  const L = matmul(Bc, Bc, { transB: true });
  let kl = 0;
  let kk = 0;
  let ll = 0;
  const k = K.data;
  const l = L.data;
  for (let i = 0; i < k.length; i++) {
    kl += k[i] * l[i];
    kk += k[i] * k[i];
    ll += l[i] * l[i];
  }
  return { kl, kk, ll, dA, dB, space: use };
}

function ratio(ab: number, aa: number, bb: number, metric: string): number {
  if (!(aa > 0) || !(bb > 0)) {
    fail('E_DATA', `${metric}: a representation has zero variance (every sample identical after centring), so the similarity is undefined; drop constant inputs`);
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * Linear CKA between A [n x p] and B [n x q] (samples are rows; widths may differ).
 * Invariant to orthogonal transforms and isotropic scaling of either side.
 */
export function linearCKA(A: Matrix, B: Matrix, opts: CkaOptions = {}): CkaResult {
  checkPair('linearCKA', A, B);
  const t = linearTerms(centerCols(A), centerCols(B), opts.space ?? 'auto');
  return { value: ratio(t.kl, t.kk, t.ll, 'linearCKA'), hsicAB: t.kl, hsicAA: t.kk, hsicBB: t.ll, space: t.space };
}

/**
 * Unbiased HSIC numerator (Song et al. 2012), up to the factor 1/(n(n-3)), for linear kernels
 * of column-centred data. With K̃ = K − diag(K):
 *   HSIC₁ ∝ tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1.
 * Because centred data has K·1 = 0: tr(K̃L̃) = tr(KL) − dₐ·d_b, 1ᵀK̃1 = −Σdₐ and
 * 1ᵀK̃L̃1 = dₐ·d_b, so HSIC₁ ∝ tr(KL) − n/(n−2)·dₐ·d_b + Σdₐ·Σd_b/((n−1)(n−2)).
 */
function unbiased(tr: number, da: Float64Array, db: Float64Array, n: number): number {
  let dd = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    dd += da[i] * db[i];
    sa += da[i];
    sb += db[i];
  }
  return tr - (n / (n - 2)) * dd + (sa * sb) / ((n - 1) * (n - 2));
}

/**
 * Debiased linear CKA: CKA with the unbiased HSIC estimator of Song et al. (2012), as in
 * Kornblith et al. (2019). Removes the upward bias of linear CKA when n is not much larger
 * than the widths. Can be slightly negative for unrelated representations. Needs n >= 4.
 */
export function debiasedCKA(A: Matrix, B: Matrix, opts: CkaOptions = {}): CkaResult {
  checkPair('debiasedCKA', A, B, 4);
  const n = A.rows;
  const t = linearTerms(centerCols(A), centerCols(B), opts.space ?? 'auto');
  const ab = unbiased(t.kl, t.dA, t.dB, n);
  const aa = unbiased(t.kk, t.dA, t.dA, n);
  const bb = unbiased(t.ll, t.dB, t.dB, n);
  return { value: ratio(ab, aa, bb, 'debiasedCKA'), hsicAB: ab, hsicAA: aa, hsicBB: bb, space: t.space };
}

export interface RbfCkaOptions {
  /**
   * bandwidth multiplier: sigma = factor * median pairwise Euclidean distance (over the
   * n(n-1)/2 distinct pairs, computed separately for A and B). Default 1.
   */
  factor?: number;
}

export interface RbfCkaResult extends CkaResult {
  sigmaA: number;
  sigmaB: number;
}

/** Squared Euclidean distances [n x n] (float64) from a float32 Gram. */
function sqDistances(X: Matrix): Float64Array {
  const n = X.rows;
  const G = matmul(X, X, { transB: true }).data;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const gii = G[i * n + i];
    for (let j = i + 1; j < n; j++) {
      const d = Math.max(0, gii + G[j * n + j] - 2 * G[i * n + j]);
      D[i * n + j] = d;
      D[j * n + i] = d;
    }
  }
  return D;
}

/** Gaussian kernel in place: D -> exp(-D / (2 sigma^2)); returns sigma. */
function rbfKernelInPlace(D: Float64Array, n: number, factor: number, metric: string): number {
  const m = (n * (n - 1)) / 2;
  const pairs = new Float64Array(m);
  let t = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs[t++] = D[i * n + j];
  const medSq = medianInPlace(pairs); // median of squared distances = (median distance)^2
  if (!(medSq > 0)) fail('E_ARG', `${metric}: the median pairwise distance is 0 (more than half the samples coincide), so the median bandwidth heuristic fails`);
  const sigma = factor * Math.sqrt(medSq);
  const g = -1 / (2 * sigma * sigma);
  for (let i = 0; i < D.length; i++) D[i] = Math.exp(D[i] * g);
  return sigma;
}

/** Double-centre a symmetric [n x n] kernel in place: K <- H K H. */
function doubleCenter(K: Float64Array, n: number): void {
  const rm = new Float64Array(n);
  let all = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += K[i * n + j];
    rm[i] = s / n;
    all += s;
  }
  all /= n * n;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * n + j] += all - rm[i] - rm[j];
}

/**
 * CKA with Gaussian (RBF) kernels k(x, y) = exp(−‖x−y‖² / (2σ²)), σ = factor × median
 * pairwise distance (median over distinct pairs; Kornblith et al.'s code takes the median over
 * all n² entries including the zero diagonal, which gives a slightly smaller σ for small n).
 * Memory O(n²): meant for up to a few thousand samples.
 */
export function rbfCKA(A: Matrix, B: Matrix, opts: RbfCkaOptions = {}): RbfCkaResult {
  checkPair('rbfCKA', A, B, 3);
  const factor = opts.factor ?? 1;
  assertNumber('rbfCKA: factor', factor, 0, Infinity, { exclusiveMin: true });
  const n = A.rows;
  // distances are translation invariant; centring first limits cancellation in the Gram trick
  const K = sqDistances(centerCols(A));
  const sigmaA = rbfKernelInPlace(K, n, factor, 'rbfCKA (A)');
  const L = sqDistances(centerCols(B));
  const sigmaB = rbfKernelInPlace(L, n, factor, 'rbfCKA (B)');
  doubleCenter(K, n);
  doubleCenter(L, n);
  let kl = 0;
  let kk = 0;
  let ll = 0;
  for (let i = 0; i < K.length; i++) {
    kl += K[i] * L[i];
    kk += K[i] * K[i];
    ll += L[i] * L[i];
  }
  return { value: ratio(kl, kk, ll, 'rbfCKA'), hsicAB: kl, hsicAA: kk, hsicBB: ll, sigmaA, sigmaB };
}
