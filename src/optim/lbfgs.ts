import { fail } from '../core/errors.js';
import { assertInt, assertNumber, checkAborted } from '../core/validate.js';

/**
 * Limited-memory BFGS for smooth unconstrained minimisation, with the semantics of SciPy's
 * `optimize.minimize(f, x0, jac=True, method="L-BFGS-B")` (L-BFGS-B 3.0, Byrd, Lu, Nocedal &
 * Zhu 1995; Morales & Nocedal 2011) on a problem without bounds: the same search direction,
 * the same line search, the same stopping rules, the same counters. Where an optimisation
 * stops rather than converges (logistic regression on separable data, whose optimum is at
 * infinity) *where* it stops is the answer, so the rules below are followed to the letter.
 *
 * Per iteration k, with x, f = f(x), g = ∇f(x):
 *
 * - Direction. With no stored pairs (the first iteration and after a restart) the quasi-Newton
 *   point is z = x − g (B₀ = I); else z = x − H·g with H the L-BFGS inverse Hessian of the last
 *   `memory` pairs (s, y) and H₀ = (sᵀy / yᵀy)·I of the newest pair, by the two-loop
 *   recursion. (Without bounds L-BFGS-B's Cauchy point and subspace minimisation reduce to
 *   exactly this step; its compact form of B and the two-loop form of H = B⁻¹ are the same
 *   matrix.) The direction is d = z − x.
 * - Line search. Moré & Thuente's (1994) search (MINPACK-2 dcsrch/dcstep) for a step t with
 *   f(x + t·d) ≤ f(x) + 10⁻³·t·gᵀd and |∇f(x + t·d)ᵀd| ≤ 0.9·|gᵀd|, t ∈ [0, 10¹⁰], interval
 *   tolerance 0.1. The first trial step is 1/‖d‖ on the very first iteration and 1 after that
 *   (at t = 1 the trial point is z itself). A search that needs more than `maxls` evaluations,
 *   or a direction that is not a descent direction, restores the previous iterate and throws
 *   the memory away (a restart); if the memory was already empty the run ends
 *   (`status: 'linesearch'`, SciPy's "ABNORMAL_TERMINATION_IN_LNSRCH").
 * - Stopping, tested after each accepted step in this order: the largest |gᵢ| ≤ `gtol`
 *   ('gtol'); (f_old − f) ≤ `ftol`·max(|f_old|, |f|, 1) ('ftol'); `maxIter` iterations
 *   ('maxiter', tested before the two above, as SciPy's driver does); more than `maxFun`
 *   evaluations ('maxfun'). Before the first iteration: ‖g₀‖∞ ≤ gtol.
 * - Memory update. The pair (s, y) = (x_new − x, g_new − g) is stored unless sᵀy ≤ ε·(−gᵀs)
 *   (ε = 2⁻⁵²), which keeps H positive definite.
 *
 * The defaults are SciPy's: memory 10, ftol = 10⁷·ε ≈ 2.2e-9, gtol 1e-5, maxIter 15000,
 * maxFun 15000, maxls 20. scikit-learn's `LogisticRegression(solver="lbfgs")` passes
 * maxls 50, ftol 64·ε and gtol = its `tol` (1e-4); see metrics/logistic-probe.ts.
 *
 * One deviation, where SciPy would produce NaN: a trial point where f or ∇f is not finite is
 * answered by halving the trial step towards the best step so far (it counts as an evaluation).
 * A non-finite f or ∇f at x0 is an error (E_NONFINITE).
 *
 * Bounds (the "-B") are not implemented: every problem in sparsecode is unconstrained.
 */

