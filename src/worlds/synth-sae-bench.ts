import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { matmul } from '../backend/ops.js';

/**
 * SynthSAEBench-style worlds (ECOSYSTEM §5.6; SAELens `sae_lens.synthetic`): G features with
 * Zipfian firing probabilities, a forest of feature hierarchies (a child fires only while its
 * parent fires; the children of a node are mutually exclusive), low-rank correlated firing
 * (Gaussian copula), an orthogonalised unit-norm dictionary, Gaussian magnitudes with means linear
 * from `magMeanFirst` to `magMeanLast` and per-feature standard deviations |N(0.5, 0.5)|, and a
 * fixed bias vector of norm `bias`. x = sum_i a_i D_i + b. Samples are generated in batches from a
 * seed (streaming: nothing but the dictionary and the per-feature parameters is stored).
 */
export interface SynthSAEBenchConfig {
  features: number;
  dim: number;
  zipfExponent: number;
  pMax: number;
  pMin: number;
  roots: number;
  branching: number;
  /** levels below the roots (max_depth 1: roots with leaf children) */
  depth: number;
  corrRank: number;
  corrScale: number;
  orthoSteps: number;
  orthoLr: number;
  magMeanFirst: number;
  magMeanLast: number;
  stdMean: number;
  stdStd: number;
  bias: number;
  /**
   * SAELens `compensate_probabilities` [true]: a child is drawn with probability
   * p_child / p_parent × (1 + Σ p_siblings / p_parent) (at most 1), so that after its parent's
   * gate and the mutual exclusion it fires about p_child of the time
   */
  compensate?: boolean;
  /** SAELens `scale_children_by_parent` [true]: a child's activation is multiplied by parent / parent's mean magnitude */
  scaleChildren?: boolean;
}

export const SYNTH_SAE_BENCH_PRESETS: Record<'16k' | 'small', SynthSAEBenchConfig> = {
  '16k': { features: 16384, dim: 768, zipfExponent: 0.5, pMax: 0.4, pMin: 5e-4, roots: 128, branching: 4, depth: 3, corrRank: 25, corrScale: 0.1, orthoSteps: 100, orthoLr: 3e-4, magMeanFirst: 5, magMeanLast: 4, stdMean: 0.5, stdStd: 0.5, bias: 0.5, compensate: true, scaleChildren: true },
  small: { features: 1024, dim: 128, zipfExponent: 0.5, pMax: 0.4, pMin: 5e-4, roots: 8, branching: 4, depth: 3, corrRank: 25, corrScale: 0.1, orthoSteps: 100, orthoLr: 3e-4, magMeanFirst: 5, magMeanLast: 4, stdMean: 0.5, stdStd: 0.5, bias: 0.5, compensate: true, scaleChildren: true },
};

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normInv(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const dd = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((dd[0] * q + dd[1]) * q + dd[2]) * q + dd[3]) * q + 1);
  }
  if (p > 1 - lo) return -normInv(1 - p);
  const q = p - 0.5, r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Zipfian firing probabilities: rank^-exponent rescaled linearly onto [pMin, pMax] (feature 0 the most frequent). */
export function zipfProbabilities(n: number, exponent: number, pMin: number, pMax: number): Float64Array {
  const p = new Float64Array(n);
  const lo = Math.pow(n, -exponent);
  for (let i = 0; i < n; i++) {
    const v = Math.pow(i + 1, -exponent);
    p[i] = n === 1 ? pMax : pMin + ((pMax - pMin) * (v - lo)) / (1 - lo);
  }
  return p;
}

