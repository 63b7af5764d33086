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
  /**
   * skip entries where the loss has a kink (ReLU) inside the stencil: the central differences
   * with steps h and h/2 disagree by more than 1e-3 relative, or the one-sided slopes (step h)
   * by more than half the larger; the h/2 one is compared otherwise (default false: every
   * entry is compared). A smooth stationary point may be skipped too.
   */
  skipKinks?: boolean;
}

export interface GradcheckResult {
  /** entries compared */
  checked: number;
  /** the largest |finite difference − analytic gradient| */
  maxError: number;
  /** one line per failing entry: name[index], both values */
  failures: string[];
  /** entries skipped because of a kink inside the stencil (skipKinks) */
  skipped: number;
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
  let checked = 0, maxError = 0, skipped = 0;
  const f32 = new Float32Array(1);
  // central difference at step `step`; also the one-sided ones (base = L(p), for skipKinks)
  const one = { fwd: 0, bwd: 0 };
  const diff = (p: GradcheckParam, i: number, step: number, base: number): number => {
    const orig = p.param[i];
    f32[0] = orig + step;
    const up = f32[0];
    f32[0] = orig - step;
    const down = f32[0];
    p.param[i] = up;
    const lu = o.loss();
    p.param[i] = down;
    const ld = o.loss();
    p.param[i] = orig;
    one.fwd = (lu - base) / (up - orig);
    one.bwd = (base - ld) / (orig - down);
    return (lu - ld) / (up - down);
  };
  const base = o.skipKinks ? o.loss() : NaN;
  o.params.forEach((p, q) => {
    if (skip.has(p.name)) return;
    const idx = p.param.length <= maxPer ? null : rng.choice(p.param.length, maxPer);
    const count = idx ? idx.length : p.param.length;
    for (let c = 0; c < count; c++) {
      const i = idx ? idx[c] : c;
      let fd = diff(p, i, h, base);
      if (o.skipKinks) {
        const { fwd, bwd } = one;
        const half = diff(p, i, h / 2, base);
        // a kink off-centre changes the central difference with the step; one at the centre
        // shows as one-sided slopes that disagree
        if (Math.abs(fd - half) > 1e-3 * (Math.abs(half) + 1e-6) || Math.abs(fwd - bwd) > 0.5 * Math.max(Math.abs(fwd), Math.abs(bwd)) + 1e-6) {
          skipped++;
          continue;
        }
        fd = half;
      }
      const an = analytic[q][i];
      const err = Math.abs(fd - an);
      checked++;
      if (!(err <= atol + rtol * Math.abs(an))) failures.push(`${p.name}[${i}]: finite difference ${fd}, analytic ${an}`);
      if (err > maxError || Number.isNaN(err)) maxError = Number.isNaN(err) ? NaN : Math.max(maxError, err);
    }
  });
  return { checked, maxError, failures, skipped };
}
