// sparsecode wasm kernels (AssemblyScript; built by scripts/build-wasm.mjs).
//
// Everything here works on raw pointers into linear memory that the JavaScript side manages
// (src/backend/wasm/): no allocation, no runtime, no data segments, so that every worker
// thread can instantiate this module over the same shared memory without touching it.
//
// Layout (addresses from the JS side): a parameter block at paramsPtr() (32 i32 slots, then
// 8 f64 slots) describes the parallel job in flight; runTask(task, thread) runs one task of
// it. The single-threaded element-wise kernels take their arguments directly.
//
// Matrices are row-major float32. Pointers are byte addresses; leading dimensions and sizes
// are element counts.

import { JOB_GEMM, JOB_GATHER_DECODE, JOB_GATHER_DOT, JOB_SCATTER_OUTER, JOB_TOPK } from '../src/backend/wasm/jobs';

// ---- GEMM blocking --------------------------------------------------------------------------
// A register-blocked 4x8 micro-kernel (eight f32x4 accumulators) over packed panels:
//   op(A) block [MC x KC] packed as MR-row slivers, p-major (MR floats per p);
//   op(B) panel [KC x NC] packed as NR-column slivers, p-major (NR floats per p).
const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 2048;

const PARAMS: usize = (__heap_base + 63) & ~(<usize>63);
const PARAM_F64: usize = 128; // byte offset of the f64 slots inside the parameter block

export function paramsPtr(): usize {
  return PARAMS;
}

/** First free byte after the parameter block (64-aligned). */
export function arenaBase(): usize {
  return PARAMS + 256;
}

/** Bytes of per-thread scratch one GEMM task needs (packed A block, packed B panel, edge tile). */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) << 2;
}

@inline function pi(i: i32): i32 {
  return load<i32>(PARAMS + (<usize>i << 2));
}
@inline function pf(i: i32): f64 {
  return load<f64>(PARAMS + PARAM_F64 + (<usize>i << 3));
}
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// ---- packing --------------------------------------------------------------------------------

/** Pack rows i0..i0+mc, columns p0..p0+kc of op(A) into MR-row slivers (zero-padded rows). */
function packA(tA: bool, a: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let s = 0; s < mc; s += MR) {
    const mr = imin(MR, mc - s);
    if (!tA) {
      if (mr == MR) {
        const r0 = at(a, (i0 + s) * lda + p0);
        const r1 = at(r0, lda);
        const r2 = at(r1, lda);
        const r3 = at(r2, lda);
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const o = <usize>p << 2;
          const x0 = v128.load(r0 + o);
          const x1 = v128.load(r1 + o);
          const x2 = v128.load(r2 + o);
          const x3 = v128.load(r3 + o);
          const t0 = f32x4.shuffle(x0, x1, 0, 4, 1, 5);
          const t1 = f32x4.shuffle(x2, x3, 0, 4, 1, 5);
          const t2 = f32x4.shuffle(x0, x1, 2, 6, 3, 7);
          const t3 = f32x4.shuffle(x2, x3, 2, 6, 3, 7);
          v128.store(dst, f32x4.shuffle(t0, t1, 0, 1, 4, 5));
          v128.store(dst, f32x4.shuffle(t0, t1, 2, 3, 6, 7), 16);
          v128.store(dst, f32x4.shuffle(t2, t3, 0, 1, 4, 5), 32);
          v128.store(dst, f32x4.shuffle(t2, t3, 2, 3, 6, 7), 48);
          dst += 64;
        }
        for (; p < kc; p++) {
          const o = <usize>p << 2;
          store<f32>(dst, load<f32>(r0 + o));
          store<f32>(dst, load<f32>(r1 + o), 4);
          store<f32>(dst, load<f32>(r2 + o), 8);
          store<f32>(dst, load<f32>(r3 + o), 12);
          dst += 16;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let r = 0; r < MR; r++) {
            store<f32>(at(dst, r), r < mr ? load<f32>(at(a, (i0 + s + r) * lda + p0 + p)) : 0);
          }
          dst += MR << 2;
        }
      }
    } else {
      // op(A)[i, p] = a[p * lda + i]: MR consecutive floats per p.
      const base = at(a, p0 * lda + i0 + s);
      const stride = <usize>lda << 2;
      if (mr == MR) {
        let src = base;
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          src += stride;
          dst += 16;
        }
      } else {
        let src = base;
        for (let p = 0; p < kc; p++) {
          for (let r = 0; r < MR; r++) store<f32>(at(dst, r), r < mr ? load<f32>(at(src, r)) : 0);
          src += stride;
          dst += 16;
        }
      }
    }
  }
}

