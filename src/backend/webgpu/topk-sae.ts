import { fail } from '../../core/errors.js';
import type { GpuTensor, WebGpuContext } from './context.js';
import * as K from './kernels.js';

/**
 * One TopK SAE training step entirely on the GPU: forward (encoder GEMM, per-row top-k, ReLU,
 * sparse decode), the sparse backward (decoder, encoder and bias gradients through per-atom
 * lists of the active entries), the radial projection of the decoder gradient, Adam(W) and the
 * decoder-row renormalisation. The same math, in the same order, as
 * `SparseActivationSAE.forwardBackward` (dictionary/sae/sparse.ts) followed by the trainer's
 * `projectRadial`, `Adam.step` (optim/adam.ts) and `normalizeDecoder`, without AuxK (the step
 * fails for auxkCoef > 0; see docs/webgpu.md). Parameters, gradients, Adam moments and the batch
 * stay on the device; the loss of each step goes into a ring of `lossEvery` slots that the
 * caller reads when it wants (`readLosses`), so steps run without a round trip.
 *
 * Layout as in the js SAE: Wenc [atoms x dim] (the transposed SAELens W_enc), benc [atoms],
 * Wdec [atoms x dim], bdec [dim].
 */
export interface GpuTopKOptions {
  dim: number;
  atoms: number;
  k: number;
  /** rows per step */
  batch: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  normalizeDecoder?: boolean;
  /** slots of the loss ring [64] */
  lossEvery?: number;
}

export interface TopKParams {
  Wenc: Float32Array;
  benc: Float32Array;
  Wdec: Float32Array;
  bdec: Float32Array;
}

const WG = K.WEBGPU_WORKGROUP;
const LINEAR = `fn lin(wid: vec3u, nwg: vec3u) -> u32 { return wid.y * nwg.x + wid.x; }`;
const MAIN = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32)`;

/** gx = s·(xhat − x); partial sums of (xhat − x)² per workgroup */
const RECON = /* wgsl */ `
struct Params { n: u32, s: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> xhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
var<workgroup> acc: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let g = lin(wid, nwg);
  let i = g * ${WG}u + li;
  var e2 = 0.0;
  if (i < P.n) { let e = xhat[i] - x[i]; e2 = e * e; gx[i] = P.s * e; }
  acc[li] = e2;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w = w / 2u) {
    if (li < w) { acc[li] += acc[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u) { part[g] = acc[0]; }
}`;

/** gval = 0 where the code value is not > 0 or the entry is padding (ReLU after selection) */
const MASK = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> val: array<f32>;
@group(0) @binding(2) var<storage, read_write> gval: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let i = lin(wid, nwg) * ${WG}u + li;
  if (i >= P.n) { return; }
  if (!(val[i] > 0.0) || idx[i] < 0) { gval[i] = 0.0; }
}`;

/** gbdec[j] = Σ_i gx[i, j] − Σ_a gbenc[a]·Wenc[a, j] (b_dec is the decoder bias and, negated, the encoder's input shift) */
const BIAS_DEC = /* wgsl */ `
struct Params { rows: u32, dim: u32, atoms: u32 }
@group(0) @binding(0) var<storage, read> gx: array<f32>;
@group(0) @binding(1) var<storage, read> gbenc: array<f32>;
@group(0) @binding(2) var<storage, read> wenc: array<f32>;
@group(0) @binding(3) var<storage, read_write> gbdec: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let j = lin(wid, nwg) * ${WG}u + li;
  if (j >= P.dim) { return; }
  var s = 0.0;
  var c = 0.0;
  for (var i = 0u; i < P.rows; i++) { let y = gx[i * P.dim + j] - c; let t = s + y; c = (t - s) - y; s = t; }
  var sub = 0.0;
  for (var a = 0u; a < P.atoms; a++) { let w = gbenc[a]; if (w != 0.0) { sub = fma(w, wenc[a * P.dim + j], sub); } }
  gbdec[j] = s - sub;
}`;

/** per row of w (one workgroup per row): g −= (g·w / w·w)·w */
const PROJECT = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> dots: array<f32, ${WG}>;
var<workgroup> nns: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let a = lin(wid, nwg);
  if (a >= P.rows) { return; }
  let o = a * P.cols;
  var d = 0.0;
  var n = 0.0;
  for (var j = li; j < P.cols; j += ${WG}u) { d = fma(g[o + j], w[o + j], d); n = fma(w[o + j], w[o + j], n); }
  dots[li] = d;
  nns[li] = n;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
    if (li < s) { dots[li] += dots[li + s]; nns[li] += nns[li + s]; }
    workgroupBarrier();
  }
  let nn = nns[0];
  if (!(nn > 0.0)) { return; }
  let c = dots[0] / nn;
  for (var j = li; j < P.cols; j += ${WG}u) { g[o + j] = g[o + j] - c * w[o + j]; }
}`;

/** per row (one workgroup per row): w /= ‖w‖ when the norm is positive and finite */
const NORMALIZE = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;
var<workgroup> nns: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let a = lin(wid, nwg);
  if (a >= P.rows) { return; }
  let o = a * P.cols;
  var n = 0.0;
  for (var j = li; j < P.cols; j += ${WG}u) { n = fma(w[o + j], w[o + j], n); }
  nns[li] = n;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
    if (li < s) { nns[li] += nns[li + s]; }
    workgroupBarrier();
  }
  let norm = sqrt(nns[0]);
  if (!(norm > 0.0) || norm > 3.0e38) { return; }
  let inv = 1.0 / norm;
  for (var j = li; j < P.cols; j += ${WG}u) { w[o + j] = w[o + j] * inv; }
}`;

