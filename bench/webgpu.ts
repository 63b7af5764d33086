/**
 * WebGPU measurements for `sparsecode bench gemm|sae --backends webgpu` (Node, through the
 * optional `webgpu` package) and `--browser` (the same code in headless Chromium, through
 * bench/webgpu-bench-entry.ts). GPU work is asynchronous: each timed run records the work, submits
 * it and waits for the device (onSubmittedWorkDone), so times include one submit and one wait.
 * On a software adapter (SwiftShader) the figures say how fast the CPU emulates the GPU, not how
 * fast a GPU is: rows carry `software: true`.
 */
import type { WebGpuContext } from '../src/backend/webgpu/context.js';
import * as K from '../src/backend/webgpu/kernels.js';
import { GpuTopKTrainer } from '../src/backend/webgpu/topk-sae.js';
import { Rng } from '../src/core/rng.js';

export interface GpuTiming { median: number; min: number; runs: number }

const now = () => performance.now() / 1000;

/** Median seconds of `fn` (recorded work) + a wait for the device, after one uncounted warm-up run. */
export async function timeGpu(ctx: WebGpuContext, fn: () => void, opts: { repeats?: number; budgetS?: number } = {}): Promise<GpuTiming> {
  const repeats = Math.max(1, opts.repeats ?? 5), budget = opts.budgetS ?? 3;
  // the warm-up (pipeline compilation: seconds on software adapters) is never counted
  fn();
  await ctx.sync();
  const start = now();
  const times: number[] = [];
  while (times.length < repeats && (times.length === 0 || now() - start < budget)) {
    const t0 = now();
    fn();
    await ctx.sync();
    times.push(now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], runs: times.length };
}

export interface GemmSizeArg { m: number; k: number; n: number }

/** C = A·B at each size: seconds and GFLOP/s (2mnk / time). */
export async function webgpuGemmRows(ctx: WebGpuContext, sizes: GemmSizeArg[], opts: { repeats?: number; budgetS?: number } = {}): Promise<Record<string, unknown>[]> {
  const rng = new Rng(0);
  const rows: Record<string, unknown>[] = [];
  for (const s of sizes) {
    const a = ctx.tensor(rng.fillNormal(new Float32Array(s.m * s.k)) as Float32Array, [s.m, s.k], 'A');
    const b = ctx.tensor(rng.fillNormal(new Float32Array(s.k * s.n)) as Float32Array, [s.k, s.n], 'B');
    const c = ctx.empty([s.m, s.n], 'f32', 'C');
    const t = await timeGpu(ctx, () => K.sgemm(ctx, false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n), opts);
    rows.push({ m: s.m, k: s.k, n: s.n, seconds: t.median, gflops: (2 * s.m * s.n * s.k) / t.median / 1e9, runs: t.runs, adapter: ctx.adapterDescription, software: ctx.isFallback });
    for (const x of [a, b, c]) x.destroy();
    await ctx.sync();
  }
  return rows;
}

export interface SaeSizeArg { dim: number; atoms: number; k: number; batch: number }

/** One TopK SAE training step (GpuTopKTrainer.step, batch resident on the device): seconds and samples/s. */
export async function webgpuSaeRow(ctx: WebGpuContext, s: SaeSizeArg, opts: { repeats?: number; budgetS?: number } = {}): Promise<Record<string, unknown>> {
  const rng = new Rng(0);
  const { dim, atoms, k, batch } = s;
  const W = rng.fillNormal(new Float32Array(atoms * dim)) as Float32Array;
  for (let a = 0; a < atoms; a++) {
    let nn = 0;
    for (let j = 0; j < dim; j++) nn += W[a * dim + j] ** 2;
    const inv = 1 / Math.sqrt(nn);
    for (let j = 0; j < dim; j++) W[a * dim + j] *= inv;
  }
  const tr = new GpuTopKTrainer(ctx, { dim, atoms, k, batch, lossEvery: 64 }, { Wenc: W, benc: new Float32Array(atoms), Wdec: W.slice(), bdec: new Float32Array(dim) });
  tr.setBatch(rng.fillNormal(new Float32Array(batch * dim), 0, 1 / Math.sqrt(dim)) as Float32Array);
  try {
    const t = await timeGpu(ctx, () => tr.step(1e-4), opts);
    const losses = await tr.readLosses();
    return { dim, atoms, k, batch, seconds: t.median, samplesPerSec: batch / t.median, runs: t.runs, finiteLoss: losses.every(Number.isFinite), adapter: ctx.adapterDescription, software: ctx.isFallback };
  } finally {
    tr.destroy();
  }
}
