import { fail } from '../../core/errors.js';
import type { GpuTensor, WebGpuContext } from './context.js';

/**
 * WGSL kernels on GPU tensors, with the semantics of the `Backend` ops of the same names
 * (`backend/types.ts`; the js backend is the reference the conformance suite checks them
 * against). Each call records a compute pass; nothing waits for the device. Accumulation is in
 * float32 (the js backend accumulates some sums in float64: the results agree within float32
 * tolerance, not bit for bit).
 */

const WG = 256;

/**
 * WGSL: sum the workgroup array `buf` (WG entries, one per local invocation `li`) into buf[0] by
 * a tree of halvings with a barrier after each (every invocation of the workgroup must reach it).
 */
export function treeSum(buf: string): string {
  return `for (var w = ${WG / 2}u; w > 0u; w = w / 2u) {
    if (li < w) { ${buf}[li] += ${buf}[li + w]; }
    workgroupBarrier();
  }`;
}
/** linear workgroup index, for dispatches split into x·y workgroups */
const LINEAR = `fn lin(wid: vec3u, nwg: vec3u) -> u32 { return wid.y * nwg.x + wid.x; }`;
const MAIN = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32)`;

const groupsFor = (threads: number) => Math.ceil(threads / WG);

function need(t: GpuTensor, len: number, what: string, dtype: GpuTensor['dtype'] = 'f32'): void {
  if (t.dtype !== dtype) fail('E_DTYPE', `${what} must be a ${dtype} tensor, got ${t.dtype}`);
  if (t.length < len) fail('E_SHAPE', `${what} has ${t.length} values, needs ${len}`);
}

function distinct(...ts: GpuTensor[]): void {
  for (let i = 0; i < ts.length; i++) for (let j = i + 1; j < ts.length; j++) {
    if (ts[i].buffer === ts[j].buffer) fail('E_ARG', 'WebGPU kernels cannot read and write the same tensor in one pass except where the op says so; pass a separate output');
  }
}

// ---------------------------------------------------------------- GEMM

/**
 * Tiled GEMM: a workgroup of 16 x 16 threads computes a TM x TN tile of C, each thread
 * (TM/16) x (TN/16) outputs (rows lid.y + 16i, columns lid.x + 16j: coalesced stores), K in
 * steps of TK through workgroup memory. Two shapes: 64 x 64 (4 x 4 per thread, TK 16) for small
 * products, 128 x 128 (8 x 8 per thread, TK 8) when m and n are both >= 256.
 */
function gemmCode(TM: number, TN: number, TK: number): string {
  // the transposes are uniform flags (one pipeline: compiling four costs seconds on software adapters)
  const loadA = `if (P.ta != 0u) { let p = e / ${TM}u; let r = e % ${TM}u; let gr = row0 + r; let gp = t + p;
         As[p * ${TM}u + r] = select(0.0, A[P.aOff + gp * P.lda + gr], gr < P.m && gp < P.k); }
       else { let r = e / ${TK}u; let p = e % ${TK}u; let gr = row0 + r; let gp = t + p;
         As[p * ${TM}u + r] = select(0.0, A[P.aOff + gr * P.lda + gp], gr < P.m && gp < P.k); }`;
  const loadB = `if (P.tb != 0u) { let c = e / ${TK}u; let p = e % ${TK}u; let gc = col0 + c; let gp = t + p;
         Bs[p * ${TN}u + c] = select(0.0, B[P.bOff + gc * P.ldb + gp], gc < P.n && gp < P.k); }
       else { let p = e / ${TN}u; let c = e % ${TN}u; let gc = col0 + c; let gp = t + p;
         Bs[p * ${TN}u + c] = select(0.0, B[P.bOff + gp * P.ldb + gc], gc < P.n && gp < P.k); }`;
  const RM = TM / 16, RN = TN / 16;
  return /* wgsl */ `
