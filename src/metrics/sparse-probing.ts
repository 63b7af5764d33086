import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';

/** SAEBench's `k_values`. */
export const SPARSE_PROBING_KS = [1, 2, 5] as const;

export interface SparseProbingFeature {
  feature: number;
  /** the selected columns, best first (the first k for probe k) */
  latents: number[];
  /** test accuracy per k (same order as `ks`) */
  accuracy: number[];
}

/**
 * Synthetic sparse probing (ECOSYSTEM §5.3, SAEBench `sparse_probing` with the synthetic
 * adaptation): for each feature j of `features`, label = a_j > 0; rows are split in two halves
 * (train = first half, test = second); in each half the negatives are an equal number of rows
 * without j drawn (seeded) from that half. On train, the columns of f (SAE latents, or raw
 * activations for SAEBench's `llm_top_k` baseline) are ranked by |mean(f_i | pos) − mean(f_i | neg)|
 * (ties: lower index first); for each k of `ks` a logistic regression with an L2 penalty (C = 1,
 * unpenalised intercept: scikit-learn's LogisticRegression) is fitted on the top k, and scored by
 * its test accuracy (decision function > 0). Reported per k: the mean over the features that have
 * at least one positive in each half.
 */
export function syntheticSparseProbing(o: { f: Matrix; Agt: Matrix; features: number[]; ks?: readonly number[]; seed?: number }): { ks: number[]; accuracy: number[]; perFeature: SparseProbingFeature[] } {
  const { f, Agt } = o;
  const N = f.rows, F = f.cols, G = Agt.cols;
  const ks = [...(o.ks ?? SPARSE_PROBING_KS)];
  if (Agt.rows !== N) fail('E_SHAPE', `sparse probing: latents have ${N} rows, the true activations ${Agt.rows}`);
  for (const k of ks) if (!Number.isInteger(k) || k < 1) fail('E_ARG', `sparse probing: k must be a positive integer, got ${k}`);
  const kMax = Math.min(F, Math.max(...ks));
  const rng = new Rng(o.seed ?? 0);
  const half = Math.floor(N / 2);
  const per: SparseProbingFeature[] = [];
  for (const j of o.features) {
    if (!Number.isInteger(j) || j < 0 || j >= G) fail('E_ARG', `sparse probing: feature ${j} is not in 0..${G - 1}`);
    const frng = rng.fork(`feature-${j}`);
    const sets = [[0, half], [half, N]].map(([s, e]) => {
      const pos: number[] = [], neg: number[] = [];
      for (let t = s; t < e; t++) (Agt.data[t * G + j] > 0 ? pos : neg).push(t);
      const m = Math.min(pos.length, neg.length);
      // seeded partial Fisher-Yates: m negatives
      for (let q = 0; q < m; q++) {
        const r = q + Math.floor(frng.uniform() * (neg.length - q));
        const tmp = neg[q];
        neg[q] = neg[r];
        neg[r] = tmp;
      }
      return { pos: pos.slice(0, m), neg: neg.slice(0, m) };
    });
    if (sets[0].pos.length === 0 || sets[1].pos.length === 0) continue;
    const tr = sets[0], te = sets[1];
    const score = new Float64Array(F);
    for (let i = 0; i < F; i++) {
      let mp = 0, mn = 0;
      for (const t of tr.pos) mp += f.data[t * F + i];
      for (const t of tr.neg) mn += f.data[t * F + i];
      score[i] = Math.abs(mp / tr.pos.length - mn / tr.neg.length);
    }
    const order = topIndices(score, kMax);
    const accuracy = ks.map((k) => {
      const cols = order.slice(0, Math.min(k, F));
      const take = (rows: number[][]) => {
        const n = rows[0].length + rows[1].length, Z = new Float64Array(n * cols.length), y = new Float64Array(n);
        let r = 0;
        rows.forEach((set, lab) => {
          for (const t of set) {
            for (let c = 0; c < cols.length; c++) Z[r * cols.length + c] = f.data[t * F + cols[c]];
            y[r++] = 1 - lab;
          }
        });
        return { Z, y, n };
      };
      const a = take([tr.pos, tr.neg]);
      const { w, b } = logisticL2(a.Z, a.n, cols.length, a.y, 1);
      const e = take([te.pos, te.neg]);
      let correct = 0;
      for (let r = 0; r < e.n; r++) {
        let z = b;
        for (let c = 0; c < cols.length; c++) z += w[c] * e.Z[r * cols.length + c];
        if (z > 0 === (e.y[r] === 1)) correct++;
      }
      return correct / e.n;
    });
    per.push({ feature: j, latents: order, accuracy });
  }
  const accuracy = ks.map((_, q) => (per.length ? per.reduce((s, p) => s + p.accuracy[q], 0) / per.length : NaN));
  return { ks, accuracy, perFeature: per };
}

