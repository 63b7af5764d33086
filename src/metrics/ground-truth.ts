import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { matmul } from '../backend/ops.js';
import { dictionaryRecovery } from './dictionary.js';
import { checkMatrix } from './util.js';

/**
 * Ground-truth SAE metrics as SynthSAEBench defines them (ECOSYSTEM §5.6, `sae_lens.synthetic.evals`),
 * plus the synthetic adaptations of SAEBench's absorption (§5.2) and sparse probing (§5.3).
 * Inputs: activations X [N x d], reconstructions Xhat [N x d], latents f [N x F], the SAE decoder
 * W_dec [F x d], the true dictionary D_gt [G x d] and true activations A_gt [N x G]. Float64 sums.
 */
export interface GroundTruthMetrics {
  /** mean |cos| over Hungarian-matched (decoder row, true feature) pairs */
  mcc_dec: number;
  /** |unique{argmax_j |cos(W_dec[i], D_gt[j])|}| / F */
  uniqueness: number;
  /** per-latent precision / recall / F1 / accuracy of f_i > 0 against A_gt[:, j*(i)] > 0, averaged over latents */
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  /** 1 - E||x - xhat||^2 / (E||x||^2 - ||E x||^2), sums accumulated over all rows */
  ev: number;
  /** mean #{i : f_i != 0} per row */
  l0: number;
  /** fraction of latents that never fire (f_i != 0) on these rows */
  dead_fraction: number;
  /** mean ||xhat|| / ||x|| over rows with ||x|| >= 1e-6 */
  shrinkage: number;
}

/** |cos| between every row of L [F x d] and of T [G x d], as [F x G] float64 (zero rows count as norm 1e-8). */
export function absCosines(L: Matrix, T: Matrix): Float64Array {
  const F = L.rows, G = T.rows, d = L.cols;
  const nl = norms(L), nt = norms(T);
  const out = new Float64Array(F * G);
  if (F * G * d > 1 << 22) {
    const P = matmul(L, T, { transB: true });
    for (let i = 0; i < F; i++) for (let j = 0; j < G; j++) out[i * G + j] = Math.abs(P.data[i * G + j]) / (nl[i] * nt[j]);
    return out;
  }
  for (let i = 0; i < F; i++) {
    for (let j = 0; j < G; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += L.data[i * d + c] * T.data[j * d + c];
      out[i * G + j] = Math.abs(s) / (nl[i] * nt[j]);
    }
  }
  return out;
}

function norms(M: Matrix): Float64Array {
  const out = new Float64Array(M.rows);
  for (let i = 0; i < M.rows; i++) {
    let s = 0;
    for (let j = 0; j < M.cols; j++) s += M.data[i * M.cols + j] ** 2;
    out[i] = Math.max(Math.sqrt(s), 1e-8);
  }
  return out;
}

/** j*(i) = argmax_j |cos(W_dec[i], D_gt[j])| (first index on ties). */
export function bestTrueFeature(cos: Float64Array, F: number, G: number): Int32Array {
  const best = new Int32Array(F);
  for (let i = 0; i < F; i++) {
    let b = 0, bv = -Infinity;
    for (let j = 0; j < G; j++) if (cos[i * G + j] > bv) { bv = cos[i * G + j]; b = j; }
    best[i] = b;
  }
  return best;
}

/** Explained variance, the correct definition (ECOSYSTEM §5.1). */
export function explainedVariance(X: Matrix, Xhat: Matrix): number {
  const n = X.rows, d = X.cols;
  let sse = 0, ss = 0;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const x = X.data[i * d + j];
      sse += (x - Xhat.data[i * d + j]) ** 2;
      ss += x * x;
      mean[j] += x;
    }
  }
  let m2 = 0;
  for (let j = 0; j < d; j++) m2 += (mean[j] / n) ** 2;
  const denom = ss / n - m2;
  return denom > 0 ? 1 - sse / n / denom : NaN;
}

function checkShapes(o: { X: Matrix; Xhat: Matrix; f: Matrix; Wdec: Matrix; Dgt: Matrix; Agt: Matrix }): void {
  for (const [k, v] of Object.entries(o)) checkMatrix(k, v as Matrix);
  const { X, Xhat, f, Wdec, Dgt, Agt } = o;
  const N = X.rows;
  if (Xhat.rows !== N || Xhat.cols !== X.cols) fail('E_SHAPE', `reconstructions are [${Xhat.rows} x ${Xhat.cols}], the activations [${N} x ${X.cols}]; they must match`);
  if (f.rows !== N) fail('E_SHAPE', `latents have ${f.rows} rows, the activations ${N}; both must hold the same samples in the same order`);
  if (Agt.rows !== N) fail('E_SHAPE', `true activations have ${Agt.rows} rows, the activations ${N}; both must hold the same samples in the same order`);
  if (Wdec.rows !== f.cols) fail('E_SHAPE', `W_dec has ${Wdec.rows} rows but the latents have ${f.cols} columns`);
  if (Dgt.rows !== Agt.cols) fail('E_SHAPE', `the true dictionary has ${Dgt.rows} features but the true activations have ${Agt.cols} columns`);
  if (Wdec.cols !== X.cols || Dgt.cols !== X.cols) fail('E_SHAPE', `W_dec [${Wdec.rows} x ${Wdec.cols}] and the true dictionary [${Dgt.rows} x ${Dgt.cols}] must both have d = ${X.cols} columns`);
}