/** Pack rows p0..p0+kc, columns j0..j0+nc of op(B) into NR-column slivers (zero-padded columns). */
function packB(tB: bool, b: usize, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let s = 0; s < nc; s += NR) {
    const nr = imin(NR, nc - s);
    if (!tB) {
      const stride = <usize>ldb << 2;
      let src = at(b, p0 * ldb + j0 + s);
      if (nr == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += stride;
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let c = 0; c < NR; c++) store<f32>(at(dst, c), c < nr ? load<f32>(at(src, c)) : 0);
          src += stride;
          dst += 32;
        }
      }
    } else {
      // op(B)[p, j] = b[j * ldb + p]: NR rows of b, each contiguous in p.
      if (nr == NR) {
        const r0 = at(b, (j0 + s) * ldb + p0);
        const r1 = at(r0, ldb);
        const r2 = at(r1, ldb);
        const r3 = at(r2, ldb);
        const r4 = at(r3, ldb);
        const r5 = at(r4, ldb);
        const r6 = at(r5, ldb);
        const r7 = at(r6, ldb);
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const o = <usize>p << 2;
          let x0 = v128.load(r0 + o);
          let x1 = v128.load(r1 + o);
          let x2 = v128.load(r2 + o);
          let x3 = v128.load(r3 + o);
          let t0 = f32x4.shuffle(x0, x1, 0, 4, 1, 5);
          let t1 = f32x4.shuffle(x2, x3, 0, 4, 1, 5);
          let t2 = f32x4.shuffle(x0, x1, 2, 6, 3, 7);
          let t3 = f32x4.shuffle(x2, x3, 2, 6, 3, 7);
          v128.store(dst, f32x4.shuffle(t0, t1, 0, 1, 4, 5));
          v128.store(dst, f32x4.shuffle(t0, t1, 2, 3, 6, 7), 32);
          v128.store(dst, f32x4.shuffle(t2, t3, 0, 1, 4, 5), 64);
          v128.store(dst, f32x4.shuffle(t2, t3, 2, 3, 6, 7), 96);
          x0 = v128.load(r4 + o);
          x1 = v128.load(r5 + o);
          x2 = v128.load(r6 + o);
          x3 = v128.load(r7 + o);
          t0 = f32x4.shuffle(x0, x1, 0, 4, 1, 5);
          t1 = f32x4.shuffle(x2, x3, 0, 4, 1, 5);
          t2 = f32x4.shuffle(x0, x1, 2, 6, 3, 7);
          t3 = f32x4.shuffle(x2, x3, 2, 6, 3, 7);
          v128.store(dst, f32x4.shuffle(t0, t1, 0, 1, 4, 5), 16);
          v128.store(dst, f32x4.shuffle(t0, t1, 2, 3, 6, 7), 48);
          v128.store(dst, f32x4.shuffle(t2, t3, 0, 1, 4, 5), 80);
          v128.store(dst, f32x4.shuffle(t2, t3, 2, 3, 6, 7), 112);
          dst += 128;
        }
        for (; p < kc; p++) {
          for (let c = 0; c < NR; c++) store<f32>(at(dst, c), load<f32>(at(b, (j0 + s + c) * ldb + p0 + p)));
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let c = 0; c < NR; c++) {
            store<f32>(at(dst, c), c < nr ? load<f32>(at(b, (j0 + s + c) * ldb + p0 + p)) : 0);
          }
          dst += 32;
        }
      }
    }
  }
}

// ---- micro-kernel ---------------------------------------------------------------------------

