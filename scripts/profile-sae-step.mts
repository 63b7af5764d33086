/**
 * Where a TopK SAE training step spends its time, phase by phase, against the one-GEMM floor
 * (the encoder's [batch x dim] x [dim x atoms] SGEMM timed alone on the same backend).
 *   node --import tsx scripts/profile-sae-step.mts DIM ATOMS K BATCH [REPEATS]
 * Prints one line per phase (median ms over REPEATS steps) and the step's fraction of the floor.
 * A measuring tool for issue #25; the benchmark of record is `sparsecode bench sae`.
 */
import { backend, loadBackends, matmul, useBackend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { Adam, createSAE, projectRadial } from '../src/dictionary/index.js';

const [dim, atoms, k, batch, repeats] = process.argv.slice(2).map(Number);
await loadBackends({ quiet: true });
useBackend(process.env.SPARSECODE_BACKEND ?? 'native');
const rng = new Rng(0);
const X = new Matrix(batch, dim);
rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
const sae: any = createSAE('topk', { atoms, k, batch });
sae.initParams(dim, rng.fork('init'));
const params = sae.paramList();
const adam = new Adam(params.map((p: any) => p.param), {}, params.map((p: any) => p.decay));
const grads = params.map((p: any) => p.grad);
const times: Record<string, number[]> = {};
const tic = (name: string, f: () => void) => {
  const t = performance.now();
  f();
  (times[name] ??= []).push(performance.now() - t);
};
const b = backend();
const fired = new Uint8Array(atoms);
const R = repeats || 5;
for (let r = 0; r < R + 1; r++) {
  const ws = sae.workspace(batch);
  const t0 = performance.now();
  tic('encoder (xc, GEMM, bias)', () => sae.encoderPre(X, ws.xc, ws.pre));
  let kk = 0;
  tic('select (top-k)', () => (kk = sae.select(ws.pre)));
  tic('gatherDecode + bias', () => {
    b.gatherDecode(sae.idx, sae.val, batch, kk, sae.Wdec.data, dim, 0, ws.xhat.data);
    b.addRowVector(ws.xhat.data, batch, dim, sae.bdec, 1);
  });
  tic('reconstructionGrad', () => sae.reconstructionGrad(X, ws.xhat, ws.gx));
  tic('markFired', () => sae.markFiredSparse(sae.idx, sae.val, batch, kk, fired));
  tic('zero grads', () => {
    sae.gWdec.data.fill(0);
    sae.gWenc.data.fill(0);
    sae.gbenc.fill(0);
  });
  tic('backwardActive (scatter/gather)', () => sae.backwardActive(sae.idx, sae.val, sae.gval, batch, kk, ws.gx.data, ws.xc.data));
  tic('biasDecGrad', () => sae.biasDecGrad(ws.gx));
  tic('projectRadial', () => projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim));
  tic('adam', () => adam.step(grads, 1e-4));
  tic('normalizeDecoder', () => sae.normalizeDecoder());
  (times['STEP'] ??= []).push(performance.now() - t0);
  const fb = performance.now();
  sae.forwardBackward(X);
  projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim);
  adam.step(grads, 1e-4);
  sae.normalizeDecoder();
  (times['step (as trained)'] ??= []).push(performance.now() - fb);
}
const W = new Matrix(atoms, dim);
rng.fillNormal(W.data, 0, 1);
const out = new Matrix(batch, atoms);
for (let r = 0; r < R + 1; r++) tic('FLOOR: SGEMM alone', () => matmul(X, W, { transB: true, out }));
const med = (a: number[]) => {
  const s = a.slice(1).sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
console.log(`dim ${dim} atoms ${atoms} k ${k} batch ${batch} backend ${b.name} threads ${b.threads}`);
for (const [name, a] of Object.entries(times)) console.log(`${name.padEnd(34)} ${med(a).toFixed(2).padStart(9)} ms`);
const floor = med(times['FLOOR: SGEMM alone']), step = med(times['step (as trained)']);
console.log(`floor fraction ${(floor / step).toFixed(3)}  GFLOP/s of the GEMM ${((2 * batch * dim * atoms) / floor / 1e6).toFixed(1)}`);
