import { fail } from '../../core/errors.js';
import type { GpuTensor, WebGpuContext } from './context.js';
import * as K from './kernels.js';

/**
 * One TopK SAE training step entirely on the GPU: forward (encoder GEMM, per-row top-k, ReLU,
 * sparse decode), the sparse backward (decoder, encoder and bias gradients through per-atom
 * lists of the active entries), the radial projection of the decoder gradient, Adam(W) and the
 * decoder-row renormalisation. The same math, in the same order, as
 * `SparseActivationSAE.forwardBackward` (dictionary/sae/sparse.ts) followed by the trainer's
 * `projectRadial`, `Adam.step` (optim/adam.ts) and `normalizeDecoder`, with the AuxK loss on dead
 * latents when `auxkCoef > 0` (dead-latent tracking on the device). Parameters, gradients, Adam moments and the batch
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
  /** AuxK (Gao et al. 2024, as dictionary/sae/sparse.ts): its coefficient [0: off] */
  auxkCoef?: number;
  /** AuxK: dead latents used per row [max(1, min(atoms, floor(dim / 2)))] */
  auxK?: number;
  /** AuxK: a latent is dead after this many samples without firing (required with auxkCoef > 0) */
  deadAfter?: number;
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
  ${K.treeSum('acc')}
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

/** lastFired[a] = stamp for every active entry (val ≠ 0) */
const MARK_FIRED = /* wgsl */ `
struct Params { n: u32, stamp: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> val: array<f32>;
@group(0) @binding(2) var<storage, read_write> lastFired: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.n) { return; }
  let a = idx[e];
  if (a >= 0 && val[e] != 0.0) { lastFired[u32(a)] = P.stamp; }
}`;

/** dead[0] = number of latents with lastFired + deadAfter <= seen */
const DEAD_COUNT = /* wgsl */ `
struct Params { atoms: u32, seen: u32, deadAfter: u32 }
@group(0) @binding(0) var<storage, read> lastFired: array<u32>;
@group(0) @binding(1) var<storage, read_write> dead: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> part: array<u32, ${WG}>;
${MAIN} {
  var c = 0u;
  for (var a = li; a < P.atoms; a += ${WG}u) { if (lastFired[a] + P.deadAfter <= P.seen) { c++; } }
  part[li] = c;
  workgroupBarrier();
  ${K.treeSum('part')}
  if (li == 0u) { dead[0] = part[0]; }
}`;

/** pre[i, a] = −∞ for the latents that are alive (AuxK picks among the dead) */
const MASK_ALIVE = /* wgsl */ `
struct Params { n: u32, atoms: u32, seen: u32, deadAfter: u32, negInf: u32 }
@group(0) @binding(0) var<storage, read> lastFired: array<u32>;
@group(0) @binding(1) var<storage, read_write> pre: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.n) { return; }
  if (lastFired[e % P.atoms] + P.deadAfter > P.seen) { pre[e] = bitcast<f32>(P.negInf); } // −∞ from the uniform: WGSL refuses it as a constant
}`;

/** partial sums of (err − colmean)² per workgroup, colmean = colsum / rows (err = x − xhat, the AuxK target) */
const AUX_RESIDUAL = /* wgsl */ `
struct Params { n: u32, dim: u32, rows: f32 }
@group(0) @binding(0) var<storage, read> err: array<f32>;
@group(0) @binding(1) var<storage, read> colsum: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
var<workgroup> acc: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let g = lin(wid, nwg);
  let i = g * ${WG}u + li;
  var s = 0.0;
  if (i < P.n) { let e = err[i]; let c = e - colsum[i % P.dim] / P.rows; s = c * c; }
  acc[li] = s;
  workgroupBarrier();
  ${K.treeSum('acc')}
  if (li == 0u) { part[g] = acc[0]; }
}`;

