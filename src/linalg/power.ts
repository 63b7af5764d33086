import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';

/**
 * Largest eigenvalue of D^T D (= squared spectral norm of D, the Lipschitz constant of the
 * gradient of 1/2||x - zD||^2), by power iteration on the smaller Gram matrix, in float64.
 * Deterministic start; stops when the relative change is below tol.
 */
export function spectralNormSquared(D: Matrix, opts: { tol?: number; maxIter?: number } = {}): number {
  const tol = opts.tol ?? 1e-10;
  const maxIter = opts.maxIter ?? 1000;
  const { rows, cols, data } = D;
  if (rows === 0 || cols === 0) return 0;
  // Work in the smaller dimension: v of length s, apply G = D^T D (s = cols) or D D^T (s = rows).
  const useCols = cols <= rows;
  const s = useCols ? cols : rows;
  const other = useCols ? rows : cols;
  let v = new Float64Array(s);
  for (let i = 0; i < s; i++) v[i] = 1 + 0.1 * Math.sin(1.7 * i + 0.3);
  normalize(v);
  const w = new Float64Array(other);
  let nv = new Float64Array(s);
  let lambda = 0;
  for (let it = 0; it < maxIter; it++) {
    // w = D v (or D^T v); nv = D^T w (or D w)
    if (useCols) {
      for (let i = 0; i < rows; i++) {
        let acc = 0;
        const o = i * cols;
        for (let j = 0; j < cols; j++) acc += data[o + j] * v[j];
        w[i] = acc;
      }
      nv.fill(0);
      for (let i = 0; i < rows; i++) {
        const wi = w[i];
        const o = i * cols;
        for (let j = 0; j < cols; j++) nv[j] += data[o + j] * wi;
      }
    } else {
      w.fill(0);
      for (let i = 0; i < rows; i++) {
        const vi = v[i];
        const o = i * cols;
        for (let j = 0; j < cols; j++) w[j] += data[o + j] * vi;
      }
      for (let i = 0; i < rows; i++) {
        let acc = 0;
        const o = i * cols;
        for (let j = 0; j < cols; j++) acc += data[o + j] * w[j];
        nv[i] = acc;
      }
    }
    let dot = 0;
    for (let i = 0; i < s; i++) dot += v[i] * nv[i];
    const norm = normalize(nv);
    if (!Number.isFinite(norm)) fail('E_NONFINITE', 'spectral norm: the matrix has non-finite values');
    const next = norm;
    const done = Math.abs(next - lambda) <= tol * Math.max(next, 1e-300) && Math.abs(dot - next) <= 1e-6 * next;
    lambda = next;
    const t = v;
    v = nv;
    nv = t;
    if (norm === 0 || done) break;
  }
  return lambda;
}

function normalize(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}
