import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { matmul } from '../backend/ops.js';

/**
 * k-means (Lloyd's algorithm, as scikit-learn's `KMeans(algorithm='lloyd')`) and the k-means
 * directions of Klindt et al. (arXiv 2310.11431, PROTOCOLS.md §6.1): cluster the L2-normalised
 * activation vectors; a direction is a centroid and its "activation" for a sample is minus the
 * distance of the sample's normalised activation to that centroid.
 *
 * Lloyd's loop follows scikit-learn's `_kmeans_single_lloyd`: assign every row to its nearest
 * centre and move each centre to the mean of its rows; stop when the labels no longer change
 * ("strict convergence") or when the summed squared centre shift is at most
 * tol · mean_j Var(X[:, j]); after a tolerance stop the labels are recomputed for the final
 * centres. An empty cluster takes the row farthest from its centre (scikit-learn relocates empty
 * clusters to the farthest rows too). Initialisation: greedy k-means++ (scikit-learn's: 2 + ⌊ln k⌋
 * candidates per new centre, the one that lowers the potential most is kept), the identity rows
 * (k = columns: "align with neurons", one start), or given centres. Restarts keep the lowest
 * inertia. Squared distances ‖x‖² − 2x·c + ‖c‖² use the backend's GEMM in row blocks; centre
 * sums and the inertia accumulate in float64.
 */

export type KMeansInit = 'k-means++' | 'identity' | Matrix;

export interface KMeansOptions {
  k: number;
  /** 'k-means++' (default), 'identity' (needs k = columns) or initial centres [k x dims] */
  init?: KMeansInit;
  /** starts (k-means++ only; default 10, scikit-learn's n_init for k-means++ before 1.4); the best inertia is kept */
  restarts?: number;
  /** Lloyd iterations per start (default 300) */
  maxIter?: number;
  /** relative tolerance on the summed squared centre shift (default 1e-4) */
  tol?: number;
  seed?: Seed;
  signal?: AbortSignal;
}

export interface KMeansResult {
  /** [k x dims] */
  centroids: Matrix;
  /** [rows] index of each row's centre */
  labels: Int32Array;
  /** Σ_i ‖x_i − c_{label_i}‖² */
  inertia: number;
  /** Lloyd iterations of the kept start */
  iterations: number;
  /** labels stopped changing (or the tolerance was met) before maxIter */
  converged: boolean;
  /** starts run */
  restarts: number;
}

const BLOCK = 2048;

function rowNorms2(X: Matrix): Float64Array {
  const out = new Float64Array(X.rows);
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X.data[i * d + j] * X.data[i * d + j];
    out[i] = s;
  }
  return out;
}

/**
 * Nearest centre of every row: labels (written into `labels`) and the squared distances (into
 * `dist2`). Returns the inertia.
 */
function assign(X: Matrix, xn: Float64Array, C: Matrix, labels: Int32Array, dist2: Float64Array): number {
  const n = X.rows, k = C.rows;
  const cn = rowNorms2(C);
  let inertia = 0;
  for (let r0 = 0; r0 < n; r0 += BLOCK) {
    const r1 = Math.min(n, r0 + BLOCK);
    const G = matmul(X.rowSlice(r0, r1), C, { transB: true });
    for (let i = r0; i < r1; i++) {
      const g = (i - r0) * k;
      let best = Infinity, bi = 0;
      for (let c = 0; c < k; c++) {
        const v = cn[c] - 2 * G.data[g + c];
        if (v < best) {
          best = v;
          bi = c;
        }
      }
      const d2 = Math.max(0, best + xn[i]);
      labels[i] = bi;
      dist2[i] = d2;
      inertia += d2;
    }
  }
  return inertia;
}

/** Move every centre to the mean of its rows; empty clusters take the farthest rows. Returns Σ shift². */
function update(X: Matrix, labels: Int32Array, dist2: Float64Array, C: Matrix): number {
  const n = X.rows, d = X.cols, k = C.rows;
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    counts[c]++;
    const o = c * d;
    for (let j = 0; j < d; j++) sums[o + j] += X.data[i * d + j];
  }
  const empty: number[] = [];
  for (let c = 0; c < k; c++) if (counts[c] === 0) empty.push(c);
  if (empty.length) {
    // the farthest rows (from their own centres) seed the empty clusters, farthest first
    const far = Array.from({ length: n }, (_, i) => i).sort((a, b) => dist2[b] - dist2[a] || a - b);
    let taken = 0;
    for (const c of empty) {
      // skip rows whose cluster would become empty
      while (taken < n && counts[labels[far[taken]]] <= 1) taken++;
      if (taken >= n) break;
      const i = far[taken++];
      const old = labels[i];
      counts[old]--;
      for (let j = 0; j < d; j++) sums[old * d + j] -= X.data[i * d + j];
      labels[i] = c;
      counts[c] = 1;
      for (let j = 0; j < d; j++) sums[c * d + j] = X.data[i * d + j];
      dist2[i] = 0;
    }
  }
  let shift = 0;
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) continue; // fewer distinct rows than clusters: keep the centre
    for (let j = 0; j < d; j++) {
      const v = sums[c * d + j] / counts[c];
      const old = C.data[c * d + j];
      C.data[c * d + j] = v;
      shift += (v - old) * (v - old);
    }
  }
  return shift;
}

