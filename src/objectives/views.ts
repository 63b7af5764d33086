import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { crossProduct, columnMeans } from '../linalg/gram.js';
import { checkDirections, checkSigregEmbeddings, randomDirections, Sigreg, SIGREG_DEFAULTS } from './sigreg.js';

/**
 * Multi-view objectives on embeddings H [(V·B) × D] stacked view-major (rows v·B … v·B + B − 1
 * are view v of the B anchors; the reference's (V, B, D) tensor flattened), as in
 * `klindtlab/lejepa-identifiability` `losses.py` + `engine.py` (docs/lejepa.md):
 *
 *  - alignment  align = mean over (views, batch, dims) of (h_v − h̄)², h̄ = mean over views;
 *  - LeJEPA     λ·SIGReg + (1 − λ)·align; SIGReg on the pooled views (one (V·B) × D matrix, N = V·B
 *               inside the statistic, as the identifiability code) or per view (the ECF of each
 *               view, N = B, averaged over views, as the library's MINIMAL.md recipe);
 *  - whitening  λ·mean((Cov(h) − I)²) + (1 − λ)·align, Cov of the pooled views, unbiased (n − 1),
 *               the mean over the D² entries (the loss the paper's tables call "VICReg");
 *  - InfoNCE    symmetric, Gaussian kernel sim(u, v) = −‖u − v‖²/(2σ²) between view 0 and view 1,
 *               the other batch elements as negatives: ½(CE over rows + CE over columns).
 *
 * Each returns the value and writes ∂loss/∂H into a gradient buffer.
 */

export const OBJECTIVES = ['sigreg', 'whiten', 'infonce'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

/** Default λ: 1e-3 for LeJEPA (the 2-D configs), 0.5 for whitening; σ = 1 for InfoNCE. */
export const OBJECTIVE_DEFAULTS = { sigregLambda: 1e-3, whitenLambda: 0.5, sigma: 1 } as const;

export function checkLambda(lambda: number): void {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0 || lambda > 1) {
    fail('E_ARG', `lambda must be in [0, 1] (the weight of the regulariser; 1 − lambda weighs the view alignment), got ${lambda}; the paper uses 1e-3 for SIGReg in 2-D, 1e-6 in the scaling study, 0.5 for whitening`);
  }
}

function checkViews(H: Matrix, views: number): number {
  assertInt('views', views, 1);
  if (H.rows % views !== 0) fail('E_SHAPE', `embeddings have ${H.rows} rows, not a multiple of views = ${views}; stack the views view-major ([views*batch x dim])`);
  return H.rows / views;
}

function checkGrad(H: Matrix, grad: Matrix | undefined): void {
  if (grad && (grad.rows !== H.rows || grad.cols !== H.cols)) fail('E_SHAPE', `gradient buffer is [${grad.rows} x ${grad.cols}], the embeddings are [${H.rows} x ${H.cols}]`);
}

/**
 * Alignment term mean_{v,b,d} (h_vb − h̄_b)²; with `grad`, adds scale·∂/∂H into it
 * (∂/∂h_vb = 2(h_vb − h̄_b)/(V·B·D): the h̄ dependence cancels).
 */
export function alignmentTerm(H: Matrix, views: number, grad?: Matrix, scale = 1): number {
  const B = checkViews(H, views);
  checkGrad(H, grad);
  const D = H.cols;
  const size = B * D;
  const total = views * size;
  let ss = 0;
  const g = (2 * scale) / total;
  for (let i = 0; i < size; i++) {
    let m = 0;
    for (let v = 0; v < views; v++) m += H.data[v * size + i];
    m /= views;
    for (let v = 0; v < views; v++) {
      const d = H.data[v * size + i] - m;
      ss += d * d;
      if (grad) grad.data[v * size + i] += g * d;
    }
  }
  return ss / total;
}

/**
 * Whitening term mean((Cov(H) − I)²) over the D² entries (Cov unbiased, pooled rows); with
 * `grad`, adds scale·∂/∂H = scale·4·Hc·(Cov − I)/((n − 1)·D²) into it.
 */
export function whiteningTerm(H: Matrix, grad?: Matrix, scale = 1): number {
  checkGrad(H, grad);
  const n = H.rows, D = H.cols;
  if (n < 2) fail('E_SHAPE', `the whitening loss needs at least 2 rows, got ${n}`);
  const mean = columnMeans(H);
  const C = crossProduct(H, H, { meanA: mean, meanB: mean });
  let v = 0;
  const G = new Matrix(D, D);
  for (let a = 0; a < D; a++) {
    for (let b = 0; b < D; b++) {
      const e = C[a * D + b] / (n - 1) - (a === b ? 1 : 0);
      v += e * e;
      G.data[a * D + b] = e;
    }
  }
  v /= D * D;
  if (grad) {
    const Hc = new Matrix(n, D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) Hc.data[i * D + j] = H.data[i * D + j] - mean[j];
    matmul(Hc, G, { out: grad, beta: 1, alpha: (4 * scale) / ((n - 1) * D * D) });
  }
  return v;
}

