import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { backend as activeBackend, matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { Adam } from '../optim/adam.js';

/**
 * Amortised sparse encoders with a linear decoder, trained by Adam on the loss of
 * "Compute-optimal inference and the amortisation gap" (arXiv 2411.13117, docs/papers.md sec. 2):
 *
 *     loss = MSE + λ·mean|S|,   MSE = ||X − S·D||²_F / (n·d),   mean|S| = Σ|S| / (n·atoms)
 *
 * (means over all elements, as PyTorch's F.mse_loss and torch.mean). Two encoders:
 * - `hidden = 0`: the SAE encoder S = ReLU(X·W₁ᵀ + b₁), W₁ [atoms x d];
 * - `hidden = h`: the MLP encoder S = ReLU(ReLU(X·W₁ᵀ + b₁)·W₂ᵀ + b₂), W₁ [h x d], W₂ [atoms x h].
 * Weights are stored like PyTorch's nn.Linear ([out x in]) and initialised like it:
 * U(−1/√fan_in, 1/√fan_in) for weights and biases. The decoder D [atoms x d] (X̂ = S·D, no
 * decoder bias) is either fixed (a known dictionary) or learned; a learned decoder has its rows
 * renormalised to unit length before every step (as the reference code does), so the gradient is
 * taken at a unit-norm dictionary. Forward and backward are written out by hand; every buffer of
 * a training step is allocated once per `fit`.
 */
export interface MlpEncoderConfig {
  /** input dimension d */
  inputDim: number;
  /** number of codes (atoms) */
  atoms: number;
  /** hidden width h of the MLP; 0 (default) gives the one-layer SAE encoder ReLU(W x + b) */
  hidden?: number;
  /** encoder biases b₁ (and b₂); default true. The reference code's default is false. */
  bias?: boolean;
}

export interface MlpEncoderFitOptions {
  /** L1 weight λ of the loss MSE + λ·mean|S| (default 0.01) */
  lambda?: number;
  /** Adam learning rate (default 1e-3) */
  lr?: number;
  /** optimiser steps */
  steps: number;
  /** rows per step (default: all rows, full-batch training as in the reference code) */
  batch?: number;
  /** learn the decoder (default false: the decoder stays as set) */
  learnDecoder?: boolean;
  /** seed of the minibatch order (only used when batch < rows) */
  seed?: Seed | Rng;
  /**
   * steps (1-based counts of steps taken) after which `onCheckpoint` is called, e.g. to
   * evaluate test metrics along training; 0 means before the first step
   */
  checkpoints?: number[];
  onCheckpoint?: (step: number, encoder: MlpEncoder) => void | Promise<void>;
  /** called every `progressEvery` steps (default 500) and after the last */
  onProgress?: (p: { step: number; steps: number; loss: number; mse: number; l1: number }) => void;
  progressEvery?: number;
  signal?: AbortSignal;
  backend?: Backend;
}

export interface MlpEncoderFitResult {
  steps: number;
  /** loss terms on the last batch, before the last update */
  loss: number;
  mse: number;
  /** λ·mean|S| */
  l1: number;
}

/** Loss terms of one batch: loss = mse + l1, with l1 = λ·mean|S|. */
export interface MlpLoss {
  loss: number;
  mse: number;
  l1: number;
}

/** Gradients of the loss, laid out like the parameters. */
export interface MlpGradients {
  W1: Matrix;
  b1: Float32Array;
  W2: Matrix | null;
  b2: Float32Array | null;
  D: Matrix;
}

/** Every buffer of one forward + backward pass over `rows` rows. */
class Workspace {
  readonly pre1: Matrix;
  readonly H: Matrix | null;
  readonly pre2: Matrix | null;
  readonly S: Matrix;
  readonly R: Matrix;
  readonly dS: Matrix;
  readonly dH: Matrix | null;
  readonly grads: MlpGradients;
  /** float64 accumulator of the bias gradients */
  readonly acc: Float64Array;
  constructor(readonly rows: number, d: number, a: number, h: number, backward = true) {
    const first = h > 0 ? h : a;
    const bw = backward ? rows : 0;
    this.pre1 = new Matrix(rows, first);
    this.H = h > 0 ? new Matrix(rows, h) : null;
    this.pre2 = h > 0 ? new Matrix(rows, a) : null;
    this.S = new Matrix(rows, a);
    this.R = new Matrix(rows, d);
    this.dS = new Matrix(bw, a);
    this.dH = h > 0 ? new Matrix(bw, h) : null;
    this.acc = new Float64Array(backward ? Math.max(first, a) : 0);
    this.grads = {
      W1: new Matrix(backward ? first : 0, d),
      b1: new Float32Array(backward ? first : 0),
      W2: h > 0 ? new Matrix(backward ? a : 0, h) : null,
      b2: h > 0 ? new Float32Array(backward ? a : 0) : null,
      D: new Matrix(backward ? a : 0, d),
    };
  }
}

export class MlpEncoder {
  readonly inputDim: number;
  readonly atoms: number;
  readonly hidden: number;
  readonly bias: boolean;
  /** first layer [hidden x d] (MLP) or the SAE encoder [atoms x d] */
  readonly W1: Matrix;
  readonly b1: Float32Array;
  /** second layer [atoms x hidden] (MLP only) */
  readonly W2: Matrix | null;
  readonly b2: Float32Array | null;
  /** decoder [atoms x d]: X̂ = S·D */
  readonly D: Matrix;

  /**
   * A freshly initialised encoder. `decoder` (copied) sets the decoder; without it the decoder
   * gets random unit-norm rows (N(0,1) entries, normalised), drawn from `seed`.
   */
  constructor(config: MlpEncoderConfig, opts: { seed?: Seed | Rng; decoder?: Matrix } = {}) {
    if (!config || typeof config !== 'object') fail('E_ARG', 'MlpEncoder: a config { inputDim, atoms, hidden?, bias? } is required');
    assertInt('MlpEncoder inputDim', config.inputDim, 1);
    assertInt('MlpEncoder atoms', config.atoms, 1);
    const h = config.hidden ?? 0;
    assertInt('MlpEncoder hidden (0 for the one-layer SAE encoder)', h, 0);
    this.inputDim = config.inputDim;
    this.atoms = config.atoms;
    this.hidden = h;
    this.bias = config.bias ?? true;
    const d = this.inputDim;
    const a = this.atoms;
    const first = h > 0 ? h : a;
    const rng = toRng(opts.seed);
    const initRng = rng.fork('init');
    this.W1 = new Matrix(first, d);
    this.b1 = new Float32Array(first);
    uniformInit(this.W1.data, d, initRng);
    if (this.bias) uniformInit(this.b1, d, initRng);
    if (h > 0) {
      this.W2 = new Matrix(a, h);
      this.b2 = new Float32Array(a);
      uniformInit(this.W2.data, h, initRng);
      if (this.bias) uniformInit(this.b2, h, initRng);
    } else {
      this.W2 = null;
      this.b2 = null;
    }
    this.D = new Matrix(a, d);
    if (opts.decoder !== undefined) this.setDecoder(opts.decoder);
    else {
      rng.fork('decoder').fillNormal(this.D.data);
      normalizeDecoderRows(this.D);
    }
  }

  /** Copy a decoder [atoms x d] in (not normalised: a known dictionary is used as given). */
  setDecoder(D: Matrix): void {
    if (!(D instanceof Matrix)) fail('E_ARG', 'MlpEncoder: the decoder must be a Matrix [atoms x dim]');
    if (D.rows !== this.atoms || D.cols !== this.inputDim) {
      fail('E_SHAPE', `MlpEncoder: the decoder is [${D.rows} x ${D.cols}], expected [${this.atoms} x ${this.inputDim}] (atoms x dim)`);
    }
    assertFinite('decoder', D);
    this.D.data.set(D.data);
  }

  /** The parameter buffers, in a fixed order (W1, b1, [W2, b2], D). */
  parameters(): Float32Array[] {
    const p = [this.W1.data, this.b1];
    if (this.W2) p.push(this.W2.data, this.b2!);
    p.push(this.D.data);
    return p;
  }

  /** Number of encoder parameters (biases included when enabled). */
  encoderParameterCount(): number {
    const d = this.inputDim, a = this.atoms, h = this.hidden;
    const b = this.bias ? 1 : 0;
    return h > 0 ? h * d + b * h + a * h + b * a : a * d + b * a;
  }

  /**
   * Multiply-adds count 2 FLOPs; bias adds and ReLUs count 1 per element. Encoder forward per
   * sample: 2·d·h + 2·h·a (+ h + a biases, + h + a ReLUs) for the MLP, 2·d·a (+ a + a) for the SAE.
   */
  encoderFlopsPerSample(): number {
    return mlpEncoderFlops(this.inputDim, this.atoms, this.hidden, this.bias);
  }

  /** Codes S [n x atoms] of X [n x d]. */
  encode(X: Matrix, b?: Backend): Matrix {
    this.checkX(X, 'encode');
    const ws = new Workspace(X.rows, this.inputDim, this.atoms, this.hidden, false);
    this.forward(X, ws, b);
    return ws.S;
  }

  /** Reconstructions S·D [n x d]. */
  decode(S: Matrix, b?: Backend): Matrix {
    if (!(S instanceof Matrix) || S.cols !== this.atoms) fail('E_SHAPE', `MlpEncoder.decode: codes must be [n x ${this.atoms}], got [${S?.rows} x ${S?.cols}]`);
    return matmul(S, this.D, { backend: b });
  }

  /** Loss terms of X under the current parameters (no gradients). */
  loss(X: Matrix, lambda = 0.01, b?: Backend): MlpLoss {
    this.checkX(X, 'loss');
    assertNumber('lambda', lambda, 0);
    const ws = new Workspace(X.rows, this.inputDim, this.atoms, this.hidden, false);
    this.forward(X, ws, b);
    return this.lossTerms(X, ws, lambda, b);
  }

  /**
   * Loss and its gradients with respect to every parameter (decoder included) on X.
   * Allocates a workspace; `fit` reuses one instead.
   */
  gradients(X: Matrix, lambda = 0.01, b?: Backend): MlpLoss & { grads: MlpGradients } {
    this.checkX(X, 'gradients');
    assertNumber('lambda', lambda, 0);
    const ws = new Workspace(X.rows, this.inputDim, this.atoms, this.hidden);
    const l = this.step(X, ws, lambda, true, b);
    return { ...l, grads: ws.grads };
  }

  /**
   * Train with Adam (lr, steps, full batch by default) on the loss MSE + λ·mean|S|. With
   * `learnDecoder`, the decoder is trained too and its rows are renormalised before every step
   * and at the end.
   */
  async fit(X: Matrix, opts: MlpEncoderFitOptions): Promise<MlpEncoderFitResult> {
    if (!opts || typeof opts !== 'object') fail('E_ARG', 'MlpEncoder.fit: options { steps, ... } are required');
    this.checkX(X, 'fit');
    if (X.rows === 0) fail('E_SHAPE', 'MlpEncoder.fit: X has no rows');
    const lambda = opts.lambda ?? 0.01;
    assertNumber('lambda', lambda, 0);
    const lr = opts.lr ?? 1e-3;
    assertNumber('lr', lr, 0, Infinity, { exclusiveMin: true });
    assertInt('steps', opts.steps, 0);
    const batch = opts.batch ?? X.rows;
    assertInt('batch', batch, 1);
    if (batch > X.rows) fail('E_ARG', `MlpEncoder.fit: batch ${batch} is larger than the ${X.rows} rows of X; use batch <= rows`);
    const every = opts.progressEvery ?? 500;
    assertInt('progressEvery', every, 1);
    const checkpoints = new Set(opts.checkpoints ?? []);
    for (const c of checkpoints) assertInt('checkpoint step', c, 0, opts.steps);
    const learnD = !!opts.learnDecoder;
    const b = opts.backend;

    const ws = new Workspace(batch, this.inputDim, this.atoms, this.hidden);
    const params = this.parameters();
    const g = ws.grads;
    const grads = [g.W1.data, g.b1];
    if (g.W2) grads.push(g.W2.data, g.b2!);
    grads.push(g.D.data);
    const adam = new Adam(params);
    // frozen parts get zero gradients: Adam then leaves them exactly where they are
    const full = batch === X.rows;
    const Xb = full ? X : new Matrix(batch, this.inputDim);
    const order = full ? null : Int32Array.from({ length: X.rows }, (_, i) => i);
    const rng = full ? null : toRng(opts.seed).fork('batches');
    let cursor = X.rows;
    let last: MlpLoss = { loss: NaN, mse: NaN, l1: NaN };

    if (learnD) normalizeDecoderRows(this.D);
    if (checkpoints.has(0) && opts.onCheckpoint) await opts.onCheckpoint(0, this);
    for (let t = 0; t < opts.steps; t++) {
      checkAborted(opts.signal);
      if (!full) {
        if (cursor + batch > X.rows) {
          rng!.shuffle(order!);
          cursor = 0;
        }
        const d = this.inputDim;
        for (let r = 0; r < batch; r++) Xb.data.set(X.data.subarray(order![cursor + r] * d, order![cursor + r] * d + d), r * d);
        cursor += batch;
      }
      if (learnD) normalizeDecoderRows(this.D);
      last = this.step(Xb, ws, lambda, learnD, b);
      if (!Number.isFinite(last.loss)) fail('E_DIVERGED', `MlpEncoder.fit: the loss became non-finite at step ${t + 1}; lower lr (now ${lr})`);
      if (!learnD) g.D.data.fill(0);
      adam.step(grads, lr);
      const done = t + 1;
      if (opts.onProgress && (done % every === 0 || done === opts.steps)) opts.onProgress({ step: done, steps: opts.steps, ...last });
      if (checkpoints.has(done) && opts.onCheckpoint) {
        if (learnD) normalizeDecoderRows(this.D);
        await opts.onCheckpoint(done, this);
      }
      if (done % 200 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    if (learnD) normalizeDecoderRows(this.D);
    return { steps: opts.steps, ...last };
  }

  /* -------------------------------------------------------------------------------------- */

  private checkX(X: Matrix, where: string): void {
    if (!(X instanceof Matrix)) fail('E_ARG', `MlpEncoder.${where}: X must be a Matrix [samples x ${this.inputDim}]`);
    if (X.cols !== this.inputDim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the encoder expects ${this.inputDim} (MlpEncoder.${where})`);
    assertFinite('X', X);
  }

  /** Forward pass into ws (pre-activations, hidden, codes). */
  private forward(X: Matrix, ws: Workspace, b: Backend = activeBackend()): void {
    matmul(X, this.W1, { transB: true, out: ws.pre1, backend: b });
    if (this.bias) b.addRowVector(ws.pre1.data, ws.pre1.rows, ws.pre1.cols, this.b1, 1);
    if (this.hidden > 0) {
      b.relu(ws.pre1.data, ws.H!.data);
      matmul(ws.H!, this.W2!, { transB: true, out: ws.pre2!, backend: b });
      if (this.bias) b.addRowVector(ws.pre2!.data, ws.pre2!.rows, ws.pre2!.cols, this.b2!, 1);
      b.relu(ws.pre2!.data, ws.S.data);
    } else b.relu(ws.pre1.data, ws.S.data);
  }

  /** Residual R = S·D − X into ws.R and the loss terms (float64 sums). */
  private lossTerms(X: Matrix, ws: Workspace, lambda: number, b?: Backend): MlpLoss {
    ws.R.data.set(X.data);
    matmul(ws.S, this.D, { beta: -1, out: ws.R, backend: b });
    const n = X.rows;
    const R = ws.R.data;
    let ss = 0;
    for (let i = 0; i < R.length; i++) ss += R[i] * R[i];
    const S = ws.S.data;
    let sa = 0;
    for (let i = 0; i < S.length; i++) sa += Math.abs(S[i]);
    const mse = ss / (n * this.inputDim);
    const l1 = (lambda * sa) / (n * this.atoms);
    return { loss: mse + l1, mse, l1 };
  }

  /** Forward, loss, backward into ws.grads (decoder gradient only when wantD). */
  private step(X: Matrix, ws: Workspace, lambda: number, wantD: boolean, b: Backend = activeBackend()): MlpLoss {
    this.forward(X, ws, b);
    const l = this.lossTerms(X, ws, lambda, b);
    const n = X.rows;
    const d = this.inputDim;
    const a = this.atoms;
    const g = ws.grads;
    const cR = 2 / (n * d); // dMSE/dX̂ = cR · R
    const cS = lambda / (n * a); // d(λ·mean|S|)/dS = cS · sign(S)
    // dS = cR · R·Dᵀ + cS · sign(S)
    matmul(ws.R, this.D, { transB: true, alpha: cR, out: ws.dS, backend: b });
    if (wantD) matmul(ws.S, ws.R, { transA: true, alpha: cR, out: g.D, backend: b });
    const S = ws.S.data, dS = ws.dS.data;
    // through the output ReLU: S > 0 exactly where the pre-activation is > 0 (branch-free: the
    // signs of ReLU outputs are unpredictable, and a mispredicted branch per element costs more
    // than the multiply)
    for (let i = 0; i < dS.length; i++) {
      const on = +(S[i] > 0);
      dS[i] = (dS[i] + cS) * on;
    }
    if (this.hidden > 0) {
      const H = ws.H!;
      const dH = ws.dH!;
      matmul(ws.dS, H, { transA: true, out: g.W2!, backend: b });
      biasGrad(ws.dS, g.b2!, this.bias, ws.acc, b);
      matmul(ws.dS, this.W2!, { out: dH, backend: b });
      const hd = H.data, dhd = dH.data;
      for (let i = 0; i < dhd.length; i++) dhd[i] *= +(hd[i] > 0);
      matmul(dH, X, { transA: true, out: g.W1, backend: b });
      biasGrad(dH, g.b1, this.bias, ws.acc, b);
    } else {
      matmul(ws.dS, X, { transA: true, out: g.W1, backend: b });
      biasGrad(ws.dS, g.b1, this.bias, ws.acc, b);
    }
    return l;
  }
}

/** Forward FLOPs per sample of the encoder (see MlpEncoder.encoderFlopsPerSample). */
export function mlpEncoderFlops(d: number, atoms: number, hidden: number, bias = true): number {
  const b = bias ? 1 : 0;
  if (hidden > 0) return 2 * d * hidden + 2 * hidden * atoms + (1 + b) * (hidden + atoms);
  return 2 * d * atoms + (1 + b) * atoms;
}

/**
 * Training FLOPs of one Adam step of an encoder + linear decoder on `batch` rows, counted
 * analytically: forward (encoder + decoder 2·atoms·d + loss 3·d + 2·atoms per row), backward ≈
 * 2× the forward multiply-adds (one GEMM for the input gradient, one for the weight gradient
 * per layer), and 10 FLOPs per trained parameter for Adam. A learned decoder adds its
 * gradient GEMM (already in the 2×), its Adam update and its renormalisation (3·atoms·d).
 */
export function mlpTrainingFlopsPerStep(d: number, atoms: number, hidden: number, batch: number, learnDecoder: boolean, bias = true): number {
  const fwdMac = hidden > 0 ? 2 * d * hidden + 2 * hidden * atoms : 2 * d * atoms;
  const dec = 2 * atoms * d;
  const perRow = mlpEncoderFlops(d, atoms, hidden, bias) + dec + 3 * d + 2 * atoms + 2 * (fwdMac + dec);
  const b = bias ? 1 : 0;
  const encParams = hidden > 0 ? hidden * d + b * hidden + atoms * hidden + b * atoms : atoms * d + b * atoms;
  const params = encParams + (learnDecoder ? atoms * d : 0);
  return batch * perRow + 10 * params + (learnDecoder ? 3 * atoms * d : 0);
}

/** Renormalise the rows of D to unit length in place (rows with norm < 1e-12 are left as they are). */
export function normalizeDecoderRows(D: Matrix): void {
  const { rows, cols, data } = D;
  for (let j = 0; j < rows; j++) {
    const o = j * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += data[o + c] * data[o + c];
    const nrm = Math.sqrt(s);
    if (!(nrm > 1e-12)) continue;
    const inv = 1 / nrm;
    for (let c = 0; c < cols; c++) data[o + c] *= inv;
  }
}

function uniformInit(out: Float32Array, fanIn: number, rng: Rng): void {
  const bound = 1 / Math.sqrt(fanIn);
  rng.fillUniform(out, -bound, bound);
}

/** Column sums of G into out (float64 accumulation in acc), or zeros when the layer has no bias. */
function biasGrad(G: Matrix, out: Float32Array, enabled: boolean, acc: Float64Array, b: Backend): void {
  out.fill(0);
  if (!enabled) return;
  const sums = acc.subarray(0, G.cols);
  b.sumCols(G.data, G.rows, G.cols, sums);
  for (let j = 0; j < G.cols; j++) out[j] = sums[j];
}