/** c + a * b: fused where the build enables relaxed SIMD (and the hardware fuses), else mul + add. */
// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** C[0:4, 0:8] += alpha * (packed A sliver) * (packed B sliver); ldcb is C's row stride in bytes. */
// @ts-ignore: decorator
@inline
function kernel4x8(kc: i32, pa: usize, pb: usize, c: usize, ldcb: usize, alpha: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const va = f32x4.splat(alpha);
  let r = c;
  v128.store(r, f32x4.add(v128.load(r), f32x4.mul(va, c00)));
  v128.store(r, f32x4.add(v128.load(r, 16), f32x4.mul(va, c01)), 16);
  r += ldcb;
  v128.store(r, f32x4.add(v128.load(r), f32x4.mul(va, c10)));
  v128.store(r, f32x4.add(v128.load(r, 16), f32x4.mul(va, c11)), 16);
  r += ldcb;
  v128.store(r, f32x4.add(v128.load(r), f32x4.mul(va, c20)));
  v128.store(r, f32x4.add(v128.load(r, 16), f32x4.mul(va, c21)), 16);
  r += ldcb;
  v128.store(r, f32x4.add(v128.load(r), f32x4.mul(va, c30)));
  v128.store(r, f32x4.add(v128.load(r, 16), f32x4.mul(va, c31)), 16);
}

/** Scale rows m0..m1, columns n0..n1 of C by beta (beta = 0 overwrites with zeros). */
function scaleBlock(c: usize, ldc: i32, m0: i32, m1: i32, n0: i32, n1: i32, beta: f64): void {
  if (beta == 1) return;
  const len = n1 - n0;
  for (let i = m0; i < m1; i++) {
    const row = at(c, i * ldc + n0);
    if (beta == 0) memory.fill(row, 0, <usize>len << 2);
    else scaleF64(row, len, beta);
  }
}

/** C[m0:m1, n0:n1] = alpha * op(A)[m0:m1, :] * op(B)[:, n0:n1] + beta * C[m0:m1, n0:n1]. */
function gemmBlock(
  tA: bool, tB: bool, m0: i32, m1: i32, n0: i32, n1: i32, k: i32, alpha: f32, beta: f64,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, scratch: usize, thin: i32,
): void {
  scaleBlock(c, ldc, m0, m1, n0, n1, beta);
  if (alpha == 0 || k == 0) return;
  if (thin != THIN_NONE) {
    gemmThin(tA, tB, m0, m1, n0, n1, k, alpha, a, lda, b, ldb, c, ldc, scratch, thin == THIN_M);
    return;
  }
  const packedA = scratch;
  const packedB = scratch + (<usize>(MC * KC) << 2);
  const tile = packedB + (<usize>(KC * NC) << 2);
  const ldcb = <usize>ldc << 2;
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = imin(NC, n1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = imin(KC, k - pc);
      packB(tB, b, ldb, pc, kc, jc, nc, packedB);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = imin(MC, m1 - ic);
        packA(tA, a, lda, ic, mc, pc, kc, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = imin(NR, nc - jr);
          const pb = packedB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = imin(MR, mc - ir);
            const pa = packedA + (<usize>(ir * kc) << 2);
            const cp = at(c, (ic + ir) * ldc + jc + jr);
            if (mr == MR && nr == NR) {
              kernel4x8(kc, pa, pb, cp, ldcb, alpha);
            } else {
              memory.fill(tile, 0, <usize>(MR * NR) << 2);
              kernel4x8(kc, pa, pb, tile, <usize>NR << 2, alpha);
              for (let r = 0; r < mr; r++) {
                const crow = cp + <usize>r * ldcb;
                const trow = at(tile, r * NR);
                for (let q = 0; q < nr; q++) store<f32>(at(crow, q), load<f32>(at(crow, q)) + load<f32>(at(trow, q)));
              }
            }
          }
        }
      }
    }
  }
}

// ---- thin products (fewer than MR rows or NR columns) ------------------------------------------
// Packing and a 4 x 8 tile waste most of their work when op(A) has 1-3 rows or op(B) 1-7
// columns (matrix-vector products); these go through dot products or row updates instead.
// The choice depends only on the whole product's m, n, k (never on a thread's block), so every
// split of C sums each element in the same order.
const THIN_NONE: i32 = 0;
const THIN_M: i32 = 1; // m < MR
const THIN_N: i32 = 2; // n < NR (and m >= MR)
/** Floats of scratch the thin path may use (the packing buffers). */
const THIN_FLOATS: i32 = MC * KC + KC * NC;
/** Length of the blocks the row-update forms accumulate at a time. */
const THIN_BLOCK: i32 = 2048;

function thinKind(m: i32, n: i32, k: i32): i32 {
  // A gathered operand (at most NR rows of k floats) must fit the scratch.
  if (k > THIN_FLOATS / NR) return THIN_NONE;
  if (m < MR) return THIN_M;
  if (n < NR) return THIN_N;
  return THIN_NONE;
}

