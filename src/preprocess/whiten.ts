import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { backend as activeBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';
import { eighSym } from '../linalg/eigh.js';
import { columnMeans, crossProduct } from '../linalg/gram.js';

/**
 * PCA and ZCA whitening (docs/papers.md sec. 3), samples as rows.
 *
 * Fit: mean mu (float64, stored float32), covariance Sigma = (1/n) (X - mu)^T (X - mu)
 * (population normalisation, so the whitened training data have identity second moment up
 * to the eps shrinkage), eigendecomposition Sigma = E Lambda E^T with eigenvalues in
 * DESCENDING order (negative round-off clamped to 0).
 *
 *   PCA:  Xw = (X - mu) E (Lambda + eps I)^{-1/2}          inverse  (Lambda + eps I)^{1/2} E^T
 *   ZCA:  Xw = (X - mu) E (Lambda + eps I)^{-1/2} E^T      inverse  E (Lambda + eps I)^{1/2} E^T
 *
 * So `transformMatrix()` is W [d x d] with Xw = (X - mean) W and `inverseMatrix()` is Winv
 * with X = Xw Winv + mean; W Winv = I exactly in exact arithmetic for any eps.
 * PCA column k is principal direction k (largest variance first); its sign follows eighSym's
 * convention (largest-magnitude entry of each eigenvector positive).
 *
 * eps: by default RELATIVE to the mean eigenvalue, eps_abs = eps * trace(Sigma) / d, with
 * eps = 1e-5. Activations differ in scale by orders of magnitude between models and layers,
 * so a fixed absolute eps would be negligible for some and dominant for others; relative to
 * the mean variance it bounds the gain of any direction by sqrt(1 / eps) (about 316) times
 * the gain of an average-variance direction, which also keeps rank-deficient data (n <= d,
 * constant columns) finite. Pass `epsMode: 'absolute'` to add eps itself to the eigenvalues.
 * The paper's value is unconfirmed (docs/papers.md), hence the parameter. eps = 0 is allowed
 * only when every eigenvalue is positive.
 */
export type WhiteningMethod = 'pca' | 'zca';

export interface WhiteningOptions {
  method: WhiteningMethod;
  /** shrinkage added to the eigenvalues (default 1e-5, relative to the mean eigenvalue; see epsMode) */
  eps?: number;
  /** 'relative' (default): eps times trace(Sigma)/d; 'absolute': eps as given */
  epsMode?: 'relative' | 'absolute';
  /** subtract the mean first (default true); without it Sigma is the second-moment matrix */
  center?: boolean;
  backend?: Backend;
}

export interface WhiteningJSON {
  format: 'sparsecode.whitening';
  version: 1;
  method: WhiteningMethod;
  eps: number;
  epsMode: 'relative' | 'absolute';
  /** the value actually added to the eigenvalues */
  epsAbs: number;
  center: boolean;
  nSamples: number;
  dim: number;
  mean: number[];
  /** descending, length dim */
  eigenvalues: number[];
  /** row-major [dim x dim]; column k is the eigenvector of eigenvalues[k] */
  eigenvectors: number[];
}

export const DEFAULT_WHITENING_EPS = 1e-5;
const ROW_BLOCK = 2048;

export class Whitening {
  readonly method: WhiteningMethod;
  readonly eps: number;
  readonly epsMode: 'relative' | 'absolute';
  readonly epsAbs: number;
  readonly center: boolean;
  readonly nSamples: number;
  readonly dim: number;
  readonly mean: Float32Array;
  /** covariance eigenvalues, descending (float64) */
  readonly eigenvalues: Float64Array;
  /** row-major [d x d], column k the eigenvector of eigenvalues[k] (float64) */
  readonly eigenvectors: Float64Array;
  private readonly W: Matrix;
  private readonly Winv: Matrix;

  constructor(p: {
    method: WhiteningMethod; eps: number; epsMode: 'relative' | 'absolute'; epsAbs: number; center: boolean; nSamples: number;
    mean: Float32Array; eigenvalues: Float64Array; eigenvectors: Float64Array;
  }) {
    const d = p.mean.length;
    if (p.eigenvalues.length !== d || p.eigenvectors.length !== d * d) {
      fail('E_SHAPE', `whitening: mean has ${d} entries but there are ${p.eigenvalues.length} eigenvalues and ${p.eigenvectors.length} eigenvector entries (need ${d} and ${d * d})`);
    }
    this.method = p.method;
    this.eps = p.eps;
    this.epsMode = p.epsMode;
    this.epsAbs = p.epsAbs;
    this.center = p.center;
    this.nSamples = p.nSamples;
    this.dim = d;
    this.mean = p.mean;
    this.eigenvalues = p.eigenvalues;
    this.eigenvectors = p.eigenvectors;
    const inv = new Float64Array(d);
    const fwd = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      const l = Math.max(0, p.eigenvalues[k]) + p.epsAbs;
      if (!(l > 0) || !Number.isFinite(l)) {
        fail('E_ARG', `whitening: eigenvalue ${k} plus eps is ${l}; the data have no variance in some direction, so eps must be > 0 (e.g. the default 1e-5 relative)`);
      }
      const s = Math.sqrt(l);
      fwd[k] = 1 / s;
      inv[k] = s;
      if (!Number.isFinite(fwd[k])) fail('E_ARG', `whitening: 1/sqrt(eigenvalue ${k} + eps) overflows; raise eps`);
    }
    const E = p.eigenvectors;
    const W = new Matrix(d, d);
    const Wi = new Matrix(d, d);
    if (p.method === 'pca') {
      for (let i = 0; i < d; i++) {
        for (let k = 0; k < d; k++) {
          W.data[i * d + k] = E[i * d + k] * fwd[k];
          Wi.data[k * d + i] = inv[k] * E[i * d + k];
        }
      }
    } else {
      // E diag(f) E^T, symmetric: compute the lower triangle in float64 and mirror
      for (let i = 0; i < d; i++) {
        for (let j = 0; j <= i; j++) {
          let a = 0;
          let b = 0;
          for (let k = 0; k < d; k++) {
            const e = E[i * d + k] * E[j * d + k];
            a += e * fwd[k];
            b += e * inv[k];
          }
          W.data[i * d + j] = a;
          W.data[j * d + i] = a;
          Wi.data[i * d + j] = b;
          Wi.data[j * d + i] = b;
        }
      }
    }
    this.W = W;
    this.Winv = Wi;
  }

  /** W [d x d] with Xw = (X - mean) W (a copy). */
  transformMatrix(): Matrix {
    return this.W.clone();
  }

  /** Winv [d x d] with X = Xw Winv + mean (a copy). */
  inverseMatrix(): Matrix {
    return this.Winv.clone();
  }

  /** Xw = (X - mean) W, computed over row blocks (memory: one block of centred rows). */
  apply(X: Matrix, opts: { out?: Matrix; backend?: Backend } = {}): Matrix {
    if (X.cols !== this.dim) fail('E_SHAPE', `whitening apply: X has ${X.cols} columns, the whitening was fitted on ${this.dim}`);
    const out = opts.out ?? new Matrix(X.rows, this.dim);
    if (out.rows !== X.rows || out.cols !== this.dim) fail('E_SHAPE', `whitening apply: out is [${out.rows} x ${out.cols}], needs [${X.rows} x ${this.dim}]`);
    if (out.data === X.data) fail('E_ARG', 'whitening apply: out must not be X itself');
    assertFinite('X', X);
    const d = this.dim;
    const blk = Math.min(ROW_BLOCK, Math.max(1, X.rows));
    const buf = new Float32Array(blk * d);
    for (let r0 = 0; r0 < X.rows; r0 += blk) {
      const r1 = Math.min(X.rows, r0 + blk);
      const h = r1 - r0;
      for (let i = 0; i < h; i++) {
        const s = (r0 + i) * d;
        const o = i * d;
        for (let j = 0; j < d; j++) buf[o + j] = X.data[s + j] - this.mean[j];
      }
      matmul(new Matrix(h, d, buf.subarray(0, h * d)), this.W, { out: out.rowSlice(r0, r1), backend: opts.backend });
    }
    return out;
  }

  /** X = Xw Winv + mean. */
  invert(Xw: Matrix, opts: { out?: Matrix; backend?: Backend } = {}): Matrix {
    if (Xw.cols !== this.dim) fail('E_SHAPE', `whitening invert: Xw has ${Xw.cols} columns, the whitening was fitted on ${this.dim}`);
    const out = opts.out ?? new Matrix(Xw.rows, this.dim);
    if (out.rows !== Xw.rows || out.cols !== this.dim) fail('E_SHAPE', `whitening invert: out is [${out.rows} x ${out.cols}], needs [${Xw.rows} x ${this.dim}]`);
    if (out.data === Xw.data) fail('E_ARG', 'whitening invert: out must not be Xw itself');
    const b = opts.backend ?? activeBackend();
    matmul(Xw, this.Winv, { out, backend: b });
    if (out.rows > 0 && this.dim > 0) b.addRowVector(out.data, out.rows, this.dim, this.mean, 1);
    return out;
  }

  toJSON(): WhiteningJSON {
    return {
      format: 'sparsecode.whitening',
      version: 1,
      method: this.method,
      eps: this.eps,
      epsMode: this.epsMode,
      epsAbs: this.epsAbs,
      center: this.center,
      nSamples: this.nSamples,
      dim: this.dim,
      mean: Array.from(this.mean),
      eigenvalues: Array.from(this.eigenvalues),
      eigenvectors: Array.from(this.eigenvectors),
    };
  }

  static fromJSON(obj: unknown): Whitening {
    return whiteningFromJSON(obj);
  }
}

