import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber } from '../core/validate.js';
import { backend } from '../backend/registry.js';
import { gammaDraw, logGamma } from './dynamics.js';

/**
 * The synthetic worlds of "When does LeJEPA learn a world model?" (arXiv 2605.26379;
 * docs/lejepa.md, read from `klindtlab/lejepa-identifiability` `experiments/lejepa_id/data.py`
 * and `mixing.py`):
 *
 *  - latents z ∈ R^N from a unit-variance law: `gaussian` N(0, I), `laplace` (scale 1/√2) or
 *    `gennorm` with shape α: z = β·sign·G^{1/α}, G ~ Gamma(1/α, 1), β = √(Γ(1/α)/Γ(3/α))
 *    (α = 2 is the Gaussian law, α = 1 the Laplace law, α → ∞ approaches uniform on ±√3);
 *  - two views by independent Ornstein–Uhlenbeck steps from one hidden anchor z:
 *    z_v = ρ·z + √(1 − ρ²)·η_v, η_v drawn from the same law as z (so the views are correlated ρ²);
 *  - an invertible mixing x = g(z): `spiral` g(z) = R(π‖z‖)·z (rotation by the angle π‖z‖),
 *    `banana` (z0, z1 + z0²), `sinusoid` (z0 + sin(1.5·z1), z1) — all 2-D — and `coupling`
 *    (RealNVP-style additive coupling layers, any even N): half = N/2, W_l = 2·Q_l with Q_l the
 *    Q factor of a QR factorisation of a standard normal [half × half] matrix; even layers
 *    z2 += tanh(z1·W_l), odd layers z1 += tanh(z2·W_l);
 *  - the matched encoder (`MatchedEncoder`, in matched-encoder.ts): the exact inverse
 *    architecture of the coupling mixing with its own parameters.
 *
 * Views are stacked view-major: rows v·B … v·B + B − 1 hold view v of the B anchors (the
 * reference's (V, B, N) tensor flattened over its first two axes).
 */

export const LATENT_LAWS = ['gaussian', 'laplace', 'gennorm'] as const;
export type LatentLawKind = (typeof LATENT_LAWS)[number];

/** A unit-variance latent law; `alpha` is the generalised-normal shape (only for `gennorm`). */
export interface LatentLaw {
  kind: LatentLawKind;
  alpha?: number;
}

/** Check a latent law: known kind; for gennorm a finite α > 0. Returns the normalised law. */
export function checkLatentLaw(law: LatentLaw): LatentLaw {
  if (!law || !(LATENT_LAWS as readonly string[]).includes(law.kind)) {
    fail('E_ARG', `unknown latent law ${JSON.stringify(law?.kind)}; choose one of ${LATENT_LAWS.join(', ')}`);
  }
  if (law.kind === 'gennorm') {
    const a = law.alpha;
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0) {
      fail('E_ARG', `alpha (the generalised-normal shape) must be a finite number > 0, got ${a}; use 2 for Gaussian latents, 1 for Laplace, larger for lighter tails`);
    }
    if (a < 0.05 || a > 1000) fail('E_ARG', `alpha = ${a} is outside the supported range [0.05, 1000]; the paper sweeps 0.125 … 32`);
    return { kind: 'gennorm', alpha: a };
  }
  return { kind: law.kind };
}

/** The generalised-normal scale β with unit variance: √(Γ(1/α)/Γ(3/α)). */
export function gennormUnitScale(alpha: number): number {
  return Math.exp(0.5 * (logGamma(1 / alpha) - logGamma(3 / alpha)));
}

/** A function drawing one value from the (checked) law. */
function drawer(law: LatentLaw): (rng: Rng) => number {
  const l = checkLatentLaw(law);
  if (l.kind === 'gaussian') return (rng) => rng.normal();
  if (l.kind === 'laplace') {
    const b = 1 / Math.SQRT2;
    return (rng) => {
      const e = rng.exponential();
      return rng.uniform() < 0.5 ? -b * e : b * e;
    };
  }
  const alpha = l.alpha!;
  const beta = gennormUnitScale(alpha);
  const shape = 1 / alpha;
  return (rng) => {
    const g = gammaDraw(rng, shape);
    const v = beta * Math.pow(g, shape);
    return rng.uniform() < 0.5 ? -v : v;
  };
}

