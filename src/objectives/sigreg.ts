import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import type { Backend } from '../backend/types.js';

/**
 * SIGReg, the sketched isotropic Gaussian regulariser of LeJEPA (Balestriero & LeCun 2025,
 * arXiv 2511.08544), exactly as the reference code computes it (docs/lejepa.md; read from
 * `lejepa/univariate/epps_pulley.py` + `lejepa/multivariate/slicing.py`, and the `SIGReg` of
 * `klindtlab/lejepa-identifiability`):
 *
 *   knots   t_j = j·Δ, j = 0 … K−1, Δ = t_max/(K−1)            (K = 17, t_max = 3)
 *   weights W_j = w_j·φ_j,  w = trapezoid weights of the symmetric integral over [−t_max, t_max]
 *           folded onto [0, t_max] (2Δ inside, Δ at both ends),  φ_j = exp(−t_j²/2)
 *   for each unit direction a_m (column m of A [D × M]) and projections s_nm = h_n · a_m:
 *           c_mj = mean_n cos(t_j s_nm),  q_mj = mean_n sin(t_j s_nm)
 *           EP_m = N · Σ_j W_j [ (c_mj − φ_j)² + q_mj² ]        (Epps–Pulley statistic)
 *   SIGReg = mean_m EP_m
 *
 * Gradient (directions are constants):
 *   ∂EP_m/∂s_nm  = 2 Σ_j W_j t_j [ q_mj cos(t_j s_nm) − (c_mj − φ_j) sin(t_j s_nm) ]
 *   ∂SIGReg/∂h_n = (1/M) Σ_m (∂EP_m/∂s_nm) a_m
 *
 * Calibration: for h ~ N(0, I) the expectation is Σ_j W_j (1 − φ_j²) = 1.0525 whatever N is;
 * all-zero embeddings give N·Σ_j W_j (1 − φ_j)² = 0.40205·N.
 *
 * Speed: the knots are equally spaced, so cos(jx), sin(jx) follow from c = cos(x), s = sin(x)
 * (x = Δ·s_nm) by the angle-addition (Chebyshev) recurrence
 *   cos((j+1)x) = 2c·cos(jx) − cos((j−1)x),   sin((j+1)x) = 2c·sin(jx) − sin((j−1)x),
 * exact in exact arithmetic and stable in float64 over 17 terms: 2 trig calls per sample and
 * direction instead of 2K. The backward pass reuses the cached cos(x), sin(x): no trig at all.
 * The projections S = H·A and the gradient dH = dS·Aᵀ are GEMMs through the backend.
 */

/** Default number of directions (slices), knots and integration limit, as in the reference code. */
export const SIGREG_DEFAULTS = { numDirections: 256, knots: 17, tMax: 3 } as const;

/** Tolerance on ‖a_m‖ − 1 for user-given directions. */
const UNIT_TOL = 1e-4;

/** Knots, windows and quadrature weights of the Epps–Pulley integral. */
export interface SigregKnots {
  /** t_j = j·Δ, j = 0 … K−1 */
  t: Float64Array;
  /** φ_j = exp(−t_j²/2), the standard normal characteristic function at t_j */
  phi: Float64Array;
  /** W_j = w_j·φ_j (trapezoid weight × window) */
  weights: Float64Array;
  /** knot spacing Δ = t_max/(K−1) */
  dt: number;
}

/** The knots of SIGReg: K equally spaced points on [0, t_max] (K ≥ 2). */
export function sigregKnots(knots: number = SIGREG_DEFAULTS.knots, tMax: number = SIGREG_DEFAULTS.tMax): SigregKnots {
  assertInt('knots', knots, 2, 4096);
  assertNumber('tMax', tMax, 0, 1e3, { exclusiveMin: true });
  const dt = tMax / (knots - 1);
  const t = new Float64Array(knots);
  const phi = new Float64Array(knots);
  const weights = new Float64Array(knots);
  for (let j = 0; j < knots; j++) {
    t[j] = j * dt;
    phi[j] = Math.exp(-(t[j] * t[j]) / 2);
    const w = j === 0 || j === knots - 1 ? dt : 2 * dt;
    weights[j] = w * phi[j];
  }
  return { t, phi, weights, dt };
}

/** E[SIGReg] for h ~ N(0, I) (any N): Σ_j W_j (1 − φ_j²). 1.0525 for the defaults. */
export function sigregGaussianExpectation(knots: number = SIGREG_DEFAULTS.knots, tMax: number = SIGREG_DEFAULTS.tMax): number {
  const k = sigregKnots(knots, tMax);
  let s = 0;
  for (let j = 0; j < k.t.length; j++) s += k.weights[j] * (1 - k.phi[j] * k.phi[j]);
  return s;
}

