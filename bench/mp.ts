/**
 * `sparsecode bench mp`: one training step (forward pursuit, reverse pass, Adam, decoder
 * renormalisation) of a matching-pursuit SAE at SynthSAEBench's full size (dim 768, atoms
 * 4096, k 25, batch 1024 by default), with the native backend's pursuit and reverse-pass kernels
 * (`mpPursueGram`, `mpBackward`) against the JavaScript loops they replace, the same GEMMs and
 * Gram matrix under both, alternating step by step (so each sees the same load on a shared
 * machine); plus the Gram matrix D·Dᵀ by symmetric row blocks against the full product. Ratios
 * are medians (JavaScript / native; full / symmetric). Options: --dim, --atoms, --k, --batch,
 * --repeats, --budget.
 */
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { backend, matmul } from '../src/backend/index.js';
import { Adam, createSAE } from '../src/dictionary/index.js';
import { symmetricGram } from '../src/dictionary/sae/mp.js';
import type { Bench } from './types.js';
import { sig, timeIt } from './util.js';

export const mpBench: Bench = {
  name: 'mp',
  summary: 'matching-pursuit SAE step: native pursuit/backward kernels vs the JavaScript loops; Gram by symmetric blocks vs full (dim 768, atoms 4096, k 25, batch 1024)',
  async run(ctx) {
    const dim: number = ctx.opts.dim ?? 768;
    const atoms: number = ctx.opts.atoms ?? 4096;
    const k: number = ctx.opts.k ?? 25;
    const batch: number = ctx.opts.batch ?? 1024;
    const repeats: number = ctx.opts.repeats ?? 5;
    const budgetS: number = ctx.opts.budget ?? 20;
    const b = backend();
    ctx.note(`mp: dim ${dim}, atoms ${atoms}, k ${k}, batch ${batch}, backend ${b.name}`);
    const rng = new Rng(0);
    const X = new Matrix(batch, dim);
    rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
    const sae = createSAE('mp', { atoms, k, batch });
    sae.initParams(dim, rng.fork('init'));
    const params = sae.paramList();
    const adam = new Adam(params.map((p) => p.param), {}, params.map((p) => p.decay));
    const grads = params.map((p) => p.grad);
    const kernels = { p: b.mpPursueGram, b: b.mpBackward };
    const step = (native: boolean) => () => {
      if (!native) {
        delete b.mpPursueGram;
        delete b.mpBackward;
      }
      try {
        sae.forwardBackward(X);
      } finally {
        b.mpPursueGram = kernels.p;
        b.mpBackward = kernels.b;
      }
      adam.step(grads, 1e-4);
      sae.normalizeDecoder();
    };
    const W = sae.getWeights().W_dec, G = new Matrix(atoms, atoms);
    const variants: [string, () => void][] = [
      ['step: JavaScript loops', step(false)],
      ...(kernels.p && kernels.b ? [['step: native kernels', step(true)] as [string, () => void]] : []),
      ['Gram: full product', () => matmul(W, W, { transB: true, out: G })],
      ['Gram: symmetric blocks', () => symmetricGram(W, G)],
    ];
    if (!kernels.p) ctx.note('mp: this backend has no MP kernels (native only): the JavaScript loops alone');
    const times: number[][] = variants.map(() => []);
    for (const [, f] of variants) f(); // warm-up
    const t0 = performance.now();
    for (let r = 0; r < repeats || (performance.now() - t0 < budgetS * 1000 && r < 3 * repeats); r++) {
      if (ctx.signal.aborted) return;
      variants.forEach(([, f], q) => times[q].push(timeIt(f, { warmup: 0, repeats: 1 }).median));
    }
    const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
    const ms = variants.map((_, q) => med(times[q]));
    const byName = Object.fromEntries(variants.map(([name], q) => [name, ms[q]]));
    variants.forEach(([name], q) => {
      const ratio = name.startsWith('step') ? byName['step: JavaScript loops'] / ms[q] : byName['Gram: full product'] / ms[q];
      ctx.emit({ bench: 'mp', variant: name, backend: b.name, dim, atoms, k, batch, seconds: sig(ms[q]), speedup: sig(ratio, 3), runs: times[q].length, rounds: 'alternating' });
    });
  },
};