/** Fit PCA or ZCA whitening on X [n x d]. */
export function fitWhitening(X: Matrix, opts: WhiteningOptions): Whitening {
  if (!opts || (opts.method !== 'pca' && opts.method !== 'zca')) {
    fail('E_ARG', `fitWhitening: method must be 'pca' or 'zca', got ${JSON.stringify(opts?.method)}`);
  }
  const eps = opts.eps ?? DEFAULT_WHITENING_EPS;
  assertNumber('whitening eps', eps, 0);
  const epsMode = opts.epsMode ?? 'relative';
  if (epsMode !== 'relative' && epsMode !== 'absolute') fail('E_ARG', `fitWhitening: epsMode must be 'relative' or 'absolute', got ${JSON.stringify(epsMode)}`);
  const center = opts.center ?? true;
  const n = X.rows;
  const d = X.cols;
  if (n === 0) fail('E_SHAPE', `fitWhitening: X is [0 x ${d}]; at least one sample is needed`);
  if (d === 0) fail('E_SHAPE', `fitWhitening: X is [${n} x 0]; it needs at least one column`);
  assertFinite('X', X);
  const mean = center ? Float32Array.from(columnMeans(X)) : new Float32Array(d);
  const S = crossProduct(X, X, { meanA: center ? mean : undefined, backend: opts.backend });
  let trace = 0;
  for (let i = 0; i < d * d; i++) S[i] /= n;
  for (let i = 0; i < d; i++) trace += S[i * d + i];
  const { values, vectors } = eighSym(S, d, { symmetryTol: Infinity });
  // descending order
  const eigenvalues = new Float64Array(d);
  const eigenvectors = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const src = d - 1 - k;
    eigenvalues[k] = Math.max(0, values[src]);
    for (let i = 0; i < d; i++) eigenvectors[i * d + k] = vectors[i * d + src];
  }
  let epsAbs = eps;
  if (epsMode === 'relative') {
    if (!(trace > 0) && eps > 0) fail('E_ARG', `fitWhitening: X has zero variance in every column (all ${n} rows are equal${center ? '' : ' to zero'}); relative eps needs a positive mean eigenvalue; use epsMode: 'absolute'`);
    epsAbs = (eps * trace) / d;
  }
  return new Whitening({ method: opts.method, eps, epsMode, epsAbs, center, nSamples: n, mean, eigenvalues, eigenvectors });
}