export function checkSynthConfig(c: SynthSAEBenchConfig): void {
  const ints: (keyof SynthSAEBenchConfig)[] = ['features', 'dim', 'roots', 'branching', 'depth', 'corrRank', 'orthoSteps'];
  for (const k of ints) if (!Number.isInteger(c[k]) || (c[k] as number) < (k === 'features' || k === 'dim' ? 1 : 0)) fail('E_ARG', `synth-sae-bench: ${k} must be a non-negative integer (features, dim >= 1), got ${c[k]}`);
  if (!(c.pMin > 0 && c.pMin <= c.pMax && c.pMax <= 1)) fail('E_ARG', `synth-sae-bench: need 0 < pMin <= pMax <= 1, got pMin ${c.pMin}, pMax ${c.pMax}`);
  for (const k of ['compensate', 'scaleChildren'] as const) if (c[k] !== undefined && typeof c[k] !== 'boolean') fail('E_ARG', `synth-sae-bench: ${k} must be true or false (default true, as SAELens's benchmark), got ${JSON.stringify(c[k])}`);
  const per = treeSize(c.branching, c.depth);
  if (c.roots * per > c.features) {
    fail('E_ARG', `synth-sae-bench: a hierarchy of ${c.roots} roots, branching ${c.branching}, depth ${c.depth} needs ${c.roots} x ${per} = ${c.roots * per} features, but there are only ${c.features}; use fewer roots, a smaller branching or depth, or more features`);
  }
}

function treeSize(b: number, depth: number): number {
  let s = 0, l = 1;
  for (let k = 0; k <= depth; k++) { s += l; l *= b; }
  return s;
}

export class SynthSAEBenchWorld {
  readonly config: SynthSAEBenchConfig;
  /** unit-norm dictionary [features x dim] */
  readonly D: Matrix;
  readonly p: Float64Array;
  /** firing thresholds Φ⁻¹(p_i) on the copula latent */
  readonly zThr: Float64Array;
  readonly magMean: Float64Array;
  readonly magStd: Float64Array;
  readonly biasVec: Float32Array;
  /** low-rank factor [features x rank] */
  readonly factor: Float64Array;
  /** parent of each feature (-1 for none) and the children lists */
  readonly parent: Int32Array;
  readonly children: number[][];
  /** features in top-down order (parents before children) for applying the hierarchy */
  readonly topDown: number[];
  /** max |cos| between distinct dictionary rows before and after orthogonalisation */
  readonly maxCos: { before: number; after: number };

  constructor(config: SynthSAEBenchConfig, seed: number) {
    checkSynthConfig(config);
    this.config = { ...config };
    const c = config, G = c.features, d = c.dim;
    const rng = new Rng(seed);
    this.p = zipfProbabilities(G, c.zipfExponent, c.pMin, c.pMax);
    this.magMean = new Float64Array(G);
    this.magStd = new Float64Array(G);
    const mr = rng.fork('magnitudes');
    for (let i = 0; i < G; i++) {
      this.magMean[i] = G === 1 ? c.magMeanFirst : c.magMeanFirst + ((c.magMeanLast - c.magMeanFirst) * i) / (G - 1);
      this.magStd[i] = Math.abs(c.stdMean + c.stdStd * mr.normal());
    }
    // hierarchy, as SAELens builds it: the trees take the first (most frequent) features,
    // breadth-first: the roots are features 0 .. roots−1, their children the next ones, and so on
    this.parent = new Int32Array(G).fill(-1);
    this.children = Array.from({ length: G }, () => []);
    let next = 0;
    const levels: number[][] = [];
    let level: number[] = [];
    for (let r = 0; r < c.roots; r++) level.push(next++);
    levels.push(level);
    for (let k = 1; k <= c.depth; k++) {
      const nl: number[] = [];
      for (const par of level) for (let b = 0; b < c.branching; b++) { const ch = next++; this.parent[ch] = par; this.children[par].push(ch); nl.push(ch); }
      levels.push(nl);
      level = nl;
    }
    this.topDown = levels.flat();
    // the copula thresholds: the base probabilities, children's compensated for the gate and the exclusion
    const q = Float64Array.from(this.p);
    if (c.compensate !== false) {
      for (const f of this.topDown) {
        const par = this.parent[f];
        if (par < 0) continue;
        const sib = this.children[par];
        let others = 0;
        if (sib.length >= 2) for (const h of sib) if (h !== f) others += this.p[h];
        q[f] = Math.min(1, (this.p[f] / this.p[par]) * (1 + others / this.p[par]));
      }
    }
    this.zThr = Float64Array.from(q, normInv);
    // low-rank correlation factor, rows scaled to norm 1
    const R = c.corrRank;
    this.factor = new Float64Array(G * R);
    const fr = rng.fork('correlation');
    for (let i = 0; i < G; i++) {
      let s = 0;
      for (let q = 0; q < R; q++) { const v = fr.normal(); this.factor[i * R + q] = v; s += v * v; }
      const nrm = Math.sqrt(s) || 1;
      for (let q = 0; q < R; q++) this.factor[i * R + q] /= nrm;
    }
    // dictionary: random unit rows, then orthogonalised by gradient steps on sum_{i != j} cos_ij^2
    const D = new Matrix(G, d);
    rng.fork('dictionary').fillNormal(D.data);
    normalize(D);
    const before = maxOffCos(D);
    for (let s = 0; s < c.orthoSteps; s++) {
      const grad = orthogonalityGradient(D);
      for (let t = 0; t < D.data.length; t++) D.data[t] -= c.orthoLr * 4 * grad.data[t];
      normalize(D);
    }
    this.maxCos = { before, after: maxOffCos(D) };
    this.D = D;
    this.biasVec = new Float32Array(d);
    rng.fork('bias').fillNormal(this.biasVec);
    let bn = 0;
    for (const v of this.biasVec) bn += v * v;
    bn = Math.sqrt(bn) || 1;
    for (let j = 0; j < d; j++) this.biasVec[j] *= c.bias / bn;
  }