/** n latent vectors in R^dim from `law` (i.i.d. coordinates): Z [n × dim]. */
export function sampleLatents(rng: Rng, n: number, dim: number, law: LatentLaw, out?: Matrix): Matrix {
  assertInt('samples', n, 0);
  assertInt('latents', dim, 1);
  const Z = out ?? new Matrix(n, dim);
  if (Z.rows !== n || Z.cols !== dim) fail('E_SHAPE', `sampleLatents: out is [${Z.rows} x ${Z.cols}], expected [${n} x ${dim}]`);
  const draw = drawer(law);
  for (let i = 0; i < Z.data.length; i++) Z.data[i] = draw(rng);
  return Z;
}

/** Check the OU correlation ρ ∈ (−1, 1). */
export function checkRho(rho: number): void {
  if (typeof rho !== 'number' || !Number.isFinite(rho) || rho <= -1 || rho >= 1) {
    fail('E_ARG', `rho (the OU correlation) must be in (-1, 1), got ${rho}; the paper uses 0.95 (rho = 1 would make the views identical)`);
  }
}

/**
 * `views` OU steps from the anchors Z [B × N]: rows v·B + b = ρ·z_b + √(1 − ρ²)·η, η ~ `law`.
 * Returns [(views·B) × N].
 */
export function ouViews(rng: Rng, Z: Matrix, rho: number, law: LatentLaw, views = 2, out?: Matrix): Matrix {
  checkRho(rho);
  assertInt('views', views, 1);
  const B = Z.rows, N = Z.cols;
  const V = out ?? new Matrix(views * B, N);
  if (V.rows !== views * B || V.cols !== N) fail('E_SHAPE', `ouViews: out is [${V.rows} x ${V.cols}], expected [${views * B} x ${N}]`);
  const draw = drawer(law);
  const q = Math.sqrt(1 - rho * rho);
  const size = B * N;
  for (let v = 0; v < views; v++) {
    const o = v * size;
    for (let i = 0; i < size; i++) V.data[o + i] = rho * Z.data[i] + q * draw(rng);
  }
  return V;
}

/** The 100 × 100 evaluation grid over [−3, 3]² (N = 2), ordered as torch.meshgrid(g, g, indexing='ij'). */
export function latentGrid(points = 100, limit = 3): Matrix {
  assertInt('points', points, 2);
  assertNumber('limit', limit, 0, Infinity, { exclusiveMin: true });
  const G = new Matrix(points * points, 2);
  for (let i = 0; i < points; i++) {
    for (let j = 0; j < points; j++) {
      const r = i * points + j;
      G.data[2 * r] = -limit + (2 * limit * i) / (points - 1);
      G.data[2 * r + 1] = -limit + (2 * limit * j) / (points - 1);
    }
  }
  return G;
}

/* ---------------------------------------------------------------------------------------- */
/* Mixings                                                                                   */
/* ---------------------------------------------------------------------------------------- */

export const MIXINGS = ['spiral', 'banana', 'sinusoid', 'coupling'] as const;
export type MixingName = (typeof MIXINGS)[number];

/** An invertible map x = g(z) on R^dim. */
export interface Mixing {
  readonly name: MixingName;
  readonly dim: number;
  /** x = g(z) for each row of Z [n × dim]; writes into `out` when given */
  apply(Z: Matrix, out?: Matrix): Matrix;
  /** z = g⁻¹(x) (for tests and the matched encoder's target) */
  inverse(X: Matrix): Matrix;
}

