import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt } from '../core/validate.js';
import { gammaDraw } from './dynamics.js';

/**
 * Von Mises–Fisher latents on the sphere S^{n−1} ⊂ R^n, and the cluster world of "Cross-Entropy
 * Is All You Need To Invert the Data Generating Process" (Reizinger et al.; PROTOCOLS.md §2.1,
 * code `klindtlab/csi`):
 *  - C cluster vectors v_c uniform on the sphere (normalised Gaussians);
 *  - one example: an index i ~ U{0, …, N_idx − 1}, its cluster c = i mod C, and a fresh
 *    z ~ vMF(v_c, κ) at every draw (there is no fixed dataset).
 *
 * vMF sampler (Wood 1994), with d = n − 1: b = d/(√(4κ² + d²) + 2κ), x₀ = (1 − b)/(1 + b),
 * c = κx₀ + d·ln(1 − x₀²); repeat y ~ Beta(d/2, d/2), w = (1 − (1 + b)y)/(1 − (1 − b)y),
 * u ~ U(0, 1) until κw + d·ln(1 − x₀w) − c ≥ ln u; then v uniform on the unit sphere orthogonal
 * to μ and z = v·√(1 − w²) + w·μ. The cosine w = μᵀz has density ∝ e^{κw}(1 − w²)^{(n−3)/2}.
 */

/** A Beta(a, b) draw as G_a/(G_a + G_b) with Gamma draws. */
export function betaDraw(rng: Rng, a: number, b: number): number {
  const x = gammaDraw(rng, a);
  const y = gammaDraw(rng, b);
  return x / (x + y);
}

/** `rows` points uniform on S^{n−1} (normalised standard normals), [rows x n]. */
export function uniformSphere(rows: number, n: number, rng: Rng): Matrix {
  assertInt('rows', rows, 0);
  assertInt('sphere dimension n', n, 1);
  const out = new Matrix(rows, n);
  const v = new Float64Array(n);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    do {
      s = 0;
      for (let j = 0; j < n; j++) {
        v[j] = rng.normal();
        s += v[j] * v[j];
      }
    } while (s === 0);
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < n; j++) out.data[i * n + j] = v[j] * inv;
  }
  return out;
}

function checkKappa(kappa: number): void {
  if (typeof kappa !== 'number' || !Number.isFinite(kappa) || !(kappa > 0)) {
    fail('E_ARG', `vMF concentration kappa must be a finite number > 0, got ${kappa}; use e.g. 10 (the paper's default)`);
  }
}

/** The constants of Wood's rejection sampler for concentration κ on S^{n−1}. */
export function woodConstants(kappa: number, n: number): { d: number; b: number; x0: number; c: number } {
  checkKappa(kappa);
  assertInt('sphere dimension n', n, 2);
  const d = n - 1;
  const b = d / (Math.sqrt(4 * kappa * kappa + d * d) + 2 * kappa);
  const x0 = (1 - b) / (1 + b);
  return { d, b, x0, c: kappa * x0 + d * Math.log(1 - x0 * x0) };
}

/** One draw of w = μᵀz (Wood's rejection step). */
export function vmfCosine(kappa: number, n: number, rng: Rng, k = woodConstants(kappa, n)): number {
  const { d, b, x0, c } = k;
  for (;;) {
    const y = betaDraw(rng, d / 2, d / 2);
    const w = (1 - (1 + b) * y) / (1 - (1 - b) * y);
    const u = rng.uniform();
    if (kappa * w + d * Math.log(1 - x0 * w) - c >= Math.log(u)) return w;
  }
}

/**
 * Draw z ~ vMF(μ, κ) into out[off .. off + n). μ must be a unit vector (it is used as given).
 * `tmp` (length n) is scratch space.
 */