export function groundTruthMetrics(o: { X: Matrix; Xhat: Matrix; f: Matrix; Wdec: Matrix; Dgt: Matrix; Agt: Matrix }): GroundTruthMetrics {
  checkShapes(o);
  const { X, Xhat, f, Wdec, Dgt, Agt } = o;
  const N = X.rows, F = f.cols, G = Agt.cols, d = X.cols;
  const cos = absCosines(Wdec, Dgt);
  const best = bestTrueFeature(cos, F, G);
  const uniq = new Set<number>(best);
  const tp = new Float64Array(F), fp = new Float64Array(F), fn = new Float64Array(F);
  const nz = new Float64Array(F);
  let l0 = 0;
  for (let t = 0; t < N; t++) {
    const fo = t * F, ao = t * G;
    for (let i = 0; i < F; i++) {
      const v = f.data[fo + i];
      if (v !== 0) { l0++; nz[i]++; }
      const fire = v > 0, truth = Agt.data[ao + best[i]] > 0;
      if (fire && truth) tp[i]++;
      else if (fire) fp[i]++;
      else if (truth) fn[i]++;
    }
  }
  let P = 0, R = 0, F1 = 0, Acc = 0, dead = 0;
  for (let i = 0; i < F; i++) {
    const p = tp[i] + fp[i] > 0 ? tp[i] / (tp[i] + fp[i]) : 0;
    const r = tp[i] + fn[i] > 0 ? tp[i] / (tp[i] + fn[i]) : 0;
    P += p;
    R += r;
    F1 += p + r > 0 ? (2 * p * r) / (p + r) : 0;
    Acc += (N - fp[i] - fn[i]) / N;
    if (nz[i] === 0) dead++;
  }
  let shr = 0, cnt = 0;
  for (let t = 0; t < N; t++) {
    let a = 0, b = 0;
    for (let j = 0; j < d; j++) { a += X.data[t * d + j] ** 2; b += Xhat.data[t * d + j] ** 2; }
    if (Math.sqrt(a) < 1e-6) continue;
    shr += Math.sqrt(b) / Math.sqrt(a);
    cnt++;
  }
  return {
    mcc_dec: dictionaryRecovery(Wdec, Dgt).meanCos,
    uniqueness: uniq.size / F,
    precision: P / F,
    recall: R / F,
    f1: F1 / F,
    accuracy: Acc / F,
    ev: explainedVariance(X, Xhat),
    l0: l0 / N,
    dead_fraction: dead / F,
    shrinkage: cnt > 0 ? shr / cnt : NaN,
  };
}

/**
 * Synthetic feature absorption (ECOSYSTEM §5.2, synthetic adaptation, option (b)): for each parent
 * feature j with children, the split latents are {the latent whose decoder has the largest |cos|
 * with d_j}; over the rows where a_j > 0, A = a_j ||d_j|| (the exact target), cos_i = cos(d_j,
 * W_dec[i]), proj_i = f_i cos_i, main = sum of the split latents' proj, absorbers = latents outside
 * the split with cos_i >= 0.1 and proj_i > 0 (top 3 by proj, sum S); absorption_fraction = 0 if
 * main >= A or S/A < 0.4, 1 if main <= 0, else clip(min(S, A - main) / (min(S, A - main) + main), 0, 1).
 * Per parent the mean over its rows; reported: the mean over parents with at least one row.
 */
export function syntheticAbsorption(o: { f: Matrix; Wdec: Matrix; Dgt: Matrix; Agt: Matrix; parents: number[] }): { absorption: number; perParent: { parent: number; fraction: number; rows: number; latent: number }[] } {
  const { f, Wdec, Dgt, Agt } = o;
  const N = f.rows, F = f.cols, G = Agt.cols, d = Dgt.cols;
  if (Wdec.rows !== F || Wdec.cols !== d || Agt.rows !== N || Dgt.rows !== G) fail('E_SHAPE', 'absorption: latents, W_dec, true dictionary and true activations do not agree in shape');
  const nl = norms(Wdec), nt = norms(Dgt);
  const per: { parent: number; fraction: number; rows: number; latent: number }[] = [];
  const cosv = new Float64Array(F);
  for (const j of o.parents) {
    if (!Number.isInteger(j) || j < 0 || j >= G) fail('E_ARG', `absorption: parent ${j} is not a feature index in 0..${G - 1}`);
    let split = 0, bc = -Infinity;
    for (let i = 0; i < F; i++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += Wdec.data[i * d + c] * Dgt.data[j * d + c];
      cosv[i] = s / (nl[i] * nt[j]);
      if (Math.abs(cosv[i]) > bc) { bc = Math.abs(cosv[i]); split = i; }
    }
    let sum = 0, rows = 0;
    for (let t = 0; t < N; t++) {
      const aj = Agt.data[t * G + j];
      if (!(aj > 0)) continue;
      rows++;
      const A = aj * nt[j];
      const main = f.data[t * F + split] * cosv[split];
      const top: number[] = [];
      for (let i = 0; i < F; i++) {
        if (i === split || cosv[i] < 0.1) continue;
        const p = f.data[t * F + i] * cosv[i];
        if (p > 0) top.push(p);
      }
      top.sort((a, b) => b - a);
      const S = (top[0] ?? 0) + (top[1] ?? 0) + (top[2] ?? 0);
      let frac: number;
      if (main >= A || S / A < 0.4) frac = 0;
      else if (main <= 0) frac = 1;
      else {
        const m = Math.min(S, A - main);
        frac = Math.min(1, Math.max(0, m / (m + main)));
      }
      sum += frac;
    }
    if (rows > 0) per.push({ parent: j, fraction: sum / rows, rows, latent: split });
  }
  const absorption = per.length ? per.reduce((s, p) => s + p.fraction, 0) / per.length : NaN;
  return { absorption, perParent: per };
}

