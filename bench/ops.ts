/**
 * `sparsecode bench ops`: the non-GEMM kernels (fused elementwise, row top-k, reductions,
 * sparse gather/scatter) per backend, as time per call and speed-up over js; and the fixed
 * cost of one call into a backend (a tiny op called 100 000 times).
 */
import { availableBackends, getBackend } from '../src/backend/index.js';
import type { Backend, BackendName } from '../src/backend/types.js';
import { Rng } from '../src/core/rng.js';
import type { Bench } from './types.js';
import { sig, timeIt, timePerCall } from './util.js';

interface OpCase {
  op: string;
  shape: string;
  /** elements touched, for a throughput figure */
  elements: number;
  run(b: Backend): void;
}

function cases(): OpCase[] {
  const r = new Rng(1);
  const N = 1 << 20;
  const x = r.fillNormal(new Float32Array(N)) as Float32Array;
  const y = r.fillNormal(new Float32Array(N)) as Float32Array;
  const out = new Float32Array(N);
  // top-k: SAE-like activations
  const [tr, tc, tk] = [2048, 4096, 32];
  const acts = r.fillNormal(new Float32Array(tr * tc)) as Float32Array;
  const ti = new Int32Array(tr * tk);
  const tv = new Float32Array(tr * tk);
  // sparse decode / backward: TopK SAE with 8192 latents, d = 512, k = 32
  const [rows, k, atoms, dim] = [2048, 32, 8192, 512];
  const idx = new Int32Array(rows * k);
  for (let i = 0; i < idx.length; i++) idx[i] = r.int(atoms);
  const val = r.fillNormal(new Float32Array(rows * k)) as Float32Array;
  const d = r.fillNormal(new Float32Array(atoms * dim)) as Float32Array;
  const g = r.fillNormal(new Float32Array(rows * dim)) as Float32Array;
  const dec = new Float32Array(rows * dim);
  const dots = new Float32Array(rows * k);
  const gradD = new Float32Array(atoms * dim);
  const sums = new Float64Array(1024);
  return [
    { op: 'softThreshold', shape: `${N}`, elements: N, run: (b) => b.softThreshold(x, 0.5, false, out) },
    { op: 'softThreshold(nonneg)', shape: `${N}`, elements: N, run: (b) => b.softThreshold(x, 0.5, true, out) },
    { op: 'relu', shape: `${N}`, elements: N, run: (b) => b.relu(x, out) },
    { op: 'extrapolate', shape: `${N}`, elements: N, run: (b) => b.extrapolate(x, y, 0.7, out) },
    { op: 'axpby', shape: `${N}`, elements: N, run: (b) => b.axpby(0.5, x, 0.999, out) },
    { op: 'addRowVector', shape: `1024x1024`, elements: N, run: (b) => b.addRowVector(out, 1024, 1024, y, 1e-3) },
    { op: 'sumSquares', shape: `${N}`, elements: N, run: (b) => void b.sumSquares(x) },
    { op: 'sumCols', shape: `1024x1024`, elements: N, run: (b) => b.sumCols(x, 1024, 1024, sums) },
    { op: 'topkRows', shape: `${tr}x${tc} k=${tk}`, elements: tr * tc, run: (b) => b.topkRows(acts, tr, tc, tk, ti, tv) },
    { op: 'gatherDecode', shape: `rows=${rows} k=${k} atoms=${atoms} dim=${dim}`, elements: rows * k * dim, run: (b) => b.gatherDecode(idx, val, rows, k, d, dim, 0, dec) },
    { op: 'gatherDot', shape: `rows=${rows} k=${k} atoms=${atoms} dim=${dim}`, elements: rows * k * dim, run: (b) => b.gatherDot(idx, rows, k, g, d, dim, dots) },
    { op: 'scatterOuter', shape: `rows=${rows} k=${k} atoms=${atoms} dim=${dim}`, elements: rows * k * dim, run: (b) => b.scatterOuter(idx, val, rows, k, g, dim, gradD) },
  ];
}

export const opsBench: Bench = {
  name: 'ops',
  summary: 'elementwise, top-k, reductions and sparse gather/scatter per backend (speed-up over js), and the cost of one call',
  async run(ctx) {
    const repeats: number = ctx.opts.repeats ?? 7;
    const budgetS: number = ctx.opts.budget ?? 2;
    const wanted = ctx.opts.backends as string[] | undefined;
    const names = availableBackends().filter((n) => !wanted?.length || wanted.includes(n)) as BackendName[];
    if (!names.includes('js')) names.push('js'); // the baseline for the ratios
    for (const c of cases()) {
      if (ctx.signal.aborted) return;
      const secs = new Map<BackendName, number>();
      // js first: it is the reference for the ratios
      for (const name of ['js', ...names.filter((n) => n !== 'js')] as BackendName[]) {
        const time = timeIt(() => c.run(getBackend(name)!), { repeats, budgetS });
        secs.set(name, time.median);
        ctx.emit({
          bench: 'ops', op: c.op, backend: name, shape: c.shape, us: sig(time.median * 1e6),
          gelem_s: sig(c.elements / time.median / 1e9), speedup_vs_js: sig(secs.get('js')! / time.median, 3), runs: time.runs,
        });
      }
    }
    // call overhead: a 1-element relu, 1e5 times; plus the bare addon call for native
    const one = new Float32Array(1);
    const oneOut = new Float32Array(1);
    for (const name of names) {
      const b = getBackend(name)!;
      const us = timePerCall(() => b.relu(one, oneOut), 100_000) * 1e6;
      ctx.emit({ bench: 'ops', op: 'call-overhead(relu n=1)', backend: name, us: sig(us, 3), calls: 100_000 });
      const addon = (b as { addon?: { noop?: (x: Float32Array) => void } }).addon;
      if (addon?.noop) {
        const noop = addon.noop;
        const bare = timePerCall(() => noop(one), 100_000) * 1e6;
        ctx.emit({ bench: 'ops', op: 'call-overhead(noop)', backend: name, us: sig(bare, 3), calls: 100_000 });
      }
    }
  },
};
