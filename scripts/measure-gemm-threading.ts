/**
 * A/B in one process: the TopK SAE step (bench sae's step) with every GEMM on all OpenBLAS
 * threads (gemmThreading(0), the behaviour before per-call threading) against the per-size
 * choice (small GEMMs on one thread; the default threshold 2^24 flops), alternating A and B
 * `rounds` times so both see the same machine load. Prints wall seconds and process CPU seconds
 * (user + system, all threads) per step for each: spinning OpenBLAS threads show as CPU time.
 *
 *   node --import tsx scripts/measure-gemm-threading.ts [dim atoms k batch steps rounds]
 *   (default 128 512 6 1024 30 3: the issue's small case)
 */
import { getBackend, loadBackends, useBackend } from '../src/backend/index.js';
import type { NativeBackend } from '../src/backend/native/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam, createSAE, projectRadial } from '../src/dictionary/index.js';

const [dim, atoms, k, batch, steps, rounds] = [128, 512, 6, 1024, 30, 3].map((d, i) => (process.argv[2 + i] ? Number(process.argv[2 + i]) : d));
await loadBackends({ quiet: true });
const nb = getBackend('native') as NativeBackend | undefined;
if (!nb?.addon.gemmThreading) {
  console.error('measure-gemm-threading: needs the native backend with gemmThreading (node scripts/build-native.mjs)');
  process.exit(1);
}
useBackend('native');
const set = nb.addon.gemmThreading.bind(nb.addon);
const threshold = set();
const rng = new Rng(0);
const X = new Matrix(batch, dim);
rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
const sae = createSAE('topk', { atoms, k, batch });
sae.initParams(dim, rng.fork('init'));
const params = sae.paramList();
const adam = new Adam(params.map((p) => p.param), {}, params.map((p) => p.decay));
const grads = params.map((p) => p.grad);
const step = () => {
  sae.forwardBackward(X);
  projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim);
  adam.step(grads, 1e-4);
  sae.normalizeDecoder();
};
for (let i = 0; i < 3; i++) step();
const total = { all: { wall: 0, cpu: 0 }, bySize: { wall: 0, cpu: 0 } };
console.log(`TopK step dim ${dim}, atoms ${atoms}, k ${k}, batch ${batch}; ${nb.threads} OpenBLAS threads; ${steps} steps x ${rounds} rounds each`);
for (let r = 0; r < rounds; r++) {
  for (const mode of ['all', 'bySize'] as const) {
    set(mode === 'all' ? 0 : threshold);
    step();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    const wall = (performance.now() - t0) / 1000 / steps;
    const cu = process.cpuUsage(c0);
    const cpu = (cu.user + cu.system) / 1e6 / steps;
    total[mode].wall += wall / rounds;
    total[mode].cpu += cpu / rounds;
    console.log(`round ${r} ${mode === 'all' ? 'all threads every GEMM' : `per size (< ${threshold} flops: 1 thread)`}: ${(wall * 1e3).toFixed(2)} ms wall, ${(cpu * 1e3).toFixed(2)} ms CPU per step`);
  }
}
set(threshold);
const f = (x: number) => (x * 1e3).toFixed(2);
console.log(`mean: all threads ${f(total.all.wall)} ms wall / ${f(total.all.cpu)} ms CPU; per size ${f(total.bySize.wall)} ms wall / ${f(total.bySize.cpu)} ms CPU per step`);