/** Sum of x[0:k] * y[0:k] in float32 (two f32x4 accumulators). */
function dotF32(x: usize, y: usize, k: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let p = 0;
  for (; p + 8 <= k; p += 8) {
    const o = <usize>p << 2;
    s0 = madd(v128.load(x + o), v128.load(y + o), s0);
    s1 = madd(v128.load(x + o, 16), v128.load(y + o, 16), s1);
  }
  const s = f32x4.add(s0, s1);
  let t = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  for (; p < k; p++) t += load<f32>(at(x, p)) * load<f32>(at(y, p));
  return t;
}

/** acc[0:len] += w * x[0:len]. */
function axpyF32(w: f32, x: usize, acc: usize, len: i32): void {
  const vw = f32x4.splat(w);
  let t = 0;
  for (; t + 8 <= len; t += 8) {
    const po = at(acc, t), px = at(x, t);
    v128.store(po, madd(vw, v128.load(px), v128.load(po)));
    v128.store(po, madd(vw, v128.load(px, 16), v128.load(po, 16)), 16);
  }
  for (; t < len; t++) store<f32>(at(acc, t), load<f32>(at(acc, t)) + w * load<f32>(at(x, t)));
}

function gemmThin(
  tA: bool, tB: bool, m0: i32, m1: i32, n0: i32, n1: i32, k: i32, alpha: f32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, scratch: usize, smallM: bool,
): void {
  if (smallM && tB || !smallM && !tA) {
    // Dot products of contiguous rows: op(A)[i, :] . op(B)[:, j]. The thin side is gathered
    // into scratch when it is strided.
    let aBase = a, aStride = lda, aOff = 0;
    let bBase = b, bStride = ldb, bOff = 0;
    if (smallM && tA) {
      for (let i = m0; i < m1; i++) {
        const dst = at(scratch, (i - m0) * k);
        for (let p = 0; p < k; p++) store<f32>(at(dst, p), load<f32>(at(a, p * lda + i)));
      }
      aBase = scratch; aStride = k; aOff = m0;
    }
    if (!smallM && !tB) {
      for (let j = n0; j < n1; j++) {
        const dst = at(scratch, (j - n0) * k);
        for (let p = 0; p < k; p++) store<f32>(at(dst, p), load<f32>(at(b, p * ldb + j)));
      }
      bBase = scratch; bStride = k; bOff = n0;
    }
    for (let i = m0; i < m1; i++) {
      const ar = at(aBase, (i - aOff) * aStride);
      for (let j = n0; j < n1; j++) {
        const cp = at(c, i * ldc + j);
        store<f32>(cp, load<f32>(cp) + alpha * dotF32(ar, at(bBase, (j - bOff) * bStride), k));
      }
    }
  } else if (smallM) {
    // !tB: rows of op(B) are contiguous: acc[i, :] += op(A)[i, p] * B[p, :].
    for (let jc = n0; jc < n1; jc += THIN_BLOCK) {
      const nc = imin(THIN_BLOCK, n1 - jc);
      memory.fill(scratch, 0, <usize>((m1 - m0) * nc) << 2);
      for (let p = 0; p < k; p++) {
        const br = at(b, p * ldb + jc);
        for (let i = m0; i < m1; i++) {
          const w = load<f32>(at(a, tA ? p * lda + i : i * lda + p));
          axpyF32(w, br, at(scratch, (i - m0) * nc), nc);
        }
      }
      for (let i = m0; i < m1; i++) axpyF32(alpha, at(scratch, (i - m0) * nc), at(c, i * ldc + jc), nc);
    }
  } else {
    // Few columns and tA: rows of A (columns of op(A)) are contiguous: acc[j, :] += op(B)[p, j] * A[p, :].
    for (let ic = m0; ic < m1; ic += THIN_BLOCK) {
      const mc = imin(THIN_BLOCK, m1 - ic);
      memory.fill(scratch, 0, <usize>((n1 - n0) * mc) << 2);
      for (let p = 0; p < k; p++) {
        const ar = at(a, p * lda + ic);
        for (let j = n0; j < n1; j++) {
          const w = load<f32>(at(b, tB ? j * ldb + p : p * ldb + j));
          axpyF32(w, ar, at(scratch, (j - n0) * mc), mc);
        }
      }
      for (let j = n0; j < n1; j++) {
        const acc = at(scratch, (j - n0) * mc);
        for (let i = 0; i < mc; i++) {
          const cp = at(c, (ic + i) * ldc + j);
          store<f32>(cp, load<f32>(cp) + alpha * load<f32>(at(acc, i)));
        }
      }
    }
  }
}

