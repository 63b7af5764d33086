import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { fista } from '../inference/fista.js';
import { lassoCD } from '../inference/lasso-cd.js';
import type { CheckpointExtra } from './checkpoint.js';

/**
 * Training until converged: the fraction of variance unexplained (FVU) on a held-out slice of
 * the data, measured every `evalEvery` steps, and a stopping rule on it.
 *
 * The rule is scale-free in the number of steps. With A(a, b) the mean of the held-out values
 * measured at steps in (a, b], the run has converged at step t >= minSteps when, for the FVU and
 * (when given) the mean L0 of the held-out codes,
 *
 *   |A((1 − s − w)·t, (1 − s)·t) − A((1 − w)·t, t)| <= rtol · A((1 − s − w)·t, (1 − s)·t)
 *
 * with s = `stretch` (0.2) and window w = s/2: over the last 20 % of the run the held-out FVU
 * (and L0) moved by less than `rtol` (1 %) relative, in either direction. Windows of means damp
 * the step-to-step noise; "either direction" matters for the kinds whose sparsity penalty trades
 * reconstruction for sparsity while they train (JumpReLU, ReLU: their FVU rises as L0 falls, and
 * that is not convergence). For a power-law learning curve FVU ∝ t^(−a) the rule stops once
 * a < rtol / ln(1/(1 − s)) ≈ 0.045: doubling the steps would gain less than about 3 %.
 * A held-out FVU at or below `floor` (1e-6) counts as converged at once (exact reconstruction).
 *
 * After convergence (or, without it, from 80 % of maxSteps) the learning rate decays linearly to
 * zero over a quarter of the steps run so far (so the decay is the last 20 % of the run, as the
 * fixed schedule's), then training stops. `converged` is false when maxSteps ended the run;
 * `rateNote()` then says how fast the FVU was still falling.
 */
export interface ConvergenceOptions {
  /** never stop before this many steps [1000 for SAEs] */
  minSteps?: number;
  /** stop here whatever the FVU does [50000 for SAEs] */
  maxSteps?: number;
  /** steps between held-out FVU measurements [50 for SAEs] */
  evalEvery?: number;
  /** the trailing fraction of the run over which the improvement is measured [0.2] */
  stretch?: number;
  /** relative improvement over the stretch below which the run has converged [0.01] */
  rtol?: number;
  /** held-out FVU at or below which the run has converged at once [1e-6] */
  floor?: number;
  /** rows held out (excluded from training in memory) [min(4096, max(1, floor(n / 10)))] */
  heldOutRows?: number;
}

export type ResolvedConvergence = Required<ConvergenceOptions>;

/** Defaults for a method whose steps are cheap minibatch steps (SAEs, online-dl). */
export const STEP_DEFAULTS = { minSteps: 1000, maxSteps: 50000, evalEvery: 50, stretch: 0.2, rtol: 0.01, floor: 1e-6 };

/** Defaults for DL-FISTA, whose outer steps are full passes over the data. */
export const OUTER_DEFAULTS = { minSteps: 20, maxSteps: 1000, evalEvery: 5, stretch: 0.2, rtol: 0.01, floor: 1e-6 };

/** Defaults for online dictionary learning (minibatch steps of lasso codes). */
export const ONLINE_DEFAULTS = { ...STEP_DEFAULTS, minSteps: 200, maxSteps: 20000, evalEvery: 20 };

export function heldOutSize(n: number): number {
  return Math.min(4096, Math.max(1, Math.floor(n / 10)));
}

/** Fill defaults (per-method `defaults`) and validate; n is the number of rows. */
export function resolveConvergence(o: ConvergenceOptions | undefined, n: number, defaults: Omit<ResolvedConvergence, 'heldOutRows'> = STEP_DEFAULTS): ResolvedConvergence {
  const r: ResolvedConvergence = { ...defaults, heldOutRows: heldOutSize(n), ...(o ?? {}) } as ResolvedConvergence;
  assertInt('convergence.minSteps', r.minSteps, 1);
  assertInt('convergence.maxSteps', r.maxSteps, 1);
  if (r.maxSteps < r.minSteps) fail('E_ARG', `convergence: maxSteps (${r.maxSteps}) is below minSteps (${r.minSteps}); raise maxSteps (fit --max-steps)`);
  assertInt('convergence.evalEvery', r.evalEvery, 1);
  assertNumber('convergence.stretch', r.stretch, 0, 1, { exclusiveMin: true });
  assertNumber('convergence.rtol', r.rtol, 0);
  assertNumber('convergence.floor', r.floor, 0);
  assertInt('convergence.heldOutRows', r.heldOutRows, 1, Math.max(1, n - 1));
  return r;
}

