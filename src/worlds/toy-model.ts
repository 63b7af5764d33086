import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { Adam } from '../optim/adam.js';

/**
 * The toy model of superposition (Elhage et al. 2022, as used by "Superposition
 * disentanglement reveals hidden alignment", docs/papers.md sec. 5), in sparsecode's row convention:
 *
 *   h  = act(x·W)            x [batch x features], W [features x hidden], act = ReLU (default) or identity
 *   x̂  = ReLU(h·Wᵀ + b)      b [features]
 *   L  = (1 / (batch·features)) Σ_s Σ_i I_i (x̂_si − x_si)²     (importance-weighted MSE, mean over rows and features)
 *
 * Data: each feature is active independently with probability `featureProb`, active values
 * U(0, 1). Importance I_i = (1 + 2i/F)^(−2) by default (docs/papers.md sec. 5 *(unconfirmed)*:
 * Anthropic's original uses decay^i, e.g. 0.7^i; give `importance: {decay}` or explicit
 * values). The hidden ReLU follows docs/papers.md; Anthropic's original model has a linear hidden
 * layer (`hiddenActivation: 'linear'`).
 *
 * Forward and backward are written by hand (checked by finite differences in
 * test/toy-model.test.ts); training is AdamW on fresh batches drawn from a seeded stream, so
 * two models trained with the same `dataSeed` see exactly the same batches.
 */

export type ToyImportance = 'paper' | { decay: number } | ArrayLike<number>;
export type ToyHiddenActivation = 'relu' | 'linear';

export interface ToyModelConfig {
  /** number of input features F (default 64) */
  features?: number;
  /** hidden width (default 16) */
  hidden: number;
  /** probability that a feature is active in a sample (default 0.1) */
  featureProb?: number;
  /** per-feature loss weights: 'paper' = (1 + 2i/F)^(−2) (default), {decay} = decay^i, or explicit values */
  importance?: ToyImportance;
  /** hidden nonlinearity: 'relu' (docs/papers.md, default) or 'linear' (Anthropic's original) */
  hiddenActivation?: ToyHiddenActivation;
}

/** Per-feature importance weights (float32, length `features`). */
export function toyImportance(features: number, spec: ToyImportance = 'paper'): Float32Array {
  assertInt('features', features, 1);
  const out = new Float32Array(features);
  if (spec === 'paper') {
    for (let i = 0; i < features; i++) out[i] = (1 + (2 * i) / features) ** -2;
  } else if (typeof spec === 'object' && spec !== null && 'decay' in spec && typeof (spec as { decay: number }).decay === 'number') {
    const d = (spec as { decay: number }).decay;
    assertNumber('importance decay', d, 0, 1, { exclusiveMin: true });
    for (let i = 0; i < features; i++) out[i] = d ** i;
  } else if (spec && typeof (spec as ArrayLike<number>).length === 'number') {
    const a = spec as ArrayLike<number>;
    if (a.length !== features) fail('E_SHAPE', `importance has ${a.length} values, the toy model has ${features} features; give one weight per feature`);
    for (let i = 0; i < features; i++) {
      if (!(Number.isFinite(a[i]) && a[i] >= 0)) fail('E_ARG', `importance[${i}] must be a finite number >= 0, got ${a[i]}`);
      out[i] = a[i];
    }
  } else {
    fail('E_ARG', `importance must be 'paper', {decay: number} or an array of ${features} weights`);
  }
  return out;
}

/**
 * Draw `rows` samples of sparse features into `out` [rows x features]: each entry is active with
 * probability `prob`, active values U(0, 1). Allocates only when `out` is not given.
 */
export function sampleToyFeatures(rows: number, features: number, prob: number, rng: Rng, out?: Matrix): Matrix {
  assertInt('rows', rows, 0);
  assertInt('features', features, 1);
  assertNumber('featureProb', prob, 0, 1);
  const X = out ?? new Matrix(rows, features);
  if (X.rows !== rows || X.cols !== features) fail('E_SHAPE', `sampleToyFeatures: out is [${X.rows} x ${X.cols}], expected [${rows} x ${features}]`);
  const d = X.data;
  for (let i = 0; i < d.length; i++) {
    // one uniform for the gate, one for the magnitude (drawn only when active)
    d[i] = rng.uniform() < prob ? rng.uniform() : 0;
  }
  return X;
}

