import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/ops.js';
import { dictionaryRecovery } from './dictionary.js';
import { checkMatrix } from './util.js';

/**
 * Ground-truth SAE metrics as SynthSAEBench defines them (ECOSYSTEM §5.6, `sae_lens.synthetic.evals`),
 * (SAEBench's absorption and sparse probing, synthetic adaptations: absorption.ts, sparse-probing.ts).
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
  const nl = rowNormsFloored(L), nt = rowNormsFloored(T);
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

/** Row norms in float64, floored at 1e-8 (a zero row counts as norm 1e-8). */
export function rowNormsFloored(M: Matrix): Float64Array {
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
