/**
 * `sparsecode bench metrics`: the recovery metrics and world generation at the paper's sizes
 * (PAPERS sec. 1: N = 5000 so 2500 validation rows, n latents 100…1000), in seconds per call.
 * With --peers, the same MCC and dictionary recovery with NumPy + SciPy (float64 corrcoef and
 * linear_sum_assignment) on this machine, for comparison.
 * Register in bench/index.ts:  import { metricsBench } from './metrics.js';
 */
import { spawnSync } from 'node:child_process';
import { backend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { dictionaryRecovery, logisticProbe, mcc, ridgeProbe } from '../src/metrics/index.js';
import { superpositionWorld } from '../src/worlds/index.js';
import type { Bench } from './types.js';

function seconds(fn: () => void, repeats = 3): number {
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    t.push((performance.now() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

function noisyCopy(Z: Matrix, sigma: number, rng: Rng): Matrix {
  const C = Z.takeCols(rng.permutation(Z.cols));
  for (let i = 0; i < C.data.length; i++) C.data[i] += sigma * rng.normal();
  return C;
}

const PEER = `
import sys, time, numpy as np
from scipy.optimize import linear_sum_assignment
n, rows = int(sys.argv[1]), int(sys.argv[2])
r = np.random.RandomState(0)
Z = (r.uniform(size=(rows, n)) < 10 / n) * r.uniform(size=(rows, n))
C = Z[:, r.permutation(n)] + 0.05 * r.normal(size=(rows, n))
def mcc():
    a = (Z - Z.mean(0)); a /= np.maximum(np.linalg.norm(a, axis=0), 1e-8)
    b = (C - C.mean(0)); b /= np.maximum(np.linalg.norm(b, axis=0), 1e-8)
    c = np.abs(a.T @ b); i, j = linear_sum_assignment(-c); return c[i, j].mean()
A = r.normal(size=(n, 64)); D = A[r.permutation(n)] + 0.1 * r.normal(size=(n, 64))
def dic():
    an = A / np.linalg.norm(A, axis=1, keepdims=True); dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    c = np.abs(an @ dn.T); i, j = linear_sum_assignment(-c); return c[i, j].mean()
for name, f in (("mcc", mcc), ("dictionaryRecovery", dic)):
    f(); ts = []
    for _ in range(3):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    print(name, sorted(ts)[1])
`;

export const metricsBench: Bench = {
  name: 'metrics',
  summary: 'MCC, dictionary recovery, probes and world generation at the paper sizes (seconds per call)',
  async run(ctx) {
    const rows = Number(ctx.opts.rows ?? 2500);
    const sizes: number[] = ctx.opts.latents ? String(ctx.opts.latents).split(',').map(Number) : [100, 500, 1000];
    const rng = new Rng(0);
    for (const n of sizes) {
      const w = superpositionWorld({ latents: n, active: 10, samples: 2 * rows, seed: 0 });
      const tWorld = seconds(() => superpositionWorld({ latents: n, active: 10, samples: 2 * rows, seed: 1 }), 1);
      const Z = w.Z.val;
      const C = noisyCopy(Z, 0.05, rng);
      let v = 0;
      const tMcc = seconds(() => { v = mcc(C, Z).mcc; }, n >= 1000 ? 1 : 3);
      const D = noisyCopy(w.A.transpose(), 0.1, rng).transpose();
      const tDict = seconds(() => void dictionaryRecovery(D, w.A), n >= 1000 ? 1 : 3);
      const tRidge = seconds(() => void ridgeProbe(w.X.train, w.Z.train), 1);
      ctx.emit({ bench: 'metrics', backend: backend().name, latents: n, rows, dim: w.dim, world_s: tWorld, mcc_s: tMcc, mcc: v, dict_s: tDict, ridge_probe_s: tRidge });
      if (ctx.signal.aborted) return;
    }
    // logistic probe on codes of width 100 and 500 (ID train -> OOD test)
    for (const width of [100, 500]) {
      const w = superpositionWorld({ latents: width, active: 10, samples: 2 * rows, seed: 2 });
      const t = seconds(() => void logisticProbe(w.Z.train, w.y.train, w.Z.ood, w.y.ood), 1);
      ctx.emit({ bench: 'metrics', op: 'logisticProbe', rows, width, seconds: t });
    }
    if (ctx.opts.peers) {
      for (const n of sizes) {
        const r = spawnSync('/usr/bin/python3', ['-c', PEER, String(n), String(rows)], { encoding: 'utf8' });
        if (r.status !== 0) {
          ctx.note(`peer failed: ${r.stderr.slice(0, 200)}`);
          break;
        }
        for (const line of r.stdout.trim().split('\n')) {
          const [op, s] = line.split(' ');
          ctx.emit({ bench: 'metrics', peer: 'numpy+scipy', op, latents: n, rows, seconds: Number(s) });
        }
      }
    }
  },
};
