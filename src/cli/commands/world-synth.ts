import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeNpy } from '../../io/npy.js';
import { SYNTH_SAE_BENCH_PRESETS, SynthSAEBenchWorld, type SynthSAEBenchConfig } from '../../worlds/synth-sae-bench.js';

/** `world synth-sae-bench`: build the world from --preset (and overrides), draw train/val rows, write the folder. */
export function writeSynthSAEBenchWorld(o: Record<string, any>, note: (s: string) => void): Record<string, unknown> {
  const preset = o.preset ?? 'small';
  if (!Object.hasOwn(SYNTH_SAE_BENCH_PRESETS, preset)) fail('E_USAGE', `--preset must be small or 16k, got "${preset}"`);
  const cfg: SynthSAEBenchConfig = { ...SYNTH_SAE_BENCH_PRESETS[preset as 'small'] };
  if (o.latents !== undefined) cfg.features = o.latents;
  if (o.dim !== undefined) cfg.dim = o.dim;
  if (o.roots !== undefined) cfg.roots = o.roots;
  if (o.branching !== undefined) cfg.branching = o.branching;
  if (o.depth !== undefined) cfg.depth = o.depth;
  if (o['ortho-steps'] !== undefined) cfg.orthoSteps = o['ortho-steps'];
  const samples: number = o.samples ?? 20000;
  if (!Number.isInteger(samples) || samples < 2) fail('E_USAGE', `--samples must be an integer >= 2, got ${samples}`);
  note(`synth-sae-bench: building ${cfg.features} features in d = ${cfg.dim} (orthogonalising the dictionary, ${cfg.orthoSteps} steps)`);
  const world = new SynthSAEBenchWorld(cfg, o.seed ?? 0);
  const rng = new Rng(o.seed ?? 0).fork('samples');
  const nVal = Math.floor(samples / 2), nTrain = samples - nVal;
  mkdirSync(o.out, { recursive: true });
  writeNpy(join(o.out, 'mixing.npy'), world.D);
  const sizes: Record<string, number> = { train: nTrain, val: nVal };
  let l0 = 0;
  for (const [s, n] of Object.entries(sizes)) {
    const { X, A } = world.sample(n, rng.fork(s));
    for (const v of A.data) if (v > 0) l0++;
    writeNpy(join(o.out, `${s}_x.npy`), X);
    writeNpy(join(o.out, `${s}_z.npy`), A);
  }
  const hierarchy: Record<string, number[]> = {};
  for (const p of world.parents()) hierarchy[p] = world.children[p];
  const meta = {
    kind: 'synth-sae-bench',
    preset,
    params: { ...cfg, seed: o.seed ?? 0 },
    latents: cfg.features,
    dim: cfg.dim,
    splits: ['train', 'val'],
    sizes,
    mean_l0: l0 / samples,
    dictionary_max_abs_cos: world.maxCos,
    hierarchy,
    files: { mixing: 'mixing.npy', train_x: 'train_x.npy', train_z: 'train_z.npy', val_x: 'val_x.npy', val_z: 'val_z.npy' },
    layout: 'float32 .npy, samples are rows: {split}_x [rows x dim], {split}_z [rows x features] (true activations); mixing [features x dim] unit-norm rows; x = z·mixing + bias; hierarchy: parent -> mutually exclusive children',
  };
  writeFileAtomic(join(o.out, 'world.json'), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}
