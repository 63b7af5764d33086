// Quick GEMM throughput check of the wasm backend (the full comparison is `sparsecode bench gemm`).
//   npm run build && node --import tsx scripts/bench-wasm.ts [size=1024] [repeats=10] [threads=1,2]
// Prints, per thread count: wall-clock GFLOP/s (best and median of the repeats) and GFLOP per
// CPU-second (process CPU time, all threads), which stays meaningful on a loaded machine.
import { loadavg } from 'node:os';
import { loadWasmBackend } from '../src/backend/wasm/index.js';
import { Rng } from '../src/core/rng.js';

const size = Number(process.argv[2] ?? 1024);
const repeats = Number(process.argv[3] ?? 10);
const threadList = (process.argv[4] ?? '1,2').split(',').map(Number);

const be = await loadWasmBackend({ threads: Math.max(...threadList) });
const rng = new Rng(0);
const a = rng.fillNormal(new Float32Array(size * size)) as Float32Array;
const b = rng.fillNormal(new Float32Array(size * size)) as Float32Array;
const c = new Float32Array(size * size);
const flops = 2 * size ** 3;
console.log(`wasm sgemm ${size}^3, ${repeats} repeats, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const t of threadList) {
  be.setThreads(t);
  be.sgemm(false, false, size, size, size, 1, a, size, b, size, 0, c, size); // warm-up (starts workers)
  await new Promise((r) => setTimeout(r, 50));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const u = process.cpuUsage();
    const t0 = performance.now();
    be.sgemm(false, false, size, size, size, 1, a, size, b, size, 0, c, size);
    wall.push((performance.now() - t0) / 1e3);
    const du = process.cpuUsage(u);
    cpu.push((du.user + du.system) / 1e6);
  }
  wall.sort((x, y) => x - y);
  cpu.sort((x, y) => x - y);
  const g = (s: number) => (flops / s / 1e9).toFixed(1);
  console.log(`threads ${t}: ${g(wall[0])} GFLOP/s best, ${g(wall[wall.length >> 1])} median (wall); ${g(cpu[cpu.length >> 1])} GFLOP per CPU-second`);
}
be.close();