/** Adam(W), as optim/adam.ts: m, v in float32; p ← p·wd − stepSize·m / (√v·sc2 + eps) */
const ADAM = /* wgsl */ `
struct Params { n: u32, b1: f32, b2: f32, eps: f32, stepSize: f32, sc2: f32, wd: f32 }
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let i = lin(wid, nwg) * ${WG}u + li;
  if (i >= P.n) { return; }
  let gi = g[i];
  let mi = P.b1 * m[i] + (1.0 - P.b1) * gi;
  let vi = P.b2 * v[i] + (1.0 - P.b2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] * P.wd - (P.stepSize * mi) / (sqrt(vi) * P.sc2 + P.eps);
}`;

/** xb[r, :] = scale·X[perm[start + r], :] (the batch gathered on the device) */
const GATHER_ROWS = /* wgsl */ `
struct Params { rows: u32, dim: u32, start: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> perm: array<i32>;
@group(0) @binding(2) var<storage, read_write> xb: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.rows * P.dim) { return; }
  let r = e / P.dim;
  let j = e % P.dim;
  xb[e] = P.scale * X[u32(perm[P.start + r]) * P.dim + j];
}`;

export class GpuTopKTrainer {
  readonly dim: number;
  readonly atoms: number;
  readonly k: number;
  readonly batch: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly normalizeDecoder: boolean;
  readonly lossEvery: number;
  /** Adam's step count */
  t = 0;
  /** steps taken (the loss of step s is in slot s mod lossEvery) */
  steps = 0;
  readonly Wenc: GpuTensor;
  readonly benc: GpuTensor;
  readonly Wdec: GpuTensor;
  readonly bdec: GpuTensor;
  /** the batch [batch x dim], in the training space (written by `setBatch` or `gatherBatch`) */
  readonly xb: GpuTensor;
  private readonly grads: GpuTensor[];
  private readonly moments: GpuTensor[];
  private readonly xc: GpuTensor;
  private readonly pre: GpuTensor;
  private readonly idx: GpuTensor;
  private readonly val: GpuTensor;
  private readonly gval: GpuTensor;
  private readonly xhat: GpuTensor;
  private readonly gx: GpuTensor;
  private readonly part: GpuTensor;
  private readonly scratch: GpuTensor;
  private readonly losses: GpuTensor;
  private readonly lists: K.AtomLists;