function prepare(name: string, dim: number, Z: Matrix, out?: Matrix): Matrix {
  if (Z.cols !== dim) fail('E_SHAPE', `${name} mixing: input has ${Z.cols} columns, the mixing acts on R^${dim}`);
  const o = out ?? new Matrix(Z.rows, dim);
  if (o.rows !== Z.rows || o.cols !== dim) fail('E_SHAPE', `${name} mixing: out is [${o.rows} x ${o.cols}], expected [${Z.rows} x ${dim}]`);
  return o;
}

/** Spiral: g(z) = R(π‖z‖)·z, a measure-preserving rotation by an angle that grows with the radius. */
export const spiralMixing: Mixing = {
  name: 'spiral',
  dim: 2,
  apply(Z, out) {
    const o = prepare('spiral', 2, Z, out);
    for (let i = 0; i < Z.rows; i++) {
      const a = Z.data[2 * i], b = Z.data[2 * i + 1];
      const th = Math.PI * Math.sqrt(a * a + b * b);
      const c = Math.cos(th), s = Math.sin(th);
      o.data[2 * i] = c * a - s * b;
      o.data[2 * i + 1] = s * a + c * b;
    }
    return o;
  },
  inverse(X) {
    // ‖g(z)‖ = ‖z‖, so rotate back by the same angle
    const o = prepare('spiral', 2, X);
    for (let i = 0; i < X.rows; i++) {
      const a = X.data[2 * i], b = X.data[2 * i + 1];
      const th = -Math.PI * Math.sqrt(a * a + b * b);
      const c = Math.cos(th), s = Math.sin(th);
      o.data[2 * i] = c * a - s * b;
      o.data[2 * i + 1] = s * a + c * b;
    }
    return o;
  },
};

/** Banana: (z0, z1 + z0²). */
export const bananaMixing: Mixing = {
  name: 'banana',
  dim: 2,
  apply(Z, out) {
    const o = prepare('banana', 2, Z, out);
    for (let i = 0; i < Z.rows; i++) {
      const a = Z.data[2 * i];
      o.data[2 * i] = a;
      o.data[2 * i + 1] = Z.data[2 * i + 1] + a * a;
    }
    return o;
  },
  inverse(X) {
    const o = prepare('banana', 2, X);
    for (let i = 0; i < X.rows; i++) {
      const a = X.data[2 * i];
      o.data[2 * i] = a;
      o.data[2 * i + 1] = X.data[2 * i + 1] - a * a;
    }
    return o;
  },
};

/** Sinusoidal shear: (z0 + sin(1.5·z1), z1). */
export const sinusoidMixing: Mixing = {
  name: 'sinusoid',
  dim: 2,
  apply(Z, out) {
    const o = prepare('sinusoid', 2, Z, out);
    for (let i = 0; i < Z.rows; i++) {
      const b = Z.data[2 * i + 1];
      o.data[2 * i] = Z.data[2 * i] + Math.sin(1.5 * b);
      o.data[2 * i + 1] = b;
    }
    return o;
  },
  inverse(X) {
    const o = prepare('sinusoid', 2, X);
    for (let i = 0; i < X.rows; i++) {
      const b = X.data[2 * i + 1];
      o.data[2 * i] = X.data[2 * i] - Math.sin(1.5 * b);
      o.data[2 * i + 1] = b;
    }
    return o;
  },
};

/**
 * Q of the QR factorisation of a square matrix a [n × n] (row-major, float64) by Householder
 * reflections with LAPACK's sign convention (dgeqrf/dorgqr, as torch.linalg.qr): a column whose
 * entries below the diagonal are all zero gets no reflection (so the 1 × 1 case gives Q = [1]).
 */
