import { fail } from '../core/errors.js';
import { eighSym } from './eigh.js';
import { backend as activeBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';

/**
 * Thin singular value decomposition A = U diag(S) Vt in float64.
 *
 * - `a`: row-major [rows x cols]; r = min(rows, cols).
 * - `U`: [rows x r] row-major, orthonormal columns.
 * - `S`: [r], descending, >= 0.
 * - `Vt`: [r x cols] row-major, orthonormal rows.
 * - `rank`: number of singular values above max(rows, cols) * 2^-52 * S[0] (numpy.linalg.matrix_rank's default).
 *
 * Method: let W be the wide orientation of A ([p x q], p = r <= q). Eigendecompose the small
 * Gram matrix W W^T = E L E^T (eighSym), rotate B = E^T W, then polish with one-sided Jacobi
 * rotations on the rows of B until every pair is orthogonal to working precision (usually
 * one or two sweeps, because E already nearly diagonalises). The rows of B then are
 * S_j times the right singular vectors and the accumulated rotations of E the left ones.
 *
 * Accuracy: the Jacobi polish removes the squaring of the condition number that a plain
 * Gram-matrix SVD suffers: every singular value is accurate to about
 * sqrt(q) * 2^-52 * S[0] in absolute terms (like LAPACK's gesdd), not to
 * sqrt(2^-52) * S[0] as with sqrt(eig(A^T A)). Singular vectors of well separated singular
 * values are accurate to that error over the gap. With `polish: false` the routine skips the
 * Jacobi sweeps (faster; U S Vt still reproduces A to working precision, but singular values
 * below ~sqrt(2^-52) * S[0] lose accuracy and their singular vectors are not orthonormal).
 *
 * Singular vectors for zero (below-rank) singular values are completed to an orthonormal set,
 * so U and Vt always have orthonormal columns / rows. Signs: a pair (u_j, v_j) is determined
 * only up to a joint sign flip; we fix it by making the largest-magnitude entry of v_j (row j
 * of Vt) positive, so results may differ in sign from numpy's, pair by pair.
 *
 * Cost: p^2 q (Gram) + ~10 p^3 (eigh) + 2 p^2 q (rotation) + ~3 p^2 q per Jacobi sweep.
 *
 * LAPACK: when the backend has `svdThin` (native, OpenBLAS's dgesdd) and min(rows, cols) >= 16,
 * the decomposition runs there (same accuracy class: dgesdd is backward stable, singular values
 * to about 2^-52 * S[0] absolute); the same sign convention and rank rule are applied, so the
 * results agree with the JavaScript routine to rounding. `lapack: false` forces the JavaScript
 * routine (the reference); `backend` picks the backend (default: the active one).
 */
export interface SvdResult {
  U: Float64Array;
  S: Float64Array;
  Vt: Float64Array;
  rank: number;
}

export interface SvdOptions {
  /** one-sided Jacobi polish after the Gram eigendecomposition (default true) */
  polish?: boolean;
  /** most Jacobi sweeps (default 30); E_NOTCONVERGED beyond */
  maxSweeps?: number;
  /** use the backend's LAPACK (svdThin) when it has one and min(rows, cols) >= 16 (default true); false: the JavaScript routine */
  lapack?: boolean;
  /** the backend whose svdThin is used (default: the active backend) */
  backend?: Backend;
}

/** Below this min(rows, cols) the JavaScript routine runs even when LAPACK is there. */
const LAPACK_MIN_P = 16;

const EPS = 2 ** -52;

export function svd(a: ArrayLike<number>, rows: number, cols: number, opts: SvdOptions = {}): SvdResult {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    fail('E_ARG', `svd: rows and cols must be non-negative integers, got ${rows} x ${cols}`);
  }
  if (a.length !== rows * cols) fail('E_SHAPE', `svd: matrix has ${a.length} entries, [${rows} x ${cols}] needs ${rows * cols}`);
  const polish = opts.polish ?? true;
  const maxSweeps = opts.maxSweeps ?? 30;
  const p = Math.min(rows, cols);
  const q = Math.max(rows, cols);
  if (p === 0) return { U: new Float64Array(0), S: new Float64Array(0), Vt: new Float64Array(0), rank: 0 };

  // W [p x q]: A itself when wide, A^T when tall.
  const wide = rows <= cols;
  const W = new Float64Array(p * q);
  let maxAbs = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = +a[i * cols + j];
      if (v - v !== 0) fail('E_NONFINITE', `svd: matrix has a non-finite value (${v}) at row ${i}, column ${j}`);
      const av = v < 0 ? -v : v;
      if (av > maxAbs) maxAbs = av;
      if (wide) W[i * q + j] = v;
      else W[j * q + i] = v;
    }
  }
  // Scale to unit max entry (avoids overflow/underflow in the Gram matrix); undone at the end.
  const scale = maxAbs > 0 ? maxAbs : 1;
  for (let i = 0; i < W.length; i++) W[i] /= scale;

  const bk = opts.lapack === false || p < LAPACK_MIN_P ? null : (opts.backend ?? activeBackend());
  if (bk && bk.svdThin) {
    // W = Uw diag(S) Vtw: the left vectors in W's orientation are the rows of Lt = Uwᵀ, the right ones the rows of Vtw
    const Uw = new Float64Array(p * p);
    const S = new Float64Array(p);
    const Bn = new Float64Array(p * q);
    const info = bk.svdThin(W, p, q, Uw, S, Bn);
    if (info !== 0) fail('E_NOTCONVERGED', `svd: LAPACK dgesdd did not converge (info ${info}); pass lapack: false to use the JavaScript routine`);
    const Lt = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) Lt[j * p + i] = Uw[i * p + j];
    const thresh = q * EPS * S[0];
    let rank = 0;
    for (let j = 0; j < p; j++) if (S[j] > thresh && S[j] > 0) rank++;
    return assemble(Bn, Lt, S, rank, p, q, rows, wide, scale);
  }

  // Gram G = W W^T [p x p], float64.
  const G = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    const ri = i * q;
    for (let j = 0; j <= i; j++) {
      const rj = j * q;
      let s = 0;
      for (let k = 0; k < q; k++) s += W[ri + k] * W[rj + k];
      G[i * p + j] = s;
      G[j * p + i] = s;
    }
  }
  const { vectors: E } = eighSym(G, p, { symmetryTol: Infinity });
  // Et [p x p]: row j = eigenvector j (the left vectors in W's orientation). Descending order.
  const Et = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    const src = p - 1 - j;
    for (let i = 0; i < p; i++) Et[j * p + i] = E[i * p + src];
  }
  // B = Et W [p x q]
  const B = new Float64Array(p * q);
  for (let j = 0; j < p; j++) {
    const rb = j * q;
    const re = j * p;
    for (let i = 0; i < p; i++) {
      const c = Et[re + i];
      if (c === 0) continue;
      const ri = i * q;
      for (let k = 0; k < q; k++) B[rb + k] += c * W[ri + k];
    }
  }

  const norms = new Float64Array(p);
  for (let j = 0; j < p; j++) norms[j] = dotRows(B, j * q, j * q, q);

  if (polish && p > 1) {
    const tol = Math.sqrt(q) * EPS;
    let sweep = 0;
    for (;;) {
      let rotated = false;
      // Rows whose squared norm is below the rank threshold are numerically zero: rotating
      // them against each other only stirs rounding noise and never converges.
      let maxNorm = 0;
      for (let j = 0; j < p; j++) if (norms[j] > maxNorm) maxNorm = norms[j];
      const negligible = (q * EPS) * (q * EPS) * maxNorm;
      for (let j = 0; j < p - 1; j++) {
        for (let k = j + 1; k < p; k++) {
          const ajj = norms[j];
          const akk = norms[k];
          if (ajj <= negligible || akk <= negligible) continue;
          const ajk = dotRows(B, j * q, k * q, q);
          if (Math.abs(ajk) <= tol * Math.sqrt(ajj * akk)) continue;
          rotated = true;
          // rotation that zeroes the (j,k) entry of the 2x2 Gram [[ajj, ajk], [ajk, akk]]
          const zeta = (akk - ajj) / (2 * ajk);
          const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
          const c = 1 / Math.sqrt(1 + t * t);
          const s = c * t;
          rotateRows(B, j * q, k * q, q, c, s);
          rotateRows(Et, j * p, k * p, p, c, s);
          norms[j] = ajj - t * ajk;
          norms[k] = akk + t * ajk;
        }
      }
      if (!rotated) break;
      // refresh norms to avoid drift
      for (let j = 0; j < p; j++) norms[j] = dotRows(B, j * q, j * q, q);
      if (++sweep >= maxSweeps) {
        fail('E_NOTCONVERGED', `svd: one-sided Jacobi did not converge in ${maxSweeps} sweeps; raise maxSweeps or pass polish: false`);
      }
    }
  }

  // singular values and order
  const sv = new Float64Array(p);
  for (let j = 0; j < p; j++) sv[j] = Math.sqrt(dotRows(B, j * q, j * q, q));
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => sv[y] - sv[x] || x - y);
  const S = Float64Array.from(order, (i) => sv[i]);
  const thresh = q * EPS * S[0];
  let rank = 0;
  for (let j = 0; j < p; j++) if (S[j] > thresh && S[j] > 0) rank++;

  // Right vectors in W's orientation: rows of Bn [p x q] (q-space); left: rows of Lt [p x p].
  const Bn = new Float64Array(p * q);
  const Lt = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    const src = order[j];
    Lt.set(Et.subarray(src * p, src * p + p), j * p);
    if (j < rank) {
      const inv = 1 / S[j];
      for (let k = 0; k < q; k++) Bn[j * q + k] = B[src * q + k] * inv;
    } else {
      for (let k = 0; k < q; k++) Bn[j * q + k] = B[src * q + k];
    }
  }
  // Complete the rows beyond the rank to an orthonormal set (Gram-Schmidt, twice).
  if (rank < p) completeOrthonormal(Bn, rank, p, q);
  return assemble(Bn, Lt, S, rank, p, q, rows, wide, scale);
}