const SUBTRACT = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> xhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> err: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let i = lin(wid, nwg) * ${WG}u + li;
  if (i < P.n) { err[i] = x[i] - xhat[i]; }
}`;

/** r = ehat − err; ehat ← (2·coef / tv)·r (its gradient; 0 without dead latents or variance); partial sums of r² */
const AUX_GRAD = /* wgsl */ `
struct Params { n: u32, coef: f32 }
@group(0) @binding(0) var<storage, read> err: array<f32>;
@group(0) @binding(1) var<storage, read_write> ehat: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dead: array<u32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<uniform> P: Params;
var<workgroup> acc: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let g = lin(wid, nwg);
  let i = g * ${WG}u + li;
  let tv = stats[0];
  let on = dead[0] > 0u && tv > 0.0;
  var s = 0.0;
  if (i < P.n) {
    let r = ehat[i] - err[i];
    s = r * r;
    ehat[i] = select(0.0, (2.0 * P.coef / tv) * r, on);
  }
  acc[li] = s;
  workgroupBarrier();
  ${K.treeSum('acc')}
  if (li == 0u) { part[g] = acc[0]; }
}`;

/** auxLoss[slot] = coef·sse / tv, or 0 without dead latents or variance (stats = [tv, sse]) */
const AUX_LOSS = /* wgsl */ `
struct Params { slot: u32, coef: f32 }
@group(0) @binding(0) var<storage, read> stats: array<f32>;
@group(0) @binding(1) var<storage, read> dead: array<u32>;
@group(0) @binding(2) var<storage, read_write> auxLoss: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(1) fn main() {
  let tv = stats[0];
  auxLoss[P.slot] = select(0.0, P.coef * stats[1] / tv, dead[0] > 0u && tv > 0.0);
}`;

interface AuxBuffers {
  coef: number;
  k: number;
  deadAfter: number;
  lastFired: GpuTensor;
  dead: GpuTensor;
  idx: GpuTensor;
  val: GpuTensor;
  gval: GpuTensor;
  err: GpuTensor;
  ehat: GpuTensor;
  colsum: GpuTensor;
  stats: GpuTensor;
  losses: GpuTensor;
  lists: K.AtomLists;
}

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
  private readonly aux: AuxBuffers | null;
  /** training samples seen (for dead-latent tracking, as SparseAutoencoder.samplesSeen) */
  samplesSeen = 0;

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
    const coef = o.auxkCoef ?? 0;
    if (!(coef >= 0)) fail('E_ARG', `GPU TopK SAE: auxkCoef must be >= 0, got ${coef}`);
    if (coef > 0) {
      const deadAfter = o.deadAfter;
      if (deadAfter === undefined || !Number.isInteger(deadAfter) || deadAfter < 1 || deadAfter >= 2 ** 31) fail('E_ARG', `GPU TopK SAE: AuxK needs deadAfter, a positive integer number of samples below 2^31, got ${deadAfter}`);
      const kA = Math.max(1, Math.min(A, o.auxK ?? Math.max(1, Math.floor(d / 2))));
      this.aux = {
        coef, k: kA, deadAfter,
        lastFired: ctx.empty([A], 'u32', 'last fired'), dead: ctx.empty([1], 'u32', 'dead count'),
        idx: ctx.empty([n, kA], 'i32', 'aux idx'), val: ctx.empty([n, kA], 'f32', 'aux val'), gval: ctx.empty([n, kA], 'f32', 'aux gval'),
        err: ctx.empty([n, d], 'f32', 'aux residual'), ehat: ctx.empty([n, d], 'f32', 'aux decode'), colsum: ctx.empty([d], 'f32', 'aux column sums'),
        stats: ctx.empty([2], 'f32', 'aux tv, sse'), losses: ctx.empty([this.lossEvery], 'f32', 'aux losses'),
        lists: new K.AtomLists(ctx, n * kA, A),
      };
    } else this.aux = null;
  }

  /** Restore the dead-latent state (samples seen, the sample count at which each latent last fired). */
  setFiredState(samplesSeen: number, lastFired: ArrayLike<number>): void {
    if (lastFired.length !== this.atoms) fail('E_SHAPE', `GPU TopK SAE: lastFired has ${lastFired.length} values, want ${this.atoms}`);
    this.samplesSeen = samplesSeen;
    this.aux?.lastFired.write(Uint32Array.from(lastFired));
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
    if (this.aux) this.auxk();
    ctx.dispatch('saeBiasDec', BIAS_DEC, [this.gx, gbenc, this.Wenc, gbdec], [['u', n], ['u', d], ['u', A]], Math.ceil(d / WG));
  }

  /**
   * AuxK (dictionary/sae/sparse.ts auxkStep): the top-auxK dead latents of each row (alive ones
   * masked to −∞ in pre, so rows with fewer dead latents get zeros) reconstruct the residual
   * x − xhat; loss coef·‖ehat − e‖² / tv (tv the residual's total variance); its gradients are
   * added to the main ones. Contributes nothing while no latent is dead.
   */
  private auxk(): void {
    const ctx = this.ctx, n = this.batch, d = this.dim, A = this.atoms, x = this.aux!;
    const [gWenc, gbenc, gWdec] = this.grads;
    const seen = this.samplesSeen;
    const stamp = seen + n;
    if (stamp >= 2 ** 32) fail('E_ARG', 'GPU TopK SAE: more than 2^32 samples seen; the dead-latent counters would overflow');
    ctx.dispatch('saeMarkFired', MARK_FIRED, [this.idx, this.val, x.lastFired], [['u', n * this.k], ['u', stamp]], Math.ceil((n * this.k) / WG));
    ctx.dispatch('saeDeadCount', DEAD_COUNT, [x.lastFired, x.dead], [['u', A], ['u', seen], ['u', x.deadAfter]], 1);
    ctx.dispatch('saeMaskAlive', MASK_ALIVE, [x.lastFired, this.pre], [['u', n * A], ['u', A], ['u', seen], ['u', x.deadAfter], ['u', 0xff800000]], Math.ceil((n * A) / WG));
    K.topkRows(ctx, this.pre, n, A, x.k, x.idx, x.val);
    K.relu(ctx, x.val, x.val);
    // residual e = x − xhat and its total variance
    ctx.dispatch('saeSubtract', SUBTRACT, [this.xb, this.xhat, x.err], [['u', n * d]], Math.ceil((n * d) / WG));
    K.sumCols(ctx, x.err, n, d, x.colsum);
    const parts = Math.ceil((n * d) / WG);
    ctx.dispatch('saeAuxResidual', AUX_RESIDUAL, [x.err, x.colsum, this.part], [['u', n * d], ['u', d], ['f', n]], parts);
    K.reduceSum(ctx, this.part, parts, false, x.stats, 0, this.scratch);
    // ehat = decode of the dead latents; its gradient and ‖ehat − e‖²
    K.gatherDecode(ctx, x.idx, x.val, n, x.k, this.Wdec, d, 0, x.ehat);
    ctx.dispatch('saeAuxGrad', AUX_GRAD, [x.err, x.ehat, x.stats, x.dead, this.part], [['u', n * d], ['f', x.coef]], parts);
    K.reduceSum(ctx, this.part, parts, false, x.stats, 1, this.scratch);
    ctx.dispatch('saeAuxLoss', AUX_LOSS, [x.stats, x.dead, x.losses], [['u', this.steps % this.lossEvery], ['f', x.coef]], 1);
    // backward through the dead latents' entries, added to the main gradients
    x.lists.build(x.idx, x.val);
    K.scatterApply(ctx, x.lists, x.val, x.k, x.ehat, d, gWdec, false);
    K.gatherDot(ctx, x.idx, n, x.k, x.ehat, this.Wdec, d, x.gval);
    ctx.dispatch('saeMask', MASK, [x.idx, x.val, x.gval], [['u', n * x.k]], Math.ceil((n * x.k) / WG));
    K.segmentSum(ctx, x.lists, x.gval, gbenc, true);
    K.scatterApply(ctx, x.lists, x.gval, x.k, this.xc, d, gWenc, false);
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
    this.samplesSeen += this.batch;
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

  /** The AuxK loss terms of the last min(steps, lossEvery) steps, oldest first (zeros without AuxK). */
  async readAuxLosses(): Promise<Float32Array> {
    const m = Math.min(this.steps, this.lossEvery);
    const out = new Float32Array(m);
    if (!this.aux) return out;
    const raw = await this.aux.losses.readF32();
    for (let s = 0; s < m; s++) out[s] = raw[(this.steps - m + s) % this.lossEvery];
    return out;
  }

  /** The sample count at which each latent last fired, copied to the host. */
  async readLastFired(): Promise<Uint32Array | null> {
    if (!this.aux) return null;
    return (await this.aux.lastFired.read()) as Uint32Array;
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
    if (this.aux) {
      const x = this.aux;
      for (const t of [x.lastFired, x.dead, x.idx, x.val, x.gval, x.err, x.ehat, x.colsum, x.stats, x.losses]) t.destroy();
      x.lists.destroy();
    }
  }
}