export function householderQ(a: ArrayLike<number>, n: number): Float64Array {
  const R = Float64Array.from(a);
  const vs: Float64Array[] = [];
  const taus: number[] = [];
  for (let k = 0; k < n; k++) {
    const alpha = R[k * n + k];
    let xnorm = 0;
    for (let i = k + 1; i < n; i++) xnorm += R[i * n + k] ** 2;
    xnorm = Math.sqrt(xnorm);
    const v = new Float64Array(n);
    if (xnorm === 0) {
      vs.push(v);
      taus.push(0);
      continue;
    }
    const beta = -(alpha >= 0 ? 1 : -1) * Math.hypot(alpha, xnorm);
    const tau = (beta - alpha) / beta;
    v[k] = 1;
    for (let i = k + 1; i < n; i++) v[i] = R[i * n + k] / (alpha - beta);
    // R ← (I − τ v vᵀ) R on columns k … n−1
    for (let j = k; j < n; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i] * R[i * n + j];
      s *= tau;
      for (let i = k; i < n; i++) R[i * n + j] -= s * v[i];
    }
    vs.push(v);
    taus.push(tau);
  }
  // Q = H_0 H_1 … H_{n−1}: apply to the identity from the last reflection to the first
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const tau = taus[k];
    if (tau === 0) continue;
    const v = vs[k];
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i] * Q[i * n + j];
      s *= tau;
      for (let i = k; i < n; i++) Q[i * n + j] -= s * v[i];
    }
  }
  return Q;
}

/**
 * `rows` rows of `src` (row stride `lds`, starting at column offset `so`) times W [h × h]:
 * out [rows × h] = src[:, so:so+h]·W, one GEMM through the backend.
 */
function halfTimesW(src: Float32Array, lds: number, so: number, rows: number, h: number, W: Float32Array, out: Float32Array): void {
  if (rows === 0) return;
  backend().sgemm(false, false, rows, h, h, 1, src.subarray(so), lds, W, h, 0, out, h);
}

/**
 * Additive coupling mixing on R^N (N even): `layers` layers with W_l = 2·Q_l (Q_l orthogonal,
 * from the QR of a standard normal matrix drawn from `seed`); layer l even: z2 += tanh(z1·W_l),
 * odd: z1 += tanh(z2·W_l), z1 = first half, z2 = second half. Float32, like the reference.
 */
export class AdditiveCouplingMixing implements Mixing {
  readonly name = 'coupling' as const;
  readonly dim: number;
  readonly half: number;
  readonly layers: number;
  /** W_l [half × half], row-major float32 */
  readonly weights: Float32Array[];

  constructor(dim: number, opts: { layers?: number; seed?: Seed | Rng } = {}) {
    assertInt('latents', dim, 2);
    if (dim % 2 !== 0) fail('E_ARG', `the coupling mixing needs an even number of latents (it splits z in two halves), got ${dim}`);
    const layers = opts.layers ?? 4;
    assertInt('layers', layers, 1, 64);
    this.dim = dim;
    this.half = dim / 2;
    this.layers = layers;
    const rng = toRng(opts.seed);
    const h = this.half;
    this.weights = [];
    for (let l = 0; l < layers; l++) {
      const g = new Float64Array(h * h);
      for (let i = 0; i < g.length; i++) g[i] = rng.normal();
      const Q = householderQ(g, h);
      this.weights.push(Float32Array.from(Q, (v) => 2 * v));
    }
  }

  private run(Z: Matrix, sign: 1 | -1, out?: Matrix): Matrix {
    const o = prepare('coupling', this.dim, Z, out);
    if (o !== Z) o.data.set(Z.data);
    const n = Z.rows, N = this.dim, h = this.half;
    const T = new Float32Array(n * h);
    const order = sign === 1 ? [...Array(this.layers).keys()] : [...Array(this.layers).keys()].reverse();
    for (const l of order) {
      const even = l % 2 === 0;
      // even layers read z1 (columns 0..h−1) and update z2; odd layers the other way round
      halfTimesW(o.data, N, even ? 0 : h, n, h, this.weights[l], T);
      const dst = even ? h : 0;
      for (let i = 0; i < n; i++) {
        const r = i * N + dst, t = i * h;
        for (let k = 0; k < h; k++) o.data[r + k] += sign * Math.tanh(T[t + k]);
      }
    }
    return o;
  }

