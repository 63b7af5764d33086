import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Synthetic sparse-superposition worlds with ground truth (PAPERS sec. 1, "Stop Probing,
 * Start Coding"): `n` latents, `k` active per sample, observations `x = z·A` where the
 * mixing `A` is `[latents x dim]` with N(0,1) entries and unit-norm rows (one direction per
 * latent; this is the paper's `Aᵀ`, so `A` has the layout of a dictionary `D`).
 *
 * Every world returns the same shape:
 *   { kind, X: {split: Matrix}, Z: {split: Matrix}, y: {split: Float32Array}, A, dim,
 *     splits: split names in order, sizes: {split: rows}, params }
 * `X[s]` is `[rows x dim]`, `Z[s]` is `[rows x latents]` (float32), `y[s]` is the binary
 * label `[z₀ > 0.5]` as 0/1 (computed from the stored float32 z₀).
 */
export type Magnitude = 'uniform' | 'halfnormal' | 'exponential';

export interface World<S extends string> {
  kind: string;
  /** observations per split, [rows x dim] */
  X: Record<S, Matrix>;
  /** ground-truth latents per split, [rows x latents] */
  Z: Record<S, Matrix>;
  /** binary label [z₀ > 0.5] per split, 0 or 1 */
  y: Record<S, Float32Array>;
  /** mixing matrix [latents x dim], unit-norm rows: X = Z·A (+ noise) */
  A: Matrix;
  /** observation dimension m */
  dim: number;
  /** split names, in order */
  splits: readonly S[];
  /** rows per split */
  sizes: Record<S, number>;
  /** every parameter that defines the world (JSON-serialisable), m included */
  params: Record<string, string | number | boolean | null>;
}

export type CompositionalSplit = 'train' | 'val' | 'ood';

export interface SuperpositionWorldOptions {
  /** n: number of latents (>= 2) */
  latents: number;
  /** k: active latents per sample (>= 1) */
  active: number;
  /** N: in-distribution samples, split half train (floor(N/2)), half validation */
  samples: number;
  /** m: observation dimension; default max(k+1, ceil(2·k·ln(n/k))) */
  dim?: number;
  /** standard deviation of i.i.d. Gaussian noise added to X (default 0) */
  noise?: number;
  /** law of the active magnitudes: U(0,1) (default), |N(0,1)|, Exp(1) */
  magnitude?: Magnitude;
  /** seed or generator (a given Rng is split, so it advances once) */
  seed?: Seed | Rng;
  /**
   * 'compositional' (default): training draws setting A (z₀ + k−1 from the ID pool) or
   * B (k from 1…n−1) with prob ½ each; the OOD set draws C (z₀ + k−1 from the OOD pool).
   * 'iid': every set (the 'ood' set included, as an in-distribution control) draws k of
   * all n latents uniformly.
   */
  split?: 'compositional' | 'iid';
  /** size of the OOD pool (default floor(n/2)); OOD pool = n−nOod … n−1 */
  oodLatents?: number;
  /** OOD set size (default floor(N/2)) */
  oodSamples?: number;
  /** probability of setting A in training (default 0.5) */
  probA?: number;
}

/** The paper's default observation dimension: max(k+1, ceil(2·k·ln(n/k))). */
export function defaultDim(latents: number, active: number): number {
  assertInt('latents', latents, 1);
  assertInt('active', active, 1, latents);
  return Math.max(active + 1, Math.ceil(2 * active * Math.log(latents / active)));
}

/** N(0,1) entries, each row scaled to unit length (a row with norm < 1e-8 is left as is). */
export function randomMixing(latents: number, dim: number, rng: Rng): Matrix {
  assertInt('latents', latents, 1);
  assertInt('dim', dim, 1);
  const A = new Matrix(latents, dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < latents; i++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const v = rng.normal();
      row[j] = v;
      ss += v * v;
    }
    const nrm = Math.sqrt(ss);
    const s = nrm < 1e-8 ? 1 : 1 / nrm;
    const off = i * dim;
    for (let j = 0; j < dim; j++) A.data[off + j] = row[j] * s;
  }
  return A;
}

export function drawMagnitude(rng: Rng, law: Magnitude): number {
  switch (law) {
    case 'uniform':
      return rng.uniform();
    case 'halfnormal':
      return Math.abs(rng.normal());
    case 'exponential':
      return rng.exponential();
    default:
      return fail('E_ARG', `magnitude must be 'uniform', 'halfnormal' or 'exponential', got '${law as string}'`);
  }
}

/**
 * Fill row `r` of Z with magnitudes at the given support, and row `r` of X with
 * Σ z_j·A_j (float64 accumulation) plus noise. `acc` is a float64 scratch of length dim.
 */
function emitRow(
  Z: Matrix, X: Matrix, A: Matrix, r: number, support: ArrayLike<number>, count: number,
  magRng: Rng, law: Magnitude, noiseRng: Rng | null, noise: number, acc: Float64Array,
): void {
  const n = Z.cols;
  const m = X.cols;
  acc.fill(0);
  const zrow = r * n;
  for (let t = 0; t < count; t++) {
    const j = support[t];
    const v = Math.fround(drawMagnitude(magRng, law));
    Z.data[zrow + j] = v;
    const a = j * m;
    for (let c = 0; c < m; c++) acc[c] += v * A.data[a + c];
  }
  const xrow = r * m;
  if (noiseRng && noise > 0) for (let c = 0; c < m; c++) X.data[xrow + c] = acc[c] + noise * noiseRng.normal();
  else for (let c = 0; c < m; c++) X.data[xrow + c] = acc[c];
}

/**
 * Draws k distinct values from [0, size) without allocating: a partial Fisher-Yates over a
 * persistent identity table that is restored after each draw (O(k) per draw).
 */
class DistinctSampler {
  private readonly table: Int32Array;
  private readonly swaps: Int32Array;
  constructor(maxSize: number, maxK: number) {
    this.table = new Int32Array(maxSize);
    for (let i = 0; i < maxSize; i++) this.table[i] = i;
    this.swaps = new Int32Array(maxK);
  }
  /** out[offset + t] = base + (t-th draw), t < k */
  draw(rng: Rng, size: number, k: number, out: Int32Array, offset: number, base: number): void {
    const t = this.table;
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(size - i);
      this.swaps[i] = j;
      const v = t[j];
      t[j] = t[i];
      t[i] = v;
      out[offset + i] = base + v;
    }
    for (let i = k - 1; i >= 0; i--) {
      const j = this.swaps[i];
      const v = t[j];
      t[j] = t[i];
      t[i] = v;
    }
  }
}

