import { fail } from '../../core/errors.js';
import { jsBackend } from '../js/index.js';
import type { Backend } from '../types.js';
import { JOB_GATHER_DECODE, JOB_GATHER_DOT, JOB_GEMM, JOB_SCATTER_OUTER, JOB_TOPK } from './jobs.js';
import { Pool, MAX_TASKS, type SpawnWorker } from './pool.js';

/** The functions kernels/sparsecode.ts exports (pointers are byte addresses). */
export interface KernelExports {
  paramsPtr(): number;
  arenaBase(): number;
  gemmScratchBytes(): number;
  sgemm(tA: number, tB: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number, scratch: number): void;
  runTask(task: number, thread: number): void;
  softThreshold(x: number, n: number, t: number, nonneg: number, out: number): void;
  relu(x: number, n: number, out: number): void;
  axpby(alpha: number, x: number, beta: number, y: number, n: number): void;
  extrapolate(z: number, zp: number, beta: number, out: number, n: number): void;
  addRowVector(x: number, rows: number, cols: number, v: number, alpha: number): void;
  sumRows(x: number, rows: number, cols: number, out: number): void;
  sumCols(x: number, rows: number, cols: number, out: number, accumulate: number): void;
  sumSquares(x: number, n: number): number;
  topk(x: number, rows: number, cols: number, k: number, outIdx: number, outVal: number): void;
  gatherDecode(idx: number, val: number, rows: number, k: number, d: number, dim: number, beta: number, out: number): void;
  gatherDot(idx: number, rows: number, k: number, g: number, d: number, dim: number, out: number): void;
  scatterOuter(idx: number, val: number, rows: number, k: number, g: number, dim: number, gradD: number): void;
}

const PAGE = 65536;
/** Element-wise kernels stream their inputs through wasm memory in pieces of this many floats. */
const CHUNK = 1 << 20;
/** Below this many multiply-adds a GEMM runs on the calling thread alone. */
const GEMM_PARALLEL_MIN = 1 << 21;
/** Below this many multiply-adds a sparse job runs on the calling thread alone. */
const SPARSE_PARALLEL_MIN = 1 << 17;

export interface WasmBackendInit {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  /** Largest size (bytes) the memory may grow to. */
  maxBytes: number;
  /** Present when threads are possible (shared memory, and a thread that may block). */
  threading?: { module: WebAssembly.Module; spawn: SpawnWorker };
  threads: number;
  /** Bytes of wasm memory one pass of a call may use before it is split (default 512 MiB). */
  budgetBytes?: number;
}

const align = (x: number, a = 64) => Math.ceil(x / a) * a;

/**
 * The wasm backend: inputs are copied into the module's linear memory (a bump arena reset on
 * every call, grown when a call needs more), the SIMD kernels run there, results are copied
 * back. GEMM and the sparse gather/scatter kernels split their work across a worker pool.
 */
export class WasmBackend implements Backend {
  readonly name = 'wasm' as const;
  private readonly ex: KernelExports;
  private readonly memory: WebAssembly.Memory;
  private readonly maxBytes: number;
  /** Inputs of one call (before chunking) may take at most this many bytes of wasm memory. */
  private readonly budget: number;
  private readonly pool: Pool | null;
  private nThreads = 1;
  private f32!: Float32Array;
  private f64!: Float64Array;
  private i32!: Int32Array;
  private readonly paramsI: number; // Int32 index of the parameter block
  private readonly paramsF: number; // Float64 index of its f64 slots
  private readonly scratchBase: number;
  private readonly scratchStride: number;
  private dynBase = 0;
  private top = 0;
  /** GEMM tasks per thread: more balance the load when cores are busy, fewer repack less. */
  private gemmTasksPerThread = 2;

  constructor(init: WasmBackendInit) {
    this.ex = init.exports;
    this.memory = init.memory;
    this.maxBytes = init.maxBytes;
    this.budget = Math.min(init.budgetBytes ?? 512 * 2 ** 20, Math.floor(init.maxBytes / 4));
    const params = this.ex.paramsPtr();
    this.paramsI = params >>> 2;
    this.paramsF = (params + 128) >>> 3;
    this.scratchBase = align(this.ex.arenaBase());
    this.scratchStride = align(this.ex.gemmScratchBytes());
    this.pool = init.threading
      ? new Pool(init.threading.module, init.memory, init.threading.spawn, (t, id) => this.ex.runTask(t, id))
      : null;
    this.refreshViews();
    this.setThreads(init.threads);
  }