  apply(Z: Matrix, out?: Matrix): Matrix {
    return this.run(Z, 1, out);
  }

  inverse(X: Matrix): Matrix {
    return this.run(X, -1);
  }
}

/** A mixing by name: 2-D ones need latents = 2; coupling any even number (`layers`, `seed`). */
export function makeMixing(name: string, latents: number, opts: { layers?: number; seed?: Seed | Rng } = {}): Mixing {
  if (!(MIXINGS as readonly string[]).includes(name)) fail('E_ARG', `unknown mixing "${name}"; choose one of ${MIXINGS.join(', ')}`);
  if (name === 'coupling') return new AdditiveCouplingMixing(latents, opts);
  if (latents !== 2) fail('E_ARG', `the ${name} mixing is 2-D (latents = 2), got latents = ${latents}; use the coupling mixing for other dimensions`);
  return name === 'spiral' ? spiralMixing : name === 'banana' ? bananaMixing : sinusoidMixing;
}

/* ---------------------------------------------------------------------------------------- */
/* A world: fresh batches every step                                                         */
/* ---------------------------------------------------------------------------------------- */

export interface OuWorldOptions {
  latents: number;
  mixing: MixingName;
  law?: LatentLaw;
  /** OU correlation ρ ∈ (−1, 1) (default 0.95) */
  rho?: number;
  /** coupling layers (default 4) */
  layers?: number;
  /** seed of the mixing's weights */
  seed?: Seed;
}

/** One training batch: B anchors, their V views and the views' observations. */
export interface OuBatch {
  /** anchors [B × N] */
  anchors: Matrix;
  /** latents of the views [(V·B) × N], view-major */
  z: Matrix;
  /** observations x = g(z) [(V·B) × N] */
  x: Matrix;
}

/**
 * A two-view OU world with fresh data on every call of `batch` (all draws from the given Rng),
 * plus the evaluation helpers: `eval` (n source samples, their observations and one OU step
 * z′ for the bound's L_h) and `grid` (the 100 × 100 grid over [−3, 3]², N = 2).
 */
export class OuWorld {
  readonly latents: number;
  readonly law: LatentLaw;
  readonly rho: number;
  readonly mixing: Mixing;
  private buf: OuBatch | null = null;

  constructor(opts: OuWorldOptions) {
    assertInt('latents', opts.latents, 1);
    this.latents = opts.latents;
    this.law = checkLatentLaw(opts.law ?? { kind: 'gaussian' });
    this.rho = opts.rho ?? 0.95;
    checkRho(this.rho);
    this.mixing = makeMixing(opts.mixing, opts.latents, { layers: opts.layers, seed: opts.seed ?? 0 });
  }

  /** B fresh anchors and `views` OU views of them (buffers reused between calls of the same size). */
  batch(rng: Rng, B: number, views = 2): OuBatch {
    assertInt('batch', B, 1);
    const N = this.latents;
    if (!this.buf || this.buf.anchors.rows !== B || this.buf.z.rows !== views * B) {
      this.buf = { anchors: new Matrix(B, N), z: new Matrix(views * B, N), x: new Matrix(views * B, N) };
    }
    const b = this.buf;
    sampleLatents(rng, B, N, this.law, b.anchors);
    ouViews(rng, b.anchors, this.rho, this.law, views, b.z);
    this.mixing.apply(b.z, b.x);
    return b;
  }

  /** n evaluation latents z, x = g(z), and one OU step z′ from z with its observation x′. */
  evalSet(rng: Rng, n: number): { z: Matrix; x: Matrix; zPrime: Matrix; xPrime: Matrix } {
    const z = sampleLatents(rng, n, this.latents, this.law);
    const zPrime = ouViews(rng, z, this.rho, this.law, 1);
    const x = this.mixing.apply(z);
    assertFinite('observations', x);
    return { z, x, zPrime, xPrime: this.mixing.apply(zPrime) };
  }
}
