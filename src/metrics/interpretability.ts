import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber } from '../core/validate.js';

/**
 * The 2-AFC interpretability index of a unit or direction: the Machine Interpretability Score
 * (MIS) of "Measuring Mechanistic Interpretability at Scale Without Humans" (successor of the
 * Interpretability Index of Klindt et al., arXiv 2310.11431; PROTOCOLS.md §6.2), following the
 * reference code (`klindtlab/MachInterp`, MIS.py: subset_sampling, sort_subset_id, calc_MIS):
 *
 * For a unit with activations a [samples], let L = ceil(samples · quantile); the top set is the
 * L most activating samples, the bottom set the L least activating ones (ties broken by one
 * random shuffle of the samples before a stable sort). For each of N tasks, K + 1 samples are
 * drawn without replacement from each set and sorted by activation (top: descending, bottom:
 * ascending); the K most extreme are the explanations E⁺ / E⁻, the remaining (least extreme)
 * one is the query q⁺ / q⁻. With s(q, E) = mean_{e ∈ E} sim(q, e),
 *
 *   Δ = [s(q⁺, E⁺) − s(q⁺, E⁻)] − [s(q⁻, E⁺) − s(q⁻, E⁻)],
 *
 * MIS = fraction of tasks with Δ > 0 (a simulated participant who assigns each query to the
 * explanation it resembles more, both queries at once), or, with α given, the mean of
 * sigmoid(α·Δ) (calc_MIS; α = 0.16 is the default of `calc_MIS_set`, `run_psychophysics`
 * defaults to α = None, i.e. the accuracy, which is our default too).
 *
 * Sparse directions (`activeTop`, not in the reference): a direction that is exactly at its
 * minimum on more than 1 − quantile of the samples (a TopK SAE latent is 0 on most stimuli) has
 * fewer than L samples it responds to, and under the reference rule the rest of its "top" set
 * is floor samples picked by the tie-breaking shuffle: its queries are then mostly stimuli it
 * does not respond to, and even the true concept coordinates score chance. With `activeTop`
 * the top set holds only samples above the floor (directions that reach L draw the same tasks).
 *
 * The task draw is separate from the scoring (`misTasks` → `misScores`) so that the same tasks
 * can be replayed elsewhere (`misTasksToJSON`; test/fixtures/interpretability/gen.py replays
 * them in NumPy). Every reduction is float64.
 */

/** A similarity model between samples: higher = more alike. */
export interface SimilarityModel {
  /** how many samples it covers */
  readonly size: number;
  /** a short description for reports */
  readonly name: string;
  /** sim(query, explanation) */
  sim(i: number, j: number): number;
}

/**
 * Cosine similarity of the rows of an embedding E [samples x dims] (float64). A zero row has
 * similarity 0 with everything (itself included): it carries no direction.
 */
export function cosineSimilarity(E: Matrix, what = 'embeddings'): SimilarityModel {
  if (!(E instanceof Matrix)) fail('E_ARG', `${what} must be a Matrix [samples x dims]`);
  if (E.cols < 1) fail('E_SHAPE', `${what} has no columns; give an embedding [samples x dims] with dims >= 1`);
  assertFinite(what, E);
  const n = E.rows, d = E.cols;
  const U = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += E.data[i * d + j] * E.data[i * d + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) U[i * d + j] = E.data[i * d + j] * inv;
  }
  return {
    size: n,
    name: `cosine in ${what} [${n} x ${d}]`,
    sim(a: number, b: number): number {
      let s = 0;
      const oa = a * d, ob = b * d;
      for (let j = 0; j < d; j++) s += U[oa + j] * U[ob + j];
      return s;
    },
  };
}

/** A precomputed similarity matrix S [samples x samples] (finite; sim(q, e) = S[q, e]). */
export function matrixSimilarity(S: Matrix, what = 'similarity'): SimilarityModel {
  if (!(S instanceof Matrix)) fail('E_ARG', `${what} must be a Matrix [samples x samples]`);
  if (S.rows !== S.cols) fail('E_SHAPE', `${what} must be square [samples x samples], got [${S.rows} x ${S.cols}]`);
  assertFinite(what, S);
  const n = S.rows;
  return { size: n, name: `${what} matrix [${n} x ${n}]`, sim: (a, b) => S.data[a * n + b] };
}