/**
 * Single-call GEMM on the calling thread (scratch: gemmScratchBytes() bytes).
 * C = alpha * op(A) * op(B) + beta * C.
 */
export function sgemm(
  tA: i32, tB: i32, m: i32, n: i32, k: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f64, c: usize, ldc: i32, scratch: usize,
): void {
  gemmBlock(tA != 0, tB != 0, 0, m, 0, n, k, alpha, beta, a, lda, b, ldb, c, ldc, scratch, thinKind(m, n, k));
}

// ---- parallel jobs --------------------------------------------------------------------------
// The parameter block: i32 slot 0 is the job kind; the rest depends on it (see each case).
// The job kinds: one definition shared with the TypeScript driver (src/backend/wasm/jobs.ts).

/** Run task `task` of the job described by the parameter block, as thread `thread`. */
export function runTask(task: i32, thread: i32): void {
  const job = pi(0);
  if (job == JOB_GEMM) {
    // 1 tA, 2 tB, 3 m, 4 n, 5 k, 6 a, 7 lda, 8 b, 9 ldb, 10 c, 11 ldc,
    // 12 rowChunk, 13 colChunk, 14 colTasks, 15 scratchBase, 16 scratchStride; f0 alpha, f1 beta
    const m = pi(3), n = pi(4);
    const rowChunk = pi(12), colChunk = pi(13), colTasks = pi(14);
    const ti = task / colTasks, tj = task % colTasks;
    const m0 = ti * rowChunk, n0 = tj * colChunk;
    const scratch = <usize>pi(15) + <usize>thread * <usize>pi(16);
    gemmBlock(
      pi(1) != 0, pi(2) != 0, m0, imin(m, m0 + rowChunk), n0, imin(n, n0 + colChunk), pi(5),
      <f32>pf(0), pf(1), <usize>pi(6), pi(7), <usize>pi(8), pi(9), <usize>pi(10), pi(11), scratch, thinKind(m, n, pi(5)),
    );
  } else if (job == JOB_GATHER_DECODE) {
    // 1 idx, 2 val, 3 rows, 4 k, 5 d, 6 dim, 7 out, 8 chunk; f0 beta
    const r0 = task * pi(8);
    gatherDecodeRows(<usize>pi(1), <usize>pi(2), pi(4), <usize>pi(5), pi(6), pf(0), <usize>pi(7), r0, imin(pi(3), r0 + pi(8)));
  } else if (job == JOB_GATHER_DOT) {
    // 1 idx, 2 rows, 3 k, 4 g, 5 d, 6 dim, 7 out, 8 chunk
    const r0 = task * pi(8);
    gatherDotRows(<usize>pi(1), pi(3), <usize>pi(4), <usize>pi(5), pi(6), <usize>pi(7), r0, imin(pi(2), r0 + pi(8)));
  } else if (job == JOB_SCATTER_OUTER) {
    // 1 idx, 2 val, 3 rows, 4 k, 5 g, 6 dim, 7 gradD, 8 column chunk (multiple of 4)
    const c0 = task * pi(8);
    scatterOuterCols(<usize>pi(1), <usize>pi(2), pi(3), pi(4), <usize>pi(5), pi(6), <usize>pi(7), c0, imin(pi(6), c0 + pi(8)));
  } else if (job == JOB_TOPK) {
    // 1 x, 2 rows, 3 cols, 4 k, 5 outIdx, 6 outVal, 7 chunk
    const r0 = task * pi(7);
    topkRows(<usize>pi(1), pi(3), pi(4), <usize>pi(5), <usize>pi(6), r0, imin(pi(2), r0 + pi(7)));
  } else {
    unreachable();
  }
}

// ---- float64 helpers for element-wise kernels ------------------------------------------------
// Element-wise kernels compute in float64 and round once, exactly like the js reference
// (JavaScript arithmetic on Float32Array elements), so their results agree bit for bit.

@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 0, 1));
}
@inline function to32(l: v128, h: v128): v128 {
  return f32x4.shuffle(f32x4.demote_f64x2_zero(l), f32x4.demote_f64x2_zero(h), 0, 1, 4, 5);
}

