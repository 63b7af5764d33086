import { Matrix } from '../core/matrix.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { Adam } from '../optim/adam.js';
import { lrSchedule } from '../optim/schedule.js';
import type { OuWorld } from '../worlds/ou-views.js';
import type { ViewObjective, ObjectiveValue } from './views.js';

/**
 * The training loop of "When does LeJEPA learn a world model?" (`engine.py`
 * `train_and_evaluate`, docs/lejepa.md): fresh data every step (B anchors, two OU views, their
 * observations through the world's mixing), the encoder applied to all 2B observations at once,
 * the objective's loss and gradient, AdamW (PyTorch defaults: weight decay 0.01 on every
 * parameter, betas 0.9/0.999, eps 1e-8), learning rate constant for the first half and cosine to 0
 * over the second half (`warmup_cosine_lr`: no warm-up despite its name); the loop runs steps + 1
 * iterations (t = 0 … steps, the last with learning rate 0), as the reference.
 */

/** What the trainer needs of an encoder (the `nn` layer interface). */
export interface ViewEncoder {
  forward(x: Matrix, train?: boolean): Matrix;
  backward(dy: Matrix): Matrix;
  params(): { name: string; param: Float32Array; grad: Float32Array; shape: number[] }[];
  zeroGrad(): void;
}

export interface TrainViewsOptions {
  encoder: ViewEncoder;
  world: OuWorld;
  objective: ViewObjective;
  /** optimiser steps (the loop runs steps + 1 iterations) */
  steps: number;
  /** anchors per step B (default 256: 512 embeddings per step) */
  batch?: number;
  /** peak learning rate (default 3e-3) */
  lr?: number;
  /** AdamW decoupled weight decay (default 0.01, PyTorch's AdamW default) */
  weightDecay?: number;
  /** seed of the data stream and the SIGReg directions */
  seed?: Seed | Rng;
  /** called every `progressEvery` iterations (default 100) and after the last */
  onProgress?: (p: TrainViewsProgress) => void;
  progressEvery?: number;
  signal?: AbortSignal;
}

export interface TrainViewsProgress {
  step: number;
  steps: number;
  lr: number;
  loss: number;
  parts: Record<string, number>;
}

export interface TrainViewsResult {
  steps: number;
  /** the training loss of the last iteration (the reference's `final_loss`) */
  finalLoss: number;
  parts: Record<string, number>;
  seconds: number;
}

/**
 * The reference's schedule (`warmup_cosine_lr`): lr for t < ⌊T/2⌋, then
 * lr·(1 + cos(π(t − ⌊T/2⌋)/(T − ⌊T/2⌋)))/2, 0 at t = T: optim's 'constant-cosine' schedule.
 */
export function constantCosineSchedule(totalSteps: number, lr: number): (step: number) => number {
  if (totalSteps < 2) return (t) => (t < totalSteps ? lr : 0);
  return lrSchedule({ kind: 'constant-cosine', lr, totalSteps, decayStart: Math.floor(totalSteps / 2) });
}

/**
 * One training step at a time: fresh batch, forward, loss and gradient, backward, AdamW update.
 * `trainViews` runs it over the schedule; benchmarks time single steps.
 */
export class ViewTrainer {
  readonly batch: number;
  readonly lr: number;
  private readonly opt: Adam;
  private readonly grads: Float32Array[];
  private readonly dataRng: Rng;
  private readonly dirRng: Rng;
  private grad: Matrix | null = null;

  constructor(readonly o: Omit<TrainViewsOptions, 'steps' | 'onProgress' | 'progressEvery' | 'signal'>) {
    this.batch = o.batch ?? 256;
    assertInt('batch', this.batch, 2);
    this.lr = o.lr ?? 3e-3;
    assertNumber('lr', this.lr, 0, Infinity, { exclusiveMin: true });
    const wd = o.weightDecay ?? 0.01;
    assertNumber('weightDecay', wd, 0);
    const rng = o.seed instanceof Rng ? o.seed : toRng(o.seed ?? 0);
    this.dataRng = rng.fork('data');
    this.dirRng = rng.fork('directions');
    const params = o.encoder.params();
    this.opt = new Adam(params.map((p) => p.param), { weightDecay: wd });
    this.grads = params.map((p) => p.grad);
  }

  /** One step with learning rate `rate`; returns the loss before the update. */
  step(rate: number): ObjectiveValue {
    const { encoder, world, objective } = this.o;
    const batch = world.batch(this.dataRng, this.batch, objective.views);
    const H = encoder.forward(batch.x, true);
    if (!this.grad || this.grad.rows !== H.rows || this.grad.cols !== H.cols) this.grad = new Matrix(H.rows, H.cols);
    const v = objective.lossAndGrad(H, this.grad, this.dirRng);
    encoder.zeroGrad();
    encoder.backward(this.grad);
    this.opt.step(this.grads, rate);
    return v;
  }
}

/** Train `encoder` on fresh two-view batches of `world` with `objective`. */
export async function trainViews(o: TrainViewsOptions): Promise<TrainViewsResult> {
  assertInt('steps', o.steps, 1);
  const trainer = new ViewTrainer(o);
  const schedule = constantCosineSchedule(o.steps, trainer.lr);
  const every = o.progressEvery ?? 100;
  let last: ObjectiveValue = { value: NaN, parts: {} };
  const t0 = performance.now();
  for (let t = 0; t <= o.steps; t++) {
    if ((t & 15) === 0) {
      checkAborted(o.signal);
      if (t > 0) await new Promise<void>((r) => setImmediate(r));
    }
    const rate = schedule(t);
    last = trainer.step(rate);
    if (o.onProgress && (t % every === 0 || t === o.steps)) o.onProgress({ step: t, steps: o.steps, lr: rate, loss: last.value, parts: last.parts });
  }
  return { steps: o.steps, finalLoss: last.value, parts: last.parts, seconds: (performance.now() - t0) / 1000 };
}

/** The encoder's embeddings of X, in chunks of `chunk` rows (evaluation mode). */
export function embed(encoder: ViewEncoder, X: Matrix, chunk = 4096): Matrix {
  let H: Matrix | null = null;
  for (let r = 0; r < X.rows; r += chunk) {
    const part = encoder.forward(X.rowSlice(r, Math.min(X.rows, r + chunk)), false);
    if (!H) H = new Matrix(X.rows, part.cols);
    H.data.set(part.data, r * part.cols);
  }
  return H ?? new Matrix(0, 0);
}