/** SIGReg of N all-zero embeddings divided by N: Σ_j W_j (1 − φ_j)². 0.40205 for the defaults. */
export function sigregZeroPerSample(knots: number = SIGREG_DEFAULTS.knots, tMax: number = SIGREG_DEFAULTS.tMax): number {
  const k = sigregKnots(knots, tMax);
  let s = 0;
  for (let j = 0; j < k.t.length; j++) s += k.weights[j] * (1 - k.phi[j]) ** 2;
  return s;
}

/**
 * M random unit directions in R^dim: A [dim × M], i.i.d. N(0, 1) entries (drawn row by row),
 * each column normalised to unit L2 norm (in float64).
 */
export function randomDirections(dim: number, numDirections: number, seed: Seed | Rng = 0, out?: Matrix): Matrix {
  assertInt('dim', dim, 1);
  assertInt('numDirections', numDirections, 1);
  const A = out ?? new Matrix(dim, numDirections);
  if (A.rows !== dim || A.cols !== numDirections) fail('E_SHAPE', `randomDirections: out is [${A.rows} x ${A.cols}], expected [${dim} x ${numDirections}]`);
  const rng = toRng(seed);
  const g = new Float64Array(dim * numDirections);
  for (let i = 0; i < g.length; i++) g[i] = rng.normal();
  const norm = new Float64Array(numDirections);
  for (let d = 0; d < dim; d++) for (let m = 0; m < numDirections; m++) norm[m] += g[d * numDirections + m] ** 2;
  for (let m = 0; m < numDirections; m++) norm[m] = norm[m] > 0 ? 1 / Math.sqrt(norm[m]) : 0;
  for (let i = 0; i < g.length; i++) A.data[i] = g[i] * norm[i % numDirections];
  return A;
}

/**
 * Validate user-given directions for embeddings of width `dim`: a [dim × M] matrix of finite
 * values whose columns have unit L2 norm (within 1e-4). Throws E_SHAPE / E_NONFINITE / E_ARG
 * naming the fix.
 */
export function checkDirections(A: Matrix, dim: number, name = 'directions'): void {
  if (!(A instanceof Matrix)) fail('E_ARG', `${name} must be a Matrix [dim x M] with unit-norm columns`);
  if (A.rows !== dim || A.cols < 1) {
    fail('E_SHAPE', `${name} has shape [${A.rows} x ${A.cols}], the embeddings have ${dim} columns; pass a [${dim} x M] matrix with one unit direction per column (transpose it if you stored directions as rows)`);
  }
  assertFinite(name, A);
  const M = A.cols;
  const norm = new Float64Array(M);
  for (let d = 0; d < dim; d++) for (let m = 0; m < M; m++) norm[m] += A.data[d * M + m] ** 2;
  for (let m = 0; m < M; m++) {
    const nrm = Math.sqrt(norm[m]);
    if (Math.abs(nrm - 1) > UNIT_TOL) {
      fail('E_ARG', `${name} column ${m} has L2 norm ${nrm.toPrecision(6)}, directions must be unit vectors; divide each column by its norm`);
    }
  }
}

/** Embeddings must be a finite [N × D] matrix with N ≥ 1. */
function checkEmbeddings(H: Matrix, name: string): void {
  if (!(H instanceof Matrix)) fail('E_ARG', `${name} must be a Matrix [N x D] (samples are rows)`);
  if (H.rows < 1 || H.cols < 1) fail('E_SHAPE', `${name} has shape [${H.rows} x ${H.cols}]; SIGReg needs at least one sample and one dimension`);
  for (let i = 0; i < H.data.length; i++) {
    const v = H.data[i];
    if (v - v !== 0) {
      fail('E_NONFINITE', `${name} has a non-finite value (${v}) at row ${Math.floor(i / H.cols)}, column ${i % H.cols}; the encoder diverged or the input holds NaN/Inf: lower the learning rate or clean the input`);
    }
  }
}

export interface SigregOptions {
  /** fixed directions A [D × M] with unit columns (then the value is deterministic); default: fresh random ones */
  directions?: Matrix;
  /** number of random directions M when `directions` is not given (default 256) */
  numDirections?: number;
  /** number of knots K (default 17) */
  knots?: number;
  /** integration limit t_max (default 3) */
  tMax?: number;
  /** seed (or Rng) of the random directions (default 0) */
  seed?: Seed | Rng;
  backend?: Backend;
}

