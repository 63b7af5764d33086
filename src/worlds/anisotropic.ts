import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { eighSym } from '../linalg/eigh.js';
import { randomMixing, type IidSplit, type Magnitude, type World } from './superposition.js';

/**
 * An anisotropic sparse-superposition world (docs/papers.md sec. 3, "Data whitening improves SAE
 * learning"): k-sparse latents seen through a mixing whose atoms are correlated, so that the
 * activations' covariance has a prescribed, large condition number, like the activations of a
 * real language model (a decaying spectrum and an offset).
 *
 * Construction (all float64 inside):
 *  1. base latents r [latents]: exactly `active` of them on, uniformly chosen, magnitudes from
 *     `magnitude` (U(0,1) by default); a base mixing A0 [latents x dim] with N(0,1) entries
 *     and unit-norm rows (`randomMixing`); base observation u = r·A0 + noise·e, e ~ N(0, I).
 *  2. The base covariance has the closed form C0 = A0ᵀ Σr A0 + noise² I, where for exactly-k
 *     supports and magnitude moments m1 = E[v], m2 = E[v²]:
 *        Σr_ii = (k/n) m2 − (k/n)² m1²,   Σr_ij = k(k−1)/(n(n−1)) m1² − (k/n)² m1²   (i ≠ j).
 *  3. A target spectrum λ_j = c · κ^(−j/(dim−1)), j = 0 … dim−1 (geometric decay from λ_0 to
 *     λ_0/κ, κ = `condition`), c chosen so that Σλ = trace(C0) (the total variance is kept),
 *     and a Haar-random rotation U [dim x dim]. The fixed linear map
 *        M = C0^(−1/2) · U · diag(√λ) · Uᵀ
 *     makes the covariance of u·M exactly U diag(λ) Uᵀ: condition number κ by construction.
 *  4. The observation x = u·M + b, with a fixed offset b = offset · √trace(Σ) · (unit vector).
 *
 * So x = Σ_i r_i (A0·M)_i + noise·e·M + b. The observed atoms (A0·M)_i are correlated: the
 * larger κ, the more they crowd around the top principal directions. The world reports them
 * normalised, `A` (row i = (A0·M)_i / s_i with s_i = ‖(A0·M)_i‖, `atomScale[i] = s_i`), and the
 * latents in the matching unit, `Z[:, i] = r_i · s_i`, so that `X = Z·A + (noise·e·M) + b`
 * holds exactly (up to float32 storage). Labels follow the base magnitudes:
 * `y = [r_0 > 0.5]` (= [Z_0 > 0.5·s_0]; `labelFor` gives the label of any latent).
 *
 * `covariance` is the population covariance U diag(λ) Uᵀ (noise included), `spectrum` its
 * eigenvalues λ (descending) and `mean` the population mean E[r]·A0·M + b. With κ = 1 the world
 * is already white (Σ = c·I): whitening is then a rotation (PCA) or a scaling (ZCA). A finite
 * sample's covariance has a condition number close to κ; the gap shrinks as samples grow
 * (see the tests).
 *
 * Requires latents ≥ dim or noise > 0 (C0 must be positive definite). Random streams (all from
 * `seed`): 'mixing' (A0), 'rotation' (U), 'offset' (b's direction), and per split 'support',
 * 'magnitude' and 'noise', so changing `condition` or `offset` leaves the latents unchanged.
 */
export interface AnisotropicWorldOptions {
  /** n: number of latents (>= 2) */
  latents: number;
  /** k: active latents per sample (1 <= k < n) */
  active: number;
  /** rows in total: train gets the first N − round(N·valFraction), val the rest */
  samples: number;
  /** observation dimension m (2 <= m; m <= n unless noise > 0) */
  dim: number;
  /** κ >= 1: condition number of the activations' covariance [100] */
  condition?: number;
  /** norm of the offset b relative to the RMS norm √trace(Σ) of the centred activations [1] */
  offset?: number;
  /** standard deviation of the Gaussian noise added in the base space, before M [0] */
  noise?: number;
  /** law of the active magnitudes: U(0,1) (default), |N(0,1)|, Exp(1) */
  magnitude?: Magnitude;
  /** fraction of samples in `val` (default 0.5) */
  valFraction?: number;
  seed?: Seed | Rng;
}

