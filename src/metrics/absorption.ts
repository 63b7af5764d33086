import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { rowNormsFloored } from './ground-truth.js';

export interface AbsorptionParent {
  parent: number;
  /** mean absorption fraction over the rows where the parent is on */
  fraction: number;
  /** share of those rows fully absorbed */
  full: number;
  rows: number;
  /** the split latent (largest |cos| with the parent's direction) */
  latent: number;
}

/**
 * Synthetic feature absorption (ECOSYSTEM §5.2, SAEBench `absorption` with the synthetic
 * adaptation, option (b)): for each parent feature j of the hierarchy, the split latents are {the
 * latent whose decoder has the largest |cos| with d_j}; over the rows where a_j > 0, with A =
 * a_j ||d_j|| (the exact target), cos_i = cos(d_j, W_dec[i]), proj_i = f_i cos_i and main = the
 * split latents' proj:
 *  - absorption fraction: absorbers = latents outside the split with cos_i >= 0.1 and proj_i > 0
 *    (top 3 by proj, sum S); 0 if main >= A or S/A < 0.4, 1 if main <= 0, else
 *    clip(min(S, A − main) / (min(S, A − main) + main), 0, 1);
 *  - full absorption (SAEBench's `is_full_absorption`): every split latent is off (f_i < 1e-8),
 *    the top-projecting latent has cos >= 0.025, A >= 0 and proj_top / A >= 0.4.
 * Per parent the means over its rows; reported: the means over parents with at least one row
 * (`absorption` = SAEBench's mean_absorption_fraction_score, `full` = mean_full_absorption_score).
 */
export function syntheticAbsorption(o: { f: Matrix; Wdec: Matrix; Dgt: Matrix; Agt: Matrix; parents: number[] }): { absorption: number; full: number; perParent: AbsorptionParent[] } {
  const { f, Wdec, Dgt, Agt } = o;
  const N = f.rows, F = f.cols, G = Agt.cols, d = Dgt.cols;
  if (Wdec.rows !== F || Wdec.cols !== d || Agt.rows !== N || Dgt.rows !== G) fail('E_SHAPE', 'absorption: latents, W_dec, true dictionary and true activations do not agree in shape');
  const nl = rowNormsFloored(Wdec), nt = rowNormsFloored(Dgt);
  const per: AbsorptionParent[] = [];
  const cosv = new Float64Array(F);
  for (const j of o.parents) {
    if (!Number.isInteger(j) || j < 0 || j >= G) fail('E_ARG', `absorption: parent ${j} is not a feature index in 0..${G - 1}`);
    let split = 0, bc = -Infinity;
    for (let i = 0; i < F; i++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += Wdec.data[i * d + c] * Dgt.data[j * d + c];
      cosv[i] = s / (nl[i] * nt[j]);
      if (Math.abs(cosv[i]) > bc) {
        bc = Math.abs(cosv[i]);
        split = i;
      }
    }
    let sum = 0, full = 0, rows = 0;
    for (let t = 0; t < N; t++) {
      const aj = Agt.data[t * G + j];
      if (!(aj > 0)) continue;
      rows++;
      const A = aj * nt[j];
      const main = f.data[t * F + split] * cosv[split];
      const top: number[] = [];
      let topProj = -Infinity, topLatent = -1;
      for (let i = 0; i < F; i++) {
        const p = f.data[t * F + i] * cosv[i];
        if (p > topProj) {
          topProj = p;
          topLatent = i;
        }
        if (i === split || cosv[i] < 0.1) continue;
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
      if (f.data[t * F + split] < 1e-8 && topLatent >= 0 && cosv[topLatent] >= 0.025 && A >= 0 && topProj / A >= 0.4) full++;
    }
    if (rows > 0) per.push({ parent: j, fraction: sum / rows, full: full / rows, rows, latent: split });
  }
  const mean = (k: 'fraction' | 'full') => (per.length ? per.reduce((s, p) => s + p[k], 0) / per.length : NaN);
  return { absorption: mean('fraction'), full: mean('full'), perParent: per };
}