/**
 * The result from the rows of Bn [p x q] (right vectors in W's orientation) and Lt [p x p]
 * (left ones), S descending (of W, scaled): fix signs, undo the scale, orient back to A.
 */
function assemble(Bn: Float64Array, Lt: Float64Array, S: Float64Array, rank: number, p: number, q: number, rows: number, wide: boolean, scale: number): SvdResult {
  // Sign: make the largest-magnitude entry of each row of Vt positive (flip u and v together).
  // Vt is Bn when A is wide, Lt when A is tall.
  const vt = wide ? Bn : Lt;
  const vlen = wide ? q : p;
  for (let j = 0; j < p; j++) {
    let big = 0;
    let bigVal = 0;
    const o = j * vlen;
    for (let k = 0; k < vlen; k++) {
      const v = vt[o + k];
      const av = v < 0 ? -v : v;
      if (av > big * (1 + 1e-12)) {
        big = av;
        bigVal = v;
      }
    }
    if (bigVal < 0) {
      for (let k = 0; k < q; k++) Bn[j * q + k] = -Bn[j * q + k];
      for (let k = 0; k < p; k++) Lt[j * p + k] = -Lt[j * p + k];
    }
  }
  for (let j = 0; j < p; j++) S[j] *= scale;

  if (wide) {
    // A = W = Lt^T diag(S) Bn: U = Lt^T [rows x p], Vt = Bn [p x cols]
    const U = new Float64Array(rows * p);
    for (let j = 0; j < p; j++) for (let i = 0; i < rows; i++) U[i * p + j] = Lt[j * p + i];
    return { U, S, Vt: Bn, rank };
  }
  // A = W^T = Bn^T diag(S) Lt: U = Bn^T [rows x p], Vt = Lt [p x cols]
  const U = new Float64Array(rows * p);
  for (let j = 0; j < p; j++) for (let i = 0; i < rows; i++) U[i * p + j] = Bn[j * q + i];
  return { U, S, Vt: Lt, rank };
}