export interface AnisotropicWorld extends World<IidSplit> {
  /** population covariance of X, [dim x dim] row-major, = U diag(spectrum) Uᵀ */
  covariance: Float64Array;
  /** its eigenvalues, descending (λ_0 / λ_{dim−1} = condition) */
  spectrum: Float64Array;
  /** population mean of X */
  mean: Float64Array;
  /** the condition number κ of `covariance` */
  condition: number;
  /** s_i = ‖(A0·M)_i‖: Z[:, i] = base magnitude r_i times s_i */
  atomScale: Float64Array;
  /** the fixed map M [dim x dim]: x = (r·A0 + noise·e)·M + b */
  map: Matrix;
  /** the offset b */
  offset: Float64Array;
  /** the label [r_j > 0.5] of latent j on a split (0/1) */
  labelFor(split: IidSplit, latent: number): Float32Array;
}

/** E[v] and E[v²] of the magnitude laws. */
export function magnitudeMoments(law: Magnitude): { m1: number; m2: number } {
  switch (law) {
    case 'uniform':
      return { m1: 0.5, m2: 1 / 3 };
    case 'halfnormal':
      return { m1: Math.sqrt(2 / Math.PI), m2: 1 };
    case 'exponential':
      return { m1: 1, m2: 2 };
    default:
      return fail('E_ARG', `magnitude must be 'uniform', 'halfnormal' or 'exponential', got '${law as string}'`);
  }
}

/**
 * Population covariance entries of k-of-n uniformly supported latents with i.i.d. magnitudes:
 * the diagonal and the (shared) off-diagonal value.
 */
export function sparseLatentCovariance(latents: number, active: number, law: Magnitude): { diag: number; off: number; mean: number } {
  const { m1, m2 } = magnitudeMoments(law);
  const q = active / latents;
  const mean = q * m1;
  const diag = q * m2 - mean * mean;
  const off = latents > 1 ? ((active * (active - 1)) / (latents * (latents - 1))) * m1 * m1 - mean * mean : 0;
  return { diag, off, mean };
}

/** A Haar-random orthogonal [d x d] matrix (float64, row-major): Gram–Schmidt on Gaussian columns. */
export function randomOrthogonal(d: number, rng: Rng): Float64Array {
  assertInt('d', d, 1);
  const Q = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) Q[i] = rng.normal();
  // modified Gram–Schmidt over columns, twice for stability
  for (let j = 0; j < d; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += Q[i * d + p] * Q[i * d + j];
        for (let i = 0; i < d; i++) Q[i * d + j] -= dot * Q[i * d + p];
      }
    }
    let ss = 0;
    for (let i = 0; i < d; i++) ss += Q[i * d + j] * Q[i * d + j];
    const s = 1 / Math.sqrt(ss);
    for (let i = 0; i < d; i++) Q[i * d + j] *= s;
  }
  return Q;
}

/** C = A B for row-major float64 square d x d matrices. */
function mul(A: Float64Array, B: Float64Array, d: number): Float64Array {
  const C = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let p = 0; p < d; p++) {
      const a = A[i * d + p];
      if (a === 0) continue;
      for (let j = 0; j < d; j++) C[i * d + j] += a * B[p * d + j];
    }
  }
  return C;
}

/** U diag(f) Uᵀ for an orthogonal U (columns = vectors), row-major. */
function conjugate(U: Float64Array, f: Float64Array, d: number): Float64Array {
  const C = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += U[i * d + k] * f[k] * U[j * d + k];
      C[i * d + j] = s;
      C[j * d + i] = s;
    }
  }
  return C;
}

/**
 * Build an anisotropic world (see the file comment). Splits `train` and `val`; `params` holds
 * every option; the label of latent 0 is `y`, any other latent's via `labelFor`.
 */