  /** A batch of n samples: true activations A [n x features] and activations X [n x dim]. */
  sample(n: number, rng: Rng): { X: Matrix; A: Matrix } {
    const A = new Matrix(n, this.config.features);
    const g = new Float64Array(this.config.corrRank);
    for (let t = 0; t < n; t++) this.fillRow(A.data, t * this.config.features, g, rng);
    return { X: this.activations(A), A };
  }

  /**
   * Rows [start, start + n) of the endless row stream `stream`: row r is drawn from its own
   * generator stream.fork(r), so any range can be generated alone (random access, what
   * `fit --world` streams from) and equals the same rows of a longer range.
   */
  sampleAt(start: number, n: number, stream: Rng): { X: Matrix; A: Matrix } {
    const A = new Matrix(n, this.config.features);
    const g = new Float64Array(this.config.corrRank);
    for (let t = 0; t < n; t++) this.fillRow(A.data, t * this.config.features, g, stream.fork(start + t));
    return { X: this.activations(A), A };
  }

  /**
   * Only the activations X [n x dim] of n samples, drawn as `sample(n, rng)` draws them (the same
   * rows), generated `chunk` rows at a time: the true activations of the 16k world are 64 KiB a
   * row, 13 GB for 200,000 rows, and are not kept.
   */
  sampleX(n: number, rng: Rng, chunk = 2048): Matrix {
    const F = this.config.features, d = this.config.dim;
    const X = new Matrix(n, d);
    const A = new Matrix(Math.min(chunk, n), F);
    const g = new Float64Array(this.config.corrRank);
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      A.data.fill(0, 0, m * F);
      for (let t = 0; t < m; t++) this.fillRow(A.data, t * F, g, rng);
      this.activationsInto(A, m, X.data, s * d);
    }
    return X;
  }

  /** x = a·D + b for true activations A [n x features]. */
  private activations(A: Matrix): Matrix {
    const X = new Matrix(A.rows, this.config.dim);
    this.activationsInto(A, A.rows, X.data, 0);
    return X;
  }

  /**
   * Rows 0..n−1 of A·D + b into out from offset o, summed over each row's active features only
   * (about 34 of 16,384 in the 16k world), in float64: the dense product would cost 500× more.
   */
  private activationsInto(A: Matrix, n: number, out: Float32Array, o: number): void {
    const F = this.config.features, d = this.config.dim, D = this.D.data, acc = new Float64Array(d);
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < d; j++) acc[j] = this.biasVec[j];
      const ao = t * F;
      for (let f = 0; f < F; f++) {
        const a = A.data[ao + f];
        if (a === 0) continue;
        const fo = f * d;
        for (let j = 0; j < d; j++) acc[j] += a * D[fo + j];
      }
      for (let j = 0; j < d; j++) out[o + t * d + j] = acc[j];
    }
  }

  /** One sample's true activations into a[o .. o + features) (zeros there), drawn from rng; g is scratch [corrRank]. */
  private fillRow(a: Float32Array, o: number, g: Float64Array, rng: Rng): void {
    const c = this.config, G = c.features, R = c.corrRank;
    const s = c.corrScale, rest = Math.sqrt(Math.max(0, 1 - s * s));
    for (let q = 0; q < R; q++) g[q] = rng.normal();
    for (let i = 0; i < G; i++) {
      let z = 0;
      for (let q = 0; q < R; q++) z += this.factor[i * R + q] * g[q];
      z = s * z + rest * rng.normal();
      if (z < this.zThr[i]) a[o + i] = Math.max(0, this.magMean[i] + this.magStd[i] * rng.normal());
    }
    // hierarchy, top-down: a child is off while its parent is off, else scaled by parent / parent's
    // mean magnitude (scaleChildren); of the active children of a node one, drawn uniformly, is kept
    const scale = c.scaleChildren !== false;
    for (const f of this.topDown) {
      const par = this.parent[f];
      if (par >= 0) a[o + f] = a[o + par] > 0 ? (scale ? a[o + f] * (a[o + par] / this.magMean[par]) : a[o + f]) : 0;
      const ch = this.children[f];
      if (ch.length === 0) continue;
      let on = 0;
      for (const h of ch) if (a[o + h] > 0) on++;
      if (on > 1) {
        let keep = rng.int(on);
        for (const h of ch) if (a[o + h] > 0) { if (keep !== 0) a[o + h] = 0; keep--; }
      }
    }
  }

  /** Features that have children (the parents absorption is measured on). */
  parents(): number[] {
    return this.topDown.filter((f) => this.children[f].length > 0);
  }
}

