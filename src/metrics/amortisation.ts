import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { backend as activeBackend } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { fista } from '../inference/fista.js';
import { lassoObjectives } from '../inference/common.js';
import { mcc, type MccOptions } from './mcc.js';
import { checkMatrix, checkSameRows } from './util.js';

/**
 * The amortisation gap ("Compute-optimal inference and the amortisation gap", arXiv 2411.13117,
 * docs/papers.md sec. 2): how much worse an amortised encoder's codes are, sample by sample, than the
 * optimum of the sparse-coding objective on the same dictionary.
 *
 * Objectives (per sample x, codes z, dictionary D [atoms x d]):
 * - `loss: 'lasso'` (default): f(z) = ½‖x − z·D‖² + λ‖z‖₁;
 * - `loss: 'mse'`, the paper's training loss per sample: f(z) = ‖x − z·D‖²/d + λ‖z‖₁/atoms,
 *   whose mean over samples is MSE + λ·mean|z| (means over all elements, as in PyTorch).
 *   It equals (2/d)·(½‖x − z·D‖² + λ'‖z‖₁) with λ' = λ·d/(2·atoms), so both share the minimiser.
 *
 * The optimum comes from FISTA warm-started at the amortised codes (step 1/‖D‖₂², run until
 * the largest code change is below `tol` or for `iters` iterations), optionally under z ≥ 0.
 * FISTA's momentum makes it non-monotone, so the reported optimum of a sample is the smaller of
 * its FISTA objective and its starting objective whenever the start is feasible (always without
 * `nonneg`; with it, when the amortised codes are >= 0). The gap of a sample is
 * f(amortised) − f(optimal) >= 0.
 */
export interface AmortisationGapOptions {
  /** L1 weight λ >= 0, in the convention of `loss` */
  lambda: number;
  /** which objective λ belongs to and the gap is reported in (default 'lasso'); see above */
  loss?: 'lasso' | 'mse';
  /** optimise under z >= 0 (default false); use it for ReLU encoders of non-negative sources */
  nonneg?: boolean;
  /** FISTA iteration cap (default 5000) */
  iters?: number;
  /** FISTA stopping tolerance on the relative largest code change (default 1e-7) */
  tol?: number;
  /** true latents [samples x sources]: adds the code MCC of both sets of codes */
  truth?: Matrix;
  mccOptions?: MccOptions;
  backend?: Backend;
}

export interface AmortisationGap {
  loss: 'lasso' | 'mse';
  /** λ as given (in the `loss` convention) */
  lambda: number;
  /** the λ of the equivalent ½‖x − zD‖² + λ‖z‖₁ problem that FISTA solved */
  lassoLambda: number;
  /** per-sample objective of the amortised codes */
  amortised: Float64Array;
  /** per-sample objective at the optimum */
  optimal: Float64Array;
  /** per-sample gap amortised − optimal */
  gap: Float64Array;
  meanAmortised: number;
  meanOptimal: number;
  meanGap: number;
  /** meanGap / meanOptimal (Infinity when the optimum is 0 and the gap is not) */
  relativeGap: number;
  /** the optimal codes [samples x atoms] */
  Zoptimal: Matrix;
  /** FISTA iterations run, and whether it met `tol` */
  iterations: number;
  converged: boolean;
  /** code MCC against the truth (when given) */
  mccAmortised?: number;
  mccOptimal?: number;
}

/** Per-sample objectives of codes Z in the chosen convention (float64). */
export function sparseCodingObjectives(X: Matrix, D: Matrix, Z: Matrix, lambda: number, loss: 'lasso' | 'mse' = 'lasso', b: Backend = activeBackend()): Float64Array {
  checkObjectiveInputs(X, D, Z, 'sparseCodingObjectives');
  checkLoss(loss);
  assertNumber('lambda', lambda, 0);
  const ll = lassoLambdaOf(lambda, loss, D);
  const f = lassoObjectives(X, D, Z, ll, b);
  if (loss === 'mse') {
    const s = 2 / D.cols;
    for (let i = 0; i < f.length; i++) f[i] *= s;
  }
  return f;
}

/**
 * The amortisation gap of codes `Zamortised` [samples x atoms] of X [samples x d] under the
 * dictionary D [atoms x d]; see AmortisationGapOptions.
 */