/**
 * Split rows 0..n−1 into a held-out slice of `h` rows (a seeded random subset) and the rest,
 * both in increasing order.
 */
export function heldOutSplit(n: number, h: number, rng: Rng): { train: Int32Array; heldOut: Int32Array } {
  if (!(h >= 1 && h < n)) fail('E_ARG', `held-out split: need 1 <= held-out rows < rows, got ${h} of ${n}`);
  const pick = rng.choice(n, h);
  const mark = new Uint8Array(n);
  for (const i of pick) mark[i] = 1;
  const heldOut = new Int32Array(h);
  const train = new Int32Array(n - h);
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    if (mark[i]) heldOut[a++] = i;
    else train[b++] = i;
  }
  return { train, heldOut };
}

/**
 * FVU of reconstructions R of X: Σ‖x − r‖² / Σ‖x − mean(X)‖² (float64; the complement of
 * `fve` in metrics/reconstruction.ts). NaN when X has no variance.
 */
export function fvuOf(X: Matrix, R: Matrix): number {
  const { rows: n, cols: d } = X;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X.data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  let sse = 0, sst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const x = X.data[i * d + j];
      sse += (x - R.data[i * d + j]) ** 2;
      sst += (x - mean[j]) ** 2;
    }
  }
  return sst > 0 ? sse / sst : NaN;
}

/** What a checkpoint stores of a monitor. */
export interface ConvergenceState {
  steps: number[];
  fvu: number[];
  l0?: number[];
  convergedAt: number | null;
  decayStart: number | null;
  decayEnd: number | null;
}

/** The held-out FVU history and the stopping rule (see the module comment). */
export class ConvergenceMonitor {
  readonly o: ResolvedConvergence;
  readonly steps: number[] = [];
  readonly fvu: number[] = [];
  /** mean L0 of the held-out codes per measurement (empty when not tracked) */
  readonly l0: number[] = [];
  /** the step at which the rule fired, or null */
  convergedAt: number | null = null;
  /** the learning-rate decay phase [decayStart, decayEnd), once it has begun */
  decayStart: number | null = null;
  decayEnd: number | null = null;

  /**
   * `observeEnd`: watch a run of fixed length (that many steps) without steering it: record()
   * never fixes a decay phase, and judge() gives the verdict at a chosen step.
   */
  readonly observeEnd: number | null;
  /**
   * whether the run has a learning rate to decay (SAEs): then the decay phase also begins at 80 %
   * of maxSteps without convergence. The classical learners (false) just stop when the rule fires.
   */
  readonly decays: boolean;

  constructor(o: ResolvedConvergence, observeEnd?: number, opts: { decays?: boolean } = {}) {
    this.o = o;
    this.observeEnd = observeEnd ?? null;
    this.decays = opts.decays ?? true;
  }

  /** Whether the held-out FVU is due after step `step` (1-based count of steps done). */
  due(step: number): boolean {
    return step % this.o.evalEvery === 0 || step === this.end();
  }

  /** The step the run ends at as things stand (maxSteps until the decay phase is fixed). */
  end(): number {
    return this.observeEnd ?? this.decayEnd ?? this.o.maxSteps;
  }