  constructor(readonly ctx: WebGpuContext, o: GpuTopKOptions, init: TopKParams) {
    const { dim: d, atoms: A, k, batch: n } = o;
    for (const [name, v] of [['dim', d], ['atoms', A], ['k', k], ['batch', n]] as const) {
      if (!Number.isInteger(v) || v < 1) fail('E_ARG', `GPU TopK SAE: ${name} must be a positive integer, got ${v}`);
    }
    if (k > A) fail('E_ARG', `GPU TopK SAE: k (${k}) must be at most atoms (${A})`);
    this.dim = d; this.atoms = A; this.k = k; this.batch = n;
    this.beta1 = o.beta1 ?? 0.9; this.beta2 = o.beta2 ?? 0.999; this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.normalizeDecoder = o.normalizeDecoder ?? true;
    this.lossEvery = o.lossEvery ?? 64;
    const want: [keyof TopKParams, number][] = [['Wenc', A * d], ['benc', A], ['Wdec', A * d], ['bdec', d]];
    for (const [name, len] of want) if (init[name].length !== len) fail('E_SHAPE', `GPU TopK SAE: ${name} has ${init[name].length} values, want ${len}`);
    // every buffer is checked against the device's limits before anything is allocated
    const sizes: [string, number][] = [['pre-activations [batch x atoms]', n * A], ['W_enc [atoms x dim]', A * d], ['batch [batch x dim]', n * d]];
    for (const [what, len] of sizes) ctx.checkBytes(len * 4, `the GPU TopK SAE's ${what}`);
    this.Wenc = ctx.tensor(init.Wenc, [A, d], 'Wenc');
    this.benc = ctx.tensor(init.benc, [A], 'benc');
    this.Wdec = ctx.tensor(init.Wdec, [A, d], 'Wdec');
    this.bdec = ctx.tensor(init.bdec, [d], 'bdec');
    const params = [this.Wenc, this.benc, this.Wdec, this.bdec];
    this.grads = params.map((p) => ctx.empty(p.shape, 'f32', 'grad'));
    this.moments = params.flatMap((p) => [ctx.empty(p.shape, 'f32', 'adam m'), ctx.empty(p.shape, 'f32', 'adam v')]);
    this.xb = ctx.empty([n, d], 'f32', 'batch');
    this.xc = ctx.empty([n, d], 'f32', 'xc');
    this.pre = ctx.empty([n, A], 'f32', 'pre');
    this.idx = ctx.empty([n, k], 'i32', 'idx');
    this.val = ctx.empty([n, k], 'f32', 'val');
    this.gval = ctx.empty([n, k], 'f32', 'gval');
    this.xhat = ctx.empty([n, d], 'f32', 'xhat');
    this.gx = ctx.empty([n, d], 'f32', 'gx');
    const parts = Math.ceil((n * d) / WG);
    this.part = ctx.empty([parts], 'f32', 'loss partials');
    this.scratch = ctx.empty([K.reduceScratch(parts)], 'f32', 'reduce scratch');
    this.losses = ctx.empty([this.lossEvery], 'f32', 'losses');
    this.lists = new K.AtomLists(ctx, n * k, A);
  }

  /** Upload a batch [batch x dim] (already in the training space). */
  setBatch(x: Float32Array): void {
    if (x.length !== this.batch * this.dim) fail('E_SHAPE', `GPU TopK SAE: the batch has ${x.length} values, want ${this.batch} x ${this.dim}`);
    this.xb.write(x);
  }

  /** Record xb = scale·X[perm[start .. start + batch), :] from a device-resident X and permutation. */
  gatherBatch(X: GpuTensor, perm: GpuTensor, start: number, scale: number): void {
    if (start + this.batch > perm.length) fail('E_SHAPE', `GPU TopK SAE: rows ${start}..${start + this.batch} are past the permutation (${perm.length})`);
    this.ctx.dispatch('gatherRows', GATHER_ROWS, [X, perm, this.xb], [['u', this.batch], ['u', this.dim], ['u', start], ['f', scale]], Math.ceil((this.batch * this.dim) / WG));
  }

