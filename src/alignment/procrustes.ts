import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/ops.js';
import { svd, type SvdResult } from '../linalg/svd.js';
import { centerCols, checkPair, sumSq } from './common.js';
import { fail } from '../core/errors.js';

/**
 * Orthogonal Procrustes between A [n x p] and B [n x q]: the orthogonal R [d x d] that
 * minimises ‖Ã R − B̃‖_F, where Ã, B̃ are A, B after the chosen preprocessing
 * (column centring, then scaling to unit Frobenius norm, by default) and zero-padding to
 * d = max(p, q) columns. With M = Ãᵀ B̃ = U S Vᵀ, R = U Vᵀ and the minimum is
 * ‖Ã‖² + ‖B̃‖² − 2 Σ S.
 *
 * Unequal widths: the narrower side gets zero columns, so R maps the padded A into B's space;
 * the rows and columns of R that act on the padding are an arbitrary orthonormal completion
 * (they do not affect the residual or the score).
 *
 * `value` (similarity) = Σ S / (‖Ã‖ ‖B̃‖) = ‖ÃᵀB̃‖_* / (‖Ã‖_F ‖B̃‖_F) in [0, 1] (1 iff B̃ is a
 * rotation of Ã up to scale); `angle` = arccos(value) is the angular Procrustes shape distance
 * of Williams et al. (2021).
 */
export interface ProcrustesOptions {
  /** centre columns first (default true) */
  center?: boolean;
  /** scale both to unit Frobenius norm before fitting (default true) */
  scale?: boolean;
}

export interface ProcrustesResult {
  value: number;
  /** ‖Ã R − B̃‖²_F after preprocessing (with scale: 2 − 2·value) */
  residual: number;
  angle: number;
  /** orthogonal [d x d], d = max(p, q); apply as Ã·R */
  R: Matrix;
  /** singular values of ÃᵀB̃ (descending) */
  singularValues: Float64Array;
  /** Frobenius norms of A and B after centring (before scaling) */
  normA: number;
  normB: number;
}

export function procrustes(A: Matrix, B: Matrix, opts: ProcrustesOptions = {}): ProcrustesResult {
  checkPair('procrustes', A, B);
  const center = opts.center ?? true;
  const scale = opts.scale ?? true;
  const Ac = center ? centerCols(A) : A;
  const Bc = center ? centerCols(B) : B;
  const normA = Math.sqrt(sumSq(Ac.data));
  const normB = Math.sqrt(sumSq(Bc.data));
  if (!(normA > 0) || !(normB > 0)) fail('E_DATA', `procrustes: ${normA > 0 ? 'B' : 'A'} is all zeros${center ? ' after centring (every sample identical)' : ''}; the fit is undefined`);
  const p = A.cols;
  const q = B.cols;
  const d = Math.max(p, q);
  const M32 = matmul(Ac, Bc, { transA: true }); // [p x q]
  const sAB = scale ? 1 / (normA * normB) : 1;
  const M = new Float64Array(p * q);
  for (let i = 0; i < M.length; i++) M[i] = M32.data[i] * sAB;
  // Thin SVD of the unpadded M = U S Vt (U [p x r], Vt [r x q], r = min(p, q)); padding only
  // adds zero singular values, so R follows from completing the thin factors:
  //   p >= q (B padded): R = [U·Vt | U⊥]      (U⊥ an orthonormal complement of U's columns)
  //   p <  q (A padded): R = [U·Vt ; V⊥ᵀ]     (V⊥ᵀ rows completing Vt's rows)
  const { U, S, Vt } = thinSvd(M, p, q);
  const r = Math.min(p, q);
  const R = new Matrix(d, d);
  const UVt = new Float64Array(p * q);
  for (let i = 0; i < p; i++) {
    for (let k = 0; k < r; k++) {
      const u = U[i * r + k];
      if (u === 0) continue;
      for (let j = 0; j < q; j++) UVt[i * q + j] += u * Vt[k * q + j];
    }
  }
  for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) R.data[i * d + j] = UVt[i * q + j];
  if (p > q) {
    // columns q..p-1 of R: orthonormal complement of U's columns (as rows of Ut)
    const Ut = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let k = 0; k < r; k++) Ut[k * p + i] = U[i * r + k];
    completeRows(Ut, r, p, p);
    for (let k = r; k < p; k++) for (let i = 0; i < p; i++) R.data[i * d + k] = Ut[k * p + i];
  } else if (q > p) {
    const V = new Float64Array(q * q);
    V.set(Vt.subarray(0, r * q));
    completeRows(V, r, q, q);
    for (let k = r; k < q; k++) for (let j = 0; j < q; j++) R.data[k * d + j] = V[k * q + j];
  }
  let nuc = 0;
  for (let k = 0; k < S.length; k++) nuc += S[k];
  const na2 = scale ? 1 : normA * normA;
  const nb2 = scale ? 1 : normB * normB;
  const residual = Math.max(0, na2 + nb2 - 2 * nuc);
  const value = Math.min(1, scale ? nuc : nuc / (normA * normB));
  return { value, residual, angle: Math.acos(value), R, singularValues: S, normA, normB };
}

/**
 * SVD with a fallback: if the Jacobi polish does not converge (it can stall on exactly
 * rank-deficient inputs), use the unpolished Gram-eigendecomposition SVD, which is accurate
 * for the leading singular directions that Procrustes depends on.
 */
function thinSvd(M: Float64Array, p: number, q: number): SvdResult {
  try {
    return svd(M, p, q);
  } catch (e) {
    if ((e as { code?: string }).code !== 'E_NOTCONVERGED') throw e;
    return svd(M, p, q, { polish: false });
  }
}

/**
 * Rows [from, rows) of X [rows x len] become an orthonormal completion of rows [0, from)
 * (which must be orthonormal). Each new row starts from the standard basis vector e_j least
 * covered by the rows so far (residual ‖(I − P)e_j‖² = 1 − Σᵢ X[i,j]², at least
 * (len − k)/len > 0), then Gram-Schmidt, twice.
 */
function completeRows(X: Float64Array, from: number, rows: number, len: number): void {
  const cover = new Float64Array(len);
  for (let i = 0; i < from; i++) for (let j = 0; j < len; j++) cover[j] += X[i * len + j] * X[i * len + j];
  const v = new Float64Array(len);
  for (let k = from; k < rows; k++) {
    let e = 0;
    for (let j = 1; j < len; j++) if (cover[j] < cover[e]) e = j;
    v.fill(0);
    v[e] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < k; i++) {
        let s = 0;
        for (let j = 0; j < len; j++) s += X[i * len + j] * v[j];
        for (let j = 0; j < len; j++) v[j] -= s * X[i * len + j];
      }
    }
    let nrm = 0;
    for (let j = 0; j < len; j++) nrm += v[j] * v[j];
    nrm = Math.sqrt(nrm);
    if (!(nrm > 1e-8)) fail('E_NOTCONVERGED', 'procrustes: could not complete an orthonormal basis (singular vectors not orthonormal)');
    for (let j = 0; j < len; j++) {
      const x = v[j] / nrm;
      X[k * len + j] = x;
      cover[j] += x * x;
    }
  }
}