export function vmfDrawInto(mu: ArrayLike<number>, muOff: number, n: number, kappa: number, rng: Rng, out: Float32Array | Float64Array, off: number, tmp: Float64Array, k = woodConstants(kappa, n)): void {
  const w = vmfCosine(kappa, n, rng, k);
  // v: a standard normal with its μ component removed, normalised
  let s: number;
  do {
    let dotp = 0;
    for (let j = 0; j < n; j++) {
      tmp[j] = rng.normal();
      dotp += tmp[j] * mu[muOff + j];
    }
    s = 0;
    for (let j = 0; j < n; j++) {
      tmp[j] -= dotp * mu[muOff + j];
      s += tmp[j] * tmp[j];
    }
  } while (!(s > 1e-300));
  const r = Math.sqrt(Math.max(0, 1 - w * w)) / Math.sqrt(s);
  for (let j = 0; j < n; j++) out[off + j] = tmp[j] * r + w * mu[muOff + j];
}

/** `rows` draws from vMF(μ, κ), [rows x n]. */
export function sampleVmf(mu: ArrayLike<number>, kappa: number, rows: number, rng: Rng): Matrix {
  const n = mu.length;
  assertInt('rows', rows, 0);
  let nm = 0;
  for (let j = 0; j < n; j++) {
    if (!Number.isFinite(mu[j])) fail('E_NONFINITE', `vMF mean direction mu[${j}] is ${mu[j]}; give a finite unit vector`);
    nm += mu[j] * mu[j];
  }
  if (!(Math.abs(nm - 1) < 1e-6)) fail('E_ARG', `vMF mean direction must be a unit vector, its norm is ${Math.sqrt(nm)}; normalise it first`);
  const k = woodConstants(kappa, n);
  const out = new Matrix(rows, n);
  const tmp = new Float64Array(n);
  for (let i = 0; i < rows; i++) vmfDrawInto(mu, 0, n, kappa, rng, out.data, i * n, tmp, k);
  return out;
}

export interface VmfClusterOptions {
  /** latent dimension n (sphere S^{n−1}); default 5 */
  n?: number;
  /** number of cluster vectors C; default 100 */
  clusters?: number;
  /** size of the index space N_idx (every index i belongs to cluster i mod C); default 10240 */
  indices?: number;
  /** vMF concentration κ > 0; default 10 */
  kappa?: number;
  /** seed of the cluster vectors */
  seed?: Seed;
}

/** A batch of the cluster world: latents z [batch x n], their indices and clusters. */
export interface VmfBatch {
  z: Matrix;
  index: Int32Array;
  cluster: Int32Array;
}

/** The vMF cluster world: fixed cluster vectors, fresh latents at every draw. */
export class VmfClusterWorld {
  readonly n: number;
  readonly clusters: number;
  readonly indices: number;
  readonly kappa: number;
  /** cluster vectors [C x n], unit norm */
  readonly centers: Matrix;
  private readonly k: ReturnType<typeof woodConstants>;
  private readonly tmp: Float64Array;

  constructor(o: VmfClusterOptions = {}) {
    this.n = o.n ?? 5;
    this.clusters = o.clusters ?? 100;
    this.indices = o.indices ?? 10240;
    this.kappa = o.kappa ?? 10;
    assertInt('latent dimension n', this.n, 2);
    assertInt('clusters', this.clusters, 1);
    assertInt('indices', this.indices, 1);
    checkKappa(this.kappa);
    if (this.clusters > this.indices) {
      fail('E_ARG', `clusters (${this.clusters}) > indices (${this.indices}): every cluster needs at least one index; use clusters <= indices`);
    }
    this.k = woodConstants(this.kappa, this.n);
    this.tmp = new Float64Array(this.n);
    this.centers = uniformSphere(this.clusters, this.n, new Rng(o.seed ?? 0).fork('cluster-vectors'));
  }

  /** Draw `batch` examples: index uniform, cluster = index mod C, z ~ vMF(v_cluster, κ). */
  sample(batch: number, rng: Rng): VmfBatch {
    assertInt('batch', batch, 0);
    const { n } = this;
    const z = new Matrix(batch, n);
    const index = new Int32Array(batch);
    const cluster = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      const idx = rng.int(this.indices);
      const c = idx % this.clusters;
      index[i] = idx;
      cluster[i] = c;
      vmfDrawInto(this.centers.data, c * n, n, this.kappa, rng, z.data, i * n, this.tmp, this.k);
    }
    return { z, index, cluster };
  }
}