  /** Threads used by GEMM and the sparse kernels (1 where threads are unavailable). */
  get threads(): number {
    return this.nThreads;
  }

  /** Use n threads (the calling thread plus n - 1 workers). Where threads are unavailable this stays 1. */
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      fail('E_ARG', `wasm backend: threads must be an integer from 1 to 256, got ${n}`);
    }
    if (!this.pool) {
      this.nThreads = 1;
      this.dynBase = this.scratchBase + this.scratchStride;
      return;
    }
    this.pool.setThreads(n);
    this.nThreads = n;
    // Scratch for every thread id that exists (workers never go away once started).
    this.dynBase = this.scratchBase + (this.pool.size + 1) * this.scratchStride;
    this.ensure(this.dynBase + PAGE);
  }

  /** Whether this instance can use more than one thread here. */
  get canThread(): boolean {
    return this.pool !== null;
  }

  /** Stop the worker threads (the backend keeps working on one thread). */
  close(): void {
    this.pool?.close();
    this.nThreads = 1;
  }

  // ---- memory ------------------------------------------------------------------------------

  private refreshViews(): void {
    const buf = this.memory.buffer;
    this.f32 = new Float32Array(buf);
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
  }

  /** Make the memory at least `end` bytes long. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      if (end > this.maxBytes) {
        fail('E_BACKEND', `wasm backend: a call needs ${end} bytes of wasm memory, more than the ${this.maxBytes} available`);
      }
      const need = Math.ceil((end - have) / PAGE);
      // Grow geometrically so that a sequence of growing calls re-grows rarely.
      const want = Math.min(Math.max(need, Math.ceil(have / 2 / PAGE)), Math.floor((this.maxBytes - have) / PAGE));
      try {
        this.memory.grow(want);
      } catch {
        try {
          this.memory.grow(need);
        } catch (e) {
          fail('E_BACKEND', `wasm backend: cannot grow wasm memory to ${end} bytes (${(e as Error).message})`);
        }
      }
    }
    if (this.f32.buffer.byteLength !== this.memory.buffer.byteLength) this.refreshViews();
  }

  /** Start a call: the arena is empty again. */
  private begin(): void {
    this.top = this.dynBase;
  }

  /** Reserve `bytes` in the arena (64-byte aligned); the memory grows when needed. */
  private alloc(bytes: number): number {
    const p = this.top;
    this.top = align(p + bytes);
    this.ensure(this.top);
    return p;
  }

  private putF32(src: Float32Array, len: number): number {
    const p = this.alloc(len * 4);
    this.f32.set(len === src.length ? src : src.subarray(0, len), p >>> 2);
    return p;
  }

  private putI32(src: Int32Array, len: number): number {
    const p = this.alloc(len * 4);
    this.i32.set(len === src.length ? src : src.subarray(0, len), p >>> 2);
    return p;
  }

  private getF32(p: number, len: number, dst: Float32Array, offset = 0): void {
    dst.set(this.f32.subarray(p >>> 2, (p >>> 2) + len), offset);
  }

  private setParams(ints: number[], floats: number[] = []): void {
    for (let i = 0; i < ints.length; i++) this.i32[this.paramsI + i] = ints[i];
    for (let i = 0; i < floats.length; i++) this.f64[this.paramsF + i] = floats[i];
  }

  /** Tasks to cut `units` units of work into (1 when one thread should do it all). */
  private taskCount(units: number, work: number, minWork: number): number {
    if (this.nThreads <= 1 || work < minWork) return 1;
    return Math.max(1, Math.min(units, this.nThreads * 4, MAX_TASKS));
  }

  // ---- GEMM --------------------------------------------------------------------------------

  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void {
    if (m === 0 || n === 0) return;
    if (alpha === 0 || k === 0) {
      for (let i = 0; i < m; i++) {
        const o = i * ldc;
        if (beta === 0) c.fill(0, o, o + n);
        else if (beta !== 1) for (let j = 0; j < n; j++) c[o + j] *= beta;
      }
      return;
    }
    const aLen = transA ? (k - 1) * lda + m : (m - 1) * lda + k;
    const bLen = transB ? (n - 1) * ldb + k : (k - 1) * ldb + n;
    const cLen = (m - 1) * ldc + n;
    if (4 * (aLen + bLen + cLen) > this.budget && (m > 1 || n > 1)) {
      // Too big for one pass: split the output in two along its longer side.
      if (m >= n) {
        const h = m >> 1;
        this.sgemm(transA, transB, h, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        this.sgemm(transA, transB, m - h, n, k, alpha, transA ? a.subarray(h) : a.subarray(h * lda), lda, b, ldb, beta, c.subarray(h * ldc), ldc);
      } else {
        const h = n >> 1;
        this.sgemm(transA, transB, m, h, k, alpha, a, lda, b, ldb, beta, c, ldc);
        this.sgemm(transA, transB, m, n - h, k, alpha, a, lda, transB ? b.subarray(h * ldb) : b.subarray(h), ldb, beta, c.subarray(h), ldc);
      }
      return;
    }
    this.begin();
    const pa = this.putF32(a, aLen);
    const pb = this.putF32(b, bLen);
    // With beta = 0 the kernel overwrites C, but rows copied back whole carry the gaps
    // between them (ldc > n), so C goes in unless there are no gaps.
    const pc = beta === 0 && ldc === n ? this.alloc(cLen * 4) : this.putF32(c, cLen);
    const work = m * n * k;
    if (this.nThreads <= 1 || work < GEMM_PARALLEL_MIN) {
      this.ex.sgemm(+transA, +transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, this.scratchBase);
    } else {
      // Every task packs the whole of op(A) and op(B) it touches: cutting rows repacks B once
      // per row task, cutting columns repacks A once per column task. Cut the longer side.
      const target = this.nThreads * this.gemmTasksPerThread;
      let rowTasks: number, colTasks: number;
      if (m >= n) {
        rowTasks = Math.max(1, Math.min(target, Math.ceil(m / 16)));
        colTasks = Math.max(1, Math.min(Math.floor(target / rowTasks), Math.ceil(n / 64)));
      } else {
        colTasks = Math.max(1, Math.min(target, Math.ceil(n / 64)));
        rowTasks = Math.max(1, Math.min(Math.floor(target / colTasks), Math.ceil(m / 16)));
      }
      const rowChunk = align(Math.ceil(m / rowTasks), 4);
      rowTasks = Math.ceil(m / rowChunk);
      const colChunk = align(Math.ceil(n / colTasks), 8);
      colTasks = Math.ceil(n / colChunk);
      this.setParams(
        [JOB_GEMM, +transA, +transB, m, n, k, pa, lda, pb, ldb, pc, ldc, rowChunk, colChunk, colTasks, this.scratchBase, this.scratchStride],
        [alpha, beta],
      );
      this.pool!.run(rowTasks * colTasks);
    }
    this.getF32(pc, cLen, c);
  }

  // ---- element-wise ------------------------------------------------------------------------

  softThreshold(x: Float32Array, t: number, nonneg: boolean, out: Float32Array): void {
    for (let o = 0; o < x.length; o += CHUNK) {
      const len = Math.min(CHUNK, x.length - o);
      this.begin();
      const p = this.putF32(x.subarray(o), len);
      this.ex.softThreshold(p, len, t, +nonneg, p);
      this.getF32(p, len, out, o);
    }
  }

  relu(x: Float32Array, out: Float32Array): void {
    for (let o = 0; o < x.length; o += CHUNK) {
      const len = Math.min(CHUNK, x.length - o);
      this.begin();
      const p = this.putF32(x.subarray(o), len);
      this.ex.relu(p, len, p);
      this.getF32(p, len, out, o);
    }
  }

  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void {
    for (let o = 0; o < x.length; o += CHUNK) {
      const len = Math.min(CHUNK, x.length - o);
      this.begin();
      const px = this.putF32(x.subarray(o), len);
      const py = this.putF32(y.subarray(o), len);
      this.ex.axpby(alpha, px, beta, py, len);
      this.getF32(py, len, y, o);
    }
  }

  extrapolate(z: Float32Array, zPrev: Float32Array, beta: number, out: Float32Array): void {
    for (let o = 0; o < z.length; o += CHUNK) {
      const len = Math.min(CHUNK, z.length - o);
      this.begin();
      const pz = this.putF32(z.subarray(o), len);
      const pp = this.putF32(zPrev.subarray(o), len);
      this.ex.extrapolate(pz, pp, beta, pz, len);
      this.getF32(pz, len, out, o);
    }
  }

  /** one pass over four caller arrays: copying them into wasm memory would cost more than the pass */
  fistaUpdate(v: Float32Array, y: Float32Array, z: Float32Array, t: number, nonneg: boolean, beta: number, zNew: Float32Array): void {
    jsBackend.fistaUpdate(v, y, z, t, nonneg, beta, zNew);
  }

  addRowVector(x: Float32Array, rows: number, cols: number, v: Float32Array, alpha: number): void {
    if (rows === 0 || cols === 0) return;
    const step = Math.max(1, Math.floor(CHUNK / cols));
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.begin();
      const pv = this.putF32(v, cols);
      const px = this.putF32(x.subarray(r * cols), nr * cols);
      this.ex.addRowVector(px, nr, cols, pv, alpha);
      this.getF32(px, nr * cols, x, r * cols);
    }
  }

  // ---- reductions --------------------------------------------------------------------------

  sumRows(x: Float32Array, rows: number, cols: number, out: Float64Array): void {
    if (cols === 0) {
      out.fill(0, 0, rows);
      return;
    }
    const step = Math.max(1, Math.floor(CHUNK / cols));
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.begin();
      const px = this.putF32(x.subarray(r * cols), nr * cols);
      const po = this.alloc(nr * 8);
      this.ex.sumRows(px, nr, cols, po);
      out.set(this.f64.subarray(po >>> 3, (po >>> 3) + nr), r);
    }
  }

  sumCols(x: Float32Array, rows: number, cols: number, out: Float64Array): void {
    if (cols === 0) return;
    const step = Math.max(1, Math.floor(CHUNK / cols));
    this.begin();
    const po = this.alloc(cols * 8);
    const mark = this.top;
    if (rows === 0) this.f64.fill(0, po >>> 3, (po >>> 3) + cols);
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.top = mark;
      const px = this.putF32(x.subarray(r * cols), nr * cols);
      this.ex.sumCols(px, nr, cols, po, r === 0 ? 0 : 1);
    }
    out.set(this.f64.subarray(po >>> 3, (po >>> 3) + cols));
  }

  sumSquares(x: Float32Array): number {
    let s = 0;
    for (let o = 0; o < x.length; o += CHUNK) {
      const len = Math.min(CHUNK, x.length - o);
      this.begin();
      const p = this.putF32(x.subarray(o), len);
      s += this.ex.sumSquares(p, len);
    }
    return s;
  }

  // ---- top-k -------------------------------------------------------------------------------

  topkRows(x: Float32Array, rows: number, cols: number, k: number, outIdx: Int32Array, outVal: Float32Array): void {
    if (rows === 0 || k === 0) return;
    const step = Math.max(1, Math.floor((4 * CHUNK) / cols));
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.begin();
      const px = this.putF32(x.subarray(r * cols), nr * cols);
      const pi = this.alloc(nr * k * 4);
      const pv = this.alloc(nr * k * 4);
      const tasks = this.taskCount(nr, nr * cols, SPARSE_PARALLEL_MIN * 4);
      if (tasks <= 1) this.ex.topk(px, nr, cols, k, pi, pv);
      else {
        const chunk = Math.ceil(nr / tasks);
        this.setParams([JOB_TOPK, px, nr, cols, k, pi, pv, chunk]);
        this.pool!.run(Math.ceil(nr / chunk));
      }
      outIdx.set(this.i32.subarray(pi >>> 2, (pi >>> 2) + nr * k), r * k);
      this.getF32(pv, nr * k, outVal, r * k);
    }
  }

  // ---- sparse gather / scatter -------------------------------------------------------------

  /** Rows per pass for a sparse kernel whose whole operand takes `fixedBytes`; 0 when it cannot fit. */
  private sparseStep(fixedBytes: number, bytesPerRow: number, rows: number): number {
    const left = this.budget - fixedBytes;
    if (left <= bytesPerRow) return 0;
    return Math.max(1, Math.min(rows, Math.floor(left / bytesPerRow)));
  }

  /**
   * A single read of x: copying x into wasm memory would cost as much as the scan itself, so
   * this runs in JavaScript on the caller's arrays.
   */
  fistaGramRows(
    c: Float32Array, m: Float32Array, rows: number, atoms: number, t: number, nonneg: boolean,
    betas: Float32Array, cap: number, z: Float32Array, flags: Uint8Array,
  ): number {
    return jsBackend.fistaGramRows(c, m, rows, atoms, t, nonneg, betas, cap, z, flags);
  }

  compressRows(x: Float32Array, rows: number, cols: number, k: number, outIdx: Int32Array, outVal: Float32Array): number {
    return jsBackend.compressRows(x, rows, cols, k, outIdx, outVal);
  }

  gatherDecode(idx: Int32Array, val: Float32Array, rows: number, k: number, d: Float32Array, dim: number, beta: number, out: Float32Array): void {
    if (rows === 0 || dim === 0) return;
    const step = this.sparseStep(d.length * 4, (2 * k + dim) * 4, rows);
    if (step === 0) return jsBackend.gatherDecode(idx, val, rows, k, d, dim, beta, out);
    this.begin();
    const pd = this.putF32(d, d.length);
    const mark = this.top;
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.top = mark;
      const pi = this.putI32(idx.subarray(r * k), nr * k);
      const pv = this.putF32(val.subarray(r * k), nr * k);
      const po = beta === 0 ? this.alloc(nr * dim * 4) : this.putF32(out.subarray(r * dim), nr * dim);
      const tasks = this.taskCount(nr, nr * k * dim, SPARSE_PARALLEL_MIN);
      if (tasks <= 1) this.ex.gatherDecode(pi, pv, nr, k, pd, dim, beta, po);
      else {
        const chunk = Math.ceil(nr / tasks);
        this.setParams([JOB_GATHER_DECODE, pi, pv, nr, k, pd, dim, po, chunk], [beta]);
        this.pool!.run(Math.ceil(nr / chunk));
      }
      this.getF32(po, nr * dim, out, r * dim);
    }
  }

  gatherDot(idx: Int32Array, rows: number, k: number, g: Float32Array, d: Float32Array, dim: number, out: Float32Array): void {
    if (rows === 0 || k === 0) return;
    const step = this.sparseStep(d.length * 4, (2 * k + dim) * 4, rows);
    if (step === 0) return jsBackend.gatherDot(idx, rows, k, g, d, dim, out);
    this.begin();
    const pd = this.putF32(d, d.length);
    const mark = this.top;
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.top = mark;
      const pi = this.putI32(idx.subarray(r * k), nr * k);
      const pg = this.putF32(g.subarray(r * dim), nr * dim);
      const po = this.alloc(nr * k * 4);
      const tasks = this.taskCount(nr, nr * k * dim, SPARSE_PARALLEL_MIN);
      if (tasks <= 1) this.ex.gatherDot(pi, nr, k, pg, pd, dim, po);
      else {
        const chunk = Math.ceil(nr / tasks);
        this.setParams([JOB_GATHER_DOT, pi, nr, k, pg, pd, dim, po, chunk]);
        this.pool!.run(Math.ceil(nr / chunk));
      }
      this.getF32(po, nr * k, out, r * k);
    }
  }

  scatterOuter(idx: Int32Array, val: Float32Array, rows: number, k: number, g: Float32Array, dim: number, gradD: Float32Array): void {
    if (rows === 0 || k === 0 || dim === 0) return;
    const step = this.sparseStep(gradD.length * 4, (2 * k + dim) * 4, rows);
    if (step === 0) return jsBackend.scatterOuter(idx, val, rows, k, g, dim, gradD);
    this.begin();
    const pgd = this.putF32(gradD, gradD.length);
    const mark = this.top;
    for (let r = 0; r < rows; r += step) {
      const nr = Math.min(step, rows - r);
      this.top = mark;
      const pi = this.putI32(idx.subarray(r * k), nr * k);
      const pv = this.putF32(val.subarray(r * k), nr * k);
      const pg = this.putF32(g.subarray(r * dim), nr * dim);
      // Threads split the columns of gradD, so no two write the same element.
      const tasks = this.taskCount(Math.ceil(dim / 16), nr * k * dim, SPARSE_PARALLEL_MIN);
      if (tasks <= 1) this.ex.scatterOuter(pi, pv, nr, k, pg, dim, pgd);
      else {
        const chunk = align(Math.ceil(dim / tasks), 16);
        this.setParams([JOB_SCATTER_OUTER, pi, pv, nr, k, pg, dim, pgd, chunk]);
        this.pool!.run(Math.ceil(dim / chunk));
      }
    }
    this.getF32(pgd, gradD.length, gradD);
  }
}