export function amortisationGap(X: Matrix, D: Matrix, Zamortised: Matrix, opts: AmortisationGapOptions): AmortisationGap {
  if (!opts || typeof opts !== 'object') fail('E_ARG', 'amortisationGap: options { lambda, loss?, nonneg?, ... } are required');
  checkObjectiveInputs(X, D, Zamortised, 'amortisationGap');
  const loss = opts.loss ?? 'lasso';
  checkLoss(loss);
  if (typeof opts.lambda !== 'number') fail('E_ARG', `amortisationGap: lambda must be a number >= 0 (the L1 weight of the ${loss} objective), got ${String(opts.lambda)}`);
  assertNumber('amortisationGap: lambda', opts.lambda, 0);
  const iters = opts.iters ?? 5000;
  assertInt('amortisationGap: iters', iters, 1);
  const tol = opts.tol ?? 1e-7;
  assertNumber('amortisationGap: tol', tol, 0);
  if (opts.truth !== undefined) {
    if (!(opts.truth instanceof Matrix)) fail('E_ARG', 'amortisationGap: truth must be a Matrix of true latents [samples x sources]');
    checkMatrix('truth', opts.truth);
    checkSameRows('truth', opts.truth, 'X', X);
  }
  const b = opts.backend ?? activeBackend();
  const nonneg = !!opts.nonneg;
  const ll = lassoLambdaOf(opts.lambda, loss, D);
  const scale = loss === 'mse' ? 2 / D.cols : 1;

  const amortised = lassoObjectives(X, D, Zamortised, ll, b);
  const res = fista(X, D, { lambda: ll, iters, tol, nonneg, init: Zamortised, objective: false, backend: b });
  const Zopt = res.Z;
  const optimal = lassoObjectives(X, D, Zopt, ll, b);
  const a = D.rows;
  const gap = new Float64Array(X.rows);
  let sa = 0, so = 0, sg = 0;
  for (let i = 0; i < X.rows; i++) {
    let feasible = true;
    if (nonneg) {
      const o = i * a;
      for (let j = 0; j < a; j++) if (Zamortised.data[o + j] < 0) { feasible = false; break; }
    }
    if (feasible && amortised[i] < optimal[i]) {
      // FISTA ended above its start: keep the start (codes and objective)
      optimal[i] = amortised[i];
      Zopt.data.set(Zamortised.data.subarray(i * a, i * a + a), i * a);
    }
    amortised[i] *= scale;
    optimal[i] *= scale;
    gap[i] = amortised[i] - optimal[i];
    sa += amortised[i];
    so += optimal[i];
    sg += gap[i];
  }
  const n = Math.max(1, X.rows);
  const meanOptimal = so / n;
  const meanGap = sg / n;
  const out: AmortisationGap = {
    loss, lambda: opts.lambda, lassoLambda: ll,
    amortised, optimal, gap,
    meanAmortised: sa / n, meanOptimal, meanGap,
    relativeGap: meanOptimal > 0 ? meanGap / meanOptimal : meanGap > 0 ? Infinity : 0,
    Zoptimal: Zopt, iterations: res.iterations, converged: res.converged,
  };
  if (opts.truth) {
    out.mccAmortised = mcc(Zamortised, opts.truth, opts.mccOptions).mcc;
    out.mccOptimal = mcc(Zopt, opts.truth, opts.mccOptions).mcc;
  }
  return out;
}

/** λ' of ½‖x − zD‖² + λ'‖z‖₁ equivalent to λ in the given convention: λ·d/(2·atoms) for 'mse'. */
export function lassoLambdaOf(lambda: number, loss: 'lasso' | 'mse', D: Matrix): number {
  return loss === 'mse' ? (lambda * D.cols) / (2 * D.rows) : lambda;
}

/**
 * FLOPs per sample of `iters` FISTA iterations on a dictionary [atoms x dim], counted
 * analytically (a multiply-add is 2 FLOPs, elementwise operations 1):
 * - `gram` form: X·Dᵀ once (2·atoms·dim), then per iteration Y·(I − G/L) (2·atoms²), the
 *   constant add (atoms), soft-threshold (2·atoms) and momentum (3·atoms); the shared Gram
 *   matrix (2·atoms²·dim) is spread over `samples`;
 * - `direct` form: per iteration Y·D − X (2·atoms·dim + dim), the gradient step through Dᵀ
 *   (2·atoms·dim + atoms), soft-threshold and momentum (5·atoms).
 * Convergence checks and the Lipschitz constant (a few power iterations) are not counted.
 */
export function fistaFlopsPerSample(atoms: number, dim: number, iters: number, opts: { gradient?: 'gram' | 'direct'; samples?: number } = {}): number {
  assertInt('atoms', atoms, 1);
  assertInt('dim', dim, 1);
  assertInt('iters', iters, 0);
  const samples = opts.samples ?? 1;
  assertInt('samples', samples, 1);
  if ((opts.gradient ?? 'gram') === 'gram') {
    return 2 * atoms * dim + (2 * atoms * atoms * dim) / samples + iters * (2 * atoms * atoms + 6 * atoms);
  }
  return iters * (4 * atoms * dim + dim + 6 * atoms);
}

function checkLoss(loss: unknown): void {
  if (loss !== 'lasso' && loss !== 'mse') fail('E_ARG', `loss must be 'lasso' (½‖x − zD‖² + λ‖z‖₁) or 'mse' (the paper's MSE + λ·mean|z|), got ${String(loss)}`);
}

function checkObjectiveInputs(X: Matrix, D: Matrix, Z: Matrix, where: string): void {
  if (!(X instanceof Matrix)) fail('E_ARG', `${where}: X must be a Matrix [samples x dim]`);
  if (!(D instanceof Matrix)) fail('E_ARG', `${where}: D must be a Matrix [atoms x dim]`);
  if (!(Z instanceof Matrix)) fail('E_ARG', `${where}: the codes must be a Matrix [samples x atoms]`);
  checkMatrix('X', X);
  checkMatrix('dictionary', D);
  checkMatrix('codes', Z);
  if (X.cols !== D.cols) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the dictionary has ${D.cols}; D must be [atoms x dim]`);
  if (Z.rows !== X.rows || Z.cols !== D.rows) {
    fail('E_SHAPE', `shape mismatch: the codes are [${Z.rows} x ${Z.cols}], expected [${X.rows} x ${D.rows}] (samples of X x atoms of D)`);
  }
}
