/**
 * `sparsecode bench gemm`: float32 GEMM throughput (GFLOP/s) of every loaded backend, and of
 * NumPy measured in the same run (bench/peers/gemm.py), with each backend's ratio to NumPy.
 * Backends with setThreads are measured at 1, 2, 4, ... threads up to the core count.
 * NumPy runs in a child process with this process's environment, so both use the same
 * OpenBLAS settings (OPENBLAS_CORETYPE etc.).
 */
import { availableBackends, getBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Rng } from '../src/core/rng.js';
import type { Bench } from './types.js';
import { runWebGpuJob } from './webgpu-run.js';
import { blasEnv, cores, gemmFlops, parseGemmSize, runPeer, sig, threadCounts, timeIt, type GemmSize } from './util.js';

export const DEFAULT_GEMM_SIZES = ['1024x1024x1024', '4096x512x4096', '256x512x16384'];

export const gemmBench: Bench = {
  name: 'gemm',
  summary: 'float32 GEMM GFLOP/s per backend (and thread count) vs NumPy at 1024x1024x1024, 4096x512x4096, 256x512x16384 (m x k x n)',
  async run(ctx) {
    const sizes: GemmSize[] = ((ctx.opts.sizes as string[] | undefined)?.length ? ctx.opts.sizes : DEFAULT_GEMM_SIZES).map(parseGemmSize);
    const repeats: number = ctx.opts.repeats ?? 5;
    const budgetS: number = ctx.opts.budget ?? 3;
    const wanted = ctx.opts.backends as string[] | undefined;
    const names = availableBackends().filter((n) => !wanted?.length || wanted.includes(n));
    ctx.note(`gemm: backends ${[...names, ...(wanted?.includes('webgpu') ? ['webgpu'] : [])].join(', ')}; ${cores()} cores; BLAS environment ${JSON.stringify(blasEnv())} (NumPy inherits the same)`);

    const rng = new Rng(0);
    let peers = ctx.opts.peers !== false;
    const refs = new Map<GemmSize, number>();
    for (const s of sizes) {
      if (ctx.signal.aborted) return;
      // NumPy (its own process) right before the backends at each size, so both see similar load
      let ref: number | undefined;
      if (peers) {
        const peer = runPeer('gemm.py', { sizes: [[s.m, s.k, s.n]], repeats, budget_s: budgetS });
        if (!peer.ok) {
          ctx.note(`gemm: NumPy peer skipped: ${peer.reason}`);
          peers = false;
        } else {
          for (const row of peer.rows) {
            ref = row.gflops as number;
            refs.set(s, ref);
            ctx.emit({
              bench: 'gemm', backend: 'numpy', threads: cores(), m: row.m, k: row.k, n: row.n,
              seconds: sig(row.seconds as number), gflops: sig(ref), ratio: 1, runs: row.runs,
              version: row.version, env: row.env,
            });
          }
        }
      }
      const a = rng.fillNormal(new Float32Array(s.m * s.k)) as Float32Array;
      const b = rng.fillNormal(new Float32Array(s.k * s.n)) as Float32Array;
      const c = new Float32Array(s.m * s.n);
      for (const name of names as BackendName[]) {
        const be = getBackend(name)!;
        const before = be.threads;
        const threads = be.setThreads ? threadCounts().reverse() : [be.threads ?? 1]; // all cores first, next to NumPy
        for (const t of threads) {
          if (ctx.signal.aborted) return;
          if (be.setThreads) be.setThreads(t);
          const time = timeIt(() => be.sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n), { repeats, budgetS });
          const gflops = gemmFlops(s) / time.median / 1e9;
          ctx.emit({
            bench: 'gemm', backend: name, threads: t, m: s.m, k: s.k, n: s.n,
            seconds: sig(time.median), gflops: sig(gflops), ratio: ref ? sig(gflops / ref, 3) : null, runs: time.runs,
          });
        }
        if (be.setThreads && before !== undefined) be.setThreads(before);
      }
    }
    if (wanted?.includes('webgpu') && !ctx.signal.aborted) {
      // WebGPU (Node's "webgpu" package, or Chromium with --browser): asynchronous, so measured apart
      const r = await runWebGpuJob({ gemm: sizes, repeats, budgetS }, !!ctx.opts.browser);
      if (r.label === null) ctx.note(`gemm: webgpu skipped: ${r.note}`);
      else for (const [i, row] of r.rows.entries()) {
        const ref = refs.get(sizes[i]);
        ctx.emit({
          bench: 'gemm', backend: r.label, threads: null, m: row.m, k: row.k, n: row.n, seconds: sig(row.seconds as number), gflops: sig(row.gflops as number),
          ratio: ref ? sig((row.gflops as number) / ref, 3) : null, runs: row.runs, adapter: row.adapter, software: row.software,
        });
      }
    }
  },
};