/**
 * Synthetic sparse probing, top-1 (ECOSYSTEM §5.3, synthetic adaptation): for each feature j of
 * `features`, label = a_j > 0; rows are split in two halves (train = first half, test = second);
 * in each half the negatives are an equal number of rows without j drawn (seeded) from that half.
 * The latent with the largest |mean(f_i | pos) - mean(f_i | neg)| on train is kept and a logistic
 * regression with an L2 penalty (C = 1, unpenalised intercept, as sklearn's LogisticRegression) is
 * fitted on it; the score is its test accuracy, averaged over the features that have at least one
 * positive in each half.
 */
export function syntheticSparseProbingTop1(o: { f: Matrix; Agt: Matrix; features: number[]; seed?: number }): { sparse_probing_top1: number; perFeature: { feature: number; latent: number; accuracy: number }[] } {
  const { f, Agt } = o;
  const N = f.rows, F = f.cols, G = Agt.cols;
  if (Agt.rows !== N) fail('E_SHAPE', `sparse probing: latents have ${N} rows, the true activations ${Agt.rows}`);
  const rng = new Rng(o.seed ?? 0);
  const half = Math.floor(N / 2);
  const per: { feature: number; latent: number; accuracy: number }[] = [];
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
        const tmp = neg[q]; neg[q] = neg[r]; neg[r] = tmp;
      }
      return { pos: pos.slice(0, m), neg: neg.slice(0, m) };
    });
    if (sets[0].pos.length === 0 || sets[1].pos.length === 0) continue;
    const tr = sets[0];
    let bi = 0, bs = -Infinity;
    for (let i = 0; i < F; i++) {
      let mp = 0, mn = 0;
      for (const t of tr.pos) mp += f.data[t * F + i];
      for (const t of tr.neg) mn += f.data[t * F + i];
      const s = Math.abs(mp / tr.pos.length - mn / tr.neg.length);
      if (s > bs) { bs = s; bi = i; }
    }
    const xs: number[] = [], ys: number[] = [];
    for (const t of tr.pos) { xs.push(f.data[t * F + bi]); ys.push(1); }
    for (const t of tr.neg) { xs.push(f.data[t * F + bi]); ys.push(0); }
    const [w, b] = logistic1d(xs, ys, 1);
    let correct = 0;
    const te = sets[1];
    for (const t of te.pos) if (w * f.data[t * F + bi] + b > 0) correct++;
    for (const t of te.neg) if (!(w * f.data[t * F + bi] + b > 0)) correct++;
    per.push({ feature: j, latent: bi, accuracy: correct / (te.pos.length + te.neg.length) });
  }
  const acc = per.length ? per.reduce((s, p) => s + p.accuracy, 0) / per.length : NaN;
  return { sparse_probing_top1: acc, perFeature: per };
}

/** min_w,b 0.5 w^2 + C sum log(1 + exp(-s_t (w x_t + b))) by Newton's method (sklearn's objective). */
export function logistic1d(x: number[], y: number[], C: number): [number, number] {
  let w = 0, b = 0;
  for (let it = 0; it < 100; it++) {
    let gw = w, gb = 0, hww = 1, hwb = 0, hbb = 1e-12;
    for (let t = 0; t < x.length; t++) {
      const z = w * x[t] + b;
      const p = 1 / (1 + Math.exp(-z));
      const r = C * (p - y[t]);
      gw += r * x[t];
      gb += r;
      const h = C * p * (1 - p);
      hww += h * x[t] * x[t];
      hwb += h * x[t];
      hbb += h;
    }
    const det = hww * hbb - hwb * hwb;
    if (!(det > 0)) break;
    const dw = (hbb * gw - hwb * gb) / det, db = (hww * gb - hwb * gw) / det;
    w -= dw;
    b -= db;
    if (Math.abs(dw) + Math.abs(db) < 1e-12) break;
  }
  return [w, b];
}
