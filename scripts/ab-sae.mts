// A/B timing of two checkouts' SAE code in ONE process (so both see the same machine load):
// the `bench sae` step (TopK forward/backward, radial projection, Adam, renormalisation) and
// `trainSAE` end to end (TopK with AuxK, in memory), alternating, native backend (js if absent).
// The trainSAE runs also print loss/FVU/dead fraction, which must agree when the change is
// meant to keep results bit-identical.
//
//   node --import tsx scripts/ab-sae.mts <before-root> <after-root>
// e.g. before = `git archive <base> | tar -x -C /tmp/base` (+ node_modules link, native/build copy)
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';

const roots = process.argv.slice(2, 4).map((r) => resolve(r));
if (roots.length !== 2) {
  console.error('usage: node --import tsx scripts/ab-sae.mts <before-root> <after-root>');
  process.exit(2);
}
async function load(root: string) {
  const be = await import(join(root, 'src/backend/index.ts'));
  await be.loadBackends?.();
  return {
    be, Matrix: (await import(join(root, 'src/core/matrix.ts'))).Matrix, Rng: (await import(join(root, 'src/core/rng.ts'))).Rng,
    d: await import(join(root, 'src/dictionary/index.ts')),
  };
}
const trees = [await load(roots[0]), await load(roots[1])];
const names = ['before', 'after'];
const backendName = trees[0].be.availableBackends().includes('native') ? 'native' : 'js';
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const order = (r: number) => (r % 2 ? [1, 0] : [0, 1]);

// 1. the bench-sae step
{
  const dim = 512, atoms = 8192, k = 32, batch = 4096;
  const steps = trees.map((t) => {
    t.be.useBackend(backendName);
    const rng = new t.Rng(0);
    const X = new t.Matrix(batch, dim);
    rng.fillNormal(X.data, 0, 1 / Math.sqrt(dim));
    const sae = t.d.createSAE('topk', { atoms, k, batch });
    sae.initParams(dim, rng.fork('init'));
    const params = sae.paramList();
    const adam = new t.d.Adam(params.map((p: any) => p.param), {}, params.map((p: any) => p.decay));
    const grads = params.map((p: any) => p.grad);
    const step = () => {
      t.be.useBackend(backendName);
      sae.forwardBackward(X);
      t.d.projectRadial(sae.Wdec.data, sae.gWdec.data, atoms, dim);
      adam.step(grads, 1e-4);
      sae.normalizeDecoder();
    };
    step(); // warm-up
    return step;
  });
  const times: number[][] = [[], []];
  for (let r = 0; r < 6; r++) for (const i of order(r)) {
    const t0 = performance.now();
    steps[i]();
    times[i].push((performance.now() - t0) / 1000);
  }
  for (const i of [0, 1]) console.log(`step ${names[i]}: ${times[i].map((x) => x.toFixed(2)).join(' ')} s, median ${med(times[i]).toFixed(3)} s`);
  console.log(`SAE step (${backendName}, d ${dim}, ${atoms} atoms, k ${k}, batch ${batch}): after/before speed ${(med(times[0]) / med(times[1])).toFixed(3)}, load ${loadavg()[0].toFixed(1)}`);
}

// 2. trainSAE end to end
{
  const dim = 128, atoms = 2048, k = 16, batch = 1024, steps = 40, n = 8192;
  const times: number[][] = [[], []];
  const results: string[] = ['', ''];
  for (let r = 0; r < 4; r++) for (const i of order(r)) {
    const t = trees[i];
    t.be.useBackend(backendName);
    const X = new t.Matrix(n, dim);
    new t.Rng(1).fillNormal(X.data);
    const sae = t.d.createSAE('topk', { atoms, k, batch, steps, deadAfter: 2048 });
    const t0 = performance.now();
    const res = await t.d.trainSAE(sae, X, { seed: 0 });
    times[i].push((performance.now() - t0) / 1000);
    results[i] = `loss ${res.loss} fvu ${res.fvu} dead ${res.deadFraction}`;
  }
  for (const i of [0, 1]) console.log(`trainSAE ${names[i]}: ${times[i].map((x) => x.toFixed(2)).join(' ')} s, median ${med(times[i]).toFixed(2)} s; ${results[i]}`);
  console.log(`trainSAE (TopK d ${dim}, ${atoms} atoms, k ${k}, batch ${batch}, ${steps} steps): after/before speed ${(med(times[0]) / med(times[1])).toFixed(3)}, same result: ${results[0] === results[1]}, load ${loadavg()[0].toFixed(1)}`);
}
