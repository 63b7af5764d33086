/**
 * `sparsecode bench matryoshka`: one training step (forward, sparse backward, Adam, decoder
 * renormalisation) of a Matryoshka BatchTopK SAE against a TopK and a BatchTopK SAE of the same
 * size (dim 768, atoms 4096, k 25, batch 512 by default; Matryoshka prefixes atoms/16 ... atoms),
 * on the active backend, the three alternating step by step (so each sees the same load on a
 * shared machine); the ratio is the median seconds per Matryoshka step / per TopK step
 * (target <= 1.3: the nested losses are decoded sparsely). Options: --dim, --atoms, --k, --batch,
 * --repeats, --budget.
 */
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { backend } from '../src/backend/index.js';
import { Adam, createSAE, projectRadial, type SAEKind } from '../src/dictionary/index.js';
import type { Bench } from './types.js';
import { sig, timeIt } from './util.js';

export const matryoshkaBench: Bench = {
  name: 'matryoshka',
  summary: 'Matryoshka SAE step vs TopK and BatchTopK steps of the same size (dim 768, atoms 4096, k 25, batch 512)',
  async run(ctx) {
    const dim: number = ctx.opts.dim ?? 768;
    const atoms: number = ctx.opts.atoms ?? 4096;
    const k: number = ctx.opts.k ?? 25;
    const batch: number = ctx.opts.batch ?? 512;
    const repeats: number = ctx.opts.repeats ?? 5;
    const budgetS: number = ctx.opts.budget ?? 10;
    ctx.note(`matryoshka: dim ${dim}, atoms ${atoms}, k ${k}, batch ${batch}, backend ${backend().name}`);
    const rng = new Rng(0);
    const X = new Matrix(batch, dim);
    rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
    // the three kinds alternate step by step (round-robin), so that on a shared machine each sees
    // the same load; the median over rounds is reported
    const kinds = ['topk', 'batchtopk', 'matryoshka'] as SAEKind[];
    const steps = kinds.map((kind) => {
      const sae = createSAE(kind, { atoms, k, batch });
      sae.initParams(dim, rng.fork('init'));
      const params = sae.paramList();
      const adam = new Adam(params.map((p) => p.param), {}, params.map((p) => p.decay));
      const grads = params.map((p) => p.grad);
      return () => {
        sae.forwardBackward(X);
        projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim);
        adam.step(grads, 1e-4);
        sae.normalizeDecoder();
      };
    });
    const times: number[][] = kinds.map(() => []);
    for (const s of steps) s(); // warm-up
    const t0 = performance.now();
    for (let r = 0; r < repeats || (performance.now() - t0 < budgetS * 1000 && r < 3 * repeats); r++) {
      if (ctx.signal.aborted) return;
      steps.forEach((s, q) => times[q].push(timeIt(s, { warmup: 0, repeats: 1 }).median));
    }
    const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
    const topk = med(times[0]);
    kinds.forEach((kind, q) => {
      const m = med(times[q]);
      ctx.emit({ bench: 'matryoshka', kind, backend: backend().name, dim, atoms, k, batch, seconds: sig(m), samplesPerSec: sig(batch / m), ratioToTopk: sig(m / topk, 3), runs: times[q].length, rounds: 'alternating' });
    });
  },
};
