import { fail } from '../core/errors.js';
import { backend as activeBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';

/**
 * Symmetric eigendecomposition A = V diag(values) V^T in float64, like numpy.linalg.eigh.
 *
 * - `a`: row-major [n x n], any ArrayLike (Float32Array, Float64Array, number[]).
 * - `values`: ascending.
 * - `vectors`: row-major [n x n]; COLUMN j (vectors[i * n + j], i = 0..n-1) is the unit
 *   eigenvector of values[j].
 *
 * Method: Householder reduction to tridiagonal form (2n^3 flops), explicit accumulation of
 * the orthogonal factor (4n^3/3), then implicit QL with Wilkinson-type shifts (the EISPACK
 * tql2 recurrence, about 3n^3 flops for the vectors). Eigenvectors are kept as contiguous
 * rows during the iterations, so every inner loop runs along memory.
 *
 * Accuracy: backward stable; eigenvalues have absolute error about n * 2^-52 * ||A||, and
 * eigenvectors of well-separated eigenvalues have angular error about that over the gap.
 * For repeated (or nearly repeated) eigenvalues the eigenvectors are one orthonormal basis of
 * the eigenspace, as with LAPACK.
 *
 * Sign convention (LAPACK leaves it unspecified): each eigenvector is flipped so that its
 * entry of largest magnitude is positive (the first such entry on exact ties). The result is
 * therefore deterministic for a given input, but may differ in sign from numpy.
 *
 * Symmetry: the routine uses (A + A^T) / 2. If A is not symmetric to within
 * `symmetryTol * max|A|` (default 1e-6, loose enough for a Gram matrix computed in float32)
 * it throws E_ARG rather than silently returning the eigenvalues of a different matrix; pass
 * `symmetryTol: Infinity` to symmetrise without checking.
 *
 * n = 0 gives empty arrays. NaN/Inf entries throw E_NONFINITE.
 *
 * LAPACK: when the backend has `symEig` (native, OpenBLAS's dsyevd) and n >= 16, the
 * decomposition after the checks runs there (about 10x faster at n = 1024); the same order and
 * sign convention are applied, so the results agree with the JavaScript routine to rounding
 * (for repeated eigenvalues, both give an orthonormal basis of the eigenspace, not necessarily
 * the same one). `lapack: false` forces the JavaScript routine (the reference); `backend`
 * picks the backend (default: the active one).
 */
export interface EighResult {
  values: Float64Array;
  vectors: Float64Array;
}

export interface EighOptions {
  /** relative tolerance of the symmetry check (default 1e-6); Infinity disables the check */
  symmetryTol?: number;
  /** compute eigenvectors (default true); when false, `vectors` is empty */
  vectors?: boolean;
  /** use the backend's LAPACK (symEig) when it has one and n >= 16 (default true); false: the JavaScript routine */
  lapack?: boolean;
  /** the backend whose symEig is used (default: the active backend) */
  backend?: Backend;
}

/** Below this order the JavaScript routine runs even when LAPACK is there (the call costs more than it saves). */
const LAPACK_MIN_N = 16;

const EPS = 2 ** -52;

export function eighSym(a: ArrayLike<number>, n: number, opts: EighOptions = {}): EighResult {
  if (!Number.isInteger(n) || n < 0) fail('E_ARG', `eighSym: n must be a non-negative integer, got ${n}`);
  if (a.length !== n * n) {
    fail('E_SHAPE', `eighSym: matrix has ${a.length} entries, a square [${n} x ${n}] matrix needs ${n * n}; pass the full row-major square matrix`);
  }
  const wantVectors = opts.vectors ?? true;
  const symTol = opts.symmetryTol ?? 1e-6;
  if (!(symTol >= 0)) fail('E_ARG', `eighSym: symmetryTol must be >= 0, got ${symTol}`);
  if (n === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };

  // Copy, validate, symmetrise.
  const A = new Float64Array(n * n);
  let maxAbs = 0;
  for (let i = 0; i < n * n; i++) {
    const v = +a[i];
    if (v - v !== 0) fail('E_NONFINITE', `eighSym: matrix has a non-finite value (${v}) at row ${Math.floor(i / n)}, column ${i % n}`);
    A[i] = v;
    const av = v < 0 ? -v : v;
    if (av > maxAbs) maxAbs = av;
  }
  let maxAsym = 0;
  let worstI = 0;
  let worstJ = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = A[i * n + j];
      const y = A[j * n + i];
      const diff = Math.abs(x - y);
      if (diff > maxAsym) {
        maxAsym = diff;
        worstI = i;
        worstJ = j;
      }
      const m = 0.5 * (x + y);
      A[i * n + j] = m;
      A[j * n + i] = m;
    }
  }
  if (maxAsym > symTol * maxAbs) {
    fail('E_ARG', `eighSym: matrix is not symmetric: |A[${worstI},${worstJ}] - A[${worstJ},${worstI}]| = ${maxAsym.toExponential(3)} exceeds ${symTol} * max|A| = ${(symTol * maxAbs).toExponential(3)}; pass (A + A^T) / 2, or set symmetryTol: Infinity to symmetrise without this check`);
  }

  const bk = opts.lapack === false || n < LAPACK_MIN_N ? null : (opts.backend ?? activeBackend());
  if (bk && bk.symEig) {
    const w = new Float64Array(n);
    const info = bk.symEig(A, n, w, wantVectors);
    if (info !== 0) fail('E_NOTCONVERGED', `eighSym: LAPACK dsyevd did not converge (info ${info}); pass lapack: false to use the JavaScript routine`);
    return finish(w, wantVectors ? A : null, n);
  }
  return eighJs(A, n, wantVectors);
}

