/**
 * `sparsecode bench sae-paths`: the fast paths of the SAE kinds without a TopK, each against the
 * path it replaces, at SynthSAEBench's full size (dim 768, atoms 4096, batch 1024 by default),
 * every variant alternating step by step (so each sees the same load on a shared machine):
 *  - matching pursuit (k 25): one step (pursuit, reverse pass, Adam, renormalisation) with the
 *    native backend's kernels (`mpPursueGram`, `mpBackward`) against the JavaScript loops, the
 *    same GEMMs and Gram matrix under both; and the Gram matrix D·Dᵀ by symmetric row blocks
 *    against the full product;
 *  - ReLU with L1: the step through the active latents against the dense step, with encoder
 *    biases set so that --relu-l0 latents (64) fire per row on average (per latent: minus the
 *    pre-activation quantile that leaves it that share of the rows);
 *  - JumpReLU: the step through the active latents and the threshold band against the dense
 *    step, thresholds set the same way (the band, |pre − θ| < 0.025, is then as wide as the
 *    pre-activations are dense around θ; `band` reports its mean entries per row).
 * `speedup` is the median of the replaced path / the median of this one. The peer
 * (bench/peers/sae_paths_torch.py, PyTorch on the CPU, all cores) trains MP as SAELens and
 * sparsify do (the correlations recomputed by a GEMM at every pursuit step, autograd through the
 * steps) and ReLU densely (SAELens's standard SAE); `vsTorch` = PyTorch's seconds / ours (> 1:
 * ours is faster). Options: --dim, --atoms, --k, --batch, --relu-l0, --repeats, --budget, --no-peers.
 */
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { backend, matmul } from '../src/backend/index.js';
import { Adam, createSAE, type JumpReluSAE, type ReluSAE } from '../src/dictionary/index.js';
import { type MatchingPursuitSAE, symmetricGram } from '../src/dictionary/sae/mp.js';
import type { Bench } from './types.js';
import { cores, runPeer, sig, timeIt } from './util.js';