export interface MisTaskOptions {
  /** tasks per unit, N [100] */
  tasks?: number;
  /** explanations per side, K [9] */
  k?: number;
  /** fraction of samples in the top and in the bottom set, in (0, 0.5] [0.25] */
  quantile?: number;
  /** seed of the shuffle and the draws [0] */
  seed?: Seed;
  /**
   * Sparse directions [false: the reference rule]: the top set holds only samples whose
   * activation is above the direction's minimum (its floor, e.g. the exact zeros of a TopK SAE
   * latent). A direction active on m < L samples then draws its top tasks from those m; with
   * m < k + 1 it cannot be tested (its score is NaN and it is left out of the mean, counted in
   * `untestable`). Under the reference rule the top set of such a direction is padded with
   * floor samples picked by the tie-breaking shuffle, so its "most activating" explanations and
   * queries include stimuli it does not respond to at all. Directions active on at least L
   * samples draw exactly the same tasks under both rules.
   */
  activeTop?: boolean;
}

export interface MisOptions extends MisTaskOptions {
  /** when given, score = mean sigmoid(α·Δ) instead of the fraction of tasks with Δ > 0 */
  alpha?: number;
}

/** Every task of every unit, as sample indices. */
export interface MisTasks {
  samples: number;
  units: number;
  tasks: number;
  k: number;
  quantile: number;
  /** L = ceil(samples · quantile): size of the top and of the bottom set */
  subset: number;
  /** the sparse-direction rule (`activeTop`) was used */
  activeTop: boolean;
  /**
   * per unit: the size of its top set (L, or with `activeTop` the number of samples above the
   * unit's floor when that is smaller); a unit with topSize < k + 1 is untestable and its
   * task entries are −1
   */
  topSize: Int32Array;
  /** per unit: how many samples are above its floor (its minimum activation), capped at L (both rules) */
  aboveFloor: Int32Array;
  /**
   * [units x tasks x (k + 1)] sample indices, row-major: for unit u and task t, entries
   * ((u·tasks + t)·(k+1) + 0 … k−1) are E⁺ (most activating first) and entry … + k is q⁺.
   */
  plus: Int32Array;
  /** the same for the bottom set: E⁻ (least activating first), then q⁻ */
  minus: Int32Array;
}

function resolveTaskOptions(o: MisTaskOptions): Required<Omit<MisTaskOptions, 'seed' | 'activeTop'>> & { seed: Seed; activeTop: boolean } {
  const tasks = o.tasks ?? 100;
  const k = o.k ?? 9;
  const quantile = o.quantile ?? 0.25;
  assertInt('tasks', tasks, 1);
  assertInt('k', k, 1);
  assertNumber('quantile', quantile, 0, 0.5, { exclusiveMin: true });
  if (o.activeTop !== undefined && typeof o.activeTop !== 'boolean') fail('E_ARG', `activeTop must be true or false, got ${String(o.activeTop)}`);
  return { tasks, k, quantile, seed: o.seed ?? 0, activeTop: o.activeTop ?? false };
}

/** L = ceil(samples · quantile), checked against K + 1 and the sample count. */
export function misSubsetSize(samples: number, quantile: number, k: number): number {
  // guard the float product (0.25 · 400 = 100 exactly, but 0.07 · 100 = 7.000000000000001)
  const L = Math.ceil(samples * quantile - 1e-9);
  if (L < k + 1) {
    const need = Math.ceil((k + 1) / quantile);
    fail('E_ARG', `too few samples for the quantile and k asked: ceil(samples · quantile) = ceil(${samples} · ${quantile}) = ${L} samples per set, but each task draws k + 1 = ${k + 1}; give at least ${need} samples, a larger --quantile, or a smaller --k`);
  }
  if (2 * L > samples) fail('E_ARG', `the top and bottom sets overlap: 2 · ${L} > ${samples} samples; use a smaller --quantile`);
  return L;
}

/**
 * Draw the 2-AFC tasks of every column of `acts` [samples x units]. Unit u uses the generator
 * `new Rng(seed).fork('mis:unit:' + u)`: a unit's tasks do not depend on the other units.
 */