function labels(Z: Matrix): Float32Array {
  const y = new Float32Array(Z.rows);
  for (let i = 0; i < Z.rows; i++) y[i] = Z.data[i * Z.cols] > 0.5 ? 1 : 0;
  return y;
}

function rootRng(seed: Seed | Rng | undefined): Rng {
  return seed instanceof Rng ? seed.split() : new Rng(seed ?? 0);
}

function checkCommon(o: { latents: number; samples: number; dim?: number; noise?: number; magnitude?: Magnitude }): void {
  assertInt('latents', o.latents, 1);
  assertInt('samples', o.samples, 2);
  if (o.dim !== undefined) assertInt('dim', o.dim, 1);
  if (o.noise !== undefined) assertNumber('noise', o.noise, 0);
  if (o.magnitude !== undefined && !['uniform', 'halfnormal', 'exponential'].includes(o.magnitude)) {
    fail('E_ARG', `magnitude must be 'uniform', 'halfnormal' or 'exponential', got '${o.magnitude}'`);
  }
}

/**
 * The compositional-generalisation world of PAPERS sec. 1.
 *
 * nOod = floor(n/2) (option `oodLatents`); ID pool = latents 1 … n−nOod−1, OOD pool =
 * n−nOod … n−1. Each of the N in-distribution samples is, with probability ½, setting A
 * (z₀ plus k−1 distinct latents from the ID pool) or setting B (k distinct latents from all
 * of 1 … n−1, OOD latents included). The first floor(N/2) are `train`, the rest `val`.
 * The `ood` set holds floor(N/2) samples of setting C (z₀ plus k−1 from the OOD pool): OOD
 * latents are seen in training, never together with z₀.
 *
 * Random streams (all from `seed`): the mixing, each split's supports and magnitudes, and
 * the noise come from separate forks, so e.g. changing `noise` leaves Z and A unchanged.
 */