/** The true features sparse probing scores by default: the 32 most frequent with at least 10 positives (ties: lower index). */
export function probingFeatures(Agt: Matrix, count = 32, minPositives = 10): number[] {
  const G = Agt.cols, counts = new Float64Array(G);
  for (let t = 0; t < Agt.rows; t++) for (let j = 0; j < G; j++) if (Agt.data[t * G + j] > 0) counts[j]++;
  return Array.from({ length: G }, (_, j) => j).filter((j) => counts[j] >= minPositives).sort((a, b) => counts[b] - counts[a] || a - b).slice(0, count);
}

/** The top-1 case (SAEBench's sae_top_1_test_accuracy): one latent per feature. */
export function syntheticSparseProbingTop1(o: { f: Matrix; Agt: Matrix; features: number[]; seed?: number }): { sparse_probing_top1: number; perFeature: { feature: number; latent: number; accuracy: number }[] } {
  const r = syntheticSparseProbing({ ...o, ks: [1] });
  return { sparse_probing_top1: r.accuracy[0], perFeature: r.perFeature.map((p) => ({ feature: p.feature, latent: p.latents[0], accuracy: p.accuracy[0] })) };
}

/** The indices of the k largest scores, largest first (ties: lower index first). */
function topIndices(score: Float64Array, k: number): number[] {
  const idx = Array.from({ length: score.length }, (_, i) => i);
  idx.sort((a, b) => score[b] - score[a] || a - b);
  return idx.slice(0, k);
}

/**
 * min over w, b of 0.5 ||w||² + C Σ_t log(1 + exp(−s_t (w·z_t + b))), s_t = ±1 from y_t ∈ {0, 1}
 * (scikit-learn's L2 LogisticRegression objective; the intercept is not penalised), by Newton's
 * method with a Cholesky solve of the (k + 1) × (k + 1) Hessian. Z [n x k] row-major float64.
 */
export function logisticL2(Z: Float64Array, n: number, k: number, y: Float64Array | number[], C: number): { w: Float64Array; b: number } {
  const m = k + 1;
  const theta = new Float64Array(m); // w_0..w_{k-1}, b
  const g = new Float64Array(m), H = new Float64Array(m * m), x = new Float64Array(m);
  for (let it = 0; it < 100; it++) {
    g.fill(0);
    H.fill(0);
    for (let c = 0; c < k; c++) {
      g[c] = theta[c];
      H[c * m + c] = 1;
    }
    H[k * m + k] = 1e-12;
    for (let t = 0; t < n; t++) {
      let z = theta[k];
      for (let c = 0; c < k; c++) z += theta[c] * Z[t * k + c];
      const p = 1 / (1 + Math.exp(-z));
      const r = C * (p - y[t]), h = C * p * (1 - p);
      for (let c = 0; c < k; c++) x[c] = Z[t * k + c];
      x[k] = 1;
      for (let a = 0; a < m; a++) {
        g[a] += r * x[a];
        const hx = h * x[a];
        for (let c = 0; c <= a; c++) H[a * m + c] += hx * x[c];
      }
    }
    // Cholesky of the lower triangle, then solve H·step = g
    for (let a = 0; a < m; a++) {
      for (let c = 0; c <= a; c++) {
        let s = H[a * m + c];
        for (let q = 0; q < c; q++) s -= H[a * m + q] * H[c * m + q];
        if (a === c) {
          if (!(s > 0)) return { w: theta.slice(0, k), b: theta[k] };
          H[a * m + a] = Math.sqrt(s);
        } else H[a * m + c] = s / H[c * m + c];
      }
    }
    const step = g.slice();
    for (let a = 0; a < m; a++) {
      let s = step[a];
      for (let q = 0; q < a; q++) s -= H[a * m + q] * step[q];
      step[a] = s / H[a * m + a];
    }
    for (let a = m - 1; a >= 0; a--) {
      let s = step[a];
      for (let q = a + 1; q < m; q++) s -= H[q * m + a] * step[q];
      step[a] = s / H[a * m + a];
    }
    let size = 0;
    for (let a = 0; a < m; a++) {
      theta[a] -= step[a];
      size += Math.abs(step[a]);
    }
    if (size < 1e-12) break;
  }
  return { w: theta.slice(0, k), b: theta[k] };
}

/** The one-feature case of `logisticL2`: [w, b]. */
export function logistic1d(x: number[], y: number[], C: number): [number, number] {
  const r = logisticL2(Float64Array.from(x), x.length, 1, y, C);
  return [r.w[0], r.b];
}