struct Params { m: u32, n: u32, k: u32, lda: u32, ldb: u32, ldc: u32, alpha: f32, beta: f32, aOff: u32, bOff: u32, cOff: u32, ta: u32, tb: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
var<workgroup> As: array<f32, ${TK * TM}>;
var<workgroup> Bs: array<f32, ${TK * TN}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wid.y * ${TM}u;
  let col0 = wid.x * ${TN}u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, ${RM * RN}>;
  for (var i = 0u; i < ${RM * RN}u; i++) { acc[i] = 0.0; }
  for (var t = 0u; t < P.k; t += ${TK}u) {
    for (var l = 0u; l < ${(TK * TM) / 256}u; l++) { let e = tid + l * 256u; ${loadA} }
    for (var l = 0u; l < ${(TK * TN) / 256}u; l++) { let e = tid + l * 256u; ${loadB} }
    workgroupBarrier();
    for (var p = 0u; p < ${TK}u; p++) {
      var a: array<f32, ${RM}>;
      var b: array<f32, ${RN}>;
      for (var i = 0u; i < ${RM}u; i++) { a[i] = As[p * ${TM}u + lid.y + 16u * i]; }
      for (var j = 0u; j < ${RN}u; j++) { b[j] = Bs[p * ${TN}u + lid.x + 16u * j]; }
      for (var i = 0u; i < ${RM}u; i++) {
        for (var j = 0u; j < ${RN}u; j++) { acc[i * ${RN}u + j] = fma(a[i], b[j], acc[i * ${RN}u + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${RM}u; i++) {
    let r = row0 + lid.y + 16u * i;
    if (r >= P.m) { continue; }
    for (var j = 0u; j < ${RN}u; j++) {
      let c = col0 + lid.x + 16u * j;
      if (c >= P.n) { continue; }
      let at = P.cOff + r * P.ldc + c;
      var v = 0.0;
      if (P.alpha != 0.0) { v = P.alpha * acc[i * ${RN}u + j]; }
      if (P.beta != 0.0) { v = v + P.beta * C[at]; }
      C[at] = v;
    }
  }
}`;
}

const GEMM_SMALL = { code: gemmCode(64, 64, 16), TM: 64, TN: 64 };
const GEMM_BIG = { code: gemmCode(128, 128, 8), TM: 128, TN: 128 };

export interface GemmOffsets {
  /** element offsets into a, b and c (for views into bigger tensors) */
  aOff?: number;
  bOff?: number;
  cOff?: number;
}

/**
 * C = alpha * op(A) * op(B) + beta * C (sgemm semantics: op(A) is [m x k], stored [m x k] with
 * row stride lda, or [k x m] when transA; likewise B; beta = 0 overwrites C).
 */
export function sgemm(
  ctx: WebGpuContext, transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: GpuTensor, lda: number, b: GpuTensor, ldb: number, beta: number, c: GpuTensor, ldc: number, off: GemmOffsets = {},
): void {
  const aOff = off.aOff ?? 0, bOff = off.bOff ?? 0, cOff = off.cOff ?? 0;
  if (m === 0 || n === 0) return;
  need(c, cOff + (m - 1) * ldc + n, 'sgemm C');
  if (k > 0) {
    need(a, aOff + (transA ? (k - 1) * lda + m : (m - 1) * lda + k), 'sgemm A');
    need(b, bOff + (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n), 'sgemm B');
  }
  distinct(a, c);
  distinct(b, c);
  const G = m >= 256 && n >= 256 ? GEMM_BIG : GEMM_SMALL;
  const gx = Math.ceil(n / G.TN), gy = Math.ceil(m / G.TM);
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (gx > max || gy > max) fail('E_BACKEND', `WebGPU sgemm: ${gy} x ${gx} tiles, over this device's maxComputeWorkgroupsPerDimension (${max}); split the product`);
  ctx.dispatch(G === GEMM_BIG ? 'gemm128' : 'gemm64', G.code, [a, b, c],
    [['u', m], ['u', n], ['u', k], ['u', lda], ['u', ldb], ['u', ldc], ['f', alpha], ['f', beta], ['u', aOff], ['u', bOff], ['u', cOff], ['u', transA ? 1 : 0], ['u', transB ? 1 : 0]], [gx, gy]);
}

// ---------------------------------------------------------------- elementwise

const ELEMENTWISE: Record<string, { bind: string; uni: string; body: string }> = {
  softThreshold: {
    bind: `@group(0) @binding(0) var<storage, read> x: array<f32>;\n@group(0) @binding(1) var<storage, read_write> out: array<f32>;`,
    uni: 'n: u32, nonneg: u32, t: f32',
    body: `let v = x[i];
      if (P.nonneg != 0u) { let w = v - P.t; out[i] = select(0.0, w, w > 0.0); }
      else if (v > P.t) { out[i] = v - P.t; } else if (v < -P.t) { out[i] = v + P.t; } else { out[i] = 0.0; }`,
  },
  softThresholdInPlace: {
    bind: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;`,
    uni: 'n: u32, nonneg: u32, t: f32',
    body: `let v = x[i];
      if (P.nonneg != 0u) { let w = v - P.t; x[i] = select(0.0, w, w > 0.0); }
      else if (v > P.t) { x[i] = v - P.t; } else if (v < -P.t) { x[i] = v + P.t; } else { x[i] = 0.0; }`,
  },
  relu: {
    bind: `@group(0) @binding(0) var<storage, read> x: array<f32>;\n@group(0) @binding(1) var<storage, read_write> out: array<f32>;`,
    uni: 'n: u32',
    body: `let v = x[i]; out[i] = select(0.0, v, v > 0.0);`,
  },
  reluInPlace: {
    bind: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;`,
    uni: 'n: u32',
    body: `let v = x[i]; x[i] = select(0.0, v, v > 0.0);`,
  },
  axpby: {
    bind: `@group(0) @binding(0) var<storage, read> x: array<f32>;\n@group(0) @binding(1) var<storage, read_write> y: array<f32>;`,
    uni: 'n: u32, alpha: f32, beta: f32',
    body: `y[i] = P.alpha * x[i] + P.beta * y[i];`,
  },
  extrapolate: {
    bind: `@group(0) @binding(0) var<storage, read> z: array<f32>;\n@group(0) @binding(1) var<storage, read> zPrev: array<f32>;\n@group(0) @binding(2) var<storage, read_write> out: array<f32>;`,
    uni: 'n: u32, beta: f32',
    body: `out[i] = z[i] + P.beta * (z[i] - zPrev[i]);`,
  },
  fistaUpdate: {
    bind: `@group(0) @binding(0) var<storage, read> v: array<f32>;\n@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n@group(0) @binding(2) var<storage, read> z: array<f32>;\n@group(0) @binding(3) var<storage, read_write> zNew: array<f32>;`,
    uni: 'n: u32, nonneg: u32, t: f32, beta: f32',
    body: `let u = y[i] + v[i];
      var w = 0.0;
      if (P.nonneg != 0u) { let s = u - P.t; w = select(0.0, s, s > 0.0); }
      else if (u > P.t) { w = u - P.t; } else if (u < -P.t) { w = u + P.t; }
      zNew[i] = w;
      y[i] = w + P.beta * (w - z[i]);`,
  },
  addRowVector: {
    bind: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@group(0) @binding(1) var<storage, read> v: array<f32>;`,
    uni: 'n: u32, cols: u32, alpha: f32',
    body: `x[i] = x[i] + P.alpha * v[i % P.cols];`,
  },
};

function elementwiseCode(name: keyof typeof ELEMENTWISE): string {
  const k = ELEMENTWISE[name];
  return `struct Params { ${k.uni} }\n${k.bind}\n@group(0) @binding(${k.bind.split('\n').length}) var<uniform> P: Params;\n${LINEAR}\n${MAIN} {
  let i = lin(wid, nwg) * ${WG}u + li;
  if (i >= P.n) { return; }
  ${k.body}
}`;
}

function ew(ctx: WebGpuContext, name: keyof typeof ELEMENTWISE, tensors: GpuTensor[], uni: [('u' | 'f'), number][], n: number): void {
  if (n === 0) return;
  ctx.dispatch(name, elementwiseCode(name), tensors, uni, groupsFor(n));
}

/** out = sign(x)·max(|x| − t, 0) (nonneg: max(x − t, 0)) over the first n values; out may be x. */
export function softThreshold(ctx: WebGpuContext, x: GpuTensor, t: number, nonneg: boolean, out: GpuTensor, n = x.length): void {
  need(x, n, 'softThreshold x');
  need(out, n, 'softThreshold out');
  if (x.buffer === out.buffer) ew(ctx, 'softThresholdInPlace', [x], [['u', n], ['u', nonneg ? 1 : 0], ['f', t]], n);
  else ew(ctx, 'softThreshold', [x, out], [['u', n], ['u', nonneg ? 1 : 0], ['f', t]], n);
}

/** out = max(x, 0); out may be x. */
export function relu(ctx: WebGpuContext, x: GpuTensor, out: GpuTensor, n = x.length): void {
  need(x, n, 'relu x');
  need(out, n, 'relu out');
  if (x.buffer === out.buffer) ew(ctx, 'reluInPlace', [x], [['u', n]], n);
  else ew(ctx, 'relu', [x, out], [['u', n]], n);
}

/** y = alpha·x + beta·y. */
export function axpby(ctx: WebGpuContext, alpha: number, x: GpuTensor, beta: number, y: GpuTensor, n = x.length): void {
  need(x, n, 'axpby x');
  need(y, n, 'axpby y');
  distinct(x, y);
  ew(ctx, 'axpby', [x, y], [['u', n], ['f', alpha], ['f', beta]], n);
}

/** out = z + beta·(z − zPrev). */
export function extrapolate(ctx: WebGpuContext, z: GpuTensor, zPrev: GpuTensor, beta: number, out: GpuTensor, n = z.length): void {
  need(z, n, 'extrapolate z');
  need(zPrev, n, 'extrapolate zPrev');
  need(out, n, 'extrapolate out');
  distinct(z, out);
  distinct(zPrev, out);
  ew(ctx, 'extrapolate', [z, zPrev, out], [['u', n], ['f', beta]], n);
}

/** The fused FISTA update of `Backend.fistaUpdate`: zNew = softThreshold(y + v, t), y ← zNew + beta·(zNew − z). */
export function fistaUpdate(ctx: WebGpuContext, v: GpuTensor, y: GpuTensor, z: GpuTensor, t: number, nonneg: boolean, beta: number, zNew: GpuTensor, n = v.length): void {
  for (const [x, w] of [[v, 'v'], [y, 'y'], [z, 'z'], [zNew, 'zNew']] as const) need(x, n, `fistaUpdate ${w}`);
  distinct(v, y, z, zNew);
  ew(ctx, 'fistaUpdate', [v, y, z, zNew], [['u', n], ['u', nonneg ? 1 : 0], ['f', t], ['f', beta]], n);
}

/** x[i, :] += alpha·v for every row of x [rows x cols]. */
export function addRowVector(ctx: WebGpuContext, x: GpuTensor, rows: number, cols: number, v: GpuTensor, alpha: number): void {
  need(x, rows * cols, 'addRowVector x');
  need(v, cols, 'addRowVector v');
  distinct(x, v);
  ew(ctx, 'addRowVector', [x, v], [['u', rows * cols], ['u', Math.max(1, cols)], ['f', alpha]], rows * cols);
}

// ---------------------------------------------------------------- top-k

const TOPK = /* wgsl */ `
struct Params { rows: u32, cols: u32, k: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> outIdx: array<i32>;
@group(0) @binding(2) var<storage, read_write> outVal: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let i = lin(wid, nwg) * ${WG}u + li;
  if (i >= P.rows) { return; }
  let k = P.k;
  let xo = i * P.cols;
  let oo = i * k;
  var filled = 0u;
  for (var j = 0u; j < P.cols; j++) {
    let v = x[xo + j];
    if (filled == k && !(v > outVal[oo + k - 1u])) { continue; }
    var pos = select(k - 1u, filled, filled < k);
    // shift smaller values down; strict > keeps earlier (lower-index) ties ahead
    loop {
      if (pos == 0u) { break; }
      if (!(v > outVal[oo + pos - 1u])) { break; }
      outVal[oo + pos] = outVal[oo + pos - 1u];
      outIdx[oo + pos] = outIdx[oo + pos - 1u];
      pos = pos - 1u;
    }
    outVal[oo + pos] = v;
    outIdx[oo + pos] = i32(j);
    if (filled < k) { filled = filled + 1u; }
  }
}`;

/** the most entries the workgroup top-k sorts in shared memory (a power of two); larger k use one thread per row */
const TOPK_SHARED = 512;

/**
 * One workgroup per row: an exact radix select of the k-th largest value (4 passes of 8-bit
 * histograms over order-preserving keys, −0 counted as +0), then the entries above it and the
 * lowest-index ties at it gathered into shared memory and bitonic-sorted (value descending,
 * column ascending). A row holding NaN is done by the serial loop of the js backend (its thread 0),
 * so NaN keeps the js semantics.
 */
const TOPK_WG = /* wgsl */ `
struct Params { rows: u32, cols: u32, k: u32, pow2: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> outIdx: array<i32>;
@group(0) @binding(2) var<storage, read_write> outVal: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> nanCount: atomic<u32>;
var<workgroup> above: atomic<u32>;
var<workgroup> part: array<u32, ${WG}>;
var<workgroup> keys: array<u32, ${TOPK_SHARED}>;
var<workgroup> cols_: array<u32, ${TOPK_SHARED}>;
var<workgroup> uPrefix: u32;
var<workgroup> uMask: u32;
var<workgroup> uKr: u32;
var<workgroup> uNan: u32;
${LINEAR}
fn keyOf(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if (b == 0x80000000u) { b = 0u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
// a before b: larger key, or the same key and the lower column
fn before(ka: u32, ca: u32, kb: u32, cb: u32) -> bool { return ka > kb || (ka == kb && ca < cb); }
${MAIN} {
  let i = lin(wid, nwg);
  if (i >= P.rows) { return; }
  let cols = P.cols;
  let k = P.k;
  let xo = i * cols;
  let oo = i * k;
  if (li == 0u) { uPrefix = 0u; uMask = 0u; uKr = k; atomicStore(&nanCount, 0u); atomicStore(&above, 0u); }
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[li], 0u);
    workgroupBarrier();
    let prefix = uPrefix;
    let mask = uMask;
    for (var j = li; j < cols; j += ${WG}u) {
      let v = x[xo + j];
      if (round == 0u && (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { atomicAdd(&nanCount, 1u); } // NaN, by its bits (compilers may fold v != v)
      let key = keyOf(v);
      if ((key & mask) == prefix) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (li == 0u) {
      if (round == 0u) { uNan = atomicLoad(&nanCount); }
      var c = 0u;
      let kr = uKr;
      for (var b = 255i; b >= 0i; b--) {
        let h = atomicLoad(&hist[u32(b)]);
        if (c + h >= kr) { uPrefix = prefix | (u32(b) << shift); uKr = kr - c; break; }
        c += h;
      }
      uMask = mask | (255u << shift);
    }
    let nan = workgroupUniformLoad(&uNan);
    if (nan != 0u) {
      // the js backend's loop, for its NaN semantics
      if (li == 0u) {
        var filled = 0u;
        for (var j = 0u; j < cols; j++) {
          let v = x[xo + j];
          if (filled == k && !(v > outVal[oo + k - 1u])) { continue; }
          var pos = select(k - 1u, filled, filled < k);
          loop {
            if (pos == 0u) { break; }
            if (!(v > outVal[oo + pos - 1u])) { break; }
            outVal[oo + pos] = outVal[oo + pos - 1u];
            outIdx[oo + pos] = outIdx[oo + pos - 1u];
            pos = pos - 1u;
          }
          outVal[oo + pos] = v;
          outIdx[oo + pos] = i32(j);
          if (filled < k) { filled = filled + 1u; }
        }
      }
      return;
    }
  }
  let T = workgroupUniformLoad(&uPrefix);
  let kr = workgroupUniformLoad(&uKr);
  let nAbove = k - kr;
  // entries above the threshold, in any order (sorted below)
  for (var j = li; j < cols; j += ${WG}u) {
    let key = keyOf(x[xo + j]);
    if (key > T) { let s = atomicAdd(&above, 1u); keys[s] = key; cols_[s] = j; }
  }
  // the kr lowest-index entries equal to the threshold: per-thread contiguous chunks, scanned
  let chunk = (cols + ${WG - 1}u) / ${WG}u;
  let lo = min(li * chunk, cols);
  let hi = min(lo + chunk, cols);
  var eq = 0u;
  for (var j = lo; j < hi; j++) { if (keyOf(x[xo + j]) == T) { eq++; } }
  part[li] = eq;
  workgroupBarrier();
  if (li == 0u) {
    var run = 0u;
    for (var t = 0u; t < ${WG}u; t++) { let c = part[t]; part[t] = run; run += c; }
  }
  workgroupBarrier();
  var o = part[li];
  for (var j = lo; j < hi && o < kr; j++) {
    if (keyOf(x[xo + j]) == T) { keys[nAbove + o] = T; cols_[nAbove + o] = j; o++; }
  }
  // padding sorts last
  for (var t = k + li; t < P.pow2; t += ${WG}u) { keys[t] = 0u; cols_[t] = 0xffffffffu; }
  workgroupBarrier();
  // bitonic sort of pow2 entries: best first
  for (var size = 2u; size <= P.pow2; size = size * 2u) {
    for (var stride = size / 2u; stride > 0u; stride = stride / 2u) {
      for (var e = li; e < P.pow2; e += ${WG}u) {
        let l = e ^ stride;
        if (l > e) {
          let ke = keys[e]; let ce = cols_[e]; let kl = keys[l]; let cl = cols_[l];
          let wantFirst = (e & size) == 0u;
          if (wantFirst == before(kl, cl, ke, ce)) { keys[e] = kl; cols_[e] = cl; keys[l] = ke; cols_[l] = ce; }
        }
      }
      workgroupBarrier();
    }
  }
  for (var t = li; t < k; t += ${WG}u) {
    let c = cols_[t];
    outIdx[oo + t] = i32(c);
    outVal[oo + t] = x[xo + c];
  }
}`;

/**
 * Per row of x [rows x cols], the k largest values and their columns, descending, ties to the
 * lower column (`Backend.topkRows`). outIdx (i32) and outVal are [rows x k]; 1 <= k <= cols.
 * Two kernels with the same results: `workgroup` (a workgroup per row: radix select + bitonic
 * sort; k <= 512), the default on GPUs, and `thread` (one thread per row, the js loop), the
 * default for larger k and on software adapters, where workgroup barriers cost milliseconds.
 */
export function topkRows(ctx: WebGpuContext, x: GpuTensor, rows: number, cols: number, k: number, outIdx: GpuTensor, outVal: GpuTensor, variant?: 'workgroup' | 'thread'): void {
  if (!(Number.isInteger(k) && k >= 1 && k <= cols)) fail('E_ARG', `topkRows: k must be an integer in 1..cols (${cols}), got ${k}`);
  need(x, rows * cols, 'topkRows x');
  need(outIdx, rows * k, 'topkRows outIdx', 'i32');
  need(outVal, rows * k, 'topkRows outVal');
  distinct(x, outVal);
  if (rows === 0) return;
  const v = variant ?? (ctx.preferWorkgroupKernels ? 'workgroup' : 'thread');
  if (v === 'workgroup' && k <= TOPK_SHARED) {
    let pow2 = 1;
    while (pow2 < k) pow2 *= 2;
    ctx.dispatch('topkRowsWg', TOPK_WG, [x, outIdx, outVal], [['u', rows], ['u', cols], ['u', k], ['u', pow2]], rows);
  } else {
    ctx.dispatch('topkRows', TOPK, [x, outIdx, outVal], [['u', rows], ['u', cols], ['u', k]], groupsFor(rows));
  }
}

// ---------------------------------------------------------------- reductions

const SUM_ROWS = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> part: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let i = lin(wid, nwg);
  if (i >= P.rows) { return; }
  var s = 0.0;
  for (var j = li; j < P.cols; j += ${WG}u) { s += x[i * P.cols + j]; }
  part[li] = s;
  workgroupBarrier();
  ${treeSum('part')}
  if (li == 0u) { out[i] = part[0]; }
}`;

const SUM_COLS = /* wgsl */ `
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let j = lin(wid, nwg) * ${WG}u + li;
  if (j >= P.cols) { return; }
  // compensated (Kahan) summation down the column
  var s = 0.0;
  var c = 0.0;
  for (var i = 0u; i < P.rows; i++) {
    let y = x[i * P.cols + j] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  out[j] = s;
}`;

/** partial sums (of squares when SQ) over chunks of CHUNK values, one per workgroup, then the same over the partials */
const CHUNK = WG * 16;
function reduceCode(square: boolean): string {
  return /* wgsl */ `
struct Params { n: u32, slot: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> part: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let g = lin(wid, nwg);
  let base = g * ${CHUNK}u;
  var s = 0.0;
  for (var t = 0u; t < ${CHUNK / WG}u; t++) {
    let i = base + t * ${WG}u + li;
    if (i < P.n) { let v = x[i]; s += ${square ? 'v * v' : 'v'}; }
  }
  part[li] = s;
  workgroupBarrier();
  ${treeSum('part')}
  if (li == 0u) { out[P.slot + g] = part[0]; }
}`;
}

/** out[i] = Σ_j x[i, j] (out f32 [rows]). */
export function sumRows(ctx: WebGpuContext, x: GpuTensor, rows: number, cols: number, out: GpuTensor): void {
  need(x, rows * cols, 'sumRows x');
  need(out, rows, 'sumRows out');
  distinct(x, out);
  if (rows === 0) return;
  ctx.dispatch('sumRows', SUM_ROWS, [x, out], [['u', rows], ['u', cols]], rows);
}

/** out[j] = Σ_i x[i, j] (out f32 [cols]). */
export function sumCols(ctx: WebGpuContext, x: GpuTensor, rows: number, cols: number, out: GpuTensor): void {
  need(x, rows * cols, 'sumCols x');
  need(out, cols, 'sumCols out');
  distinct(x, out);
  if (cols === 0) return;
  ctx.dispatch('sumCols', SUM_COLS, [x, out], [['u', rows], ['u', cols]], groupsFor(cols));
}

/**
 * Σ x[i] (or Σ x[i]² when `square`) over the first n values into out[slot], through a scratch
 * tensor of partial sums (made when not given; `reduceScratch(n)` sizes one).
 */
export function reduceSum(ctx: WebGpuContext, x: GpuTensor, n: number, square: boolean, out: GpuTensor, slot = 0, scratch?: GpuTensor): void {
  need(x, n, 'reduce x');
  need(out, slot + 1, 'reduce out');
  distinct(x, out);
  const key = square ? 'sumSq' : 'sum';
  const parts = Math.ceil(n / CHUNK);
  if (parts <= 1) {
    ctx.dispatch(key, reduceCode(square), [x, out], [['u', n], ['u', slot]], 1);
    return;
  }
  const tmp = scratch ?? ctx.empty([reduceScratch(n)], 'f32', 'reduce partials');
  need(tmp, reduceScratch(n), 'reduce scratch');
  distinct(tmp, x);
  distinct(tmp, out);
  // one partial per chunk of x, then partials of partials (each level after the previous one in
  // the scratch tensor) until one workgroup can finish
  ctx.dispatch(key, reduceCode(square), [x, tmp], [['u', n], ['u', 0]], parts);
  let len = parts, off = 0;
  while (len > CHUNK) {
    const next = Math.ceil(len / CHUNK);
    ctx.dispatch('sumAt', SUM_AT, [tmp], [['u', len], ['u', off], ['u', off + len]], next);
    off += len;
    len = next;
  }
  ctx.dispatch('sumAtOut', SUM_AT_OUT, [tmp, out], [['u', len], ['u', off], ['u', slot]], 1);
  if (!scratch) tmp.destroy();
}

/** partials of partials inside one scratch buffer: reads [off, off+n), writes at dst + g */
const SUM_AT = /* wgsl */ `
struct Params { n: u32, off: u32, dst: u32 }
@group(0) @binding(0) var<storage, read_write> s: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;
var<workgroup> part: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let g = lin(wid, nwg);
  var acc = 0.0;
  for (var t = 0u; t < ${CHUNK / WG}u; t++) {
    let i = g * ${CHUNK}u + t * ${WG}u + li;
    if (i < P.n) { acc += s[P.off + i]; }
  }
  part[li] = acc;
  workgroupBarrier();
  ${treeSum('part')}
  if (li == 0u) { s[P.dst + g] = part[0]; }
}`;

const SUM_AT_OUT = /* wgsl */ `
struct Params { n: u32, off: u32, slot: u32 }
@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> part: array<f32, ${WG}>;
${MAIN} {
  var acc = 0.0;
  for (var i = li; i < P.n; i += ${WG}u) { acc += s[P.off + i]; }
  part[li] = acc;
  workgroupBarrier();
  ${treeSum('part')}
  if (li == 0u) { out[P.slot] = part[0]; }
}`;

/** Length of the scratch tensor `reduceSum` needs for n values. */
export function reduceScratch(n: number): number {
  let total = 0, len = Math.ceil(n / CHUNK);
  total += len;
  while (len > CHUNK) {
    len = Math.ceil(len / CHUNK);
    total += len;
  }
  return Math.max(1, total);
}

// ---------------------------------------------------------------- sparse (TopK SAE)

const GATHER_DECODE = /* wgsl */ `
struct Params { rows: u32, k: u32, dim: u32, beta: f32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> val: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.rows * P.dim) { return; }
  let i = e / P.dim;
  let t = e % P.dim;
  var s = 0.0;
  if (P.beta != 0.0) { s = P.beta * out[e]; }
  for (var j = 0u; j < P.k; j++) {
    let a = idx[i * P.k + j];
    if (a < 0) { continue; }
    let w = val[i * P.k + j];
    if (w == 0.0) { continue; }
    s += w * d[u32(a) * P.dim + t];
  }
  out[e] = s;
}`;

/** out[i, :] = beta·out[i, :] + Σ_j val[i, j]·d[idx[i, j], :] (idx < 0 skipped). */
export function gatherDecode(ctx: WebGpuContext, idx: GpuTensor, val: GpuTensor, rows: number, k: number, d: GpuTensor, dim: number, beta: number, out: GpuTensor): void {
  need(idx, rows * k, 'gatherDecode idx', 'i32');
  need(val, rows * k, 'gatherDecode val');
  need(out, rows * dim, 'gatherDecode out');
  distinct(d, out);
  distinct(val, out);
  if (rows * dim === 0) return;
  ctx.dispatch('gatherDecode', GATHER_DECODE, [idx, val, d, out], [['u', rows], ['u', k], ['u', dim], ['f', beta]], groupsFor(rows * dim));
}

const GATHER_DOT = /* wgsl */ `
struct Params { rows: u32, k: u32, dim: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.rows * P.k) { return; }
  let a = idx[e];
  if (a < 0) { out[e] = 0.0; return; }
  let go = (e / P.k) * P.dim;
  let da = u32(a) * P.dim;
  var s = 0.0;
  for (var t = 0u; t < P.dim; t++) { s = fma(g[go + t], d[da + t], s); }
  out[e] = s;
}`;

/** 32 threads per entry (i, j): strided partial dots (coalesced row reads), then a tree in workgroup memory */
const GATHER_DOT_WG = /* wgsl */ `
struct Params { rows: u32, k: u32, dim: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
var<workgroup> part: array<f32, ${WG}>;
${LINEAR}
${MAIN} {
  let lane = li % 32u;
  let e = lin(wid, nwg) * ${WG / 32}u + li / 32u;
  var s = 0.0;
  var a = -1;
  if (e < P.rows * P.k) {
    a = idx[e];
    if (a >= 0) {
      let go = (e / P.k) * P.dim;
      let da = u32(a) * P.dim;
      for (var t = lane; t < P.dim; t += 32u) { s = fma(g[go + t], d[da + t], s); }
    }
  }
  part[li] = s;
  workgroupBarrier();
  for (var w = 16u; w > 0u; w = w / 2u) {
    if (lane < w) { part[li] += part[li + w]; }
    workgroupBarrier();
  }
  if (lane == 0u && e < P.rows * P.k) { out[e] = select(part[li], 0.0, a < 0); }
}`;

/**
 * out[i, j] = g[i, :]·d[idx[i, j], :] (0 where idx < 0). Two kernels with the same results:
 * `workgroup` (32 threads per entry, coalesced reads; the default on GPUs) and `thread` (one
 * thread per entry; the default on software adapters, where barriers are slow).
 */
export function gatherDot(ctx: WebGpuContext, idx: GpuTensor, rows: number, k: number, g: GpuTensor, d: GpuTensor, dim: number, out: GpuTensor, variant?: 'workgroup' | 'thread'): void {
  need(idx, rows * k, 'gatherDot idx', 'i32');
  need(g, rows * dim, 'gatherDot g');
  need(out, rows * k, 'gatherDot out');
  distinct(g, out);
  distinct(d, out);
  if (rows * k === 0) return;
  if ((variant ?? (ctx.preferWorkgroupKernels ? 'workgroup' : 'thread')) === 'workgroup') {
    ctx.dispatch('gatherDotWg', GATHER_DOT_WG, [idx, g, d, out], [['u', rows], ['u', k], ['u', dim]], Math.ceil((rows * k) / (WG / 32)));
  } else ctx.dispatch('gatherDot', GATHER_DOT, [idx, g, d, out], [['u', rows], ['u', k], ['u', dim]], groupsFor(rows * k));
}

/**
 * The transpose of a sparse block idx/val [rows x k] as lists per atom (CSR): for each atom the
 * entries e = i·k + j with idx[e] = atom and val[e] ≠ 0, in increasing e (the order the js
 * backend visits them, so sums come out in the same order). Built on the GPU in five passes
 * (count, scan, fill, sort each atom's short list); `scatterOuter` and the SAE backward read it.
 */
export class AtomLists {
  readonly counts: GpuTensor;
  readonly offsets: GpuTensor;
  readonly cursor: GpuTensor;
  readonly list: GpuTensor;
  constructor(readonly ctx: WebGpuContext, readonly entries: number, readonly atoms: number) {
    this.counts = ctx.empty([Math.max(1, atoms)], 'u32', 'atom counts');
    this.offsets = ctx.empty([atoms + 1], 'u32', 'atom offsets');
    this.cursor = ctx.empty([Math.max(1, atoms)], 'u32', 'atom cursor');
    this.list = ctx.empty([Math.max(1, entries)], 'u32', 'atom lists');
  }

  /** Record the passes that fill the lists from idx/val (the first `entries` values). */
  build(idx: GpuTensor, val: GpuTensor, entries = this.entries): void {
    if (entries > this.entries) fail('E_SHAPE', `AtomLists holds ${this.entries} entries, got ${entries}`);
    need(idx, entries, 'atom lists idx', 'i32');
    need(val, entries, 'atom lists val');
    const ctx = this.ctx, A = this.atoms;
    ctx.zero(this.counts);
    ctx.zero(this.cursor);
    if (entries > 0) ctx.dispatch('csrCount', CSR_COUNT, [idx, val, this.counts], [['u', entries], ['u', A]], groupsFor(entries));
    ctx.dispatch('csrScan', CSR_SCAN, [this.counts, this.offsets], [['u', A]], 1);
    if (entries > 0) ctx.dispatch('csrFill', CSR_FILL, [idx, val, this.offsets, this.cursor, this.list], [['u', entries], ['u', A]], groupsFor(entries));
    if (A > 0) ctx.dispatch('csrSort', CSR_SORT, [this.offsets, this.list], [['u', A]], groupsFor(A));
  }

  destroy(): void {
    for (const t of [this.counts, this.offsets, this.cursor, this.list]) t.destroy();
  }
}

const CSR_COUNT = /* wgsl */ `
struct Params { n: u32, atoms: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> val: array<f32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.n) { return; }
  let a = idx[e];
  if (a < 0 || u32(a) >= P.atoms || val[e] == 0.0) { return; }
  atomicAdd(&counts[u32(a)], 1u);
}`;

const CSR_SCAN = /* wgsl */ `
struct Params { atoms: u32 }
@group(0) @binding(0) var<storage, read> counts: array<u32>;
@group(0) @binding(1) var<storage, read_write> offsets: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;
var<workgroup> part: array<u32, ${WG}>;
${MAIN} {
  let per = (P.atoms + ${WG - 1}u) / ${WG}u;
  let lo = min(li * per, P.atoms);
  let hi = min(lo + per, P.atoms);
  var s = 0u;
  for (var a = lo; a < hi; a++) { s += counts[a]; }
  part[li] = s;
  workgroupBarrier();
  if (li == 0u) {
    var run = 0u;
    for (var t = 0u; t < ${WG}u; t++) { let c = part[t]; part[t] = run; run += c; }
    offsets[P.atoms] = run;
  }
  workgroupBarrier();
  var run = part[li];
  for (var a = lo; a < hi; a++) { offsets[a] = run; run += counts[a]; }
}`;

const CSR_FILL = /* wgsl */ `
struct Params { n: u32, atoms: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> val: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> cursor: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> list: array<u32>;
@group(0) @binding(5) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.n) { return; }
  let a = idx[e];
  if (a < 0 || u32(a) >= P.atoms || val[e] == 0.0) { return; }
  let pos = offsets[u32(a)] + atomicAdd(&cursor[u32(a)], 1u);
  list[pos] = e;
}`;

const CSR_SORT = /* wgsl */ `
struct Params { atoms: u32 }
@group(0) @binding(0) var<storage, read> offsets: array<u32>;
@group(0) @binding(1) var<storage, read_write> list: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let a = lin(wid, nwg) * ${WG}u + li;
  if (a >= P.atoms) { return; }
  let lo = offsets[a];
  let hi = offsets[a + 1u];
  for (var s = lo + 1u; s < hi; s++) {
    let v = list[s];
    var p = s;
    loop {
      if (p <= lo) { break; }
      let u = list[p - 1u];
      if (u <= v) { break; }
      list[p] = u;
      p = p - 1u;
    }
    list[p] = v;
  }
}`;

const SCATTER_APPLY = /* wgsl */ `
struct Params { atoms: u32, dim: u32, k: u32, overwrite: u32 }
@group(0) @binding(0) var<storage, read> offsets: array<u32>;
@group(0) @binding(1) var<storage, read> list: array<u32>;
@group(0) @binding(2) var<storage, read> val: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradD: array<f32>;
@group(0) @binding(5) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let e = lin(wid, nwg) * ${WG}u + li;
  if (e >= P.atoms * P.dim) { return; }
  let a = e / P.dim;
  let t = e % P.dim;
  let lo = offsets[a];
  let hi = offsets[a + 1u];
  if (lo == hi && P.overwrite == 0u) { return; }
  var s = select(gradD[e], 0.0, P.overwrite != 0u);
  for (var q = lo; q < hi; q++) {
    let en = list[q];
    s += val[en] * g[(en / P.k) * P.dim + t];
  }
  gradD[e] = s;
}`;

/**
 * gradD[a, :] += Σ over the atom's entries of val[e]·g[row(e), :], through atom lists built from
 * (idx, a nonzero pattern); with `overwrite`, gradD[a, :] = that sum (atoms with no entries get 0).
 * `val` may differ from the values the lists were built from, as long as it is zero wherever
 * those were (the SAE backward uses the code's lists for the code gradient too).
 */
export function scatterApply(ctx: WebGpuContext, lists: AtomLists, val: GpuTensor, k: number, g: GpuTensor, dim: number, gradD: GpuTensor, overwrite = false): void {
  need(gradD, lists.atoms * dim, 'scatterOuter gradD');
  need(val, lists.entries, 'scatterOuter val');
  distinct(g, gradD);
  distinct(val, gradD);
  if (lists.atoms * dim === 0) return;
  ctx.dispatch('scatterApply', SCATTER_APPLY, [lists.offsets, lists.list, val, g, gradD], [['u', lists.atoms], ['u', dim], ['u', Math.max(1, k)], ['u', overwrite ? 1 : 0]], groupsFor(lists.atoms * dim));
}

/** gradD[idx[i, j], :] += val[i, j]·g[i, :] (`Backend.scatterOuter`); gradD is [atoms x dim]. */
export function scatterOuter(ctx: WebGpuContext, idx: GpuTensor, val: GpuTensor, rows: number, k: number, g: GpuTensor, dim: number, gradD: GpuTensor, atoms: number, lists?: AtomLists): void {
  need(g, rows * dim, 'scatterOuter g');
  const own = !lists;
  const L = lists ?? new AtomLists(ctx, rows * k, atoms);
  L.build(idx, val, rows * k);
  scatterApply(ctx, L, val, k, g, dim, gradD, false);
  if (own) {
    ctx.flush();
    L.destroy();
  }
}

const SEG_SUM = /* wgsl */ `
struct Params { atoms: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> offsets: array<u32>;
@group(0) @binding(1) var<storage, read> list: array<u32>;
@group(0) @binding(2) var<storage, read> val: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
${LINEAR}
${MAIN} {
  let a = lin(wid, nwg) * ${WG}u + li;
  if (a >= P.atoms) { return; }
  var s = select(0.0, out[a], P.accumulate != 0u);
  for (var q = offsets[a]; q < offsets[a + 1u]; q++) { s += val[list[q]]; }
  out[a] = s;
}`;

/** out[a] = Σ over the atom's entries of val[e] (overwrites out [atoms]; with `accumulate`, adds to it). */
export function segmentSum(ctx: WebGpuContext, lists: AtomLists, val: GpuTensor, out: GpuTensor, accumulate = false): void {
  need(out, lists.atoms, 'segmentSum out');
  distinct(val, out);
  if (lists.atoms === 0) return;
  ctx.dispatch('segmentSum', SEG_SUM, [lists.offsets, lists.list, val, out], [['u', lists.atoms], ['u', accumulate ? 1 : 0]], groupsFor(lists.atoms));
}

export const WEBGPU_WORKGROUP = WG;