export interface SigregResult {
  /** SIGReg = mean over directions of the Epps–Pulley statistic */
  value: number;
  /** EP_m for each direction m */
  perDirection: Float64Array;
  /** the directions used, A [D × M] */
  directions: Matrix;
  /** number of samples N (rows of H) */
  samples: number;
}

export interface SigregGradResult extends SigregResult {
  /** ∂SIGReg/∂H [N × D] */
  grad: Matrix;
}

/**
 * A reusable SIGReg evaluator: holds the knots and every buffer of one forward + backward pass
 * (grown when N or M changes), so a training loop allocates nothing per step.
 *
 * Layout: the projections are kept transposed, Sᵀ = Aᵀ·Hᵀ [M × N] (one row per direction), so
 * the kernels stream over contiguous samples of one direction, four samples at a time (four
 * independent recurrences; each accumulator is loaded and stored once per four samples).
 */
export class Sigreg {
  readonly knots: SigregKnots;
  private St = new Matrix(0, 0);
  private dSt = new Matrix(0, 0);
  private cos1 = new Float64Array(0);
  private sin1 = new Float64Array(0);
  private C = new Float64Array(0);
  private Q = new Float64Array(0);
  private coefA = new Float64Array(0);
  private coefB = new Float64Array(0);
  /** EP_m of the last forward pass */
  perDirection = new Float64Array(0);

  constructor(opts: { knots?: number; tMax?: number } = {}) {
    this.knots = sigregKnots(opts.knots ?? SIGREG_DEFAULTS.knots, opts.tMax ?? SIGREG_DEFAULTS.tMax);
  }

  private ensure(n: number, M: number): void {
    const K = this.knots.t.length;
    if (this.St.rows !== M || this.St.cols !== n) {
      this.St = new Matrix(M, n);
      this.dSt = new Matrix(M, n);
    }
    if (this.cos1.length !== n * M) {
      this.cos1 = new Float64Array(n * M);
      this.sin1 = new Float64Array(n * M);
    }
    if (this.perDirection.length !== M) this.perDirection = new Float64Array(M);
    if (this.C.length !== M * K) {
      this.C = new Float64Array(M * K);
      this.Q = new Float64Array(M * K);
      this.coefA = new Float64Array(M * K);
      this.coefB = new Float64Array(M * K);
    }
  }

  /**
   * SIGReg of H [N × D] along A [D × M]. Inputs are trusted (use `sigreg` for a checked call);
   * fills `perDirection` and caches what `backward` needs.
   */
  forward(H: Matrix, A: Matrix, backend?: Backend): number {
    const n = H.rows, M = A.cols;
    this.ensure(n, M);
    matmul(A, H, { transA: true, transB: true, out: this.St, backend });
    return this.forwardProjections(this.St.data, n, M);
  }