function dotRows(M: Float64Array, o1: number, o2: number, len: number): number {
  let s = 0;
  for (let k = 0; k < len; k++) s += M[o1 + k] * M[o2 + k];
  return s;
}

function rotateRows(M: Float64Array, o1: number, o2: number, len: number, c: number, s: number): void {
  for (let k = 0; k < len; k++) {
    const x = M[o1 + k];
    const y = M[o2 + k];
    M[o1 + k] = c * x - s * y;
    M[o2 + k] = s * x + c * y;
  }
}

/** Rows [from, p) of M [p x q] become orthonormal and orthogonal to rows [0, from). */
function completeOrthonormal(M: Float64Array, from: number, p: number, q: number): void {
  const cand = new Float64Array(q);
  let basis = 0;
  for (let j = from; j < p; j++) {
    // first try the row's own direction, then the standard basis vectors in turn
    let useOwn = dotRows(M, j * q, j * q, q) > 0;
    for (;;) {
      if (useOwn) cand.set(M.subarray(j * q, j * q + q));
      else {
        if (basis >= q) fail('E_NOTCONVERGED', 'svd: could not complete an orthonormal basis');
        cand.fill(0);
        cand[basis++] = 1;
      }
      let n0 = 0;
      for (let k = 0; k < q; k++) n0 += cand[k] * cand[k];
      n0 = Math.sqrt(n0);
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          let s = 0;
          for (let k = 0; k < q; k++) s += M[i * q + k] * cand[k];
          for (let k = 0; k < q; k++) cand[k] -= s * M[i * q + k];
        }
      }
      let n1 = 0;
      for (let k = 0; k < q; k++) n1 += cand[k] * cand[k];
      n1 = Math.sqrt(n1);
      if (n1 > 0.1 * n0 && n1 > 0) {
        for (let k = 0; k < q; k++) M[j * q + k] = cand[k] / n1;
        break;
      }
      useOwn = false;
    }
  }
}
