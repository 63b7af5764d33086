// Why do TopK SAE latents score below the units on MIS in `repro interpretability`? (docs/evidence.md)
//
//   node --import tsx scripts/mis-sae-diagnostics.ts [ratios=4,8] [seed=0]
//
// The concept world of the quick preset (U = 16, 2 concepts on, 5000 evaluation + 20000 training
// stimuli, MIS: 100 tasks, k = 9, quantile 0.01 -> L = 50) with two layers on the same stimuli:
//   relu   = ReLU(z·P)   (the repro's layer: a stimulus' response is NOT the sum of its concepts' responses)
//   linear = z·P         (a linear superposition: the concepts' responses p_i add up)
// and, per layer, the MIS (sparse-direction rule `activeTop`, and the reference rule where it differs) of:
// the concept coordinates; the units; a TopK SAE trained as the repro trains it (its codes, its
// encoder's dense pre-activations); an oracle TopK SAE whose decoder and encoder rows are the true
// responses r_i (ReLU(p_i) or p_i, normalised); OMP with k = 2 on the true responses (converged
// greedy sparse inference instead of a linear encoder). Plus the geometry: how close each concept's
// response is to its nearest other concept's, and how well the trained decoder rows single out one
// concept (best |cos| and its margin over the second best). And, for the units and the SAE codes, what
// the accuracy (Δ > 0) counts: the mean s(q+, E+), the mean cross term (s(q+, E-) + s(q-, E+)) / 2,
// the share of tasks passed narrowly (0 < Δ < 0.1) and the share with Δ >= 0.3.
import { Matrix } from '../src/core/matrix.js';
import { matmul } from '../src/backend/ops.js';
import { conceptWorld } from '../src/worlds/concepts.js';
import { createSAE } from '../src/dictionary/sae/index.js';
import { omp } from '../src/inference/omp.js';
import { cosineSimilarity, mis, type SimilarityModel } from '../src/metrics/interpretability.js';

const ratios = (process.argv[2] ?? '4,8').split(',').map(Number);
const seed = Number(process.argv[3] ?? 0);
const U = 16, samples = 5000, trainSamples = 20000, active = 2;
const misOpts = { tasks: 100, k: 9, quantile: 0.01, seed: `mis:${seed}` };

function normRows(M: Matrix): Matrix {
  const R = M.clone();
  for (let i = 0; i < R.rows; i++) {
    let s = 0;
    for (let j = 0; j < R.cols; j++) s += R.data[i * R.cols + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < R.cols; j++) R.data[i * R.cols + j] *= inv;
  }
  return R;
}