  /**
   * The statistic from transposed projections St [M × n] (row m = s_·m over the n samples);
   * public for tests of the kernel.
   */
  forwardProjections(St: Float32Array | Float64Array, n: number, M: number): number {
    this.ensure(n, M);
    const { dt, phi, weights } = this.knots;
    const K = phi.length;
    const C = this.C, Q = this.Q, cos1 = this.cos1, sin1 = this.sin1;
    C.fill(0);
    Q.fill(0);
    const n4 = n - (n % 4);
    for (let m = 0; m < M; m++) {
      const row = m * n;
      const base = m * K;
      let i = 0;
      for (; i < n4; i += 4) {
        const o = row + i;
        const x0 = St[o] * dt, x1 = St[o + 1] * dt, x2 = St[o + 2] * dt, x3 = St[o + 3] * dt;
        const c0 = Math.cos(x0), c1 = Math.cos(x1), c2 = Math.cos(x2), c3 = Math.cos(x3);
        const s0 = Math.sin(x0), s1 = Math.sin(x1), s2 = Math.sin(x2), s3 = Math.sin(x3);
        cos1[o] = c0; cos1[o + 1] = c1; cos1[o + 2] = c2; cos1[o + 3] = c3;
        sin1[o] = s0; sin1[o + 1] = s1; sin1[o + 2] = s2; sin1[o + 3] = s3;
        const t0 = 2 * c0, t1 = 2 * c1, t2 = 2 * c2, t3 = 2 * c3;
        let cp0 = 1, cp1 = 1, cp2 = 1, cp3 = 1, sp0 = 0, sp1 = 0, sp2 = 0, sp3 = 0;
        let cc0 = c0, cc1 = c1, cc2 = c2, cc3 = c3, sc0 = s0, sc1 = s1, sc2 = s2, sc3 = s3;
        C[base + 1] += cc0 + cc1 + cc2 + cc3;
        Q[base + 1] += sc0 + sc1 + sc2 + sc3;
        for (let j = 2; j < K; j++) {
          const cn0 = t0 * cc0 - cp0, cn1 = t1 * cc1 - cp1, cn2 = t2 * cc2 - cp2, cn3 = t3 * cc3 - cp3;
          const sn0 = t0 * sc0 - sp0, sn1 = t1 * sc1 - sp1, sn2 = t2 * sc2 - sp2, sn3 = t3 * sc3 - sp3;
          C[base + j] += cn0 + cn1 + cn2 + cn3;
          Q[base + j] += sn0 + sn1 + sn2 + sn3;
          cp0 = cc0; cp1 = cc1; cp2 = cc2; cp3 = cc3;
          cc0 = cn0; cc1 = cn1; cc2 = cn2; cc3 = cn3;
          sp0 = sc0; sp1 = sc1; sp2 = sc2; sp3 = sc3;
          sc0 = sn0; sc1 = sn1; sc2 = sn2; sc3 = sn3;
        }
      }
      for (; i < n; i++) {
        const o = row + i;
        const x = St[o] * dt;
        const c1 = Math.cos(x);
        const s1 = Math.sin(x);
        cos1[o] = c1;
        sin1[o] = s1;
        const two = 2 * c1;
        let cp = 1, sp = 0, cc = c1, sc = s1;
        C[base + 1] += cc;
        Q[base + 1] += sc;
        for (let j = 2; j < K; j++) {
          const cn = two * cc - cp;
          const sn = two * sc - sp;
          C[base + j] += cn;
          Q[base + j] += sn;
          cp = cc; cc = cn;
          sp = sc; sc = sn;
        }
      }
    }
    const inv = 1 / n;
    let total = 0;
    for (let m = 0; m < M; m++) {
      const base = m * K;
      C[base] = n; // cos(0·s) = 1 for every sample
      let ep = 0;
      for (let j = 0; j < K; j++) {
        const c = C[base + j] * inv;
        const q = Q[base + j] * inv;
        C[base + j] = c;
        Q[base + j] = q;
        ep += weights[j] * ((c - phi[j]) ** 2 + q * q);
      }
      ep *= n;
      this.perDirection[m] = ep;
      total += ep;
    }
    return total / M;
  }

  /**
   * After `forward(H, A)`: gradOut (+)= scale·∂SIGReg/∂H [N × D]. With `accumulate` the gradient is
   * added to gradOut, else gradOut is overwritten. Returns gradOut.
   */
  backward(A: Matrix, scale = 1, gradOut?: Matrix, accumulate = false, backend?: Backend): Matrix {
    const M = this.St.rows, n = this.St.cols;
    const out = gradOut ?? new Matrix(n, A.rows);
    if (out.rows !== n || out.cols !== A.rows) fail('E_SHAPE', `Sigreg.backward: gradient buffer is [${out.rows} x ${out.cols}], expected [${n} x ${A.rows}]`);
    if (A.cols !== M) fail('E_SHAPE', `Sigreg.backward: directions have ${A.cols} columns, the forward pass used ${M}`);
    this.backwardProjections(scale, this.dSt.data);
    // dH [n × D] = dSᵀᵀ·Aᵀ
    matmul(this.dSt, A, { transA: true, transB: true, out, beta: accumulate ? 1 : 0, backend });
    return out;
  }

