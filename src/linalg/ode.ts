import { fail } from '../core/errors.js';
import { assertNumber } from '../core/validate.js';

/**
 * Adaptive explicit Runge–Kutta integration of y' = f(t, y), y ∈ R^n, float64.
 *
 * `rk45` is the Dormand–Prince 5(4) pair (Dormand & Prince 1980) with the step-size control of
 * Hairer, Nørsett & Wanner, "Solving ODEs I", II.4 — the same rules as SciPy's
 * `solve_ivp(method='RK45')`, so that given the same tolerances both take the same steps:
 *  - the 5th-order solution is propagated (local extrapolation), the difference to the embedded
 *    4th-order one estimates the error; the last stage is the derivative at the new point (FSAL);
 *  - error norm = RMS over components of err_i / (atol + max(|y_i|, |y_new,i|)·rtol); a step is
 *    accepted when the norm is < 1;
 *  - new step = old · min(10, 0.9·norm^(−1/5)) after an accepted step (at most ×1 right after a
 *    rejection), old · max(0.2, 0.9·norm^(−1/5)) after a rejected one;
 *  - initial step from the derivative at t0 and one trial Euler step (HNW II.4, "starting step size").
 * The solution is recorded at every accepted step (t0 included), as `solve_ivp` does without
 * `t_eval`.
 */

/** Right-hand side: writes f(t, y) into `dy` (length n). Must not keep references to y or dy. */
export type OdeRhs = (t: number, y: Float64Array, dy: Float64Array) => void;

export interface Rk45Options {
  /** relative tolerance (default 1e-3, as SciPy); must be >= 100·machine epsilon */
  rtol?: number;
  /** absolute tolerance (default 1e-6, as SciPy) */
  atol?: number;
  /** largest step (default Infinity) */
  maxStep?: number;
  /** initial step (default: chosen from f(t0, y0)) */
  firstStep?: number;
  /** give up (E_NOTCONVERGED) after this many accepted + rejected steps (default 1e6) */
  maxSteps?: number;
  /** record every accepted step (default true); false keeps only the final state */
  record?: boolean;
}

export interface Rk45Result {
  /** times of the recorded states, t0 first, T last */
  t: Float64Array;
  /** states, row-major [t.length x n] */
  y: Float64Array;
  n: number;
  /** number of evaluations of f */
  nfev: number;
  /** accepted and rejected steps */
  accepted: number;
  rejected: number;
}

// Dormand–Prince 5(4) tableau
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1];
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
];
/** 5th-order weights */
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84];
/** error weights: 5th-order minus 4th-order weights, over the 7 stages (the 7th = f(t+h, y_new)) */
const E = [-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40];

const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 10;
/** −1/(q + 1) with q = 4, the order of the error estimator */
const ERROR_EXPONENT = -1 / 5;
const EPS = 2 ** -52;

function rms(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s / v.length);
}

/** The distance from t to the next float in the direction of integration. */
function spacing(t: number): number {
  if (t === 0) return Number.MIN_VALUE;
  const e = Math.floor(Math.log2(Math.abs(t)));
  return 2 ** (e - 52);
}

