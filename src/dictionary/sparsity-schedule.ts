import { fail } from '../core/errors.js';

/**
 * How the sparsity coefficient of a ReLU (L1) or JumpReLU (L0) SAE moves during training:
 * coefficient(t) = base · warmUp(t) · multiplier(t), where
 *
 * - warmUp(t) = min(1, t / warmupSteps) (SAELens's `l1_warm_up_steps` / `l0_warm_up_steps`: the
 *   coefficient of 0-based step t; 0 at the first step; 1 without a warm-up), and
 * - multiplier(t) comes from an L0 controller when a target L0 is given: the rate-damped
 *   integral controller of the SynthSAEBench experiments (`CoefficientAutotuner`,
 *   decoderesearch/synth-sae-bench-experiments), which tunes L1 and JumpReLU SAEs to the L0
 *   that TopK-style SAEs get from k.
 *
 * The controller, after the step at 0-based index t with batch L0 `l` (mean active latents per
 * row of that step's codes):
 *   1. s ← l on its first update, else s ← α·s + (1 − α)·l (α = smoothing, 0.99), and the rate
 *      r ← β·r + (1 − β)·(s − s_prev) (β = rateSmoothing, 0.95; r = 0 on the first update);
 *   2. before step `start` nothing more; else with e = s − target (nothing when |e| ≤ deadband):
 *      g = convergenceGain (0.01) when e·r < 0 (L0 already moving toward the target), else 1;
 *      a = integralGain (3e-4) · g · tanh(|e / target| · gainScale (10));
 *      multiplier ← clamp(multiplier · (1 + a) if e > 0 else multiplier · (1 − a), [min, max] = [0.01, 100]).
 * The multiplier a step's loss uses is the one after the previous step's update (as in the
 * reference, whose sparsity loss is computed before the controller sees the step's L0).
 */
export interface L0ControllerOptions {
  /** the L0 to reach (mean active latents per row) */
  target: number;
  /** first 0-based step at which the multiplier may move [0] */
  start?: number;
  smoothing?: number;
  rateSmoothing?: number;
  integralGain?: number;
  gainScale?: number;
  convergenceGain?: number;
  deadband?: number;
  minMultiplier?: number;
  maxMultiplier?: number;
}

/** The controller's state (numbers only: kept in training checkpoints). */
export interface L0ControllerState {
  smoothedL0: number;
  prevSmoothedL0: number;
  rate: number;
  multiplier: number;
  initialized: number;
}

export class L0Controller {
  readonly target: number;
  readonly start: number;
  private readonly o: Required<Omit<L0ControllerOptions, 'target' | 'start'>>;
  smoothedL0 = 0;
  private prevSmoothedL0 = 0;
  rate = 0;
  multiplier = 1;
  private initialized = false;

  constructor(opts: L0ControllerOptions) {
    const o = {
      smoothing: opts.smoothing ?? 0.99,
      rateSmoothing: opts.rateSmoothing ?? 0.95,
      integralGain: opts.integralGain ?? 3e-4,
      gainScale: opts.gainScale ?? 10,
      convergenceGain: opts.convergenceGain ?? 0.01,
      deadband: opts.deadband ?? 0,
      minMultiplier: opts.minMultiplier ?? 0.01,
      maxMultiplier: opts.maxMultiplier ?? 100,
    };
    if (!(typeof opts.target === 'number' && Number.isFinite(opts.target) && opts.target > 0)) {
      fail('E_ARG', `target L0 must be a positive number (mean active latents per row), got ${opts.target}; e.g. targetL0: 25`);
    }
    const start = opts.start ?? 0;
    if (!Number.isInteger(start) || start < 0) fail('E_ARG', `the L0 controller's start step must be a non-negative integer, got ${start}`);
    for (const key of ['smoothing', 'rateSmoothing'] as const) {
      if (!(o[key] >= 0 && o[key] < 1)) fail('E_ARG', `L0 controller ${key} must be in [0, 1), got ${o[key]}`);
    }
    for (const key of ['integralGain', 'gainScale', 'convergenceGain', 'deadband'] as const) {
      if (!(o[key] >= 0 && Number.isFinite(o[key]))) fail('E_ARG', `L0 controller ${key} must be a non-negative number, got ${o[key]}`);
    }
    if (!(o.minMultiplier > 0 && o.maxMultiplier >= o.minMultiplier && Number.isFinite(o.maxMultiplier))) {
      fail('E_ARG', `L0 controller multiplier bounds must satisfy 0 < min <= max < Infinity, got [${o.minMultiplier}, ${o.maxMultiplier}]`);
    }
    this.target = opts.target;
    this.start = start;
    this.o = o;
  }

  /** Record the batch L0 of 0-based step `step`; returns the multiplier for the next step. */
  update(batchL0: number, step: number): number {
    const o = this.o;
    if (!Number.isFinite(batchL0)) fail('E_NONFINITE', `L0 controller: the batch L0 at step ${step} is ${batchL0}`);
    if (!this.initialized) {
      this.smoothedL0 = batchL0;
      this.prevSmoothedL0 = batchL0;
      this.rate = 0;
      this.initialized = true;
    } else {
      this.prevSmoothedL0 = this.smoothedL0;
      this.smoothedL0 = o.smoothing * this.smoothedL0 + (1 - o.smoothing) * batchL0;
      this.rate = o.rateSmoothing * this.rate + (1 - o.rateSmoothing) * (this.smoothedL0 - this.prevSmoothedL0);
    }
    if (step < this.start) return this.multiplier;
    const e = this.smoothedL0 - this.target;
    if (Math.abs(e) <= o.deadband) return this.multiplier;
    const gain = e * this.rate < 0 ? o.convergenceGain : 1;
    const a = o.integralGain * gain * Math.tanh(Math.abs(e / this.target) * o.gainScale);
    const m = e > 0 ? this.multiplier * (1 + a) : this.multiplier * (1 - a);
    this.multiplier = Math.max(o.minMultiplier, Math.min(o.maxMultiplier, m));
    return this.multiplier;
  }

  state(): L0ControllerState {
    return { smoothedL0: this.smoothedL0, prevSmoothedL0: this.prevSmoothedL0, rate: this.rate, multiplier: this.multiplier, initialized: this.initialized ? 1 : 0 };
  }

  restore(s: L0ControllerState): void {
    for (const key of ['smoothedL0', 'prevSmoothedL0', 'rate', 'multiplier', 'initialized'] as const) {
      if (typeof s?.[key] !== 'number' || !Number.isFinite(s[key])) fail('E_FORMAT', `checkpoint: the L0 controller's ${key} is missing or not a finite number`);
    }
    this.smoothedL0 = s.smoothedL0;
    this.prevSmoothedL0 = s.prevSmoothedL0;
    this.rate = s.rate;
    this.multiplier = s.multiplier;
    this.initialized = s.initialized !== 0;
  }
}

/** The warm-up factor of 0-based step t: min(1, t / warmupSteps), 1 without a warm-up. */
export function sparsityWarmUp(t: number, warmupSteps: number): number {
  return warmupSteps > 0 && t < warmupSteps ? t / warmupSteps : 1;
}
