import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { choleskySolveInPlace } from '../linalg/cholesky.js';
import { columnMeans, crossProduct } from '../linalg/gram.js';
import { matmul } from '../backend/ops.js';
import { loadModel, type LoadedModel, unitNormWarning } from '../dictionary/model-runtime.js';
import { inputSpaceDecoder } from '../io/model.js';
import { readAllRows } from '../io/rows.js';
import { mcc } from '../metrics/mcc.js';
import { fve, mse } from '../metrics/reconstruction.js';
import { dictionaryRecovery } from '../metrics/dictionary.js';

/**
 * What the explorer shows of a model directory: per-feature statistics (computed once, on the
 * server, with the library) and per-feature details on request. With `data` the model encodes
 * it (frequency, activations, top samples, reconstruction); with `truth` (the true latents
 * Z* [samples x latents] of the same rows) every feature is matched to a true latent by the
 * MCC matching (|Pearson r| of the code with the latent) and its atom is compared, by cosine,
 * with that latent's direction, estimated by least squares of X on Z*.
 */

export interface FeatureRow {
  index: number;
  /** fraction of samples where the code is non-zero (null without data) */
  frequency: number | null;
  /** mean code over the samples where it is non-zero (null without data, NaN when it never fires) */
  meanActive: number | null;
  /** largest code (null without data) */
  max: number | null;
  /** largest |cosine| with another atom, and which */
  nearestCos: number;
  nearest: number;
  /** matched true latent (null without truth or unmatched), its |r| with the code, and the atom's |cosine| with its direction */
  latent: number | null;
  corr: number | null;
  cos: number | null;
}

export interface ModelSummary {
  kind: string;
  atoms: number;
  dim: number;
  k: number | null;
  whitened: boolean;
  dir: string;
  data: { path: string; samples: number } | null;
  truth: { path: string; latents: number } | null;
  metrics: Record<string, number>;
}

export interface FeatureDetail {
  index: number;
  row: FeatureRow;
  /** the decoder row (the atom), length dim */
  atom: number[];
  /** nearest atoms by |cosine| (signed cosine given), best first */
  neighbours: { index: number; cos: number }[];
  /** histogram of the non-zero activations: bin edges (bins + 1) and counts */
  histogram: { edges: number[]; counts: number[] } | null;
  /** the samples with the largest activations */
  top: { sample: number; value: number; latents?: { latent: number; value: number }[] }[];
  /** the matched true direction (estimated), length dim, when the truth is known */
  trueAtom: number[] | null;
}

export interface ModelView {
  summary: ModelSummary;
  /** notes for the person running the server (e.g. non-unit decoder rows), printed by the CLI */
  warnings?: string[];
  features: FeatureRow[];
  detail(index: number): FeatureDetail;
}

const TOP_SAMPLES = 12;
const NEIGHBOURS = 8;
const BINS = 30;

function unitRows(M: Matrix): Float64Array {
  const out = new Float64Array(M.rows * M.cols);
  for (let i = 0; i < M.rows; i++) {
    let s = 0;
    const o = i * M.cols;
    for (let j = 0; j < M.cols; j++) s += M.data[o + j] * M.data[o + j];
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < M.cols; j++) out[o + j] = M.data[o + j] * inv;
  }
  return out;
}

function dotRows(U: Float64Array, i: number, V: Float64Array, j: number, d: number): number {
  let s = 0;
  const a = i * d, b = j * d;
  for (let c = 0; c < d; c++) s += U[a + c] * V[b + c];
  return s;
}

/** Load a model directory (and optional data / truth files) and compute the feature table. */
/**
 * The true directions A [latents x dim] of X ≈ T·A + 1bᵀ by least squares: the normal equations
 * (centred Gram matrices in float64 through the backend GEMM) solved by Cholesky (LAPACK on the
 * native backend), with a ridge of 1e-8 of the mean latent variance, so that a latent that never
 * varies gets a zero direction, as the minimum-norm solution gives it.
 */