function scaleF64(x: usize, n: i32, s: f64): void {
  const vs = f64x2.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = at(x, i);
    const v = v128.load(p);
    v128.store(p, to32(f64x2.mul(lo64(v), vs), f64x2.mul(hi64(v), vs)));
  }
  for (; i < n; i++) {
    const p = at(x, i);
    store<f32>(p, <f32>(<f64>load<f32>(p) * s));
  }
}

/** out = sign(x) * max(|x| - t, 0), or max(x - t, 0) when nonneg. In place allowed. */
export function softThreshold(x: usize, n: i32, t: f64, nonneg: i32, out: usize): void {
  const vt = f64x2.splat(t);
  const vnt = f64x2.splat(-t);
  const zero = f64x2.splat(0);
  let i = 0;
  if (nonneg != 0) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      const l = f64x2.sub(lo64(v), vt);
      const h = f64x2.sub(hi64(v), vt);
      v128.store(at(out, i), to32(v128.and(l, f64x2.gt(l, zero)), v128.and(h, f64x2.gt(h, zero))));
    }
    for (; i < n; i++) {
      const v = <f64>load<f32>(at(x, i)) - t;
      store<f32>(at(out, i), v > 0 ? <f32>v : 0);
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at(x, i));
      const l = lo64(v);
      const h = hi64(v);
      const rl = v128.or(v128.and(f64x2.sub(l, vt), f64x2.gt(l, vt)), v128.and(f64x2.add(l, vt), f64x2.lt(l, vnt)));
      const rh = v128.or(v128.and(f64x2.sub(h, vt), f64x2.gt(h, vt)), v128.and(f64x2.add(h, vt), f64x2.lt(h, vnt)));
      v128.store(at(out, i), to32(rl, rh));
    }
    for (; i < n; i++) {
      const v = <f64>load<f32>(at(x, i));
      store<f32>(at(out, i), v > t ? <f32>(v - t) : v < -t ? <f32>(v + t) : 0);
    }
  }
}

/** out = max(x, 0) (NaN -> 0, as in the js reference). */
export function relu(x: usize, n: i32, out: usize): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at(x, i));
    v128.store(at(out, i), v128.and(v, f32x4.gt(v, zero)));
  }
  for (; i < n; i++) {
    const v = load<f32>(at(x, i));
    store<f32>(at(out, i), v > 0 ? v : 0);
  }
}

/** y = alpha * x + beta * y. */
export function axpby(alpha: f64, x: usize, beta: f64, y: usize, n: i32): void {
  const va = f64x2.splat(alpha);
  const vb = f64x2.splat(beta);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const vx = v128.load(at(x, i));
    const vy = v128.load(at(y, i));
    const l = f64x2.add(f64x2.mul(va, lo64(vx)), f64x2.mul(vb, lo64(vy)));
    const h = f64x2.add(f64x2.mul(va, hi64(vx)), f64x2.mul(vb, hi64(vy)));
    v128.store(at(y, i), to32(l, h));
  }
  for (; i < n; i++) {
    store<f32>(at(y, i), <f32>(alpha * <f64>load<f32>(at(x, i)) + beta * <f64>load<f32>(at(y, i))));
  }
}

/** out = z + beta * (z - zPrev). out may be z's or zPrev's storage (same index only). */
export function extrapolate(z: usize, zp: usize, beta: f64, out: usize, n: i32): void {
  const vb = f64x2.splat(beta);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const vz = v128.load(at(z, i));
    const vp = v128.load(at(zp, i));
    const zl = lo64(vz), zh = hi64(vz);
    const l = f64x2.add(zl, f64x2.mul(vb, f64x2.sub(zl, lo64(vp))));
    const h = f64x2.add(zh, f64x2.mul(vb, f64x2.sub(zh, hi64(vp))));
    v128.store(at(out, i), to32(l, h));
  }
  for (; i < n; i++) {
    const zv = <f64>load<f32>(at(z, i));
    store<f32>(at(out, i), <f32>(zv + beta * (zv - <f64>load<f32>(at(zp, i)))));
  }
}

/** x[i, :] += alpha * v for every row. */
export function addRowVector(x: usize, rows: i32, cols: i32, v: usize, alpha: f64): void {
  const va = f64x2.splat(alpha);
  for (let r = 0; r < rows; r++) {
    const row = at(x, r * cols);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const vx = v128.load(at(row, j));
      const vv = v128.load(at(v, j));
      const l = f64x2.add(lo64(vx), f64x2.mul(va, lo64(vv)));
      const h = f64x2.add(hi64(vx), f64x2.mul(va, hi64(vv)));
      v128.store(at(row, j), to32(l, h));
    }
    for (; j < cols; j++) {
      store<f32>(at(row, j), <f32>(<f64>load<f32>(at(row, j)) + alpha * <f64>load<f32>(at(v, j))));
    }
  }
}

