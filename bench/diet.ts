/**
 * `sparsecode bench diet`: one DIET training step of the cross-entropy paper at its scale
 * (batch 1024, a 10,240-way softmax over the indices, the encoder n = 5 → [50, 250, 250, 250,
 * 250, 50] → 5 with BatchNorm and LeakyReLU(0.01), Adam), per backend, against PyTorch on the CPU
 * doing the same step (bench/peers/diet_torch.py). The two sides alternate for --rounds rounds
 * (default 3) so that both see the same machine load; each reports the median over its rounds.
 * Our head is fused (objectives/diet.ts): it never materialises the [1024 x 10240] logits.
 * Options: --n, --indices, --batch, --repeats (steps per round), --rounds, --budget, --backends,
 * --threads (PyTorch's, default all cores), --no-peers.
 */
import { availableBackends, backend, getBackend, useBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam } from '../src/optim/adam.js';
import { LinearCEHead } from '../src/objectives/diet.js';
import { dietEncoder } from '../src/experiments/cross-entropy.js';
import type { Bench } from './types.js';
import { cores, median, runPeer, sig, timeIt } from './util.js';

export const dietBench: Bench = {
  name: 'diet',
  summary: 'one DIET step (batch 1024, 10,240-way softmax, the paper\'s BatchNorm encoder) per backend vs PyTorch CPU, interleaved',
  async run(ctx) {
    const n: number = ctx.opts.n ?? 5;
    const N: number = ctx.opts.indices ?? 10240;
    const B: number = ctx.opts.batch ?? 1024;
    const repeats: number = ctx.opts.repeats ?? 5;
    const rounds: number = ctx.opts.rounds ?? 3;
    const budgetS: number = ctx.opts.budget ?? 20;
    const wanted = ctx.opts.backends as string[] | undefined;
    const names = availableBackends().filter((b) => (wanted?.length ? wanted.includes(b) : b !== 'js'));
    const widths = [10, 50, 50, 50, 50, 10].map((k) => k * n);
    ctx.note(`diet: n ${n}, indices ${N}, batch ${B}, encoder widths ${widths.join('-')}; backends ${names.join(', ')}; ${cores()} cores; ${rounds} interleaved rounds`);
    const rng = new Rng(0);
    const x = new Matrix(B, n);
    rng.fillNormal(x.data);
    const y = new Int32Array(B).map(() => rng.int(N));
    const ours = new Map<string, number[]>();
    const torch: number[] = [];
    let torchInfo: Record<string, unknown> = {};
    const previous = backend().name;
    const models = new Map<string, () => void>();
    try {
      for (const name of names as BackendName[]) {
        useBackend(name);
        const f = dietEncoder({ n, hiddenLayers: 6, widthScale: 1, batchNorm: true }, 'bench');
        const head = new LinearCEHead(n, N, { rng: 1 });
        const params = [...f.params(), ...head.params()];
        const adam = new Adam(params.map((p) => p.param));
        const grads = params.map((p) => p.grad);
        models.set(name, () => {
          f.zeroGrad();
          head.zeroGrad();
          const h = f.forward(x, true);
          const r = head.lossAndGrad(h, y);
          f.backward(r.dh, false);
          adam.step(grads, 1e-3);
        });
      }
      for (let round = 0; round < rounds; round++) {
        if (ctx.signal.aborted) return;
        for (const name of names) {
          useBackend(name as BackendName);
          const t = timeIt(models.get(name)!, { repeats, budgetS });
          if (!ours.has(name)) ours.set(name, []);
          ours.get(name)!.push(t.median);
        }
        if (ctx.opts.peers !== false) {
          const peer = runPeer('diet_torch.py', { n, indices: N, batch: B, widths, repeats, budget_s: budgetS, threads: ctx.opts.threads });
          if (!peer.ok) {
            ctx.note(`diet: PyTorch peer skipped: ${peer.reason}`);
            ctx.opts.peers = false;
          } else {
            torch.push(peer.rows[0].seconds as number);
            torchInfo = peer.rows[0];
          }
        }
      }
    } finally {
      useBackend(previous);
    }
    const ref = torch.length ? median(torch) : undefined;
    if (ref !== undefined) ctx.emit({ bench: 'diet', backend: 'torch', threads: torchInfo.threads, n, indices: N, batch: B, seconds: sig(ref), stepsPerSec: sig(1 / ref), rounds: torch.length, speedup: 1, version: torchInfo.version });
    for (const [name, ts] of ours) {
      const s = median(ts);
      ctx.emit({ bench: 'diet', backend: name, threads: getBackend(name as BackendName)?.threads ?? 1, n, indices: N, batch: B, seconds: sig(s), stepsPerSec: sig(1 / s), rounds: ts.length, speedup: ref ? sig(ref / s, 3) : null });
    }
  },
};