/** Per-batch-size buffers (allocated once per batch size, reused every step). */
class ToyWorkspace {
  readonly q: Matrix; // x·W, [n x hidden]
  readonly h: Matrix; // act(q)
  readonly p: Matrix; // h·Wᵀ + b, [n x features]
  readonly xhat: Matrix;
  readonly gp: Matrix; // dL/dp
  readonly gh: Matrix; // dL/dh, then dL/dq
  constructor(readonly n: number, features: number, hidden: number) {
    this.q = new Matrix(n, hidden);
    this.h = new Matrix(n, hidden);
    this.p = new Matrix(n, features);
    this.xhat = new Matrix(n, features);
    this.gp = new Matrix(n, features);
    this.gh = new Matrix(n, hidden);
  }
}

export class ToyModel {
  readonly features: number;
  readonly hidden: number;
  readonly featureProb: number;
  readonly hiddenActivation: ToyHiddenActivation;
  readonly importance: Float32Array;
  /** [features x hidden] */
  readonly W: Matrix;
  /** [features] */
  readonly b: Float32Array;
  readonly gW: Matrix;
  readonly gb: Float32Array;
  private ws: ToyWorkspace | null = null;

  /**
   * A toy model with W drawn Xavier-normal (std √(2/(features+hidden)), as PyTorch's
   * xavier_normal_ in Anthropic's notebook) from `seed`, b = 0.
   */
  constructor(config: ToyModelConfig, seed: Seed | Rng = 0) {
    if (!config || typeof config !== 'object') fail('E_ARG', 'ToyModel needs a config {hidden, features?, featureProb?, importance?}');
    this.features = config.features ?? 64;
    this.hidden = config.hidden;
    this.featureProb = config.featureProb ?? 0.1;
    this.hiddenActivation = config.hiddenActivation ?? 'relu';
    assertInt('features', this.features, 1);
    assertInt('hidden', this.hidden, 1);
    assertNumber('featureProb', this.featureProb, 0, 1, { exclusiveMin: true });
    if (this.hiddenActivation !== 'relu' && this.hiddenActivation !== 'linear') {
      fail('E_ARG', `hiddenActivation must be 'relu' or 'linear', got ${String(this.hiddenActivation)}`);
    }
    this.importance = toyImportance(this.features, config.importance ?? 'paper');
    this.W = new Matrix(this.features, this.hidden);
    this.b = new Float32Array(this.features);
    this.gW = new Matrix(this.features, this.hidden);
    this.gb = new Float32Array(this.features);
    const rng = seed instanceof Rng ? seed : new Rng(seed);
    rng.fillNormal(this.W.data, 0, Math.sqrt(2 / (this.features + this.hidden)));
  }

  private workspace(n: number): ToyWorkspace {
    if (!this.ws || this.ws.n !== n) this.ws = new ToyWorkspace(n, this.features, this.hidden);
    return this.ws;
  }

  private checkX(x: Matrix): void {
    if (!(x instanceof Matrix)) fail('E_ARG', 'toy model input must be a Matrix [samples x features]');
    if (x.cols !== this.features) fail('E_SHAPE', `shape mismatch: x has ${x.cols} columns, the toy model has ${this.features} features`);
  }

  /** q = x·W, h = act(q) into the workspace (or the given out for h). */
  private forwardHidden(x: Matrix, q: Matrix, h: Matrix): void {
    matmul(x, this.W, { out: q });
    const qd = q.data, hd = h.data;
    if (this.hiddenActivation === 'relu') for (let i = 0; i < qd.length; i++) hd[i] = qd[i] > 0 ? qd[i] : 0;
    else if (hd !== qd) hd.set(qd);
  }