  /** Record forward + backward on xb: fills the gradients, and the loss slot of this step. */
  forwardBackward(): void {
    const ctx = this.ctx, n = this.batch, d = this.dim, A = this.atoms, k = this.k;
    const [gWenc, gbenc, gWdec, gbdec] = this.grads;
    // xc = x − b_dec; pre = xc·Wencᵀ + b_enc
    ctx.copy(this.xb, this.xc);
    K.addRowVector(ctx, this.xc, n, d, this.bdec, -1);
    K.sgemm(ctx, false, true, n, A, d, 1, this.xc, d, this.Wenc, d, 0, this.pre, A);
    K.addRowVector(ctx, this.pre, n, A, this.benc, 1);
    // z: the k largest pre-activations of each row, then ReLU
    K.topkRows(ctx, this.pre, n, A, k, this.idx, this.val);
    K.relu(ctx, this.val, this.val);
    // xhat = z·Wdec + b_dec; gx = 2 (xhat − x) / n; the loss slot gets Σ (xhat − x)²
    K.gatherDecode(ctx, this.idx, this.val, n, k, this.Wdec, d, 0, this.xhat);
    K.addRowVector(ctx, this.xhat, n, d, this.bdec, 1);
    const parts = Math.ceil((n * d) / WG);
    ctx.dispatch('saeRecon', RECON, [this.xb, this.xhat, this.gx, this.part], [['u', n * d], ['f', 2 / n]], parts);
    K.reduceSum(ctx, this.part, parts, false, this.losses, this.steps % this.lossEvery, this.scratch);
    // backward through the active atoms (per-atom lists of the active entries, built once)
    this.lists.build(this.idx, this.val);
    K.scatterApply(ctx, this.lists, this.val, k, this.gx, d, gWdec, true);
    K.gatherDot(ctx, this.idx, n, k, this.gx, this.Wdec, d, this.gval);
    ctx.dispatch('saeMask', MASK, [this.idx, this.val, this.gval], [['u', n * k]], Math.ceil((n * k) / WG));
    K.segmentSum(ctx, this.lists, this.gval, gbenc);
    K.scatterApply(ctx, this.lists, this.gval, k, this.xc, d, gWenc, true);
    ctx.dispatch('saeBiasDec', BIAS_DEC, [this.gx, gbenc, this.Wenc, gbdec], [['u', n], ['u', d], ['u', A]], Math.ceil(d / WG));
  }

  /** Record the optimiser part: radial projection, Adam with learning rate lr, renormalisation. */
  update(lr: number): void {
    const ctx = this.ctx, d = this.dim, A = this.atoms;
    if (!(lr >= 0) || !Number.isFinite(lr)) fail('E_ARG', `GPU TopK SAE: the learning rate must be a finite number >= 0, got ${lr}`);
    const params = [this.Wenc, this.benc, this.Wdec, this.bdec];
    const decay = [true, false, true, false];
    if (this.normalizeDecoder) ctx.dispatch('saeProject', PROJECT, [this.Wdec, this.grads[2]], [['u', A], ['u', d]], A);
    this.t++;
    const c1 = 1 - this.beta1 ** this.t, c2 = 1 - this.beta2 ** this.t;
    const stepSize = lr / c1, sc2 = 1 / Math.sqrt(c2);
    params.forEach((p, q) => {
      const wd = decay[q] ? 1 - lr * this.weightDecay : 1;
      ctx.dispatch('adam', ADAM, [p, this.grads[q], this.moments[2 * q], this.moments[2 * q + 1]],
        [['u', p.length], ['f', this.beta1], ['f', this.beta2], ['f', this.eps], ['f', stepSize], ['f', sc2], ['f', wd]], Math.ceil(p.length / WG));
    });
    if (this.normalizeDecoder) ctx.dispatch('saeNormalize', NORMALIZE, [this.Wdec], [['u', A], ['u', d]], A);
  }

  /** One training step on xb with learning rate lr (recorded and submitted; does not wait). */
  step(lr: number): void {
    this.forwardBackward();
    this.update(lr);
    this.steps++;
    this.ctx.flush();
  }

  /** The mean squared reconstruction errors (Σ‖xhat − x‖² / batch) of the last min(steps, lossEvery) steps, oldest first. */
  async readLosses(): Promise<Float32Array> {
    const raw = await this.losses.readF32();
    const m = Math.min(this.steps, this.lossEvery);
    const out = new Float32Array(m);
    for (let s = 0; s < m; s++) out[s] = raw[(this.steps - m + s) % this.lossEvery] / this.batch;
    return out;
  }

  /** The parameters, copied to the host. */
  async readParams(): Promise<TopKParams> {
    return { Wenc: await this.Wenc.readF32(), benc: await this.benc.readF32(), Wdec: await this.Wdec.readF32(), bdec: await this.bdec.readF32() };
  }

  /** The gradients of the last forwardBackward (for tests), in paramList order. */
  async readGrads(): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const g of this.grads) out.push(await g.readF32());
    return out;
  }

  destroy(): void {
    this.ctx.flush();
    for (const t of [this.Wenc, this.benc, this.Wdec, this.bdec, ...this.grads, ...this.moments, this.xb, this.xc, this.pre, this.idx, this.val, this.gval, this.xhat, this.gx, this.part, this.scratch, this.losses]) t.destroy();
    this.lists.destroy();
  }
}