  /**
   * Record the held-out FVU (and optionally the held-out codes' mean L0) after `step` steps;
   * fixes the decay phase when the rule fires.
   */
  record(step: number, fvu: number, l0?: number): void {
    this.steps.push(step);
    this.fvu.push(fvu);
    if (l0 !== undefined) this.l0.push(l0);
    if (this.decayStart !== null || this.observeEnd !== null) return;
    if (step >= this.o.minSteps && this.change(step) <= this.o.rtol) {
      this.convergedAt = step;
      this.startDecay(step);
    } else if (this.decays && step >= Math.floor(0.8 * this.o.maxSteps)) {
      this.startDecay(step, this.o.maxSteps);
    }
  }

  private startDecay(step: number, end?: number): void {
    this.decayStart = step;
    this.decayEnd = Math.min(this.o.maxSteps, end ?? step + Math.max(1, Math.ceil(0.25 * step)));
    if (this.decayEnd <= step) this.decayEnd = step + 1;
  }

  /** Mean of `series` over the measurements at steps in (a, b]; NaN when there are none. */
  private windowMean(series: number[], a: number, b: number): number {
    let s = 0, c = 0;
    for (let i = 0; i < this.steps.length; i++) {
      if (this.steps[i] > a && this.steps[i] <= b) {
        s += series[i];
        c++;
      }
    }
    return c ? s / c : NaN;
  }

  /** Signed relative change of one series over the stretch ending at `step` (NaN when a window is empty). */
  private seriesChange(series: number[], step: number): number {
    const s = this.o.stretch, w = s / 2;
    const then = this.windowMean(series, (1 - s - w) * step, (1 - s) * step);
    const now = this.windowMean(series, (1 - w) * step, step);
    if (!Number.isFinite(then) || !Number.isFinite(now)) return NaN;
    return then > 0 ? (now - then) / then : now === then ? 0 : Infinity;
  }

  /**
   * The largest relative change, in either direction, of the held-out FVU and L0 over the stretch
   * ending at `step` (0 when the FVU is at the floor; Infinity before both windows hold a
   * measurement).
   */
  change(step: number): number {
    const nowFvu = this.windowMean(this.fvu, (1 - this.o.stretch / 2) * step, step);
    if (nowFvu <= this.o.floor) return 0;
    let worst = 0;
    for (const series of this.l0.length === this.fvu.length ? [this.fvu, this.l0] : [this.fvu]) {
      const c = Math.abs(this.seriesChange(series, step));
      if (!Number.isFinite(c)) return Infinity;
      worst = Math.max(worst, c);
    }
    return worst;
  }

  /** The learning-rate factor (of the base rate) for 0-based step t, given linear warm-up over `warmup` steps. */
  lrFactor(t: number, warmup: number): number {
    let f = warmup > 0 && t < warmup ? (t + 1) / warmup : 1;
    if (this.decayStart !== null && this.decayEnd !== null && t >= this.decayStart) {
      f = Math.min(f, Math.max(0, 1 - (t - this.decayStart + 1) / (this.decayEnd - this.decayStart)));
    }
    return f;
  }

  /** True once the rule fired (the run converged rather than ran out of steps). */
  get converged(): boolean {
    return this.convergedAt !== null;
  }

  /** The rule's verdict at `step` for a watched run (its measurements up to there). */
  judge(step: number): boolean {
    return this.change(step) <= this.o.rtol;
  }

  /** The last measured held-out FVU (NaN before any). */
  get last(): number {
    return this.fvu.length ? this.fvu[this.fvu.length - 1] : NaN;
  }

  /**
   * For an unconverged run: how fast the held-out FVU (and L0) was still moving over the stretch
   * ending at `at` (default: where the decay began, else the last measurement).
   */
  rateNote(at: number = this.decayStart ?? (this.steps.length ? this.steps[this.steps.length - 1] : 0), what = 'held-out FVU'): string {
    const from = Math.floor((1 - this.o.stretch) * at);
    const f = this.seriesChange(this.fvu, at);
    const parts = [Number.isFinite(f) ? `the ${what} was still ${f <= 0 ? 'falling' : 'rising'} by ${(100 * Math.abs(f)).toFixed(1)} %` : 'too few measurements to judge'];
    if (this.l0.length === this.fvu.length && this.l0.length) {
      const l = this.seriesChange(this.l0, at);
      if (Number.isFinite(l) && Math.abs(l) > this.o.rtol) parts.push(`its L0 ${l <= 0 ? 'falling' : 'rising'} by ${(100 * Math.abs(l)).toFixed(1)} %`);
    }
    return `${parts.join(', ')} between steps ${from} and ${at} (converged means below ${(100 * this.o.rtol).toFixed(1)} %)`;
  }