/** f(x), writing ∇f(x) into g (length x.length); called with fresh x each time. */
export type Objective = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  /** number of (s, y) pairs kept (SciPy's `maxcor`) [10] */
  memory?: number;
  /** relative reduction of f that ends the run (SciPy's `ftol` = factr·ε) [2.220446049250313e-9] */
  ftol?: number;
  /** largest |gradient entry| that ends the run (SciPy's `gtol`) [1e-5] */
  gtol?: number;
  /** iterations (accepted steps) at most (SciPy's `maxiter`) [15000] */
  maxIter?: number;
  /** function evaluations at most (SciPy's `maxfun`; checked after each iteration) [15000] */
  maxFun?: number;
  /** evaluations per line search at most (SciPy's `maxls`) [20] */
  maxls?: number;
  /** called after each accepted step; return `false` to stop (status 'callback') */
  onIteration?: (it: { iteration: number; x: Float64Array; f: number; gradMax: number; evaluations: number }) => boolean | void;
  signal?: AbortSignal;
}

export type LbfgsStatus = 'gtol' | 'ftol' | 'maxiter' | 'maxfun' | 'linesearch' | 'callback';

export interface LbfgsResult {
  /** the final iterate (a new array) */
  x: Float64Array;
  /** f at x */
  f: number;
  /** ∇f at x */
  g: Float64Array;
  /** the largest |gradient entry| at x */
  gradMax: number;
  /** accepted steps (SciPy's `nit`) */
  iterations: number;
  /** calls of f (SciPy's `nfev`) */
  evaluations: number;
  /** why it stopped */
  status: LbfgsStatus;
  /** status 'gtol' or 'ftol' (SciPy's `success`) */
  converged: boolean;
  /** SciPy's message for the status */
  message: string;
}

const MESSAGES: Record<LbfgsStatus, string> = {
  gtol: 'CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL',
  ftol: 'CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH',
  maxiter: 'STOP: TOTAL NO. of ITERATIONS REACHED LIMIT',
  maxfun: 'STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT',
  linesearch: 'ABNORMAL_TERMINATION_IN_LNSRCH',
  callback: 'STOP: CALLBACK',
};

/* ---------------------------------------------------------------------------------------- */
/* Moré–Thuente line search                                                                  */
/* ---------------------------------------------------------------------------------------- */

/**
 * State of one Moré–Thuente search on φ(t) = f(x + t·d): the interval [stx, sty] that holds
 * an acceptable step, the function and slope at its ends, the stage, and the widths used to
 * force sufficient shrinkage (bisection when the interval does not shrink by 1/3 in two
 * steps).
 */
interface SearchState {
  brackt: boolean;
  stage: 1 | 2;
  finit: number;
  ginit: number;
  gtest: number;
  stx: number; fx: number; gx: number;
  sty: number; fy: number; gy: number;
  stmin: number; stmax: number;
  width: number; width1: number;
}

const LS_FTOL = 1e-3;
const LS_GTOL = 0.9;
const LS_XTOL = 0.1;
const STP_MAX = 1e10;
const XTRAPL = 1.1;
const XTRAPU = 4.0;

function startSearch(f0: number, g0: number, stp: number): SearchState {
  const width = STP_MAX;
  return {
    brackt: false, stage: 1, finit: f0, ginit: g0, gtest: LS_FTOL * g0,
    stx: 0, fx: f0, gx: g0, sty: 0, fy: f0, gy: g0,
    stmin: 0, stmax: stp + XTRAPU * stp, width, width1: width / 0.5,
  };
}

/**
 * One step of the search: given φ(stp) = f and φ'(stp) = g, either accept stp ('conv' when
 * both conditions hold, 'warn' when no better step can be found) or return the next trial.
 */
