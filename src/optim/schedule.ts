import { fail } from '../core/errors.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Learning-rate schedules as functions of the 0-based optimiser step t (the rate used by the
 * t-th update). Each is the value PyTorch's scheduler gives after t calls to `scheduler.step()`
 * (test/optim.test.ts checks them value by value against torch.optim.lr_scheduler):
 *
 * - warm-up (any kind with `warmupSteps` = w > 0): lr·(t+1)/w for t < w, so the first update
 *   is not wasted on lr = 0 — LinearLR(start_factor = 1/w, end_factor = 1, total_iters = w−1);
 * - `constant`: lr (after the warm-up, if any); `warmup-constant`: the same, warm-up required;
 * - `cosine`: from `decayStart` (default: the end of the warm-up) s to `totalSteps` T,
 *   minLr + (lr − minLr)·(1 + cos(π(t − s)/(T − s)))/2 — CosineAnnealingLR(T_max = T − s, eta_min = minLr);
 * - `linear-decay`: from s to T, lr + (minLr − lr)·(t − s)/(T − s) — LinearLR(1, minLr/lr, T − s);
 * - `constant-cosine`: constant lr until `decayStart` (required), then the cosine above.
 * `minLr` (default 0) is the floor the decays end at; steps t ≥ T get minLr.
 */
export type LrScheduleKind = 'constant' | 'warmup-constant' | 'cosine' | 'linear-decay' | 'constant-cosine';

export const LR_SCHEDULE_KINDS: readonly LrScheduleKind[] = ['constant', 'warmup-constant', 'cosine', 'linear-decay', 'constant-cosine'];

export interface LrScheduleSpec {
  kind: LrScheduleKind;
  /** peak learning rate (> 0) */
  lr: number;
  /** total number of optimiser steps T (>= 1) */
  totalSteps: number;
  /** linear warm-up steps (default 0; required >= 1 for 'warmup-constant') */
  warmupSteps?: number;
  /** step at which the decay starts (default: warmupSteps; required for 'constant-cosine') */
  decayStart?: number;
  /** floor: the learning rate the decay ends at (default 0, at most lr) */
  minLr?: number;
}

/** Check a schedule spec, failing with E_ARG naming the bad field. */
export function validateLrSchedule(s: LrScheduleSpec): void {
  if (!s || typeof s !== 'object') fail('E_ARG', `a learning-rate schedule needs {kind, lr, totalSteps}; kinds: ${LR_SCHEDULE_KINDS.join(', ')}`);
  if (!LR_SCHEDULE_KINDS.includes(s.kind)) fail('E_ARG', `unknown learning-rate schedule kind ${JSON.stringify(s.kind)}; use one of ${LR_SCHEDULE_KINDS.join(', ')}`);
  assertNumber('lr', s.lr, 0, Infinity, { exclusiveMin: true });
  assertInt('totalSteps', s.totalSteps, 1);
  const w = s.warmupSteps ?? 0;
  assertInt('warmupSteps', w, 0, s.totalSteps);
  if (s.kind === 'warmup-constant' && w < 1) fail('E_ARG', "schedule 'warmup-constant' needs warmupSteps >= 1 (or use kind 'constant')");
  if (s.kind === 'constant-cosine' && s.decayStart === undefined) fail('E_ARG', "schedule 'constant-cosine' needs decayStart (the step the cosine decay begins)");
  if (s.decayStart !== undefined) {
    assertInt('decayStart', s.decayStart, w, s.totalSteps - 1);
  } else if ((s.kind === 'cosine' || s.kind === 'linear-decay') && w >= s.totalSteps) {
    fail('E_ARG', `warmupSteps (${w}) must be < totalSteps (${s.totalSteps}) so the decay has steps to run`);
  }
  assertNumber('minLr', s.minLr ?? 0, 0, s.lr);
}

/** The schedule as a function of the 0-based step (validated once, here). */
export function lrSchedule(spec: LrScheduleSpec): (step: number) => number {
  validateLrSchedule(spec);
  const { kind, lr, totalSteps: T } = spec;
  const w = spec.warmupSteps ?? 0;
  const minLr = spec.minLr ?? 0;
  const s = spec.decayStart ?? w;
  const decays = kind === 'cosine' || kind === 'linear-decay' || kind === 'constant-cosine';
  const span = T - s;
  return (t: number): number => {
    if (!(t >= 0) || !Number.isInteger(t)) fail('E_ARG', `schedule step must be an integer >= 0, got ${t}`);
    if (t < w) return (lr * (t + 1)) / w;
    if (!decays || t < s) return lr;
    if (t >= T) return minLr;
    const u = (t - s) / span;
    if (kind === 'linear-decay') return lr + (minLr - lr) * u;
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * u))) / 2;
  };
}

/**
 * The SAE trainer's schedule (SAELens-style, kept exactly as it was so checkpoints and results
 * carry over): linear warm-up lr·(t+1)/w over `warmupSteps`, constant, then linear decay to
 * `minFactor·lr` over the last `decaySteps` of `totalSteps`, reaching it at the last step.
 */
export interface LrSchedule {
  lr: number;
  totalSteps: number;
  warmupSteps?: number;
  decaySteps?: number;
  minFactor?: number;
}

export function validateSchedule(s: LrSchedule): void {
  assertNumber('lr', s.lr, 0, Infinity, { exclusiveMin: true });
  assertInt('steps', s.totalSteps, 1);
  assertInt('warmupSteps', s.warmupSteps ?? 0, 0);
  assertInt('decaySteps', s.decaySteps ?? 0, 0);
  assertNumber('minLrFactor', s.minFactor ?? 0, 0, 1);
}

/** Learning rate of the SAE trainer's schedule for 0-based step `t`. */
export function learningRate(s: LrSchedule, t: number): number {
  const w = s.warmupSteps ?? 0;
  const d = Math.min(s.decaySteps ?? 0, s.totalSteps);
  const minF = s.minFactor ?? 0;
  let f = 1;
  if (w > 0 && t < w) f = (t + 1) / w;
  const decayStart = s.totalSteps - d;
  if (d > 0 && t >= decayStart) f = Math.min(f, minF + (1 - minF) * (1 - (t - decayStart + 1) / d));
  return s.lr * Math.max(f, 0);
}