/** Greedy k-means++ (scikit-learn's `_kmeans_plusplus`): 2 + ⌊ln k⌋ candidates per centre. */
export function kmeansPlusPlus(X: Matrix, k: number, rng: Rng): Matrix {
  const n = X.rows, d = X.cols;
  if (k > n) fail('E_ARG', `k-means++: k = ${k} centres need at least ${k} rows, got ${n}`);
  const trials = 2 + Math.floor(Math.log(k));
  const C = new Matrix(k, d);
  const d2 = (i: number, c: Float32Array): number => {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = X.data[i * d + j] - c[j];
      s += t * t;
    }
    return s;
  };
  const first = rng.int(n);
  C.row(0).set(X.row(first));
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = d2(i, C.row(0));
  const cand = new Float64Array(n);
  const best = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let pot = 0;
    for (let i = 0; i < n; i++) pot += closest[i];
    let bestPot = Infinity, bestIdx = -1;
    for (let t = 0; t < trials; t++) {
      // sample a row with probability ∝ its squared distance to the nearest chosen centre
      let idx: number;
      if (pot > 0) {
        const u = rng.uniform() * pot;
        let acc = 0;
        idx = n - 1;
        for (let i = 0; i < n; i++) {
          acc += closest[i];
          if (acc > u) {
            idx = i;
            break;
          }
        }
      } else idx = rng.int(n);
      const ci = X.row(idx);
      let p = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.min(closest[i], d2(i, ci));
        cand[i] = v;
        p += v;
      }
      if (p < bestPot) {
        bestPot = p;
        bestIdx = idx;
        best.set(cand);
      }
    }
    C.row(c).set(X.row(bestIdx));
    closest.set(best);
  }
  return C;
}

function lloyd(X: Matrix, C0: Matrix, maxIter: number, tolAbs: number, signal?: AbortSignal): Omit<KMeansResult, 'restarts'> {
  const n = X.rows;
  const C = C0.clone();
  const xn = rowNorms2(X);
  const labels = new Int32Array(n);
  const old = new Int32Array(n).fill(-1);
  const dist2 = new Float64Array(n);
  let iterations = 0;
  let converged = false;
  for (let it = 0; it < maxIter; it++) {
    checkAborted(signal);
    assign(X, xn, C, labels, dist2);
    const shift = update(X, labels, dist2, C);
    iterations = it + 1;
    let same = true;
    for (let i = 0; i < n && same; i++) same = labels[i] === old[i];
    if (same) {
      converged = true;
      break;
    }
    if (shift <= tolAbs) {
      converged = true;
      break;
    }
    old.set(labels);
  }
  // labels and inertia for the final centres (scikit-learn reruns the E-step unless strictly converged)
  const inertia = assign(X, xn, C, labels, dist2);
  return { centroids: C, labels, inertia, iterations, converged };
}

/** k-means on the rows of X [rows x dims]. */
export function kmeans(X: Matrix, o: KMeansOptions): KMeansResult {
  if (!(X instanceof Matrix)) fail('E_ARG', 'kmeans: X must be a Matrix [rows x dims]');
  if (!o || typeof o !== 'object') fail('E_ARG', 'kmeans needs options {k, init?, restarts?, seed?}');
  assertInt('k', o.k, 1);
  if (X.rows < o.k) fail('E_ARG', `kmeans: k = ${o.k} clusters need at least ${o.k} rows, got ${X.rows}; lower k or give more samples`);
  if (X.cols < 1) fail('E_SHAPE', 'kmeans: X has no columns');
  assertFinite('X', X);
  const init = o.init ?? 'k-means++';
  const maxIter = o.maxIter ?? 300;
  const tol = o.tol ?? 1e-4;
  assertInt('maxIter', maxIter, 1);
  assertNumber('tol', tol, 0);
  const restarts = init === 'k-means++' ? (o.restarts ?? 10) : 1;
  assertInt('restarts', restarts, 1);
  if (init !== 'k-means++' && o.restarts !== undefined && o.restarts !== 1) {
    fail('E_ARG', `restarts = ${o.restarts} applies to k-means++ only; a fixed init ('identity' or given centres) runs once`);
  }
  if (init === 'identity' && o.k !== X.cols) fail('E_ARG', `init 'identity' needs k = the number of columns (${X.cols}), got k = ${o.k}`);
  if (init instanceof Matrix) {
    if (init.rows !== o.k || init.cols !== X.cols) fail('E_SHAPE', `kmeans: initial centres are [${init.rows} x ${init.cols}], expected [${o.k} x ${X.cols}]`);
    assertFinite('initial centres', init);
  } else if (init !== 'k-means++' && init !== 'identity') {
    fail('E_ARG', `kmeans: init must be 'k-means++', 'identity' or a Matrix of centres, got ${String(init)}`);
  }
  // tolerance relative to the data's mean per-column variance (scikit-learn's _tolerance)
  const n = X.rows, d = X.cols;
  let varSum = 0;
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += X.data[i * d + j];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (X.data[i * d + j] - m) ** 2;
    varSum += v / n;
  }
  const tolAbs = (varSum / d) * tol;
  const root = new Rng(o.seed ?? 0);
  let best: KMeansResult | null = null;
  for (let r = 0; r < restarts; r++) {
    const C0 = init === 'identity' ? Matrix.identity(d) : init instanceof Matrix ? init : kmeansPlusPlus(X, o.k, root.fork(`kmeans:start:${r}`));
    const res = lloyd(X, C0, maxIter, tolAbs, o.signal);
    if (!best || res.inertia < best.inertia) best = { ...res, restarts };
  }
  return best!;
}