  /** p = h·Wᵀ + b, x̂ = ReLU(p). */
  private forwardOut(h: Matrix, p: Matrix, xhat: Matrix): void {
    matmul(h, this.W, { transB: true, out: p });
    const F = this.features, pd = p.data, xd = xhat.data, b = this.b;
    for (let s = 0; s < p.rows; s++) {
      const o = s * F;
      for (let i = 0; i < F; i++) {
        const v = pd[o + i] + b[i];
        pd[o + i] = v;
        xd[o + i] = v > 0 ? v : 0;
      }
    }
  }

  /** Hidden activations h = act(x·W) [samples x hidden] (a new matrix). */
  hiddenActivations(x: Matrix): Matrix {
    this.checkX(x);
    const h = new Matrix(x.rows, this.hidden);
    this.forwardHidden(x, new Matrix(x.rows, this.hidden), h);
    return h;
  }

  /** Reconstructions x̂ [samples x features] (a new matrix). */
  reconstruct(x: Matrix): Matrix {
    const h = this.hiddenActivations(x);
    const xhat = new Matrix(x.rows, this.features);
    this.forwardOut(h, new Matrix(x.rows, this.features), xhat);
    return xhat;
  }

  /** The importance-weighted MSE on x (no gradients). */
  loss(x: Matrix): number {
    const xhat = this.reconstruct(x);
    return weightedMse(x, xhat, this.importance);
  }

  /**
   * Loss on the batch x and its gradients into gW, gb (overwritten). Allocates nothing after
   * the first call with a given batch size.
   */
  lossAndGrad(x: Matrix): number {
    this.checkX(x);
    const n = x.rows;
    if (n < 1) fail('E_SHAPE', 'toy model: the batch needs at least one row');
    const ws = this.workspace(n);
    this.forwardHidden(x, ws.q, ws.h);
    this.forwardOut(ws.h, ws.p, ws.xhat);
    const F = this.features, I = this.importance;
    const xd = x.data, hd = ws.xhat.data, pd = ws.p.data, gp = ws.gp.data;
    const scale = 2 / (n * F);
    let loss = 0;
    const gb = this.gb;
    gb.fill(0);
    for (let s = 0; s < n; s++) {
      const o = s * F;
      for (let i = 0; i < F; i++) {
        const e = hd[o + i] - xd[o + i];
        loss += I[i] * e * e;
        // ReLU on the output: the gradient passes only where p > 0
        const g = pd[o + i] > 0 ? scale * I[i] * e : 0;
        gp[o + i] = g;
        gb[i] += g;
      }
    }
    // decoder path: p = h·Wᵀ ⇒ dW = gpᵀ·h [features x hidden]; dh = gp·W
    matmul(ws.gp, ws.h, { transA: true, out: this.gW });
    matmul(ws.gp, this.W, { out: ws.gh });
    // encoder path: h = act(q), q = x·W ⇒ dq = dh ⊙ act'(q); dW += xᵀ·dq
    if (this.hiddenActivation === 'relu') {
      const gh = ws.gh.data, qd = ws.q.data;
      for (let i = 0; i < gh.length; i++) if (!(qd[i] > 0)) gh[i] = 0;
    }
    matmul(x, ws.gh, { transA: true, out: this.gW, beta: 1 });
    return loss / (n * F);
  }

  /** Parameters and gradients in a fixed order (W, b) for an optimiser. */
  params(): { name: string; param: Float32Array; grad: Float32Array }[] {
    return [
      { name: 'W', param: this.W.data, grad: this.gW.data },
      { name: 'b', param: this.b, grad: this.gb },
    ];
  }
}

/** (1/(n·F)) Σ I_i (x̂ − x)², float64 accumulation. */
export function weightedMse(x: Matrix, xhat: Matrix, importance: ArrayLike<number>): number {
  if (x.rows !== xhat.rows || x.cols !== xhat.cols) fail('E_SHAPE', `weightedMse: x is [${x.rows} x ${x.cols}], x̂ is [${xhat.rows} x ${xhat.cols}]`);
  if (importance.length !== x.cols) fail('E_SHAPE', `weightedMse: ${importance.length} importance weights for ${x.cols} features`);
  const F = x.cols;
  let s = 0;
  for (let r = 0; r < x.rows; r++) {
    for (let i = 0; i < F; i++) {
      const e = xhat.data[r * F + i] - x.data[r * F + i];
      s += importance[i] * e * e;
    }
  }
  return s / Math.max(1, x.rows * F);
}