function trueDirections(T: Matrix, X: Matrix): Matrix {
  const l = T.cols, dim = X.cols;
  const mt = columnMeans(T), mx = columnMeans(X);
  const G = crossProduct(T, T, { meanA: mt });
  const B = crossProduct(T, X, { meanA: mt, meanB: mx });
  let trace = 0;
  for (let j = 0; j < l; j++) trace += G[j * l + j];
  const alpha = Math.max(1e-12, (1e-8 * trace) / Math.max(1, l));
  for (let j = 0; j < l; j++) G[j * l + j] += alpha;
  const bad = choleskySolveInPlace(G, l, B, dim);
  if (bad >= 0) fail('E_NONFINITE', `--truth: the least-squares fit of the true directions failed at latent ${bad} (non-finite values in --truth or --data?)`);
  const A = new Matrix(l, dim);
  for (let i = 0; i < A.data.length; i++) A.data[i] = B[i];
  return A;
}

export function buildModelView(dir: string, o: { data?: string; truth?: string; note?: (line: string) => void } = {}): ModelView {
  const model: LoadedModel = loadModel(dir);
  // atoms in the space of the activations (un-whitened for a model trained on whitened inputs)
  const D = inputSpaceDecoder(model);
  const atoms = model.atoms, dim = model.dim;
  const U = unitRows(D);
  const metrics: Record<string, number> = {};

  // nearest other atom for every atom: blocks of the Gram matrix U·Uᵀ through the backend GEMM
  const nearest = new Int32Array(atoms).fill(-1);
  const nearestCos = new Float64Array(atoms);
  {
    const Um = new Matrix(atoms, dim, Float32Array.from(U));
    const B = Math.max(1, Math.min(atoms, Math.floor(4_000_000 / atoms)));
    const G = new Matrix(B, atoms);
    for (let r0 = 0; r0 < atoms; r0 += B) {
      const r1 = Math.min(atoms, r0 + B);
      const g = r1 - r0 === B ? G : new Matrix(r1 - r0, atoms);
      matmul(Um.rowSlice(r0, r1), Um, { transB: true, out: g });
      for (let i = r0; i < r1; i++) {
        const off = (i - r0) * atoms;
        let best = -1, bestC = -1;
        for (let j = 0; j < atoms; j++) {
          if (j === i) continue;
          const c = Math.abs(g.data[off + j]);
          if (c > bestC) { bestC = c; best = j; }
        }
        nearest[i] = best;
        nearestCos[i] = Math.max(0, bestC);
      }
    }
  }

  let X: Matrix | null = null;
  let Z: Matrix | null = null;
  let T: Matrix | null = null;
  if (o.truth && !o.data) fail('E_USAGE', '--truth needs --data: the true latents describe the rows of the data');
  if (o.data) {
    X = readAllRows(o.data);
    if (X.cols !== dim) fail('E_SHAPE', `shape mismatch: --data ${o.data} is [${X.rows} x ${X.cols}], the model takes ${dim} columns (d_in); pass activations of the layer the model was trained on`);
    o.note?.(`explore: encoding ${X.rows} rows of ${o.data} with the model (${atoms} atoms)`);
    Z = model.encode(X);
    metrics.samples = X.rows;
    const Xhat = model.decode(Z);
    metrics.mse = mse(X, Xhat);
    metrics.fve = fve(X, Xhat);
  }
  const freq = new Float64Array(atoms), sumActive = new Float64Array(atoms), maxv = new Float64Array(atoms).fill(-Infinity);
  if (Z) {
    const n = Z.rows;
    let nnz = 0;
    for (let r = 0; r < n; r++) {
      const off = r * atoms;
      for (let j = 0; j < atoms; j++) {
        const v = Z.data[off + j];
        if (v !== 0) { freq[j]++; sumActive[j] += v; nnz++; }
        if (v > maxv[j]) maxv[j] = v;
      }
    }
    metrics.l0 = nnz / n;
    let dead = 0;
    for (let j = 0; j < atoms; j++) if (freq[j] === 0) dead++;
    metrics.dead = dead;
  }

  const latentOf = new Int32Array(atoms).fill(-1);
  const corrOf = new Float64Array(atoms).fill(NaN);
  const cosOf = new Float64Array(atoms).fill(NaN);
  let Atrue: Float64Array | null = null;
  if (o.truth && X && Z) {
    T = readAllRows(o.truth);
    if (T.rows !== X.rows) fail('E_SHAPE', `shape mismatch: --truth ${o.truth} has ${T.rows} rows, --data has ${X.rows}; the true latents must describe the same samples, one row each`);
    o.note?.(`explore: --truth: correlating ${atoms} codes with ${T.cols} true latents over ${X.rows} rows and matching them one to one (MCC, Hungarian)`);
    const r = mcc(Z, T, { pad: 'none' });
    metrics.mcc = r.mcc;
    // the true directions (an SVD-based lstsq took a minute at 10k rows x 2048 latents)
    o.note?.(`explore: --truth: true directions of ${T.cols} latents by least squares (X ≈ Z·A + b)`);
    const A = trueDirections(T, X);
    Atrue = unitRows(A);
    const rec = dictionaryRecovery(D, A);
    metrics.dict_mean_cos = rec.meanCos;
    metrics.dict_frac_090 = rec.frac090;
    for (let l = 0; l < T.cols; l++) {
      const j = r.matching[l];
      if (j < 0 || j >= atoms) continue;
      latentOf[j] = l;
      corrOf[j] = r.perLatent[l];
      cosOf[j] = Math.abs(dotRows(U, j, Atrue, l, dim));
    }
  }

  const n = X ? X.rows : 0;
  const features: FeatureRow[] = [];
  for (let j = 0; j < atoms; j++) {
    features.push({
      index: j,
      frequency: Z ? freq[j] / n : null,
      meanActive: Z ? (freq[j] > 0 ? sumActive[j] / freq[j] : NaN) : null,
      max: Z ? maxv[j] : null,
      nearestCos: atoms > 1 ? nearestCos[j] : NaN,
      nearest: nearest[j],
      latent: latentOf[j] >= 0 ? latentOf[j] : null,
      corr: latentOf[j] >= 0 ? corrOf[j] : null,
      cos: latentOf[j] >= 0 ? cosOf[j] : null,
    });
  }

  const summary: ModelSummary = {
    kind: model.kind,
    atoms,
    dim,
    k: model.k ?? null,
    whitened: !!model.whitening,
    dir,
    data: X && o.data ? { path: o.data, samples: X.rows } : null,
    truth: T && o.truth ? { path: o.truth, latents: T.cols } : null,
    metrics,
  };

  function detail(index: number): FeatureDetail {
    if (!Number.isInteger(index) || index < 0 || index >= atoms) fail('E_ARG', `feature index must be an integer in [0, ${atoms - 1}], got ${index}`);
    const atom = Array.from(D.data.subarray(index * dim, (index + 1) * dim));
    const cos: { index: number; cos: number }[] = [];
    for (let j = 0; j < atoms; j++) if (j !== index) cos.push({ index: j, cos: dotRows(U, index, U, j, dim) });
    cos.sort((a, b) => Math.abs(b.cos) - Math.abs(a.cos) || a.index - b.index);
    let histogram: FeatureDetail['histogram'] = null;
    const top: FeatureDetail['top'] = [];
    if (Z) {
      const vals: number[] = [];
      const order: { sample: number; value: number }[] = [];
      for (let r = 0; r < Z.rows; r++) {
        const v = Z.data[r * atoms + index];
        if (v !== 0) { vals.push(v); order.push({ sample: r, value: v }); }
      }
      if (vals.length) {
        let lo = Math.min(0, ...vals), hi = Math.max(...vals);
        if (hi === lo) hi = lo + 1;
        const counts = new Array<number>(BINS).fill(0);
        for (const v of vals) counts[Math.min(BINS - 1, Math.floor(((v - lo) / (hi - lo)) * BINS))]++;
        histogram = { edges: Array.from({ length: BINS + 1 }, (_, b) => lo + ((hi - lo) * b) / BINS), counts };
      }
      order.sort((a, b) => b.value - a.value || a.sample - b.sample);
      for (const t of order.slice(0, TOP_SAMPLES)) {
        const entry: FeatureDetail['top'][number] = { sample: t.sample, value: t.value };
        if (T) {
          const ls: { latent: number; value: number }[] = [];
          for (let l = 0; l < T.cols; l++) {
            const v = T.data[t.sample * T.cols + l];
            if (v !== 0) ls.push({ latent: l, value: v });
          }
          ls.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
          entry.latents = ls.slice(0, 8);
        }
        top.push(entry);
      }
    }
    const l = latentOf[index];
    return {
      index,
      row: features[index],
      atom,
      neighbours: cos.slice(0, NEIGHBOURS),
      histogram,
      top,
      trueAtom: Atrue && l >= 0 ? Array.from(Atrue.subarray(l * dim, (l + 1) * dim)) : null,
    };
  }

  const warn = unitNormWarning(model, 'comparing activations across features (mean, max, histograms)');
  return { summary, features, detail, ...(warn ? { warnings: [warn] } : {}) };
}