// ---- reductions (float64 accumulation) -------------------------------------------------------

/** out[i] = sum_j x[i, j] (out is float64). */
export function sumRows(x: usize, rows: i32, cols: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = at(x, r * cols);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v = v128.load(at(row, j));
      s0 = f64x2.add(s0, lo64(v));
      s1 = f64x2.add(s1, hi64(v));
    }
    let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + (f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1));
    for (; j < cols; j++) s += <f64>load<f32>(at(row, j));
    store<f64>(out + (<usize>r << 3), s);
  }
}

/**
 * out[j] = sum_i x[i, j] (out is float64; summed row by row, as the js reference does).
 * With accumulate != 0, adds to out instead of overwriting it (for row-chunked calls).
 */
export function sumCols(x: usize, rows: i32, cols: i32, out: usize, accumulate: i32): void {
  if (accumulate == 0) memory.fill(out, 0, <usize>cols << 3);
  for (let r = 0; r < rows; r++) {
    const row = at(x, r * cols);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v = v128.load(at(row, j));
      const o = out + (<usize>j << 3);
      v128.store(o, f64x2.add(v128.load(o), lo64(v)));
      v128.store(o, f64x2.add(v128.load(o, 16), hi64(v)), 16);
    }
    for (; j < cols; j++) {
      const o = out + (<usize>j << 3);
      store<f64>(o, load<f64>(o) + <f64>load<f32>(at(row, j)));
    }
  }
}

/** sum of x[i]^2 in float64. */
export function sumSquares(x: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at(x, i));
    const l = lo64(v), h = hi64(v);
    s0 = f64x2.add(s0, f64x2.mul(l, l));
    s1 = f64x2.add(s1, f64x2.mul(h, h));
  }
  let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + (f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1));
  for (; i < n; i++) {
    const v = <f64>load<f32>(at(x, i));
    s += v * v;
  }
  return s;
}

// ---- top-k per row ---------------------------------------------------------------------------

@inline function topkInsert(v: f32, j: i32, k: i32, filled: i32, oi: usize, ov: usize): void {
  // The same insertion as the js reference: strict > keeps lower-index ties ahead.
  let pos = filled < k ? filled : k - 1;
  while (pos > 0 && v > load<f32>(at(ov, pos - 1))) {
    store<f32>(at(ov, pos), load<f32>(at(ov, pos - 1)));
    store<i32>(at(oi, pos), load<i32>(at(oi, pos - 1)));
    pos--;
  }
  store<f32>(at(ov, pos), v);
  store<i32>(at(oi, pos), j);
}

/** Rows r0..r1 of x [rows x cols]: the k largest values (descending) and their columns. */
function topkRows(x: usize, cols: i32, k: i32, outIdx: usize, outVal: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const row = at(x, r * cols);
    const oi = at(outIdx, r * k);
    const ov = at(outVal, r * k);
    let j = 0;
    for (; j < k; j++) topkInsert(load<f32>(at(row, j)), j, k, j, oi, ov);
    const last = at(ov, k - 1);
    while (j < cols) {
      if (j + 4 <= cols) {
        // Skip four at a time while none beats the current k-th value (NaN never does).
        const v = v128.load(at(row, j));
        if (!v128.any_true(f32x4.gt(v, f32x4.splat(load<f32>(last))))) {
          j += 4;
          continue;
        }
        const end = j + 4;
        for (; j < end; j++) {
          const s = load<f32>(at(row, j));
          if (s > load<f32>(last)) topkInsert(s, j, k, k, oi, ov);
        }
      } else {
        const s = load<f32>(at(row, j));
        if (s > load<f32>(last)) topkInsert(s, j, k, k, oi, ov);
        j++;
      }
    }
  }
}

/** Single-threaded top-k over all rows. */
export function topk(x: usize, rows: i32, cols: i32, k: i32, outIdx: usize, outVal: usize): void {
  topkRows(x, cols, k, outIdx, outVal, 0, rows);
}

// ---- sparse gather / scatter -----------------------------------------------------------------