function searchStep(s: SearchState, stp: number, f: number, g: number): { done: boolean; stp: number } {
  const ftest = s.finit + stp * s.gtest;
  if (s.stage === 1 && f <= ftest && g >= 0) s.stage = 2;
  // warnings: the step cannot improve further
  let done = false;
  if (s.brackt && (stp <= s.stmin || stp >= s.stmax)) done = true; // rounding errors prevent progress
  if (s.brackt && s.stmax - s.stmin <= LS_XTOL * s.stmax) done = true; // interval below xtol
  if (stp === STP_MAX && f <= ftest && g <= s.gtest) done = true;
  if (stp === 0 && (f > ftest || g >= s.gtest)) done = true;
  // convergence: sufficient decrease and curvature
  if (f <= ftest && Math.abs(g) <= LS_GTOL * -s.ginit) done = true;
  if (done) return { done, stp };

  let next: number;
  if (s.stage === 1 && f <= s.fx && f > ftest) {
    // a lower value without sufficient decrease: work on ψ(t) = φ(t) − φ(0) − ftol·t·φ'(0)
    const box = { stx: s.stx, fx: s.fx - s.stx * s.gtest, dx: s.gx - s.gtest, sty: s.sty, fy: s.fy - s.sty * s.gtest, dy: s.gy - s.gtest, brackt: s.brackt };
    next = safeguardedStep(box, stp, f - stp * s.gtest, g - s.gtest, s.stmin, s.stmax);
    s.stx = box.stx; s.sty = box.sty; s.brackt = box.brackt;
    s.fx = box.fx + box.stx * s.gtest; s.fy = box.fy + box.sty * s.gtest;
    s.gx = box.dx + s.gtest; s.gy = box.dy + s.gtest;
  } else {
    const box = { stx: s.stx, fx: s.fx, dx: s.gx, sty: s.sty, fy: s.fy, dy: s.gy, brackt: s.brackt };
    next = safeguardedStep(box, stp, f, g, s.stmin, s.stmax);
    s.stx = box.stx; s.fx = box.fx; s.gx = box.dx; s.sty = box.sty; s.fy = box.fy; s.gy = box.dy; s.brackt = box.brackt;
  }
  if (s.brackt) {
    // bisect when the interval did not shrink enough over the last two trials
    if (Math.abs(s.sty - s.stx) >= 0.66 * s.width1) next = s.stx + 0.5 * (s.sty - s.stx);
    s.width1 = s.width;
    s.width = Math.abs(s.sty - s.stx);
    s.stmin = Math.min(s.stx, s.sty);
    s.stmax = Math.max(s.stx, s.sty);
  } else {
    s.stmin = next + XTRAPL * (next - s.stx);
    s.stmax = next + XTRAPU * (next - s.stx);
  }
  next = Math.min(Math.max(next, 0), STP_MAX);
  // no progress possible: fall back on the best step so far
  if ((s.brackt && (next <= s.stmin || next >= s.stmax)) || (s.brackt && s.stmax - s.stmin <= LS_XTOL * s.stmax)) next = s.stx;
  return { done: false, stp: next };
}

interface Box { stx: number; fx: number; dx: number; sty: number; fy: number; dy: number; brackt: boolean }

/**
 * Moré & Thuente's safeguarded trial step (their four cases) from the best point (stx, fx, dx),
 * the other end (sty, fy, dy) and the trial (stp, fp, dp); updates the interval in `b`.
 */