/**
 * Symmetric Gaussian-kernel InfoNCE between view 0 (rows 0 … B−1) and view 1 (rows B … 2B−1):
 * sim_ij = −‖h1_i − h2_j‖²/(2σ²), loss = ½[−mean_i(sim_ii − lse_j sim_ij) − mean_j(sim_jj − lse_i sim_ij)].
 * With `grad`, adds scale·∂/∂H into it.
 */
export function infoNceTerm(H: Matrix, sigma = 1, grad?: Matrix, scale = 1): number {
  const B = checkViews(H, 2);
  checkGrad(H, grad);
  assertNumber('sigma', sigma, 0, Infinity, { exclusiveMin: true });
  const D = H.cols;
  const h1 = H.rowSlice(0, B), h2 = H.rowSlice(B, 2 * B);
  const P = matmul(h1, h2, { transB: true }); // [B × B] h1_i · h2_j
  const n1 = new Float64Array(B), n2 = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let a = 0, b = 0;
    for (let d = 0; d < D; d++) {
      a += h1.data[i * D + d] ** 2;
      b += h2.data[i * D + d] ** 2;
    }
    n1[i] = a;
    n2[i] = b;
  }
  const inv = 1 / (2 * sigma * sigma);
  const S = new Float64Array(B * B);
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) S[i * B + j] = -(n1[i] + n2[j] - 2 * P.data[i * B + j]) * inv;
  const rowMax = new Float64Array(B).fill(-Infinity), colMax = new Float64Array(B).fill(-Infinity);
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) {
    const s = S[i * B + j];
    if (s > rowMax[i]) rowMax[i] = s;
    if (s > colMax[j]) colMax[j] = s;
  }
  const rowSum = new Float64Array(B), colSum = new Float64Array(B);
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) {
    const s = S[i * B + j];
    rowSum[i] += Math.exp(s - rowMax[i]);
    colSum[j] += Math.exp(s - colMax[j]);
  }
  const rowLse = new Float64Array(B), colLse = new Float64Array(B);
  let la = 0, lb = 0;
  for (let i = 0; i < B; i++) {
    rowLse[i] = rowMax[i] + Math.log(rowSum[i]);
    colLse[i] = colMax[i] + Math.log(colSum[i]);
    la -= S[i * B + i] - rowLse[i];
    lb -= S[i * B + i] - colLse[i];
  }
  const value = 0.5 * (la / B + lb / B);
  if (grad) {
    // G_ij = ∂loss/∂sim_ij = (½/B)[softmax_row − δ + softmax_col − δ]
    const G = new Matrix(B, B);
    const r = new Float64Array(B), c = new Float64Array(B);
    const f = 0.5 / B;
    for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) {
      const s = S[i * B + j];
      const g = f * (Math.exp(s - rowLse[i]) + Math.exp(s - colLse[j]) - (i === j ? 2 : 0));
      G.data[i * B + j] = g;
      r[i] += g;
      c[j] += g;
    }
    // ∂/∂h1_i = −(1/σ²)[r_i·h1_i − (G·h2)_i],  ∂/∂h2_j = (1/σ²)[(Gᵀ·h1)_j − c_j·h2_j]
    const k = scale / (sigma * sigma);
    const g1 = grad.rowSlice(0, B), g2 = grad.rowSlice(B, 2 * B);
    matmul(G, h2, { out: g1, beta: 1, alpha: k });
    matmul(G, h1, { transA: true, out: g2, beta: 1, alpha: k });
    for (let i = 0; i < B; i++) for (let d = 0; d < D; d++) {
      g1.data[i * D + d] -= k * r[i] * h1.data[i * D + d];
      g2.data[i * D + d] -= k * c[i] * h2.data[i * D + d];
    }
  }
  return value;
}

/** Which objective and its hyperparameters. */
export interface ObjectiveSpec {
  kind: ObjectiveName;
  /** weight of the regulariser in λ·reg + (1 − λ)·align (sigreg, whiten); default 1e-3 / 0.5 */
  lambda?: number;
  /** InfoNCE kernel width (default 1) */
  sigma?: number;
  /** number of views V stacked in H (default 2; InfoNCE needs 2) */
  views?: number;
  /** SIGReg on the pooled views (default, the identifiability code) or per view (the library's MINIMAL recipe) */
  sigregMode?: 'pooled' | 'per-view';
  /** SIGReg directions per step (default 256), knots (17), t_max (3) */
  numDirections?: number;
  knots?: number;
  tMax?: number;
}

/** The value of one loss evaluation and its parts (align, sigreg, whiten, infonce as they apply). */
export interface ObjectiveValue {
  value: number;
  parts: Record<string, number>;
}

/**
 * A training objective with its buffers: `lossAndGrad(H, grad, rng)` overwrites grad with
 * ∂loss/∂H and returns the value. SIGReg draws fresh directions from `rng` on every call (the
 * reference resamples every step), or uses `directions` when given.
 */
export class ViewObjective {
  readonly kind: ObjectiveName;
  readonly lambda: number;
  readonly sigma: number;
  readonly views: number;
  readonly sigregMode: 'pooled' | 'per-view';
  readonly numDirections: number;
  private readonly sig: Sigreg;
  private dirs: Matrix | null = null;

