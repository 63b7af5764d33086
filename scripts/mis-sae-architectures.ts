// Does another SAE architecture lift its latents above the units on MIS in the concept world of
// `repro interpretability`? (docs/evidence.md, "SAE latents score higher than units")
//
//   node --import tsx scripts/mis-sae-architectures.ts [ratios=4,8] [seed=0]
//
// The quick preset's concept world (U = 16 units, F = ratio·U concepts, 2 on per stimulus, the
// ReLU layer; 5000 scored + 20000 training stimuli; MIS with 100 tasks, k = 9, quantile 0.01 and
// the sparse-direction rule) and SAEs with F latents trained as the repro trains its TopK SAE
// (3000 steps, batch 256, lr 3e-3): TopK and BatchTopK (k = 2), JumpReLU (L0 coefficient 0.02,
// 0.1), ReLU with L1 (0.15, 0.5). Prints each one's MIS, FVU, L0 and untestable latents (above
// their floor on fewer than k + 1 stimuli, left out of the mean) beside the units' MIS.
import { matmul } from '../src/backend/ops.js';
import { loadBackends } from '../src/backend/index.js';
import { conceptWorld } from '../src/worlds/concepts.js';
import { createSAE, type SAEConfig, type SAEKind } from '../src/dictionary/sae/index.js';
import { cosineSimilarity, mis } from '../src/metrics/interpretability.js';

async function main(): Promise<void> {
  await loadBackends({ quiet: true });
  const ratios = (process.argv[2] ?? '4,8').split(',').map(Number);
  const seed = Number(process.argv[3] ?? 0);
  const U = 16, samples = 5000, trainSamples = 20000, active = 2;
  const o = { tasks: 100, k: 9, quantile: 0.01, seed: `mis:${seed}`, activeTop: true };
  const saes: [SAEKind, Partial<SAEConfig>][] = [
    ['topk', { k: active }], ['batchtopk', { k: active }],
    ['jumprelu', { l0: 0.02 }], ['jumprelu', { l0: 0.1 }], ['relu', { l1: 0.15 }], ['relu', { l1: 0.5 }],
  ];
  console.log('| seed | F/U | directions | MIS | FVU | L0 | untestable |\n|---|---|---|---|---|---|---|');
  for (const ratio of ratios) {
    const F = ratio * U;
    const w = conceptWorld({ concepts: F, units: U, samples: samples + trainSamples, active, seed: `interp:${seed}:${F}:${U}` });
    const sim = cosineSimilarity(w.Z.rowSlice(0, samples), 'concept space');
    const Hall = matmul(w.Z, w.P);
    for (let i = 0; i < Hall.data.length; i++) if (!(Hall.data[i] > 0)) Hall.data[i] = 0;
    const H = Hall.rowSlice(0, samples), Htrain = Hall.rowSlice(samples, samples + trainSamples);
    console.log(`| ${seed} | ${ratio} | units | ${mis(H, sim, o).mean.toFixed(3)} | | | |`);
    for (const [kind, extra] of saes) {
      const sae = createSAE(kind, { atoms: F, steps: 3000, batch: 256, lr: 3e-3, ...extra });
      const fit = await sae.fit(Htrain, { seed: `sae:${seed}:${F}:${U}` });
      const Z = sae.encode(H);
      let nz = 0;
      for (const v of Z.data) if (v !== 0) nz++;
      const r = mis(Z, sim, o);
      const what = Object.entries(extra).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`| ${seed} | ${ratio} | ${kind} (${what}) | ${r.mean.toFixed(3)} | ${fit.fvu.toFixed(3)} | ${(nz / Z.rows).toFixed(2)} | ${r.untestable}/${F} |`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