export function anisotropicWorld(opts: AnisotropicWorldOptions): AnisotropicWorld {
  if (!opts || typeof opts !== 'object') fail('E_ARG', 'anisotropicWorld needs options {latents, active, samples, dim}');
  assertInt('latents', opts.latents, 2);
  const n = opts.latents;
  assertInt('active', opts.active, 1, n - 1);
  const k = opts.active;
  assertInt('samples', opts.samples, 2);
  const N = opts.samples;
  assertInt('dim', opts.dim, 2);
  const m = opts.dim;
  const kappa = opts.condition ?? 100;
  assertNumber('condition', kappa, 1);
  const offsetRel = opts.offset ?? 1;
  assertNumber('offset', offsetRel, 0);
  const noise = opts.noise ?? 0;
  assertNumber('noise', noise, 0);
  const law = opts.magnitude ?? 'uniform';
  const { diag, off, mean: rMean } = sparseLatentCovariance(n, k, law);
  if (m > n && !(noise > 0)) {
    fail('E_ARG', `anisotropicWorld: dim = ${m} > latents = ${n} leaves the activations rank-deficient (infinite condition number); use dim <= latents or noise > 0`);
  }
  const valFraction = opts.valFraction ?? 0.5;
  assertNumber('valFraction', valFraction, 0, 1, { exclusiveMin: true });
  if (valFraction >= 1) fail('E_ARG', `valFraction must be < 1, got ${valFraction}`);
  const nVal = Math.min(N - 1, Math.max(1, Math.round(N * valFraction)));
  const nTrain = N - nVal;

  const root = opts.seed instanceof Rng ? opts.seed.split() : new Rng(opts.seed ?? 0);
  const A0 = randomMixing(n, m, root.fork('mixing'));

  // C0 = A0ᵀ Σr A0 + noise² I, with Σr = (diag − off) I + off 11ᵀ
  const colSum = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) colSum[c] += A0.data[i * m + c];
  const C0 = new Float64Array(m * m);
  for (let i = 0; i < n; i++) {
    const o = i * m;
    for (let a = 0; a < m; a++) {
      const va = A0.data[o + a];
      for (let b = 0; b <= a; b++) C0[a * m + b] += va * A0.data[o + b];
    }
  }
  let trace0 = 0;
  for (let a = 0; a < m; a++) {
    for (let b = 0; b <= a; b++) {
      const v = (diag - off) * C0[a * m + b] + off * colSum[a] * colSum[b] + (a === b ? noise * noise : 0);
      C0[a * m + b] = v;
      C0[b * m + a] = v;
    }
    trace0 += C0[a * m + a];
  }
  // C0^(−1/2) via its eigendecomposition
  const e0 = eighSym(C0, m, { symmetryTol: Infinity });
  const lmax0 = e0.values[m - 1];
  const lmin0 = e0.values[0];
  if (!(lmin0 > 1e-12 * lmax0) || !(lmax0 > 0)) {
    fail('E_ARG', `anisotropicWorld: the base covariance is singular (eigenvalues ${lmin0.toExponential(3)} … ${lmax0.toExponential(3)}); use fewer dims than latents, or noise > 0`);
  }
  const invSqrt0 = new Float64Array(m);
  for (let j = 0; j < m; j++) invSqrt0[j] = 1 / Math.sqrt(e0.values[j]);
  const C0isqrt = conjugate(e0.vectors, invSqrt0, m);

  // target spectrum and rotation
  const spectrum = new Float64Array(m);
  let sum = 0;
  for (let j = 0; j < m; j++) {
    spectrum[j] = Math.pow(kappa, -j / (m - 1));
    sum += spectrum[j];
  }
  for (let j = 0; j < m; j++) spectrum[j] *= trace0 / sum;
  const U = randomOrthogonal(m, root.fork('rotation'));
  const sqrtL = new Float64Array(m);
  for (let j = 0; j < m; j++) sqrtL[j] = Math.sqrt(spectrum[j]);
  const M = mul(C0isqrt, conjugate(U, sqrtL, m), m);
  const covariance = conjugate(U, spectrum, m);

  // offset b = offset · √trace(Σ) · unit vector
  const oRng = root.fork('offset');
  const bvec = new Float64Array(m);
  let bss = 0;
  for (let c = 0; c < m; c++) {
    bvec[c] = oRng.normal();
    bss += bvec[c] * bvec[c];
  }
  const bScale = (offsetRel * Math.sqrt(trace0)) / Math.sqrt(bss);
  for (let c = 0; c < m; c++) bvec[c] *= bScale;

  // observed atoms A0·M, their norms, normalised rows
  const A = new Matrix(n, m);
  const atomScale = new Float64Array(n);
  const AM = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let c = 0; c < m; c++) {
      let s = 0;
      for (let p = 0; p < m; p++) s += A0.data[i * m + p] * M[p * m + c];
      AM[i * m + c] = s;
      ss += s * s;
    }
    atomScale[i] = Math.sqrt(ss);
    for (let c = 0; c < m; c++) A.data[i * m + c] = AM[i * m + c] / atomScale[i];
  }
  // population mean E[r]·A0·M + b
  const mean = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += AM[i * m + c];
    mean[c] = rMean * s + bvec[c];
  }

  // draw the samples
  const Z = new Matrix(N, n);
  const X = new Matrix(N, m);
  const R = new Float32Array(N * n); // base magnitudes (labels)
  const magSampler = (rng: Rng): number => (law === 'uniform' ? rng.uniform() : law === 'halfnormal' ? Math.abs(rng.normal()) : rng.exponential());
  const table = new Int32Array(n);
  for (let i = 0; i < n; i++) table[i] = i;
  const u = new Float64Array(m);
  const emit = (r0: number, r1: number, label: string) => {
    const sRng = root.fork(`support:${label}`);
    const mRng = root.fork(`magnitude:${label}`);
    const eRng = noise > 0 ? root.fork(`noise:${label}`) : null;
    for (let r = r0; r < r1; r++) {
      // partial Fisher–Yates over a persistent table (its order carries over between rows; every
      // draw is still a uniform k-subset)
      for (let t = 0; t < k; t++) {
        const j = t + sRng.int(n - t);
        const v = table[j];
        table[j] = table[t];
        table[t] = v;
      }
      u.fill(0);
      for (let t = 0; t < k; t++) {
        const i = table[t];
        const v = Math.fround(magSampler(mRng));
        R[r * n + i] = v;
        Z.data[r * n + i] = v * atomScale[i];
        const o = i * m;
        for (let c = 0; c < m; c++) u[c] += v * A0.data[o + c];
      }
      if (eRng) for (let c = 0; c < m; c++) u[c] += noise * eRng.normal();
      const xo = r * m;
      for (let c = 0; c < m; c++) {
        let s = bvec[c];
        for (let p = 0; p < m; p++) s += u[p] * M[p * m + c];
        X.data[xo + c] = s;
      }
    }
  };
  emit(0, nTrain, 'train');
  emit(nTrain, N, 'val');

  const ranges: Record<IidSplit, [number, number]> = { train: [0, nTrain], val: [nTrain, N] };
  const labelFor = (split: IidSplit, latent: number): Float32Array => {
    if (split !== 'train' && split !== 'val') fail('E_ARG', `labelFor: split must be 'train' or 'val', got '${split as string}'`);
    assertInt('latent', latent, 0, n - 1);
    const [a, b] = ranges[split];
    const y = new Float32Array(b - a);
    for (let r = a; r < b; r++) y[r - a] = R[r * n + latent] > 0.5 ? 1 : 0;
    return y;
  };
  const Mm = new Matrix(m, m);
  for (let i = 0; i < m * m; i++) Mm.data[i] = M[i];
  return {
    kind: 'anisotropic',
    X: { train: X.rowSlice(0, nTrain), val: X.rowSlice(nTrain, N) },
    Z: { train: Z.rowSlice(0, nTrain), val: Z.rowSlice(nTrain, N) },
    y: { train: labelFor('train', 0), val: labelFor('val', 0) },
    A,
    dim: m,
    splits: ['train', 'val'],
    sizes: { train: nTrain, val: nVal },
    params: {
      latents: n,
      active: k,
      samples: N,
      dim: m,
      condition: kappa,
      offset: offsetRel,
      noise,
      magnitude: law,
      valFraction,
      seed: opts.seed instanceof Rng ? null : (opts.seed ?? 0),
    },
    covariance,
    spectrum,
    mean,
    condition: kappa,
    atomScale,
    map: Mm,
    offset: bvec,
    labelFor,
  };
}

/** Mean |cosine| between distinct rows of a dictionary [atoms x d] (how correlated its atoms are). */
export function meanAbsCoherence(D: Matrix): number {
  const n = D.rows;
  const d = D.cols;
  if (n < 2) return 0;
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += D.data[i * d + c] ** 2;
    norms[i] = Math.max(Math.sqrt(s), 1e-12);
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += D.data[i * d + c] * D.data[j * d + c];
      total += Math.abs(s) / (norms[i] * norms[j]);
    }
  }
  return total / ((n * (n - 1)) / 2);
}