  constructor(spec: ObjectiveSpec) {
    if (!(OBJECTIVES as readonly string[]).includes(spec.kind)) fail('E_ARG', `unknown objective "${spec.kind}"; choose one of ${OBJECTIVES.join(', ')}`);
    this.kind = spec.kind;
    this.lambda = spec.lambda ?? (spec.kind === 'whiten' ? OBJECTIVE_DEFAULTS.whitenLambda : OBJECTIVE_DEFAULTS.sigregLambda);
    checkLambda(this.lambda);
    this.sigma = spec.sigma ?? OBJECTIVE_DEFAULTS.sigma;
    assertNumber('sigma', this.sigma, 0, Infinity, { exclusiveMin: true });
    this.views = spec.views ?? 2;
    assertInt('views', this.views, 1);
    if (this.kind === 'infonce' && this.views !== 2) fail('E_ARG', `InfoNCE contrasts two views; got views = ${this.views}`);
    this.sigregMode = spec.sigregMode ?? 'pooled';
    if (this.sigregMode !== 'pooled' && this.sigregMode !== 'per-view') fail('E_ARG', `sigregMode must be pooled or per-view, got ${this.sigregMode}`);
    this.numDirections = spec.numDirections ?? SIGREG_DEFAULTS.numDirections;
    assertInt('numDirections', this.numDirections, 1);
    this.sig = new Sigreg({ knots: spec.knots, tMax: spec.tMax });
  }

  /** loss and ∂loss/∂H (written into grad); `rng` draws the SIGReg directions unless `directions` is given. */
  lossAndGrad(H: Matrix, grad: Matrix, rng: Rng | Seed = 0, directions?: Matrix): ObjectiveValue {
    checkSigregEmbeddings(H, 'embeddings');
    const B = checkViews(H, this.views);
    checkGrad(H, grad);
    grad.data.fill(0);
    if (this.kind === 'infonce') {
      const v = infoNceTerm(H, this.sigma, grad, 1);
      return { value: v, parts: { infonce: v } };
    }
    const lam = this.lambda;
    const align = alignmentTerm(H, this.views, grad, 1 - lam);
    if (this.kind === 'whiten') {
      const w = whiteningTerm(H, grad, lam);
      return { value: lam * w + (1 - lam) * align, parts: { align, whiten: w } };
    }
    let A: Matrix;
    if (directions) {
      checkDirections(directions, H.cols);
      A = directions;
    } else {
      if (!this.dirs || this.dirs.rows !== H.cols) this.dirs = new Matrix(H.cols, this.numDirections);
      A = randomDirections(H.cols, this.numDirections, toRng(rng), this.dirs);
    }
    let s: number;
    if (this.sigregMode === 'pooled') {
      s = this.sig.forward(H, A);
      this.sig.backward(A, lam, grad, true);
    } else {
      s = 0;
      for (let v = 0; v < this.views; v++) {
        const Hv = H.rowSlice(v * B, (v + 1) * B);
        s += this.sig.forward(Hv, A) / this.views;
        this.sig.backward(A, lam / this.views, grad.rowSlice(v * B, (v + 1) * B), true);
      }
    }
    return { value: lam * s + (1 - lam) * align, parts: { align, sigreg: s } };
  }
}

/** One-shot LeJEPA loss λ·SIGReg + (1 − λ)·align of H [(V·B) × D] with its gradient. */
export function lejepaLoss(
  H: Matrix,
  opts: { lambda?: number; views?: number; perView?: boolean; directions?: Matrix; numDirections?: number; seed?: Seed | Rng; knots?: number; tMax?: number } = {},
): ObjectiveValue & { grad: Matrix } {
  const obj = new ViewObjective({
    kind: 'sigreg', lambda: opts.lambda, views: opts.views, sigregMode: opts.perView ? 'per-view' : 'pooled',
    numDirections: opts.directions ? opts.directions.cols : opts.numDirections, knots: opts.knots, tMax: opts.tMax,
  });
  const grad = new Matrix(H.rows, H.cols);
  return { ...obj.lossAndGrad(H, grad, opts.seed ?? 0, opts.directions), grad };
}

/** One-shot whitening loss λ·mean((Cov − I)²) + (1 − λ)·align with its gradient. */
export function whiteningLoss(H: Matrix, opts: { lambda?: number; views?: number } = {}): ObjectiveValue & { grad: Matrix } {
  const obj = new ViewObjective({ kind: 'whiten', lambda: opts.lambda, views: opts.views });
  const grad = new Matrix(H.rows, H.cols);
  return { ...obj.lossAndGrad(H, grad), grad };
}

/** One-shot symmetric Gaussian-kernel InfoNCE of two stacked views with its gradient. */
export function infoNceLoss(H: Matrix, opts: { sigma?: number } = {}): ObjectiveValue & { grad: Matrix } {
  const obj = new ViewObjective({ kind: 'infonce', sigma: opts.sigma });
  const grad = new Matrix(H.rows, H.cols);
  return { ...obj.lossAndGrad(H, grad), grad };
}