export function misTasks(acts: Matrix, o: MisTaskOptions = {}): MisTasks {
  if (!(acts instanceof Matrix)) fail('E_ARG', 'acts must be a Matrix [samples x units]');
  const { tasks, k, quantile, seed, activeTop } = resolveTaskOptions(o);
  const n = acts.rows, U = acts.cols;
  if (U < 1) fail('E_SHAPE', 'acts has no columns (units); give a matrix [samples x units]');
  assertFinite('acts', acts);
  const L = misSubsetSize(n, quantile, k);
  const K1 = k + 1;
  const plus = new Int32Array(U * tasks * K1);
  const minus = new Int32Array(U * tasks * K1);
  const topSize = new Int32Array(U).fill(L);
  const aboveFloor = new Int32Array(U);
  const root = new Rng(seed);
  const a = new Float64Array(n);
  const rank = new Int32Array(n);
  const buf = new Int32Array(n);
  const drawT = new Int32Array(K1);
  const drawB = new Int32Array(K1);
  // ascending by activation, ties by the shuffled rank: a strict total order
  const asc = (x: number, y: number) => a[x] - a[y] || rank[x] - rank[y];
  const desc = (x: number, y: number) => asc(y, x);
  for (let u = 0; u < U; u++) {
    const rng = root.fork(`mis:unit:${u}`);
    for (let i = 0; i < n; i++) a[i] = acts.data[i * U + u];
    // one shuffle, then the order (activation, shuffled rank): ties in random order
    const perm = rng.permutation(n);
    for (let i = 0; i < n; i++) rank[perm[i]] = i;
    // the L least / most activating samples, most extreme first (selection, then a sort of L)
    buf.set(perm);
    selectFirst(buf, L, asc);
    const bottom = buf.slice(0, L).sort(asc);
    buf.set(perm);
    selectFirst(buf, L, desc);
    let top = buf.slice(0, L).sort(desc);
    let Lu = L;
    // samples at the floor (the minimum activation) are ties the direction cannot rank
    const floor = a[bottom[0]];
    let m = 0;
    while (m < L && a[top[m]] > floor) m++;
    aboveFloor[u] = m;
    if (activeTop) {
      if (m < L) {
        Lu = m;
        top = top.slice(0, m);
      }
      topSize[u] = Lu;
      if (Lu < K1) {
        plus.fill(-1, u * tasks * K1, (u + 1) * tasks * K1);
        minus.fill(-1, u * tasks * K1, (u + 1) * tasks * K1);
        continue;
      }
    }
    for (let t = 0; t < tasks; t++) {
      const pt = rng.choice(Lu, K1);
      const pb = rng.choice(L, K1);
      // set position p (0 = most extreme) ↔ top[p] / bottom[p]; sorted positions = sorted by activation
      pt.sort((x, y) => x - y);
      pb.sort((x, y) => x - y);
      for (let j = 0; j < K1; j++) {
        drawT[j] = top[pt[j]];
        drawB[j] = bottom[pb[j]];
      }
      const off = (u * tasks + t) * K1;
      plus.set(drawT, off);
      minus.set(drawB, off);
    }
  }
  return { samples: n, units: U, tasks, k, quantile, subset: L, activeTop, topSize, aboveFloor, plus, minus };
}

/**
 * Rearrange `idx` so that its first `m` entries are the m smallest under `cmp` (a strict total
 * order), in no particular order: quickselect with a median-of-three pivot, O(n) on average.
 */