/** Rows r0..r1: out[i, :] = beta * out[i, :] + sum_j val[i, j] * d[idx[i, j], :]. */
function gatherDecodeRows(idx: usize, val: usize, k: i32, d: usize, dim: i32, beta: f64, out: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = at(out, r * dim);
    if (beta == 0) memory.fill(o, 0, <usize>dim << 2);
    else if (beta != 1) scaleF64(o, dim, beta);
    for (let j = 0; j < k; j++) {
      const a = load<i32>(at(idx, r * k + j));
      if (a < 0) continue;
      const w = load<f32>(at(val, r * k + j));
      if (w == 0) continue;
      const da = at(d, a * dim);
      const vw = f32x4.splat(w);
      let t = 0;
      for (; t + 8 <= dim; t += 8) {
        const po = at(o, t), pd = at(da, t);
        v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, v128.load(pd))));
        v128.store(po, f32x4.add(v128.load(po, 16), f32x4.mul(vw, v128.load(pd, 16))), 16);
      }
      for (; t < dim; t++) store<f32>(at(o, t), load<f32>(at(o, t)) + w * load<f32>(at(da, t)));
    }
  }
}

export function gatherDecode(idx: usize, val: usize, rows: i32, k: i32, d: usize, dim: i32, beta: f64, out: usize): void {
  gatherDecodeRows(idx, val, k, d, dim, beta, out, 0, rows);
}

/** Rows r0..r1: out[i, j] = g[i, :] . d[idx[i, j], :] (0 for padding). */
function gatherDotRows(idx: usize, k: i32, g: usize, d: usize, dim: i32, out: usize, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const gr = at(g, r * dim);
    for (let j = 0; j < k; j++) {
      const a = load<i32>(at(idx, r * k + j));
      const op = at(out, r * k + j);
      if (a < 0) {
        store<f32>(op, 0);
        continue;
      }
      const da = at(d, a * dim);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      let t = 0;
      for (; t + 8 <= dim; t += 8) {
        const pg = at(gr, t), pd = at(da, t);
        s0 = f32x4.add(s0, f32x4.mul(v128.load(pg), v128.load(pd)));
        s1 = f32x4.add(s1, f32x4.mul(v128.load(pg, 16), v128.load(pd, 16)));
      }
      const l = f64x2.add(lo64(s0), lo64(s1));
      const h = f64x2.add(hi64(s0), hi64(s1));
      let s = f64x2.extract_lane(l, 0) + f64x2.extract_lane(l, 1) + (f64x2.extract_lane(h, 0) + f64x2.extract_lane(h, 1));
      for (; t < dim; t++) s += <f64>load<f32>(at(gr, t)) * <f64>load<f32>(at(da, t));
      store<f32>(op, <f32>s);
    }
  }
}

export function gatherDot(idx: usize, rows: i32, k: i32, g: usize, d: usize, dim: i32, out: usize): void {
  gatherDotRows(idx, k, g, d, dim, out, 0, rows);
}

/** Columns c0..c1 of every row: gradD[idx[i, j], c] += val[i, j] * g[i, c]. */
function scatterOuterCols(idx: usize, val: usize, rows: i32, k: i32, g: usize, dim: i32, gradD: usize, c0: i32, c1: i32): void {
  for (let r = 0; r < rows; r++) {
    const gr = at(g, r * dim);
    for (let j = 0; j < k; j++) {
      const a = load<i32>(at(idx, r * k + j));
      if (a < 0) continue;
      const w = load<f32>(at(val, r * k + j));
      if (w == 0) continue;
      const da = at(gradD, a * dim);
      const vw = f32x4.splat(w);
      let t = c0;
      for (; t + 8 <= c1; t += 8) {
        const po = at(da, t), pg = at(gr, t);
        v128.store(po, f32x4.add(v128.load(po), f32x4.mul(vw, v128.load(pg))));
        v128.store(po, f32x4.add(v128.load(po, 16), f32x4.mul(vw, v128.load(pg, 16))), 16);
      }
      for (; t < c1; t++) store<f32>(at(da, t), load<f32>(at(da, t)) + w * load<f32>(at(gr, t)));
    }
  }
}

export function scatterOuter(idx: usize, val: usize, rows: i32, k: i32, g: usize, dim: i32, gradD: usize): void {
  scatterOuterCols(idx, val, rows, k, g, dim, gradD, 0, dim);
}
