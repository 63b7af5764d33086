import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Latent-dynamics world (PAPERS sec. 6, LeJEPA world-model guarantee): latents
 * z ~ law (standard normal by default, or a unit-variance generalised normal with shape α),
 * views by Ornstein-Uhlenbeck steps z' = ρ·z + √(1−ρ²)·η (η drawn from the same law), and
 * observations x = g(z) through an invertible nonlinear mixing g made of additive tanh
 * coupling layers. Returns the latents and observations of every view:
 *   { Z: Matrix[] (views, each [samples x latents]), X: Matrix[] (same shapes), mixing, params }
 */

/** lnΓ(x) for x > 0 (Lanczos, g = 7, n = 9; |error| < 1e-13 over the range used here). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Gamma(shape, 1) by Marsaglia-Tsang (shape < 1 via the U^(1/shape) boost). */
export function gammaDraw(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.uniform();
    return gammaDraw(rng, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * A draw from the generalised normal law with shape α, density ∝ exp(−|x/s|^α), scaled to
 * unit variance (α = 2 is the standard normal; α < 2 heavier tails, α → ∞ uniform-like).
 */
export function generalizedNormalDraw(rng: Rng, alpha: number): number {
  if (alpha === 2) return rng.normal();
  // |x/s|^α ~ Gamma(1/α); Var = s² Γ(3/α)/Γ(1/α) = 1
  const s = Math.exp(0.5 * (logGamma(1 / alpha) - logGamma(3 / alpha)));
  const g = gammaDraw(rng, 1 / alpha);
  return (rng.uniform() < 0.5 ? -1 : 1) * s * Math.pow(g, 1 / alpha);
}

/**
 * Invertible mixing: `layers` additive coupling layers on a dim-dimensional vector. Layer l
 * splits the coordinates (after a fixed permutation) into a first half a and a second half
 * b and sets b ← b + scale·tanh(a·W_l + c_l); `forward` applies them in order, `inverse`
 * undoes them exactly.
 */
export class CouplingMixing {
  readonly dim: number;
  readonly layers: number;
  private readonly perms: Int32Array[];
  private readonly W: Float64Array[];
  private readonly c: Float64Array[];
  private readonly scale: number;

  constructor(dim: number, layers: number, rng: Rng, scale = 1) {
    assertInt('dim', dim, 2);
    assertInt('layers', layers, 0);
    assertNumber('scale', scale, 0);
    this.dim = dim;
    this.layers = layers;
    this.scale = scale;
    const h = Math.floor(dim / 2);
    this.perms = [];
    this.W = [];
    this.c = [];
    for (let l = 0; l < layers; l++) {
      this.perms.push(rng.permutation(dim));
      const W = new Float64Array(h * (dim - h));
      for (let i = 0; i < W.length; i++) W[i] = (2 * rng.normal()) / Math.sqrt(h);
      this.W.push(W);
      const c = new Float64Array(dim - h);
      for (let i = 0; i < c.length; i++) c[i] = 0.5 * rng.normal();
      this.c.push(c);
    }
  }

  private apply(Z: Matrix, sign: 1 | -1): Matrix {
    if (Z.cols !== this.dim) fail('E_SHAPE', `mixing: input has ${Z.cols} columns, the mixing has dim ${this.dim}`);
    const out = Z.clone();
    const d = this.dim;
    const h = Math.floor(d / 2);
    const v = new Float64Array(d);
    const order = sign === 1 ? [...Array(this.layers).keys()] : [...Array(this.layers).keys()].reverse();
    for (let i = 0; i < out.rows; i++) {
      const row = out.row(i);
      for (let j = 0; j < d; j++) v[j] = row[j];
      for (const l of order) {
        const p = this.perms[l];
        const W = this.W[l];
        const c = this.c[l];
        for (let b = 0; b < d - h; b++) {
          let s = c[b];
          for (let a = 0; a < h; a++) s += v[p[a]] * W[a * (d - h) + b];
          v[p[h + b]] += sign * this.scale * Math.tanh(s);
        }
      }
      for (let j = 0; j < d; j++) row[j] = v[j];
    }
    return out;
  }

  forward(Z: Matrix): Matrix {
    return this.apply(Z, 1);
  }

  inverse(X: Matrix): Matrix {
    return this.apply(X, -1);
  }
}

export interface LatentDynamicsOptions {
  samples: number;
  /** latent dimension (= observation dimension; >= 2) */
  latents: number;
  /** number of views (default 2): view 0 is z, view v+1 an OU step from view v */
  views?: number;
  /** OU correlation ρ in [0, 1) (default 0.95) */
  rho?: number;
  /** coupling layers of the mixing (default 3; 0 = identity, a linear world) */
  layers?: number;
  /** strength of each coupling (default 1) */
  couplingScale?: number;
  /** generalised-normal shape α of the latent law (default 2 = Gaussian) */
  alpha?: number;
  seed?: Seed | Rng;
}

export interface LatentDynamicsWorld {
  kind: 'dynamics';
  /** latents per view, [samples x latents] */
  Z: Matrix[];
  /** observations per view, x = g(z) */
  X: Matrix[];
  mixing: CouplingMixing;
  params: Record<string, string | number | boolean | null>;
}

export function latentDynamicsWorld(opts: LatentDynamicsOptions): LatentDynamicsWorld {
  assertInt('samples', opts.samples, 1);
  assertInt('latents', opts.latents, 2);
  const views = opts.views ?? 2;
  assertInt('views', views, 1);
  const rho = opts.rho ?? 0.95;
  assertNumber('rho', rho, 0, 1);
  if (rho >= 1) fail('E_ARG', `rho must be < 1 (views would be identical), got ${rho}`);
  const layers = opts.layers ?? 3;
  assertInt('layers', layers, 0);
  const alpha = opts.alpha ?? 2;
  assertNumber('alpha', alpha, 0, Infinity, { exclusiveMin: true });
  const root = opts.seed instanceof Rng ? opts.seed.split() : new Rng(opts.seed ?? 0);
  const mixing = new CouplingMixing(opts.latents, layers, root.fork('mixing'), opts.couplingScale ?? 1);
  const lat = root.fork('latents');
  const n = opts.samples, d = opts.latents;
  const Z: Matrix[] = [];
  const z0 = new Matrix(n, d);
  for (let i = 0; i < z0.data.length; i++) z0.data[i] = generalizedNormalDraw(lat, alpha);
  Z.push(z0);
  const q = Math.sqrt(1 - rho * rho);
  for (let v = 1; v < views; v++) {
    const prev = Z[v - 1];
    const next = new Matrix(n, d);
    for (let i = 0; i < next.data.length; i++) next.data[i] = rho * prev.data[i] + q * generalizedNormalDraw(lat, alpha);
    Z.push(next);
  }
  return {
    kind: 'dynamics',
    Z,
    X: Z.map((z) => mixing.forward(z)),
    mixing,
    params: {
      samples: n, latents: d, views, rho, layers, couplingScale: opts.couplingScale ?? 1, alpha,
      seed: opts.seed instanceof Rng ? null : (opts.seed ?? 0),
    },
  };
}