function selectFirst(idx: Int32Array, m: number, cmp: (x: number, y: number) => number): void {
  let lo = 0, hi = idx.length - 1;
  const k = m - 1;
  const swap = (i: number, j: number) => {
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  };
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    if (cmp(idx[mid], idx[lo]) < 0) swap(mid, lo);
    if (cmp(idx[hi], idx[lo]) < 0) swap(hi, lo);
    if (cmp(idx[hi], idx[mid]) < 0) swap(hi, mid);
    const pivot = idx[mid];
    let i = lo, j = hi;
    while (i <= j) {
      while (cmp(idx[i], pivot) < 0) i++;
      while (cmp(idx[j], pivot) > 0) j--;
      if (i <= j) swap(i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

export interface MisScores {
  /** per unit: fraction of tasks with Δ > 0, or mean sigmoid(α·Δ) */
  scores: Float64Array;
  /** the mean over the testable units (NaN when none is) */
  mean: number;
  /** units that could not be tested (`activeTop`: fewer than k + 1 samples above their floor); their score is NaN */
  untestable: number;
  /** [units x tasks] Δ of every task */
  deltas: Float64Array;
  alpha: number | null;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Score drawn tasks with a similarity model (see the module comment for Δ and the score). */
export function misScores(t: MisTasks, similarity: SimilarityModel, o: { alpha?: number } = {}): MisScores {
  if (!similarity || typeof similarity.sim !== 'function') fail('E_ARG', 'similarity must be a SimilarityModel (cosineSimilarity(E) or matrixSimilarity(S))');
  if (similarity.size !== t.samples) {
    fail('E_SHAPE', `the similarity model covers ${similarity.size} samples but the activations have ${t.samples} rows; both must describe the same samples in the same order`);
  }
  const alpha = o.alpha ?? null;
  if (alpha !== null) assertNumber('alpha', alpha, 0, Infinity, { exclusiveMin: true });
  const { units, tasks, k } = t;
  const K1 = k + 1;
  const scores = new Float64Array(units);
  const deltas = new Float64Array(units * tasks);
  const sim = similarity.sim.bind(similarity);
  const s = (q: number, E: Int32Array, off: number): number => {
    let acc = 0;
    for (let j = 0; j < k; j++) acc += sim(q, E[off + j]);
    return acc / k;
  };
  let untestable = 0;
  for (let u = 0; u < units; u++) {
    if (t.topSize && t.topSize[u] < K1) {
      scores[u] = NaN;
      deltas.fill(NaN, u * tasks, (u + 1) * tasks);
      untestable++;
      continue;
    }
    let acc = 0;
    for (let task = 0; task < tasks; task++) {
      const off = (u * tasks + task) * K1;
      const qp = t.plus[off + k], qm = t.minus[off + k];
      const d = (s(qp, t.plus, off) - s(qp, t.minus, off)) - (s(qm, t.plus, off) - s(qm, t.minus, off));
      if (!Number.isFinite(d)) fail('E_NONFINITE', `the similarity model returned a non-finite value for unit ${u}, task ${task}; check the embeddings or the similarity matrix`);
      deltas[u * tasks + task] = d;
      acc += alpha === null ? (d > 0 ? 1 : 0) : sigmoid(alpha * d);
    }
    scores[u] = acc / tasks;
  }
  let m = 0;
  for (const v of scores) if (!Number.isNaN(v)) m += v;
  const tested = units - untestable;
  return { scores, mean: tested ? m / tested : NaN, untestable, deltas, alpha };
}

export interface MisResult extends MisScores {
  tasks: MisTasks;
}

/**
 * MIS of every column of `acts` [samples x units] under a similarity model (or an embedding
 * [samples x dims], scored by cosine similarity).
 */
export function mis(acts: Matrix, similarity: SimilarityModel | Matrix, o: MisOptions = {}): MisResult {
  const model = similarity instanceof Matrix ? cosineSimilarity(similarity) : similarity;
  if (!(acts instanceof Matrix)) fail('E_ARG', 'acts must be a Matrix [samples x units]');
  if (model && typeof model.size === 'number' && model.size !== acts.rows) {
    fail('E_SHAPE', `the similarity model covers ${model.size} samples but acts has ${acts.rows} rows; both must describe the same samples in the same order`);
  }
  const tasks = misTasks(acts, o);
  return { ...misScores(tasks, model, { alpha: o.alpha }), tasks };
}

/** The task draw as plain JSON (nested arrays [unit][task][k + 1]) for replay elsewhere. */
export function misTasksToJSON(t: MisTasks): {
  samples: number; units: number; tasks: number; k: number; quantile: number; subset: number; plus: number[][][]; minus: number[][][];
  activeTop?: true; topSize?: number[];
} {
  const nest = (a: Int32Array) => {
    const out: number[][][] = [];
    const K1 = t.k + 1;
    for (let u = 0; u < t.units; u++) {
      const per: number[][] = [];
      for (let task = 0; task < t.tasks; task++) per.push(Array.from(a.subarray((u * t.tasks + task) * K1, (u * t.tasks + task + 1) * K1)));
      out.push(per);
    }
    return out;
  };
  const base = { samples: t.samples, units: t.units, tasks: t.tasks, k: t.k, quantile: t.quantile, subset: t.subset, plus: nest(t.plus), minus: nest(t.minus) };
  // the reference rule's JSON is unchanged; the sparse-direction rule adds its per-unit top-set sizes
  return t.activeTop ? { ...base, activeTop: true, topSize: Array.from(t.topSize) } : base;
}
