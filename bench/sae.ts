/**
 * `sparsecode bench sae`: one TopK SAE training step (forward, sparse backward, decoder
 * gradient projection, Adam, decoder renormalisation) at dim 512, atoms 8192, k 32, batch
 * 4096 by default: samples/s per backend, and of PyTorch on the CPU doing the same step
 * (bench/peers/sae_torch.py, all cores; sparse and dense decode variants), with each backend's
 * ratio to the faster PyTorch variant, and the step's fraction of its one-GEMM floor (floorFraction =
 * the encoder SGEMM alone on the same backend / the step). AuxK is off in
 * both (no dead latents at the first steps). The js backend is measured only when asked for
 * (--backends js) at sizes where one step takes minutes.
 * Options: --dim, --atoms, --k, --batch, --repeats, --budget, --backends, --no-peers.
 */
import { availableBackends, backend, getBackend, useBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam, createSAE, projectRadial } from '../src/dictionary/index.js';
import type { Bench } from './types.js';
import { runWebGpuJob } from './webgpu-run.js';
import { cores, runPeer, sig, timeIt } from './util.js';

export const saeBench: Bench = {
  name: 'sae',
  summary: 'TopK SAE training step samples/s per backend vs PyTorch CPU (dim 512, atoms 8192, k 32, batch 4096)',
  async run(ctx) {
    const dim: number = ctx.opts.dim ?? 512;
    const atoms: number = ctx.opts.atoms ?? 8192;
    const k: number = ctx.opts.k ?? 32;
    const batch: number = ctx.opts.batch ?? 4096;
    const repeats: number = ctx.opts.repeats ?? 5;
    const budgetS: number = ctx.opts.budget ?? 10;
    const wanted = ctx.opts.backends as string[] | undefined;
    const flopsDense = 2 * batch * dim * atoms;
    const names = availableBackends().filter((n) => (wanted?.length ? wanted.includes(n) : n !== 'js' || flopsDense < 2e9));
    ctx.note(`sae: TopK step dim ${dim}, atoms ${atoms}, k ${k}, batch ${batch}; backends ${names.join(', ') || '(none)'}; ${cores()} cores`);
    let ref: number | undefined;
    if (ctx.opts.peers !== false) {
      const peer = runPeer('sae_torch.py', { dim, atoms, k, batch, repeats, budget_s: budgetS });
      if (!peer.ok) ctx.note(`sae: PyTorch peer skipped: ${peer.reason}`);
      else {
        ref = Math.max(...peer.rows.map((r) => r.samples_per_s as number));
        for (const row of peer.rows) {
          const sps = row.samples_per_s as number;
          ctx.emit({ bench: 'sae', backend: `torch-${row.decode}`, threads: row.threads, dim, atoms, k, batch, seconds: sig(row.seconds as number), samplesPerSec: sig(sps), ratio: sig(sps / ref, 3), runs: row.runs, version: row.version });
        }
      }
    }
    const rng = new Rng(0);
    const X = new Matrix(batch, dim);
    rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
    const previous = backend().name;
    try {
      for (const name of names as BackendName[]) {
        if (ctx.signal.aborted) return;
        useBackend(name);
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
        const t = timeIt(step, { repeats, budgetS });
        const sps = batch / t.median;
        // the one-GEMM floor: the encoder's [batch x dim]·[dim x atoms] SGEMM alone, same backend, same run
        const pre = new Float32Array(batch * atoms);
        const W = sae.Wenc.data;
        const floor = timeIt(() => backend().sgemm(false, true, batch, atoms, dim, 1, X.data, dim, W, dim, 0, pre, atoms), { repeats, budgetS: budgetS / 2 });
        ctx.emit({
          bench: 'sae', backend: name, threads: getBackend(name)?.threads ?? 1, dim, atoms, k, batch, seconds: sig(t.median), samplesPerSec: sig(sps), ratio: ref ? sig(sps / ref, 3) : null, runs: t.runs,
          floorSeconds: sig(floor.median), floorFraction: sig(floor.median / t.median, 3), gemmGflops: sig(flopsDense / floor.median / 1e9, 3),
        });
      }
    } finally {
      useBackend(previous);
    }
    if (wanted?.includes('webgpu') && !ctx.signal.aborted) {
      // the whole step on the GPU (backend/webgpu/topk-sae.ts): Node's "webgpu" package, or Chromium with --browser
      const r = await runWebGpuJob({ sae: { dim, atoms, k, batch }, repeats, budgetS }, !!ctx.opts.browser);
      if (r.label === null) ctx.note(`sae: webgpu skipped: ${r.note}`);
      else for (const row of r.rows) {
        const sps = row.samplesPerSec as number;
        ctx.emit({ bench: 'sae', backend: r.label, threads: null, dim, atoms, k, batch, seconds: sig(row.seconds as number), samplesPerSec: sig(sps), ratio: ref ? sig(sps / ref, 3) : null, runs: row.runs, adapter: row.adapter, software: row.software, finiteLoss: row.finiteLoss });
      }
    }
  },
};