function safeguardedStep(b: Box, stp: number, fp: number, dp: number, stpmin: number, stpmax: number): number {
  const { stx, fx, dx, sty, fy, dy } = b;
  const sgnd = dp * (dx / Math.abs(dx));
  let stpf: number;
  if (fp > fx) {
    // 1: higher value, the minimum is bracketed; cubic if it is closer to stx, else the mean of cubic and quadratic
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const p = gamma - dx + theta;
    const q = gamma - dx + gamma + dp;
    const stpc = stx + (p / q) * (stp - stx);
    const stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx) / 2) * (stp - stx);
    stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    b.brackt = true;
  } else if (sgnd < 0) {
    // 2: lower value, slopes of opposite sign: bracketed; the cubic if farther from stp, else the secant
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dx;
    const stpc = stp + (p / q) * (stx - stp);
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
    b.brackt = true;
  } else if (Math.abs(dp) < Math.abs(dx)) {
    // 3: lower value, same sign, the slope shrinks
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) ** 2 - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma + (dx - dp) + gamma;
    const r = p / q;
    let stpc: number;
    if (r < 0 && gamma !== 0) stpc = stp + r * (stx - stp);
    else stpc = stp > stx ? stpmax : stpmin;
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (b.brackt) {
      stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? Math.min(stp + 0.66 * (sty - stp), stpf) : Math.max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
      stpf = Math.max(stpmin, Math.min(stpmax, stpf));
    }
  } else {
    // 4: lower value, same sign, the slope does not shrink
    if (b.brackt) {
      const theta = (3 * (fp - fy)) / (sty - stp) + dy + dp;
      const s = Math.max(Math.abs(theta), Math.abs(dy), Math.abs(dp));
      let gamma = s * Math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      const p = gamma - dp + theta;
      const q = gamma - dp + gamma + dy;
      stpf = stp + (p / q) * (sty - stp);
    } else stpf = stp > stx ? stpmax : stpmin;
  }
  // the new interval
  if (fp > fx) {
    b.sty = stp; b.fy = fp; b.dy = dp;
  } else {
    if (sgnd < 0) {
      b.sty = stx; b.fy = fx; b.dy = dx;
    }
    b.stx = stp; b.fx = fp; b.dx = dp;
  }
  return stpf;
}

/* ---------------------------------------------------------------------------------------- */
/* The driver                                                                                */
/* ---------------------------------------------------------------------------------------- */

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

function allFinite(f: number, g: Float64Array): boolean {
  if (!Number.isFinite(f)) return false;
  for (let i = 0; i < g.length; i++) if (g[i] - g[i] !== 0) return false;
  return true;
}