/** Integrate y' = f(t, y) from t0 to T (T > t0) starting at y0. */
export function rk45(f: OdeRhs, span: [number, number], y0: ArrayLike<number>, opts: Rk45Options = {}): Rk45Result {
  const [t0, T] = span;
  assertNumber('t0', t0);
  assertNumber('T', T);
  if (!(T > t0)) fail('E_ARG', `rk45: the end time T must be greater than t0, got [${t0}, ${T}]`);
  const n = y0.length;
  if (n === 0) fail('E_SHAPE', 'rk45: y0 is empty; give at least one state variable');
  const rtol = opts.rtol ?? 1e-3;
  const atol = opts.atol ?? 1e-6;
  assertNumber('rtol', rtol, 0, Infinity, { exclusiveMin: true });
  assertNumber('atol', atol, 0);
  if (rtol < 100 * EPS) fail('E_ARG', `rk45: rtol ${rtol} is below 100 machine epsilons (${100 * EPS}); use rtol >= 1e-13`);
  const maxStep = opts.maxStep ?? Infinity;
  if (!(maxStep > 0)) fail('E_ARG', `rk45: maxStep must be > 0, got ${maxStep}`);
  const maxSteps = opts.maxSteps ?? 1_000_000;
  const record = opts.record ?? true;

  const y = Float64Array.from(y0);
  for (let i = 0; i < n; i++) if (!Number.isFinite(y[i])) fail('E_NONFINITE', `rk45: y0[${i}] is ${y[i]}; the initial state must be finite`);
  let nfev = 0;
  const call = (t: number, yy: Float64Array, out: Float64Array) => {
    f(t, yy, out);
    nfev++;
  };
  const K = Array.from({ length: 7 }, () => new Float64Array(n));
  const fy = new Float64Array(n);
  call(t0, y, fy);
  for (let i = 0; i < n; i++) if (!Number.isFinite(fy[i])) fail('E_NONFINITE', `rk45: f(t0, y0)[${i}] is ${fy[i]}; the right-hand side must be finite at the start`);

  let hAbs: number;
  if (opts.firstStep !== undefined) {
    assertNumber('firstStep', opts.firstStep, 0, Infinity, { exclusiveMin: true });
    hAbs = Math.min(opts.firstStep, T - t0);
  } else hAbs = initialStep(call, t0, y, fy, rtol, atol, n);

  const ts: number[] = [t0];
  const ys: number[] = record ? Array.from(y) : [];
  let t = t0;
  let accepted = 0;
  let rejected = 0;
  const yNew = new Float64Array(n);
  const yStage = new Float64Array(n);
  const scale = new Float64Array(n);
  const err = new Float64Array(n);
  while (t < T) {
    const minStep = 10 * spacing(t);
    if (hAbs > maxStep) hAbs = maxStep;
    else if (hAbs < minStep) hAbs = minStep;
    let stepRejected = false;
    for (;;) {
      if (accepted + rejected >= maxSteps) fail('E_NOTCONVERGED', `rk45: ${maxSteps} steps reached at t = ${t} of ${T}; loosen rtol/atol or raise maxSteps`);
      if (hAbs < minStep) fail('E_NOTCONVERGED', `rk45: the step size fell below ${minStep} at t = ${t}; the problem is stiff or singular there`);
      let tNew = t + hAbs;
      if (tNew > T) tNew = T;
      const h = tNew - t;
      hAbs = Math.abs(h);
      // stages
      K[0].set(fy);
      for (let s = 1; s < 6; s++) {
        const a = A[s];
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (let j = 0; j < s; j++) acc += K[j][i] * a[j];
          yStage[i] = y[i] + acc * h;
        }
        call(t + C[s] * h, yStage, K[s]);
      }
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < 6; j++) acc += K[j][i] * B[j];
        yNew[i] = y[i] + h * acc;
      }
      call(t + h, yNew, K[6]);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < 7; j++) acc += K[j][i] * E[j];
        err[i] = acc * h;
        scale[i] = atol + Math.max(Math.abs(y[i]), Math.abs(yNew[i])) * rtol;
        err[i] /= scale[i];
      }
      const errNorm = rms(err);
      if (errNorm < 1) {
        let factor = errNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT);
        if (stepRejected) factor = Math.min(1, factor);
        hAbs *= factor;
        t = tNew;
        break;
      }
      if (!Number.isFinite(errNorm)) {
        for (let i = 0; i < n; i++) {
          if (!Number.isFinite(yNew[i])) fail('E_DIVERGED', `rk45: the solution became non-finite near t = ${t} (component ${i}); the system blows up there`);
        }
      }
      hAbs *= Math.max(MIN_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT);
      stepRejected = true;
      rejected++;
    }
    accepted++;
    y.set(yNew);
    fy.set(K[6]);
    if (record) {
      ts.push(t);
      for (let i = 0; i < n; i++) ys.push(y[i]);
    }
  }
  // without recording, only the final state is reported
  if (!record) return { t: Float64Array.from([t]), y: Float64Array.from(y), n, nfev, accepted, rejected };
  return { t: Float64Array.from(ts), y: Float64Array.from(ys), n, nfev, accepted, rejected };
}

/** HNW II.4 starting step: from |y0|, |f0| and the change of f over a trial Euler step. */
function initialStep(
  call: (t: number, y: Float64Array, out: Float64Array) => void, t0: number, y0: Float64Array, f0: Float64Array, rtol: number, atol: number, n: number,
): number {
  const tmp = new Float64Array(n);
  const sc = new Float64Array(n);
  for (let i = 0; i < n; i++) sc[i] = atol + Math.abs(y0[i]) * rtol;
  for (let i = 0; i < n; i++) tmp[i] = y0[i] / sc[i];
  const d0 = rms(tmp);
  for (let i = 0; i < n; i++) tmp[i] = f0[i] / sc[i];
  const d1 = rms(tmp);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const y1 = new Float64Array(n);
  for (let i = 0; i < n; i++) y1[i] = y0[i] + h0 * f0[i];
  const f1 = new Float64Array(n);
  call(t0 + h0, y1, f1);
  for (let i = 0; i < n; i++) tmp[i] = (f1[i] - f0[i]) / sc[i];
  const d2 = rms(tmp) / h0;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  return Math.min(100 * h0, h1);
}
