import { availableBackends, getBackend, matmul } from '../../backend/index.js';
import { Rng } from '../../core/rng.js';
import { Matrix } from '../../core/matrix.js';
import type { Command } from '../command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a one-minute tour: the backends on this machine and what they compute',
  usage: 'demo [--seed S]',
  options: [{ name: 'seed', type: 'int', help: 'random seed', default: 0 }],
  examples: ['sparsecode demo'],
  async run(ctx) {
    const rng = new Rng(ctx.opts.seed);
    const n = 512;
    const A = new Matrix(n, n), B = new Matrix(n, n);
    rng.fillNormal(A.data);
    rng.fillNormal(B.data);
    ctx.print(`sparsecode demo: ${n}x${n}x${n} float32 matrix products on each backend`);
    let ref: Matrix | null = null;
    for (const name of availableBackends()) {
      const b = getBackend(name)!;
      matmul(A, B, { backend: b });
      const t0 = performance.now();
      const C = matmul(A, B, { backend: b });
      const s = (performance.now() - t0) / 1000;
      let maxDiff = 0;
      if (ref) for (let i = 0; i < C.size; i++) maxDiff = Math.max(maxDiff, Math.abs(C.data[i] - ref.data[i]));
      else ref = C;
      ctx.print(`  ${name.padEnd(7)} ${((2 * n ** 3) / s / 1e9).toFixed(1).padStart(7)} GFLOP/s   max |diff| vs first: ${maxDiff.toExponential(1)}`);
    }
  },
};