/** Minimise f from x0 (see the module comment for the exact rules). */
export function lbfgsMinimize(f: Objective, x0: Float64Array, opts: LbfgsOptions = {}): LbfgsResult {
  const m = opts.memory ?? 10;
  assertInt('lbfgs memory', m, 1);
  const ftol = opts.ftol ?? 1e7 * Number.EPSILON;
  assertNumber('lbfgs ftol', ftol, 0);
  const gtol = opts.gtol ?? 1e-5;
  assertNumber('lbfgs gtol', gtol, 0);
  const maxIter = opts.maxIter ?? 15000;
  assertInt('lbfgs maxIter', maxIter, 1);
  const maxFun = opts.maxFun ?? 15000;
  assertInt('lbfgs maxFun', maxFun, 1);
  const maxls = opts.maxls ?? 20;
  assertInt('lbfgs maxls', maxls, 1);
  const n = x0.length;
  if (n === 0) fail('E_ARG', 'lbfgs: x0 is empty; give at least one variable');
  for (let i = 0; i < n; i++) if (!Number.isFinite(x0[i])) fail('E_NONFINITE', `lbfgs: x0[${i}] is ${x0[i]}; start from finite values`);

  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let fx = f(x, g);
  let evaluations = 1;
  if (!allFinite(fx, g)) fail('E_NONFINITE', `lbfgs: the objective or its gradient is not finite at x0 (f = ${fx}); check the objective and the starting point`);

  const S = Array.from({ length: m }, () => new Float64Array(n));
  const Y = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let col = 0; // pairs held
  let newest = -1; // slot of the newest pair
  let theta = 1; // B₀ = θ·I, θ = yᵀy / sᵀy of the newest pair

  const z = new Float64Array(n); // the quasi-Newton point x − H·g
  const d = new Float64Array(n); // z − x
  const xOld = new Float64Array(n);
  const gOld = new Float64Array(n);
  const yv = new Float64Array(n);

  let iterations = 0; // accepted steps
  let gradMax = maxAbs(g);
  const finish = (status: LbfgsStatus): LbfgsResult => ({
    x: Float64Array.from(x), f: fx, g: Float64Array.from(g), gradMax, iterations, evaluations, status,
    converged: status === 'gtol' || status === 'ftol', message: MESSAGES[status],
  });
  if (gradMax <= gtol) return finish('gtol');

  for (;;) {
    checkAborted(opts.signal);
    // direction: z = x − H·g (H₀ = I/θ)
    if (col === 0) {
      for (let i = 0; i < n; i++) z[i] = x[i] - g[i] / theta;
    } else {
      for (let i = 0; i < n; i++) d[i] = g[i];
      for (let q = 0; q < col; q++) {
        const k = (newest - q + m) % m;
        alpha[k] = rho[k] * dot(S[k], d);
        const yk = Y[k], a = alpha[k];
        for (let i = 0; i < n; i++) d[i] -= a * yk[i];
      }
      const h0 = 1 / theta;
      for (let i = 0; i < n; i++) d[i] *= h0;
      for (let q = col - 1; q >= 0; q--) {
        const k = (newest - q + m) % m;
        const beta = rho[k] * dot(Y[k], d);
        const sk = S[k], c = alpha[k] - beta;
        for (let i = 0; i < n; i++) d[i] += c * sk[i];
      }
      for (let i = 0; i < n; i++) z[i] = x[i] - d[i];
    }
    for (let i = 0; i < n; i++) d[i] = z[i] - x[i];

    // line search along d from x
    const dnorm = Math.sqrt(dot(d, d));
    let stp = iterations === 0 ? Math.min(1 / dnorm, STP_MAX) : 1;
    xOld.set(x);
    gOld.set(g);
    const fOld = fx;
    const gdOld = dot(g, d);
    let gd = gdOld;
    let ok = gdOld < 0; // else not a descent direction
    if (ok) {
      const search = startSearch(fOld, gdOld, stp);
      let lastGood = 0; // the best step so far (for the non-finite fallback)
      for (let ifun = 0; ; ifun++) {
        if (ifun >= maxls) {
          ok = false;
          break;
        }
        if (stp === 1) x.set(z);
        else for (let i = 0; i < n; i++) x[i] = stp * d[i] + xOld[i];
        fx = f(x, g);
        evaluations++;
        if (!allFinite(fx, g)) {
          stp = lastGood + 0.5 * (stp - lastGood);
          continue;
        }
        gd = dot(g, d);
        const r = searchStep(search, stp, fx, gd);
        lastGood = search.stx;
        if (r.done) break;
        stp = r.stp;
      }
    }
    if (!ok) {
      // restore the previous iterate; restart with an empty memory, or stop if it was empty
      x.set(xOld);
      g.set(gOld);
      fx = fOld;
      if (col === 0) return finish('linesearch');
      col = 0;
      newest = -1;
      theta = 1;
      continue;
    }
    iterations++;
    gradMax = maxAbs(g);
    if (opts.onIteration && opts.onIteration({ iteration: iterations, x, f: fx, gradMax, evaluations }) === false) return finish('callback');
    if (iterations >= maxIter) return finish('maxiter');
    if (evaluations > maxFun) return finish('maxfun');
    if (gradMax <= gtol) return finish('gtol');
    if (fOld - fx <= ftol * Math.max(Math.abs(fOld), Math.abs(fx), 1)) return finish('ftol');

    // memory update with s = stp·d, y = g − g_old, unless sᵀy ≤ ε·(−g_oldᵀs)
    for (let i = 0; i < n; i++) yv[i] = g[i] - gOld[i];
    const yy = dot(yv, yv);
    const sy = stp === 1 ? gd - gdOld : (gd - gdOld) * stp;
    const bound = stp === 1 ? -gdOld : -gdOld * stp;
    if (sy <= Number.EPSILON * bound) continue;
    const slot = (newest + 1) % m;
    const sk = S[slot];
    if (stp === 1) sk.set(d);
    else for (let i = 0; i < n; i++) sk[i] = stp * d[i];
    Y[slot].set(yv);
    rho[slot] = 1 / sy;
    newest = slot;
    if (col < m) col++;
    theta = yy / sy;
  }
}