function topkCodes(D: Matrix, X: Matrix, k: number): Matrix {
  const sae = createSAE('topk', { atoms: D.rows, k });
  sae.setWeights({ W_enc: D.transpose(), W_dec: D.clone(), b_enc: new Float32Array(D.rows), b_dec: new Float32Array(D.cols) });
  return sae.encode(X);
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

/** The four terms of Δ averaged over the testable directions' tasks. */
function deltaTerms(A: Matrix, sim: SimilarityModel): string {
  const r = mis(A, sim, { ...misOpts, activeTop: true });
  const t = r.tasks, K = t.k, K1 = K + 1;
  const s = (q: number, E: Int32Array, off: number) => {
    let a = 0;
    for (let i = 0; i < K; i++) a += sim.sim(q, E[off + i]);
    return a / K;
  };
  let pp = 0, cross = 0, n = 0, narrow = 0, wide = 0;
  for (let u = 0; u < t.units; u++) {
    if (t.topSize[u] < K1) continue;
    for (let k = 0; k < t.tasks; k++) {
      const off = (u * t.tasks + k) * K1, qp = t.plus[off + K], qm = t.minus[off + K];
      pp += s(qp, t.plus, off);
      cross += (s(qp, t.minus, off) + s(qm, t.plus, off)) / 2;
      const d = r.deltas[u * t.tasks + k];
      if (d > 0 && d < 0.1) narrow++;
      if (d >= 0.3) wide++;
      n++;
    }
  }
  return `s(q+,E+) ${fmt(pp / n)}, cross ${fmt(cross / n)}, 0 < Δ < 0.1: ${fmt(narrow / n)}, Δ >= 0.3: ${fmt(wide / n)}`;
}

const rows: string[][] = [];
for (const ratio of ratios) {
  const F = ratio * U;
  const w = conceptWorld({ concepts: F, units: U, samples: samples + trainSamples, active, seed: `interp:${seed}:${F}:${U}` });
  const Z = w.Z.rowSlice(0, samples);
  const sim = cosineSimilarity(Z, 'concept space');
  const score = (A: Matrix, alpha?: number) => {
    const r = mis(A, sim, { ...misOpts, activeTop: true, alpha });
    let rare = 0, ties = 0;
    for (const m of r.tasks.topSize) if (m < r.tasks.subset) rare++;
    for (const d of r.deltas) if (d === 0) ties++;
    return { mis: r.mean, rare, ties: ties / r.deltas.length };
  };
  for (const layer of ['relu', 'linear'] as const) {
    const Hall = matmul(w.Z, w.P);
    if (layer === 'relu') for (let i = 0; i < Hall.data.length; i++) if (!(Hall.data[i] > 0)) Hall.data[i] = 0;
    const H = Hall.rowSlice(0, samples), Htrain = Hall.rowSlice(samples, samples + trainSamples);
    const R = w.P.clone();
    if (layer === 'relu') for (let i = 0; i < R.data.length; i++) if (!(R.data[i] > 0)) R.data[i] = 0;
    const Rn = normRows(R);
    const sae = createSAE('topk', { atoms: F, k: active, steps: 3000, batch: 256, lr: 3e-3 });
    const fit = await sae.fit(Htrain, { seed: `sae:${seed}:${F}:${U}` });
    const codes = sae.encode(H);
    const wt = sae.getWeights();
    const Hc = H.clone();
    for (let i = 0; i < Hc.rows; i++) for (let j = 0; j < U; j++) Hc.data[i * U + j] -= wt.b_dec[j];
    const pre = matmul(Hc, wt.W_enc);
    for (let i = 0; i < pre.rows; i++) for (let a = 0; a < F; a++) pre.data[i * F + a] += wt.b_enc[a];
    // geometry
    const G = matmul(Rn, Rn, { transB: true });
    let nnCos = 0;
    for (let i = 0; i < F; i++) {
      let b = -1;
      for (let j = 0; j < F; j++) if (j !== i) b = Math.max(b, G.data[i * F + j]);
      nnCos += b / F;
    }
    const C = matmul(normRows(wt.W_dec), Rn, { transB: true });
    let best = 0, margin = 0;
    for (let a = 0; a < F; a++) {
      const r = Array.from(C.data.subarray(a * F, (a + 1) * F)).sort((x, y) => y - x);
      best += r[0] / F;
      margin += (r[0] - r[1]) / F;
    }
    const ref = mis(codes, sim, misOpts).mean;
    const u = score(H), s = score(codes);
    const entries: [string, string][] = [
      ['concept coordinates', fmt(score(Z).mis)],
      ['units', `${fmt(u.mis)} (ties ${fmt(u.ties)}; graded ${fmt(score(H, 4).mis)})`],
      ['SAE codes, reference rule', fmt(ref)],
      ['SAE codes, activeTop', `${fmt(s.mis)} (${s.rare}/${F} rare; ties ${fmt(s.ties)}; graded ${fmt(score(codes, 4).mis)}; fvu ${fmt(fit.fvu)})`],
      ['SAE encoder pre-activations', fmt(score(pre).mis)],
      ['oracle TopK SAE (rows = r_i)', fmt(score(topkCodes(Rn, H, active)).mis)],
      ['OMP k = 2 on the true r_i', fmt(score(omp(H, Rn, { k: active }).Z).mis)],
      ['r_i: nearest other concept cos', fmt(nnCos)],
      ['SAE decoder: best cos / margin', `${fmt(best)} / ${fmt(margin)}`],
      ['Δ terms, units', deltaTerms(H, sim)],
      ['Δ terms, SAE codes', deltaTerms(codes, sim)],
    ];
    for (const [what, v] of entries) rows.push([String(ratio), layer, what, v]);
    console.error(`done F/U = ${ratio}, ${layer}`);
  }
}
console.log('| F/U | layer | what | MIS or value |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