  state(): ConvergenceState {
    return { steps: [...this.steps], fvu: [...this.fvu], l0: [...this.l0], convergedAt: this.convergedAt, decayStart: this.decayStart, decayEnd: this.decayEnd };
  }

  restore(s: ConvergenceState): void {
    if (!s || !Array.isArray(s.steps) || !Array.isArray(s.fvu) || s.steps.length !== s.fvu.length) fail('E_FORMAT', 'checkpoint: the convergence history is missing or malformed');
    this.steps.length = 0;
    this.fvu.length = 0;
    this.steps.push(...s.steps.map(Number));
    this.fvu.push(...s.fvu.map(Number));
    this.l0.length = 0;
    if (Array.isArray(s.l0)) this.l0.push(...s.l0.map(Number));
    this.convergedAt = s.convergedAt ?? null;
    this.decayStart = s.decayStart ?? null;
    this.decayEnd = s.decayEnd ?? null;
  }
}

/**
 * The `stop` rule of the classical learners (learnDictionaryFista, onlineDictionaryLearning) on
 * a held-out slice Xh: every `conv.o.evalEvery` steps the lasso codes of Xh under the current
 * dictionary (warm-started FISTA with `fistaIters` iterations, or coordinate descent) give the
 * held-out FVU and L0 recorded in `conv`; true once the rule has fired. There is no learning
 * rate to decay: the run stops there.
 */
export function dictionaryStopRule(
  Xh: Matrix, conv: ConvergenceMonitor, coder: { coder: 'fista' | 'lasso-cd'; lambda: number; nonneg: boolean; fistaIters: number },
): ((step: number, D: Matrix) => boolean) & { extra: CheckpointExtra } {
  let Zh: Matrix | undefined;
  // what a checkpoint keeps: the monitor's history and the held-out warm start, so that a
  // resumed run measures and stops exactly where an uninterrupted one does
  const extra: CheckpointExtra = {
    save: () => ({ state: { convergence: conv.state() }, tensors: Zh ? { heldOutCodes: { shape: [Zh.rows, Zh.cols], data: Zh.data } } : undefined }),
    restore: (state, tensors) => {
      conv.restore(state.convergence as ConvergenceState);
      const t = tensors.heldOutCodes;
      if (t) {
        if (t.shape.length !== 2 || t.shape[0] !== Xh.rows) fail('E_FORMAT', `checkpoint: held-out codes are [${t.shape.join(' x ')}], expected ${Xh.rows} rows`);
        Zh = new Matrix(t.shape[0], t.shape[1], Float32Array.from(t.data));
      }
    },
  };
  const rule = (step: number, D: Matrix): boolean => {
    if (!conv.due(step)) return false;
    const r = coder.coder === 'fista'
      ? fista(Xh, D, { lambda: coder.lambda, iters: coder.fistaIters, tol: 0, nonneg: coder.nonneg, init: Zh, objective: false })
      : lassoCD(Xh, D, { lambda: coder.lambda, nonneg: coder.nonneg, init: Zh, objective: false });
    Zh = r.Z;
    const R = new Matrix(Xh.rows, Xh.cols);
    const A = D.rows, d = D.cols;
    let nnz = 0;
    for (let i = 0; i < Xh.rows; i++) {
      for (let a = 0; a < A; a++) {
        const z = Zh.data[i * A + a];
        if (z === 0) continue;
        nnz++;
        for (let j = 0; j < d; j++) R.data[i * d + j] += z * D.data[a * d + j];
      }
    }
    const f = fvuOf(Xh, R);
    if (!Number.isFinite(f)) fail('E_DIVERGED', `dictionary learning diverged at step ${step} (held-out FVU ${f})`);
    conv.record(step, f, nnz / Xh.rows);
    return conv.converged;
  };
  return Object.assign(rule, { extra });
}