function normalize(D: Matrix): void {
  const d = D.cols;
  for (let i = 0; i < D.rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += D.data[i * d + j] ** 2;
    const nrm = Math.sqrt(s) || 1;
    for (let j = 0; j < d; j++) D.data[i * d + j] /= nrm;
  }
}

/** max |D_i·D_j| over i ≠ j, by blocks of `block` rows (at most block × rows products held at once, not rows²). */
export function maxOffCos(D: Matrix, block = 1024): number {
  const G = D.rows, d = D.cols;
  let m = 0;
  for (let r0 = 0; r0 < G; r0 += block) {
    const nb = Math.min(block, G - r0);
    const C = matmul(new Matrix(nb, d, D.data.subarray(r0 * d, (r0 + nb) * d)), D, { transB: true });
    for (let i = 0; i < nb; i++) for (let j = 0; j < G; j++) if (j !== r0 + i) m = Math.max(m, Math.abs(C.data[i * G + j]));
  }
  return m;
}

/**
 * C·D with C = D·Dᵀ less its diagonal: a quarter of the gradient of Σ_{i≠j} (D_i·D_j)² in D.
 * With more rows than columns it is computed as D·(DᵀD) − diag(‖D_i‖²)·D, the same matrix
 * without the [rows x rows] Gram matrix: 4·G·d² flops instead of 4·G²·d (21× fewer at the 16k
 * world's 16,384 × 768, and no 1 GiB temporary).
 */
export function orthogonalityGradient(D: Matrix): Matrix {
  const G = D.rows, d = D.cols;
  if (G <= d) {
    const C = matmul(D, D, { transB: true });
    for (let i = 0; i < G; i++) C.data[i * G + i] = 0;
    return matmul(C, D);
  }
  const M = matmul(D, D, { transA: true });
  const out = matmul(D, M);
  for (let i = 0; i < G; i++) {
    let nn = 0;
    for (let j = 0; j < d; j++) nn += D.data[i * d + j] * D.data[i * d + j];
    for (let j = 0; j < d; j++) out.data[i * d + j] -= nn * D.data[i * d + j];
  }
  return out;
}