export function superpositionWorld(opts: SuperpositionWorldOptions): World<CompositionalSplit> {
  checkCommon(opts);
  const n = opts.latents;
  const k = opts.active;
  const N = opts.samples;
  assertInt('active', k, 1, n);
  const split = opts.split ?? 'compositional';
  if (split !== 'compositional' && split !== 'iid') fail('E_ARG', `split must be 'compositional' or 'iid', got '${split as string}'`);
  const nOod = opts.oodLatents ?? Math.floor(n / 2);
  assertInt('oodLatents', nOod, 0, n - 1);
  const probA = opts.probA ?? 0.5;
  assertNumber('probA', probA, 0, 1);
  const nOodSamples = opts.oodSamples ?? Math.floor(N / 2);
  assertInt('oodSamples', nOodSamples, 0);
  const m = opts.dim ?? defaultDim(n, k);
  const noise = opts.noise ?? 0;
  const law = opts.magnitude ?? 'uniform';

  const idPool = n - nOod - 1; // latents 1 … n−nOod−1
  if (split === 'compositional') {
    if (probA > 0 && k - 1 > idPool) {
      fail('E_ARG', `setting A needs k−1 = ${k - 1} latents from the ID pool, which has only ${idPool} (latents 1…${n - nOod - 1} with n = ${n}, oodLatents = ${nOod}); lower --active or --ood-latents, or raise --latents`);
    }
    if (probA < 1 && k > n - 1) fail('E_ARG', `setting B needs k = ${k} latents from 1…${n - 1}; lower --active`);
    if (nOodSamples > 0 && k - 1 > nOod) {
      fail('E_ARG', `the OOD setting C needs k−1 = ${k - 1} latents from the OOD pool, which has only ${nOod}; lower --active or raise --ood-latents`);
    }
  }

  const root = rootRng(opts.seed);
  const A = randomMixing(n, m, root.fork('mixing'));
  const nTrain = Math.floor(N / 2);
  const nVal = N - nTrain;
  const acc = new Float64Array(m);
  const support = new Int32Array(k);
  const sampler = new DistinctSampler(n, k);

  const draw = (rows: number, label: string, kind: 'id' | 'ood'): Matrix[] => {
    const Z = new Matrix(rows, n);
    const X = new Matrix(rows, m);
    const sRng = root.fork(`support:${label}`);
    const mRng = root.fork(`magnitude:${label}`);
    const eRng = noise > 0 ? root.fork(`noise:${label}`) : null;
    for (let r = 0; r < rows; r++) {
      if (split === 'iid') {
        sampler.draw(sRng, n, k, support, 0, 0);
      } else if (kind === 'ood') {
        support[0] = 0; // setting C: z0 + k-1 from the OOD pool
        sampler.draw(sRng, nOod, k - 1, support, 1, n - nOod);
      } else if (sRng.uniform() < probA) {
        support[0] = 0; // setting A: z0 + k-1 from the ID pool
        sampler.draw(sRng, idPool, k - 1, support, 1, 1);
      } else {
        sampler.draw(sRng, n - 1, k, support, 0, 1); // setting B: k from 1..n-1
      }
      emitRow(Z, X, A, r, support, k, mRng, law, eRng, noise, acc);
    }
    return [X, Z];
  };

  // The N in-distribution samples are one stream, cut into train | val.
  const [Xid, Zid] = draw(N, 'id', 'id');
  const [Xood, Zood] = draw(nOodSamples, 'ood', 'ood');
  const Xs = { train: Xid.rowSlice(0, nTrain), val: Xid.rowSlice(nTrain, N), ood: Xood };
  const Zs = { train: Zid.rowSlice(0, nTrain), val: Zid.rowSlice(nTrain, N), ood: Zood };
  return {
    kind: 'superposition',
    X: Xs,
    Z: Zs,
    y: { train: labels(Zs.train), val: labels(Zs.val), ood: labels(Zs.ood) },
    A,
    dim: m,
    splits: ['train', 'val', 'ood'],
    sizes: { train: nTrain, val: nVal, ood: nOodSamples },
    params: {
      latents: n,
      active: k,
      samples: N,
      dim: m,
      dimRule: opts.dim === undefined ? 'max(k+1, ceil(2k ln(n/k)))' : 'given',
      noise,
      magnitude: law,
      split,
      oodLatents: nOod,
      oodSamples: nOodSamples,
      probA,
      idPool: split === 'compositional' ? `1..${n - nOod - 1}` : null,
      oodPool: split === 'compositional' ? `${n - nOod}..${n - 1}` : null,
      seed: opts.seed instanceof Rng ? null : (opts.seed ?? 0),
    },
  };
}