/** Rebuild a Whitening from `toJSON()` output (validated; E_FORMAT on malformed input). */
export function whiteningFromJSON(obj: unknown): Whitening {
  const o = obj as Partial<WhiteningJSON> | null;
  const bad = (what: string): never => fail('E_FORMAT', `whitening JSON: ${what}`);
  if (!o || typeof o !== 'object') bad('expected an object');
  if (o!.format !== 'sparsecode.whitening') bad('missing format "sparsecode.whitening"');
  if (o!.version !== 1) bad(`unsupported version ${o!.version} (1 is supported)`);
  if (o!.method !== 'pca' && o!.method !== 'zca') bad(`method must be "pca" or "zca", got ${JSON.stringify(o!.method)}`);
  if (o!.epsMode !== 'relative' && o!.epsMode !== 'absolute') bad(`epsMode must be "relative" or "absolute", got ${JSON.stringify(o!.epsMode)}`);
  for (const k of ['eps', 'epsAbs', 'nSamples', 'dim'] as const) {
    const v = o![k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`${k} must be a finite number >= 0, got ${JSON.stringify(v)}`);
  }
  if (typeof o!.center !== 'boolean') bad('center must be a boolean');
  const d = o!.dim!;
  const arr = (k: 'mean' | 'eigenvalues' | 'eigenvectors', len: number): number[] => {
    const a = o![k];
    if (!Array.isArray(a) || a.length !== len) bad(`${k} must be an array of ${len} numbers`);
    for (const v of a!) if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${k} must hold finite numbers`);
    return a!;
  };
  return new Whitening({
    method: o!.method!, eps: o!.eps!, epsMode: o!.epsMode!, epsAbs: o!.epsAbs!, center: o!.center!, nSamples: o!.nSamples!,
    mean: Float32Array.from(arr('mean', d)),
    eigenvalues: Float64Array.from(arr('eigenvalues', d)),
    eigenvectors: Float64Array.from(arr('eigenvectors', d * d)),
  });
}