/**
 * Expected loss of the best input-independent prediction (x̂_i = E[x_i] = prob/2, which the
 * model reaches with W = 0 and b_i = prob/2): (1/F) Σ I_i Var(x_i), Var = prob/3 − prob²/4.
 * A trained model should sit well below it.
 */
export function toyTrivialLoss(importance: ArrayLike<number>, prob: number): number {
  assertNumber('featureProb', prob, 0, 1);
  const v = prob / 3 - (prob * prob) / 4;
  let s = 0;
  for (let i = 0; i < importance.length; i++) s += importance[i] * v;
  return s / Math.max(1, importance.length);
}

/**
 * @deprecated the toy model now trains with optim's Adam (AdamW, decay on every parameter as
 * PyTorch's default); this name is kept so existing imports work.
 */
export const ToyAdamW = Adam;

export interface TrainToyOptions extends ToyModelConfig {
  /** training steps (default 10000) */
  steps?: number;
  /** rows per batch (default 1024) */
  batch?: number;
  /** AdamW learning rate (default 1e-3) */
  lr?: number;
  /** AdamW decoupled weight decay (default 0.01, PyTorch's AdamW default) */
  weightDecay?: number;
  /** seed of the initial weights */
  seed?: Seed;
  /** seed of the batch stream (default 0): models trained with the same dataSeed see the same batches */
  dataSeed?: Seed;
  /** record the training loss every this many steps (default 100) */
  logEvery?: number;
  signal?: AbortSignal;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
}

export interface TrainToyResult {
  model: ToyModel;
  /** [step, mean training loss over the last logEvery steps] pairs */
  lossCurve: [number, number][];
  /** mean training loss of the last logEvery steps */
  finalLoss: number;
  /** toyTrivialLoss for the model's importance and feature probability */
  trivialLoss: number;
  seconds: number;
}

/** Train a toy model with AdamW on a seeded stream of fresh batches. */
export async function trainToyModel(o: TrainToyOptions): Promise<TrainToyResult> {
  const steps = o.steps ?? 10000;
  const batch = o.batch ?? 1024;
  const lr = o.lr ?? 1e-3;
  const wd = o.weightDecay ?? 0.01;
  const logEvery = o.logEvery ?? 100;
  assertInt('steps', steps, 1);
  assertInt('batch', batch, 1);
  assertNumber('lr', lr, 0, Infinity, { exclusiveMin: true });
  assertNumber('weightDecay', wd, 0);
  assertInt('logEvery', logEvery, 1);
  const t0 = performance.now();
  const model = new ToyModel(o, new Rng(o.seed ?? 0).fork('toy-model:init'));
  const dataRng = new Rng(o.dataSeed ?? 0).fork('toy-model:data');
  const xb = new Matrix(batch, model.features);
  const ps = model.params();
  const opt = new Adam(ps.map((p) => p.param), { weightDecay: wd });
  const grads = ps.map((p) => p.grad);
  const lossCurve: [number, number][] = [];
  let acc = 0, accN = 0, last = NaN;
  for (let step = 0; step < steps; step++) {
    sampleToyFeatures(batch, model.features, model.featureProb, dataRng, xb);
    const loss = model.lossAndGrad(xb);
    if (!Number.isFinite(loss)) fail('E_DIVERGED', `toy model training diverged at step ${step} (loss ${loss}); lower lr (now ${lr})`);
    opt.step(grads, lr);
    acc += loss;
    accN++;
    if (accN === logEvery || step === steps - 1) {
      last = acc / accN;
      lossCurve.push([step + 1, last]);
      o.onProgress?.({ step: step + 1, steps, loss: last });
      acc = 0;
      accN = 0;
    }
    if ((step & 127) === 127) {
      checkAborted(o.signal);
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  assertFinite('toy model W', model.W);
  return { model, lossCurve, finalLoss: last, trivialLoss: toyTrivialLoss(model.importance, model.featureProb), seconds: (performance.now() - t0) / 1000 };
}