export type IidSplit = 'train' | 'val';

export interface IidSparseWorldOptions {
  latents: number;
  samples: number;
  /** exactly k active latents per sample, uniformly chosen (give this or `p`) */
  active?: number;
  /** each latent active independently with probability p (give this or `active`) */
  p?: number;
  /** observation dimension; default max(k+1, ceil(2·k·ln(n/k))) with k = active or round(p·n) (at least 1) */
  dim?: number;
  noise?: number;
  magnitude?: Magnitude;
  seed?: Seed | Rng;
  /** fraction of samples in `val` (default 0.5; train gets the rest, at least one row each) */
  valFraction?: number;
}

/**
 * A plain i.i.d. sparse world: each sample has exactly k uniformly chosen active latents
 * (`active`) or each latent is active independently with probability p (`p`); magnitudes
 * as in superpositionWorld. Splits: train, val.
 */
export function iidSparseWorld(opts: IidSparseWorldOptions): World<IidSplit> {
  checkCommon(opts);
  const n = opts.latents;
  const N = opts.samples;
  if ((opts.active === undefined) === (opts.p === undefined)) {
    fail('E_ARG', 'iidSparseWorld needs exactly one of `active` (k per sample) or `p` (Bernoulli probability per latent)');
  }
  if (opts.active !== undefined) assertInt('active', opts.active, 1, n);
  if (opts.p !== undefined) assertNumber('p', opts.p, 0, 1, { exclusiveMin: true });
  const kEff = opts.active ?? Math.min(n, Math.max(1, Math.round(opts.p! * n)));
  const m = opts.dim ?? defaultDim(n, kEff);
  const noise = opts.noise ?? 0;
  const law = opts.magnitude ?? 'uniform';
  const valFraction = opts.valFraction ?? 0.5;
  assertNumber('valFraction', valFraction, 0, 1, { exclusiveMin: true });
  if (valFraction >= 1) fail('E_ARG', `valFraction must be < 1, got ${valFraction}`);
  const nVal = Math.min(N - 1, Math.max(1, Math.round(N * valFraction)));
  const nTrain = N - nVal;

  const root = rootRng(opts.seed);
  const A = randomMixing(n, m, root.fork('mixing'));
  const Z = new Matrix(N, n);
  const X = new Matrix(N, m);
  const sRng = root.fork('support:id');
  const mRng = root.fork('magnitude:id');
  const eRng = noise > 0 ? root.fork('noise:id') : null;
  const acc = new Float64Array(m);
  const support = new Int32Array(n);
  const sampler = new DistinctSampler(n, opts.active ?? 0);
  for (let r = 0; r < N; r++) {
    let count: number;
    if (opts.active !== undefined) {
      sampler.draw(sRng, n, opts.active, support, 0, 0);
      count = opts.active;
    } else {
      count = 0;
      for (let j = 0; j < n; j++) if (sRng.uniform() < opts.p!) support[count++] = j;
    }
    emitRow(Z, X, A, r, support, count, mRng, law, eRng, noise, acc);
  }
  const Zs = { train: Z.rowSlice(0, nTrain), val: Z.rowSlice(nTrain, N) };
  return {
    kind: 'iid',
    X: { train: X.rowSlice(0, nTrain), val: X.rowSlice(nTrain, N) },
    Z: Zs,
    y: { train: labels(Zs.train), val: labels(Zs.val) },
    A,
    dim: m,
    splits: ['train', 'val'],
    sizes: { train: nTrain, val: nVal },
    params: {
      latents: n,
      active: opts.active ?? null,
      p: opts.p ?? null,
      samples: N,
      dim: m,
      dimRule: opts.dim === undefined ? 'max(k+1, ceil(2k ln(n/k)))' : 'given',
      noise,
      magnitude: law,
      valFraction,
      seed: opts.seed instanceof Rng ? null : (opts.seed ?? 0),
    },
  };
}