/** Householder + implicit QL on the symmetrised copy A (destroyed). */
function eighJs(A: Float64Array, n: number, wantVectors: boolean): EighResult {
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i] = T[i-1][i], e[0] = 0
  const V = wantVectors ? new Float64Array(n * n) : null; // Householder vectors (row k, entries k+1..)
  const betas = new Float64Array(n);
  const w = new Float64Array(n);
  const qbuf = new Float64Array(n);

  // ---- Householder tridiagonalisation: T = H_{n-3} ... H_0 A H_0 ... H_{n-3}.
  for (let k = 0; k < n - 2; k++) {
    const rk = k * n;
    d[k] = A[rk + k];
    let scale = 0;
    for (let j = k + 1; j < n; j++) {
      const v = Math.abs(A[rk + j]);
      if (v > scale) scale = v;
    }
    if (scale === 0) {
      e[k + 1] = 0;
      betas[k] = 0;
      continue;
    }
    let ss = 0;
    for (let j = k + 1; j < n; j++) {
      const v = A[rk + j] / scale;
      ss += v * v;
    }
    const x0 = A[rk + k + 1];
    const norm = scale * Math.sqrt(ss);
    const alpha = x0 > 0 ? -norm : norm;
    // v = x - alpha e1 (stored in w, and in V when vectors are wanted); v^T v = 2 alpha (alpha - x0)
    for (let j = k + 1; j < n; j++) w[j] = A[rk + j];
    w[k + 1] = x0 - alpha;
    const vtv = 2 * alpha * (alpha - x0);
    const beta = 2 / vtv;
    betas[k] = beta;
    e[k + 1] = alpha;
    if (V) for (let j = k + 1; j < n; j++) V[rk + j] = w[j];
    // p = beta * B v over the trailing block B = A[k+1.., k+1..]; K = beta/2 * v^T p; q = p - K v
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let j = k + 1; j < n; j++) s += A[ri + j] * w[j];
      s *= beta;
      qbuf[i] = s;
      vp += w[i] * s;
    }
    const K = 0.5 * beta * vp;
    for (let i = k + 1; i < n; i++) qbuf[i] -= K * w[i];
    // B -= v q^T + q v^T
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const vi = w[i];
      const qi = qbuf[i];
      for (let j = k + 1; j < n; j++) A[ri + j] -= vi * qbuf[j] + qi * w[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = A[(n - 2) * n + n - 2];
    e[n - 1] = A[(n - 1) * n + n - 2];
  }
  d[n - 1] = A[n * n - 1];

  // ---- Z = Q^T = H_{n-3} ... H_0 (row i of Z = column i of Q), accumulated as Z := Z H_k.
  let Z: Float64Array | null = null;
  if (V) {
    Z = A; // the reduced matrix is no longer needed
    Z.fill(0);
    for (let i = 0; i < n; i++) Z[i * n + i] = 1;
    for (let k = n - 3; k >= 0; k--) {
      const beta = betas[k];
      if (beta === 0) continue;
      const vk = k * n;
      for (let i = k + 1; i < n; i++) {
        const ri = i * n;
        let s = 0;
        for (let j = k + 1; j < n; j++) s += Z[ri + j] * V[vk + j];
        s *= beta;
        if (s === 0) continue;
        for (let j = k + 1; j < n; j++) Z[ri + j] -= s * V[vk + j];
      }
    }
  }

  // ---- implicit QL on (d, e); rotations applied to rows of Z.
  tql(d, e, Z, n);
  return finish(d, Z, n);
}

/** Eigenvalues d and eigenvectors as the rows of Z (or none): sort ascending, transpose to columns, fix signs. */
function finish(d: Float64Array, Z: Float64Array | null, n: number): EighResult {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y] || x - y);
  const values = Float64Array.from(order, (i) => d[i]);
  if (!Z) return { values, vectors: new Float64Array(0) };
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rz = order[j] * n;
    let big = 0;
    let bigVal = 0;
    for (let i = 0; i < n; i++) {
      const v = Z[rz + i];
      const av = v < 0 ? -v : v;
      if (av > big * (1 + 1e-12)) {
        big = av;
        bigVal = v;
      }
    }
    const sgn = bigVal < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + j] = sgn * Z[rz + i];
  }
  return { values, vectors };
}

function hypot(x: number, y: number): number {
  const ax = x < 0 ? -x : x;
  const ay = y < 0 ? -y : y;
  if (ax > ay) {
    const r = ay / ax;
    return ax * Math.sqrt(1 + r * r);
  }
  if (ay === 0) return 0;
  const r = ax / ay;
  return ay * Math.sqrt(1 + r * r);
}

/**
 * Implicit QL with shifts on the symmetric tridiagonal matrix with diagonal d and
 * off-diagonal e (e[i] couples i-1 and i). On return d holds the eigenvalues (unsorted);
 * when Z is given, its rows i and i+1 are rotated along with the iteration so that row j of Z
 * becomes the eigenvector of d[j] expressed in the original basis.
 */
function tql(d: Float64Array, e: Float64Array, Z: Float64Array | null, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const maxIter = 60;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= EPS * tst1) break;
      m++;
    }
    if (m >= n) m = n - 1;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > maxIter) {
          fail('E_NOTCONVERGED', `eighSym: QL iteration did not converge for eigenvalue ${l} after ${maxIter} sweeps; the matrix may contain values of extreme magnitude (rescale it)`);
        }
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (Z) {
            const ri = i * n;
            const ri1 = ri + n;
            for (let k = 0; k < n; k++) {
              const zk1 = Z[ri1 + k];
              const zk = Z[ri + k];
              Z[ri1 + k] = s * zk + c * zk1;
              Z[ri + k] = c * zk - s * zk1;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
