/**
 * A JumpReLU SAE training step on its sparse path against its dense path, and against a TopK step
 * of the same size, at thresholds that leave about K active latents per row (the per-latent
 * quantile of the first batch's pre-activations).
 *   node --import tsx scripts/measure-jumprelu-step.mts DIM ATOMS K BATCH [REPEATS]
 */
import { backend, loadBackends, useBackend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam, createSAE, JumpReluSAE, projectRadial } from '../src/dictionary/index.js';

const [dim, atoms, k, batch, repeats = 7] = process.argv.slice(2).map(Number);
await loadBackends({ quiet: true });
useBackend(process.env.SPARSECODE_BACKEND ?? 'native');
const rng = new Rng(0);
const X = new Matrix(batch, dim);
rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
const time = (sae: any): number => {
  const params = sae.paramList();
  const adam = new Adam(params.map((p: any) => p.param), {}, params.map((p: any) => p.decay));
  const grads = params.map((p: any) => p.grad);
  const ts: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t = performance.now();
    sae.forwardBackward(X);
    projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim);
    adam.step(grads, 0); // lr 0: the thresholds stay where they were put
    sae.normalizeDecoder();
    if (r > 0) ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
};
const j = createSAE('jumprelu', { atoms, batch }) as JumpReluSAE;
j.initParams(dim, rng.fork('init'));
// thresholds: each latent's (1 - k/atoms) quantile of the pre-activations on this batch
const pre = (j as any).workspace(batch).pre as Matrix;
(j as any).encoderPre(X, (j as any).ws.xc, pre);
const col = new Float32Array(batch);
for (let a = 0; a < atoms; a++) {
  for (let i = 0; i < batch; i++) col[i] = pre.data[i * atoms + a];
  col.sort();
  j.logTheta[a] = Math.log(Math.max(1e-6, col[Math.floor(batch * (1 - k / atoms))]));
}
const results: Record<string, number> = {};
for (const path of ['sparse', 'dense'] as const) {
  j.stepPath = path;
  results[`jumprelu ${path}`] = time(j);
}
const t = createSAE('topk', { atoms, k, batch });
t.initParams(dim, rng.fork('init'));
results.topk = time(t);
console.log(`dim ${dim} atoms ${atoms} k ${k} batch ${batch} backend ${backend().name}; mean L0 of the JumpReLU step ${j.forwardBackward(X).l0.toFixed(1)}`);
for (const [name, ms] of Object.entries(results)) console.log(`${name.padEnd(16)} ${ms.toFixed(1).padStart(8)} ms  ${(ms / results.topk).toFixed(2)}x TopK`);