/** Each row divided by its L2 norm (zero rows stay zero), as scikit-learn's `normalize`. */
export function l2NormalizeRows(X: Matrix): Matrix {
  const out = new Matrix(X.rows, X.cols);
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X.data[i * d + j] * X.data[i * d + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out.data[i * d + j] = X.data[i * d + j] * inv;
  }
  return out;
}

/** −‖x_i − c_j‖ for every row of X and centre of C: [rows x k] (float64 distances, stored float32). */
export function negativeDistances(X: Matrix, C: Matrix): Matrix {
  if (X.cols !== C.cols) fail('E_SHAPE', `negativeDistances: X has ${X.cols} columns, the centres have ${C.cols}`);
  const n = X.rows, k = C.rows;
  const out = new Matrix(n, k);
  const xn = rowNorms2(X), cn = rowNorms2(C);
  for (let r0 = 0; r0 < n; r0 += BLOCK) {
    const r1 = Math.min(n, r0 + BLOCK);
    const G = matmul(X.rowSlice(r0, r1), C, { transB: true });
    for (let i = r0; i < r1; i++) {
      for (let c = 0; c < k; c++) out.data[i * k + c] = -Math.sqrt(Math.max(0, xn[i] - 2 * G.data[(i - r0) * k + c] + cn[c]));
    }
  }
  return out;
}

/** A k-means direction's activation for new samples: −‖normalise(a) − c‖ per centroid [samples x k]. */
export function kmeansActivations(acts: Matrix, centroids: Matrix): Matrix {
  if (!(acts instanceof Matrix) || !(centroids instanceof Matrix)) fail('E_ARG', 'kmeansActivations: acts and centroids must be Matrices');
  if (acts.cols !== centroids.cols) fail('E_SHAPE', `kmeansActivations: acts has ${acts.cols} units, the centroids have ${centroids.cols}`);
  assertFinite('acts', acts);
  return negativeDistances(l2NormalizeRows(acts), centroids);
}

export interface KMeansDirectionsOptions extends Omit<KMeansOptions, 'init'> {
  /** default: 'identity' when k equals the number of units (one start, "align with neurons"), else 'k-means++' */
  init?: KMeansInit;
}

export interface KMeansDirections {
  /** centroids in the normalised activation space [k x units] */
  centroids: Matrix;
  /** a direction's activation: −distance of each sample's normalised activation to its centroid [samples x k] */
  activations: Matrix;
  fit: KMeansResult;
  init: 'k-means++' | 'identity' | 'given';
}

/**
 * The k-means directions of activations [samples x units] (PROTOCOLS.md §6.1): L2-normalise each
 * sample's activation vector, cluster with k centres, read each direction as −distance.
 */
export function kmeansDirections(acts: Matrix, o: KMeansDirectionsOptions): KMeansDirections {
  if (!(acts instanceof Matrix)) fail('E_ARG', 'kmeansDirections: acts must be a Matrix [samples x units]');
  assertFinite('acts', acts);
  const init: KMeansInit = o.init ?? (o.k === acts.cols ? 'identity' : 'k-means++');
  const Xn = l2NormalizeRows(acts);
  const fit = kmeans(Xn, { ...o, init, restarts: init === 'k-means++' ? o.restarts : undefined });
  return {
    centroids: fit.centroids,
    activations: negativeDistances(Xn, fit.centroids),
    fit,
    init: init instanceof Matrix ? 'given' : init,
  };
}
