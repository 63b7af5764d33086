/**
 * `sparsecode bench lejepa`: (1) SIGReg forward + backward of H [512 x 64] along 256 fixed
 * directions (src/objectives/sigreg.ts: the angle-addition recurrence, 2 trig calls per sample and
 * direction), and (2) one LeJEPA training step of the 2-D MLP encoder of the paper (width 256,
 * 4 hidden GELU layers; 256 anchors = 512 embeddings, spiral mixing, OU views, fresh 256
 * directions, λ·SIGReg + (1 − λ)·alignment, backward, AdamW): seconds per backend, and PyTorch on
 * the CPU doing the same (bench/peers/lejepa_torch.py, autograd, 1 thread and all cores), with each
 * backend's speed-up over the faster PyTorch variant. The machine is shared: compare ratios from one run, not seconds across runs.
 * Options: --repeats, --budget, --backends, --no-peers.
 */
import { availableBackends, backend, getBackend, useBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { mlp } from '../src/nn/index.js';
import { randomDirections, Sigreg } from '../src/objectives/sigreg.js';
import { ViewObjective } from '../src/objectives/views.js';
import { ViewTrainer } from '../src/objectives/train.js';
import { OuWorld } from '../src/worlds/ou-views.js';
import type { Bench } from './types.js';
import { cores, runPeer, sig, timeIt } from './util.js';

export const lejepaBench: Bench = {
  name: 'lejepa',
  summary: 'SIGReg forward+backward (N 512, D 64, M 256) and a 2-D LeJEPA MLP training step vs PyTorch CPU',
  async run(ctx) {
    const samples = 512, dim = 64, directions = 256;
    const width = 256, layers = 4, batch = 256, stepDirections = 256;
    const repeats: number = ctx.opts.repeats ?? 7;
    const budgetS: number = ctx.opts.budget ?? 5;
    const wanted = ctx.opts.backends as string[] | undefined;
    const names = availableBackends().filter((n) => (wanted?.length ? wanted.includes(n) : true));
    ctx.note(`lejepa: SIGReg N ${samples}, D ${dim}, M ${directions}; train step width ${width} x ${layers} hidden, batch ${batch} anchors, M ${stepDirections}; backends ${names.join(', ')}; ${cores()} cores`);
    const ref: Record<string, number> = {};
    if (ctx.opts.peers !== false) {
      const peer = runPeer('lejepa_torch.py', { samples, dim, directions, width, layers, batch, step_directions: stepDirections, repeats, budget_s: budgetS });
      if (!peer.ok) ctx.note(`lejepa: PyTorch peer skipped: ${peer.reason}`);
      else {
        for (const row of peer.rows) ref[row.what as string] = Math.min(ref[row.what as string] ?? Infinity, row.seconds as number);
        for (const row of peer.rows) {
          const what = row.what as string;
          ctx.emit({ bench: 'lejepa', what, backend: 'torch', threads: row.threads, seconds: sig(row.seconds as number), speedup: sig(ref[what] / (row.seconds as number), 3), runs: row.runs, version: row.version });
        }
      }
    }
    const previous = backend().name;
    try {
      for (const name of names as BackendName[]) {
        if (ctx.signal.aborted) return;
        useBackend(name);
        const threads = getBackend(name)?.threads ?? 1;
        const H = new Matrix(samples, dim);
        new Rng(0).fillNormal(H.data);
        const A = randomDirections(dim, directions, 1);
        const s = new Sigreg();
        const g = new Matrix(samples, dim);
        const t1 = timeIt(() => {
          s.forward(H, A);
          s.backward(A, 1, g);
        }, { repeats, budgetS });
        ctx.emit({ bench: 'lejepa', what: 'sigreg', backend: name, threads, seconds: sig(t1.median), speedup: ref.sigreg ? sig(ref.sigreg / t1.median, 3) : null, runs: t1.runs });

        const net = mlp({ sizes: [2, ...Array.from({ length: layers }, () => width), 2], activation: 'gelu', rng: 0 });
        const trainer = new ViewTrainer({
          encoder: { forward: (x, train) => net.forward(x, train), backward: (dy) => net.backward(dy, false), params: () => net.params(), zeroGrad: () => net.zeroGrad() },
          world: new OuWorld({ latents: 2, mixing: 'spiral', rho: 0.95 }),
          objective: new ViewObjective({ kind: 'sigreg', lambda: 1e-3, numDirections: stepDirections }),
          batch, lr: 3e-3, seed: 0,
        });
        const t2 = timeIt(() => {
          trainer.step(3e-3);
        }, { repeats, budgetS });
        ctx.emit({ bench: 'lejepa', what: 'train-step', backend: name, threads, seconds: sig(t2.median), speedup: ref['train-step'] ? sig(ref['train-step'] / t2.median, 3) : null, runs: t2.runs });
      }
    } finally {
      useBackend(previous);
    }
  },
};