  /**
   * dSt [M × n] = scale·∂SIGReg/∂Sᵀ from the cached forward pass (a trigonometric polynomial in
   * each projection, evaluated by the same recurrence); public for tests of the kernel.
   */
  backwardProjections(scale: number, dSt: Float32Array | Float64Array): void {
    const M = this.St.rows, n = this.St.cols;
    const { t, phi, weights } = this.knots;
    const K = phi.length;
    const C = this.C, Q = this.Q, cos1 = this.cos1, sin1 = this.sin1, a = this.coefA, b = this.coefB;
    const f = (2 * scale) / M;
    for (let m = 0; m < M; m++) {
      const base = m * K;
      for (let j = 0; j < K; j++) {
        const wt = f * weights[j] * t[j];
        a[base + j] = wt * Q[base + j];
        b[base + j] = -wt * (C[base + j] - phi[j]);
      }
    }
    const n4 = n - (n % 4);
    for (let m = 0; m < M; m++) {
      const row = m * n;
      const base = m * K;
      const a1 = a[base + 1], b1 = b[base + 1];
      let i = 0;
      for (; i < n4; i += 4) {
        const o = row + i;
        const c0 = cos1[o], c1 = cos1[o + 1], c2 = cos1[o + 2], c3 = cos1[o + 3];
        const s0 = sin1[o], s1 = sin1[o + 1], s2 = sin1[o + 2], s3 = sin1[o + 3];
        const t0 = 2 * c0, t1 = 2 * c1, t2 = 2 * c2, t3 = 2 * c3;
        let cp0 = 1, cp1 = 1, cp2 = 1, cp3 = 1, sp0 = 0, sp1 = 0, sp2 = 0, sp3 = 0;
        let cc0 = c0, cc1 = c1, cc2 = c2, cc3 = c3, sc0 = s0, sc1 = s1, sc2 = s2, sc3 = s3;
        let g0 = a1 * c0 + b1 * s0, g1 = a1 * c1 + b1 * s1, g2 = a1 * c2 + b1 * s2, g3 = a1 * c3 + b1 * s3;
        for (let j = 2; j < K; j++) {
          const aj = a[base + j], bj = b[base + j];
          const cn0 = t0 * cc0 - cp0, cn1 = t1 * cc1 - cp1, cn2 = t2 * cc2 - cp2, cn3 = t3 * cc3 - cp3;
          const sn0 = t0 * sc0 - sp0, sn1 = t1 * sc1 - sp1, sn2 = t2 * sc2 - sp2, sn3 = t3 * sc3 - sp3;
          g0 += aj * cn0 + bj * sn0;
          g1 += aj * cn1 + bj * sn1;
          g2 += aj * cn2 + bj * sn2;
          g3 += aj * cn3 + bj * sn3;
          cp0 = cc0; cp1 = cc1; cp2 = cc2; cp3 = cc3;
          cc0 = cn0; cc1 = cn1; cc2 = cn2; cc3 = cn3;
          sp0 = sc0; sp1 = sc1; sp2 = sc2; sp3 = sc3;
          sc0 = sn0; sc1 = sn1; sc2 = sn2; sc3 = sn3;
        }
        dSt[o] = g0; dSt[o + 1] = g1; dSt[o + 2] = g2; dSt[o + 3] = g3;
      }
      for (; i < n; i++) {
        const o = row + i;
        const c1 = cos1[o];
        const s1 = sin1[o];
        const two = 2 * c1;
        let cp = 1, sp = 0, cc = c1, sc = s1;
        let g = a1 * cc + b1 * sc;
        for (let j = 2; j < K; j++) {
          const cn = two * cc - cp;
          const sn = two * sc - sp;
          g += a[base + j] * cn + b[base + j] * sn;
          cp = cc; cc = cn;
          sp = sc; sc = sn;
        }
        dSt[o] = g;
      }
    }
  }
}

function resolveDirections(H: Matrix, o: SigregOptions): Matrix {
  if (o.directions !== undefined) {
    if (o.numDirections !== undefined && o.numDirections !== o.directions.cols) {
      fail('E_ARG', `numDirections = ${o.numDirections} but directions has ${o.directions.cols} columns; give one or the other`);
    }
    checkDirections(o.directions, H.cols);
    return o.directions;
  }
  const M = o.numDirections ?? SIGREG_DEFAULTS.numDirections;
  assertInt('numDirections', M, 1);
  return randomDirections(H.cols, M, o.seed ?? 0);
}

/**
 * SIGReg of the embeddings H [N × D] (samples are rows): checked, one-shot. Directions are the
 * given `directions` [D × M] (unit columns) or M = `numDirections` random ones from `seed`.
 */
export function sigreg(H: Matrix, opts: SigregOptions = {}): SigregResult {
  checkEmbeddings(H, 'embeddings H');
  const A = resolveDirections(H, opts);
  const s = new Sigreg({ knots: opts.knots, tMax: opts.tMax });
  const value = s.forward(H, A, opts.backend);
  return { value, perDirection: s.perDirection.slice(), directions: A, samples: H.rows };
}

/** SIGReg and its gradient ∂SIGReg/∂H [N × D] (directions held constant). */
export function sigregGrad(H: Matrix, opts: SigregOptions = {}): SigregGradResult {
  checkEmbeddings(H, 'embeddings H');
  const A = resolveDirections(H, opts);
  const s = new Sigreg({ knots: opts.knots, tMax: opts.tMax });
  const value = s.forward(H, A, opts.backend);
  const grad = s.backward(A, 1, undefined, false, opts.backend);
  return { value, perDirection: s.perDirection.slice(), directions: A, samples: H.rows, grad };
}

export { checkEmbeddings as checkSigregEmbeddings };