export const saePathsBench: Bench = {
  name: 'sae-paths',
  summary: 'MP step: native kernels vs JavaScript loops, Gram by symmetric blocks vs full; ReLU and JumpReLU steps: active latents vs dense (dim 768, atoms 4096, batch 1024)',
  async run(ctx) {
    const dim: number = ctx.opts.dim ?? 768;
    const atoms: number = ctx.opts.atoms ?? 4096;
    const k: number = ctx.opts.k ?? 25;
    const batch: number = ctx.opts.batch ?? 1024;
    const reluL0: number = ctx.opts['relu-l0'] ?? 64;
    const repeats: number = ctx.opts.repeats ?? 5;
    const budgetS: number = ctx.opts.budget ?? 20;
    const b = backend();
    ctx.note(`sae-paths: dim ${dim}, atoms ${atoms}, MP k ${k}, ReLU L0 ${reluL0}, batch ${batch}, backend ${b.name}; ${cores()} cores`);
    const torch: Record<string, number> = {};
    if (ctx.opts.peers !== false) {
      const peer = runPeer('sae_paths_torch.py', { dim, atoms, k, batch, relu_l0: reluL0, repeats, budget_s: budgetS });
      if (!peer.ok) ctx.note(`sae-paths: PyTorch peer skipped: ${peer.reason}`);
      else {
        for (const row of peer.rows) {
          torch[row.kind as string] = row.seconds as number;
          ctx.emit({ bench: 'sae-paths', variant: `${row.kind === 'mp' ? 'MP' : 'ReLU'} step: PyTorch`, backend: 'torch', threads: row.threads, dim, atoms, batch, seconds: sig(row.seconds as number), runs: row.runs, version: row.version });
        }
      }
    }
    const rng = new Rng(0);
    const X = new Matrix(batch, dim);
    rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
    const sae = createSAE('mp', { atoms, k, batch });
    sae.initParams(dim, rng.fork('init'));
    const params = sae.paramList();
    const adam = new Adam(params.map((p) => p.param), {}, params.map((p) => p.decay));
    const grads = params.map((p) => p.grad);
    const kernels = !!(b.mpPursueGram && b.mpBackward);
    const step = (native: boolean) => () => {
      (sae as MatchingPursuitSAE).nativeKernels = native;
      sae.forwardBackward(X);
      adam.step(grads, 1e-4);
      sae.normalizeDecoder();
    };
    const W = sae.getWeights().W_dec, G = new Matrix(atoms, atoms);
    // ReLU and JumpReLU: each latent active on reluL0 / atoms of the rows (its pre-activation's
    // order statistic q as minus the ReLU's bias, or as the JumpReLU's threshold)
    const q = Math.min(batch - 1, Math.max(0, Math.floor(batch * (1 - reluL0 / atoms))));
    const relu = createSAE('relu', { atoms, batch }) as ReluSAE;
    relu.initParams(dim, rng.fork('relu'));
    const reluCut = columnOrderStatistic(matmul(X, relu.getWeights().W_enc), q);
    for (let a = 0; a < atoms; a++) relu.benc[a] = -reluCut[a];
    const jump = createSAE('jumprelu', { atoms, batch }) as JumpReluSAE;
    jump.initParams(dim, rng.fork('jumprelu'));
    const preJ = matmul(X, jump.getWeights().W_enc);
    for (let i = 0; i < batch; i++) for (let a = 0; a < atoms; a++) preJ.data[i * atoms + a] += jump.benc[a];
    const jumpCut = columnOrderStatistic(preJ, q);
    const half = 0.5 * 0.05; // the default bandwidth's half
    let band = 0;
    for (let a = 0; a < atoms; a++) {
      const th = Math.max(jumpCut[a], 1e-6);
      jump.logTheta[a] = Math.log(th);
      for (let i = 0; i < batch; i++) if (Math.abs(preJ.data[i * atoms + a] - th) < half) band++;
    }
    const jumpStep = (path: 'dense' | 'sparse') => () => {
      jump.stepPath = path;
      jump.forwardBackward(X);
    };
    const reluStep = (path: 'dense' | 'sparse') => () => {
      relu.stepPath = path;
      relu.forwardBackward(X);
    };
    const variants: [string, () => void][] = [
      ['MP step: JavaScript loops', step(false)],
      ...(kernels ? [['MP step: native kernels', step(true)] as [string, () => void]] : []),
      ['Gram: full product', () => matmul(W, W, { transB: true, out: G })],
      ['Gram: symmetric blocks', () => symmetricGram(W, G)],
      ['ReLU step: dense', reluStep('dense')],
      ['ReLU step: active latents', reluStep('sparse')],
      ['JumpReLU step: dense', jumpStep('dense')],
      ['JumpReLU step: active latents and band', jumpStep('sparse')],
    ];
    if (!kernels) ctx.note('sae-paths: this backend has no MP kernels (native only): the JavaScript loops alone');
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
    const base: Record<string, string> = { MP: 'MP step: JavaScript loops', Gram: 'Gram: full product', ReLU: 'ReLU step: dense', JumpReLU: 'JumpReLU step: dense' };
    const reluL0Seen = relu.forwardBackward(X).l0, jumpL0Seen = jump.forwardBackward(X).l0;
    variants.forEach(([name], q) => {
      const family = name.split(/[ :]/)[0];
      const extra = family === 'ReLU' ? { l0: sig(reluL0Seen, 3) } : family === 'JumpReLU' ? { l0: sig(jumpL0Seen, 3), band: sig(band / batch, 3) } : family === 'MP' ? { k } : {};
      const peer = family === 'MP' ? torch.mp : family === 'ReLU' ? torch.relu : undefined;
      ctx.emit({
        bench: 'sae-paths', variant: name, backend: b.name, threads: b.threads ?? 1, dim, atoms, batch, ...extra, seconds: sig(ms[q]), speedup: sig(byName[base[family]] / ms[q], 3),
        vsTorch: peer !== undefined ? sig(peer / ms[q], 3) : null, runs: times[q].length, rounds: 'alternating',
      });
    });
  },
};

/** Per column of P [rows x cols]: its q-th smallest entry (0-based). */
function columnOrderStatistic(P: Matrix, q: number): Float32Array {
  const out = new Float32Array(P.cols), col = new Float32Array(P.rows);
  for (let a = 0; a < P.cols; a++) {
    for (let i = 0; i < P.rows; i++) col[i] = P.data[i * P.cols + a];
    col.sort();
    out[a] = col[q];
  }
  return out;
}
