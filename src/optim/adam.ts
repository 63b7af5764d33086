import { backend } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { assertNumber } from '../core/validate.js';

/**
 * Adam / AdamW over a fixed list of float32 parameter buffers, with first and second moments
 * in float32 (as PyTorch stores them). `weightDecay` is decoupled (AdamW): p -= lr * wd * p.
 * Bias correction as in Kingma & Ba. `step` allocates nothing.
 *
 * The update (for each buffer p with gradient g, step count t after increment):
 *     m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
 *     p ← p·(1 − lr·wd) − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + eps)
 * exactly torch.optim.AdamW's (test/optim.test.ts checks trajectories against it). The one
 * Adam of the codebase: SAEs, the toy model of superposition and the MLP encoders use it.
 */
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay (AdamW); 0 gives Adam. Applied to every buffer whose `decay` flag is set. */
  weightDecay?: number;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  /** number of updates taken so far (for bias correction; saved in checkpoints) */
  t = 0;

  constructor(readonly params: Float32Array[], opts: AdamOptions = {}, readonly decay: boolean[] = params.map(() => true)) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    assertNumber('adam beta1', this.beta1, 0, 1);
    assertNumber('adam beta2', this.beta2, 0, 1);
    if (this.beta1 >= 1 || this.beta2 >= 1) fail('E_ARG', `adam betas must be < 1, got ${this.beta1}, ${this.beta2}`);
    assertNumber('adam eps', this.eps, 0, Infinity, { exclusiveMin: true });
    assertNumber('weight decay', this.weightDecay, 0);
    if (decay.length !== params.length) fail('E_ARG', 'adam: one decay flag per parameter buffer');
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }

  /** One update with learning rate lr; grads[i] matches params[i] in length. */
  step(grads: Float32Array[], lr: number): void {
    if (grads.length !== this.params.length) fail('E_ARG', `adam: ${grads.length} gradients for ${this.params.length} parameters`);
    this.t++;
    const b1 = this.beta1, b2 = this.beta2, eps = this.eps;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const stepSize = lr / c1;
    const sc2 = 1 / Math.sqrt(c2);
    // the native kernel gives the same bits as the loop below; small buffers stay here (a call costs more)
    const fast = backend().adamStep;
    for (let q = 0; q < this.params.length; q++) {
      const p = this.params[q], g = grads[q], m = this.m[q], v = this.v[q];
      if (g.length !== p.length) fail('E_SHAPE', `adam: gradient ${q} has ${g.length} values, its parameter has ${p.length}`);
      const wd = this.decay[q] ? 1 - lr * this.weightDecay : 1;
      if (fast && p.length >= 4096) {
        fast(p, g, m, v, b1, b2, stepSize, sc2, eps, wd);
        continue;
      }
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = b1 * m[i] + (1 - b1) * gi;
        const vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * wd - (stepSize * mi) / (Math.sqrt(vi) * sc2 + eps);
      }
    }
  }

  /** Zero the moments of selected rows of one buffer (used when latents are resampled). */
  resetRows(param: number, rows: ArrayLike<number>, rowLength: number): void {
    const m = this.m[param], v = this.v[param];
    for (let r = 0; r < rows.length; r++) {
      const o = rows[r] * rowLength;
      m.fill(0, o, o + rowLength);
      v.fill(0, o, o + rowLength);
    }
  }
}
