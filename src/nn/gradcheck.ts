import { fail } from '../core/errors.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/** What gradcheck perturbs: the {name, param, grad} of nn layers, SAEs' paramList(), or any buffer. */
export interface GradcheckParam {
  name: string;
  param: Float32Array;
  grad: Float32Array;
}

export interface GradcheckOptions {
  params: GradcheckParam[];
  /** the loss at the current parameters, as a float64 number (no gradients needed) */
  loss: () => number;
  /** the loss, filling every param's .grad (gradcheck zeroes the grads first, so accumulating is fine) */
  lossAndGrad: () => number;
  /** step of the central difference (default 1e-3: parameters are float32) */
  h?: number;
  /** an entry passes when |fd − analytic| <= atol + rtol·|analytic| (defaults 3e-3, 3e-2) */
  atol?: number;
  rtol?: number;
  /** check at most this many entries per parameter, drawn from `seed` (default: all) */
  maxPerParam?: number;
  seed?: Seed | Rng;
  /** names of parameters not to check (e.g. ones with a straight-through pseudo-gradient) */
  skip?: string[];
}

export interface GradcheckResult {
  /** entries compared */
  checked: number;
  /** the largest |finite difference − analytic gradient| */
  maxError: number;
  /** one line per failing entry: name[index], both values */
  failures: string[];
}

/**
 * The one gradient check of the codebase: central finite differences of `loss` against the
 * analytic gradient `lossAndGrad` writes. Each entry p[i] is moved to the float32 values nearest
 * p[i] ± h and the difference quotient uses the step actually taken,
 * (L(p⁺) − L(p⁻)) / (p⁺ − p⁻), in float64. The parameters are restored exactly.
 */
export function gradcheck(o: GradcheckOptions): GradcheckResult {
  if (!o || !Array.isArray(o.params)) fail('E_ARG', 'gradcheck needs {params, loss, lossAndGrad}');
  if (typeof o.loss !== 'function' || typeof o.lossAndGrad !== 'function') fail('E_ARG', 'gradcheck: loss and lossAndGrad must be functions returning the loss');
  const h = o.h ?? 1e-3, atol = o.atol ?? 3e-3, rtol = o.rtol ?? 3e-2;
  assertNumber('gradcheck h', h, 0, Infinity, { exclusiveMin: true });
  assertNumber('gradcheck atol', atol, 0);
  assertNumber('gradcheck rtol', rtol, 0);
  const maxPer = o.maxPerParam ?? Infinity;
  if (maxPer !== Infinity) assertInt('gradcheck maxPerParam', maxPer, 1);
  const skip = new Set(o.skip ?? []);
  const rng = toRng(o.seed);
  for (const p of o.params) {
    if (p.grad.length !== p.param.length) fail('E_SHAPE', `gradcheck: ${p.name} has ${p.param.length} values but ${p.grad.length} gradient entries`);
    p.grad.fill(0);
  }
  o.lossAndGrad();
  const analytic = o.params.map((p) => Float64Array.from(p.grad));
  const failures: string[] = [];
  let checked = 0, maxError = 0;
  const f32 = new Float32Array(1);
  o.params.forEach((p, q) => {
    if (skip.has(p.name)) return;
    const idx = p.param.length <= maxPer ? null : rng.choice(p.param.length, maxPer);
    const count = idx ? idx.length : p.param.length;
    for (let c = 0; c < count; c++) {
      const i = idx ? idx[c] : c;
      const orig = p.param[i];
      f32[0] = orig + h;
      const up = f32[0];
      f32[0] = orig - h;
      const down = f32[0];
      p.param[i] = up;
      const lu = o.loss();
      p.param[i] = down;
      const ld = o.loss();
      p.param[i] = orig;
      const fd = (lu - ld) / (up - down);
      const an = analytic[q][i];
      const err = Math.abs(fd - an);
      checked++;
      if (!(err <= atol + rtol * Math.abs(an))) failures.push(`${p.name}[${i}]: finite difference ${fd}, analytic ${an}`);
      if (err > maxError || Number.isNaN(err)) maxError = Number.isNaN(err) ? NaN : Math.max(maxError, err);
    }
  });
  return { checked, maxError, failures };
}
