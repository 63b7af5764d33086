import { join } from 'node:path';
import { checkOutDir } from '../out-path.js';
import { fail } from '../../core/errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeNpy } from '../../io/npy.js';
import { iidSparseWorld, superpositionWorld, type World } from '../../worlds/index.js';
import type { Command } from '../command.js';
import { writeSynthSAEBenchWorld } from './world-synth.js';

const KINDS = ['superposition', 'iid', 'synth-sae-bench'] as const;

/** Write a world's arrays and its description into a folder. Returns the file names. */
export function writeWorld(dir: string, world: World<string>): Record<string, string> {
  const files: Record<string, string> = { mixing: 'mixing.npy' };
  writeNpy(join(dir, 'mixing.npy'), world.A);
  for (const s of world.splits) {
    writeNpy(join(dir, `${s}_x.npy`), world.X[s]);
    writeNpy(join(dir, `${s}_z.npy`), world.Z[s]);
    writeNpy(join(dir, `${s}_y.npy`), { shape: [world.y[s].length], data: world.y[s] });
    files[`${s}_x`] = `${s}_x.npy`;
    files[`${s}_z`] = `${s}_z.npy`;
    files[`${s}_y`] = `${s}_y.npy`;
  }
  const meta = {
    kind: world.kind,
    params: world.params,
    latents: world.A.rows,
    dim: world.dim,
    splits: world.splits,
    sizes: world.sizes,
    files,
    layout: 'float32 .npy, samples are rows: {split}_x [rows x dim], {split}_z [rows x latents], {split}_y [rows] = [z0 > 0.5]; mixing [latents x dim] with unit-norm rows, x = z·mixing',
  };
  writeFileAtomic(join(dir, 'world.json'), JSON.stringify(meta, null, 2) + '\n');
  return files;
}

export const worldCommand: Command = {
  name: 'world',
  summary: 'generate a synthetic world with ground truth (sparse latents in superposition)',
  usage: 'world <superposition|iid> --latents N --samples S [--active K | --p P] [--dim M] [--noise SIGMA] [--seed S] --out DIR\n       world synth-sae-bench [--preset small|16k] [--samples S] [--seed S] --out DIR',
  description: [
    'superposition: the compositional-generalisation world of "Stop Probing, Start Coding": n latents,',
    'k active per sample with U(0,1) magnitudes, x = z·A with A [latents x dim] (N(0,1), unit-norm rows),',
    'dim = max(k+1, ceil(2k ln(n/k))) unless given. Training samples draw z0 + k-1 latents from the ID pool',
    '(1..n-nOod-1) or k latents from 1..n-1, with probability 1/2 each; OOD samples draw z0 + k-1 from the',
    'OOD pool (n-nOod..n-1). N samples are split half train / half val; the OOD set has N/2.',
    'iid: k uniformly chosen active latents (--active) or each latent active with probability p (--p);',
    'splits train and val.',
    'Writes DIR/world.json (every parameter, dim included, and the split sizes), DIR/mixing.npy and',
    'DIR/{split}_x.npy, {split}_z.npy, {split}_y.npy (float32; y = [z0 > 0.5]).',
    'synth-sae-bench: SynthSAEBench-style world (docs/synth-sae-bench.md): Zipfian firing (exponent 0.5,',
    'p in [5e-4, 0.4]), a hierarchy (roots x branching^depth; children fire only with their parent and are',
    'mutually exclusive), low-rank correlated firing (rank 25, scale 0.1), an orthogonalised dictionary,',
    'magnitudes N(5..4, |N(0.5,0.5)|), bias of norm 0.5. Presets small (1024 features, d 128) and 16k',
    '(16,384 features, d 768, the reference config). --samples rows [20000], half train, half val;',
    'world.json lists the hierarchy (parent -> children).',
  ].join('\n'),
  positionals: [{ name: 'kind', help: 'which world', required: true, choices: KINDS }],
  options: [
    { name: 'latents', type: 'int', help: 'number of latents n (superposition, iid: required; synth-sae-bench: overrides the preset)', metavar: 'N' },
    { name: 'active', type: 'int', help: 'active latents per sample k (superposition: required)', metavar: 'K' },
    { name: 'p', type: 'number', help: 'iid only: probability that each latent is active (instead of --active)', metavar: 'P' },
    { name: 'samples', type: 'int', help: 'in-distribution samples N (split into train and val; required except for synth-sae-bench)', metavar: 'S' },
    { name: 'preset', type: 'string', help: 'synth-sae-bench: world size', choices: ['small', '16k'] },
    { name: 'roots', type: 'int', help: 'synth-sae-bench: hierarchy roots (overrides the preset)', metavar: 'R' },
    { name: 'branching', type: 'int', help: 'synth-sae-bench: children per node (overrides the preset)', metavar: 'B' },
    { name: 'depth', type: 'int', help: 'synth-sae-bench: levels below the roots (overrides the preset)', metavar: 'L' },
    { name: 'ortho-steps', type: 'int', help: 'synth-sae-bench: dictionary orthogonalisation steps [100]', metavar: 'T' },
    { name: 'dim', type: 'int', help: 'observation dimension m (default max(k+1, ceil(2k ln(n/k))))', metavar: 'M' },
    { name: 'noise', type: 'number', help: 'standard deviation of Gaussian noise added to x', default: 0, metavar: 'SIGMA' },
    { name: 'magnitude', type: 'string', help: 'law of the active magnitudes', default: 'uniform', choices: ['uniform', 'halfnormal', 'exponential'] },
    { name: 'split', type: 'string', help: 'superposition only: compositional ID/OOD split, or i.i.d. supports everywhere', default: 'compositional', choices: ['compositional', 'iid'] },
    { name: 'ood-latents', type: 'int', help: 'superposition only: size of the OOD pool (default floor(n/2))', metavar: 'N' },
    { name: 'ood-samples', type: 'int', help: 'superposition only: OOD set size (default floor(N/2))', metavar: 'S' },
    { name: 'val-fraction', type: 'number', help: 'iid only: fraction of samples in val', default: 0.5, metavar: 'F' },
    { name: 'seed', type: 'int', help: 'random seed (the world is a function of it)', default: 0 },
    { name: 'out', type: 'string', help: 'output folder (created if missing; files in it are replaced)', required: true, metavar: 'DIR' },
    { name: 'json', type: 'boolean', help: 'print world.json to stdout instead of a summary' },
  ],
  examples: [
    'sparsecode world superposition --latents 100 --active 10 --samples 5000 --seed 0 --out worlds/n100',
    'sparsecode world iid --latents 256 --p 0.02 --samples 20000 --dim 64 --noise 0.01 --out worlds/iid',
    'sparsecode world synth-sae-bench --preset small --samples 20000 --seed 0 --out worlds/ssb',
  ],
  async run(ctx) {
    const o = ctx.opts;
    const kind = ctx.positionals[0];
    if (ctx.positionals.length !== 1 || !KINDS.includes(kind as (typeof KINDS)[number])) {
      fail('E_USAGE', `world needs exactly one kind, ${KINDS.join(' or ')}; got ${ctx.positionals.length ? ctx.positionals.map((p) => `"${p}"`).join(' ') : 'none'}`);
    }
    if (o.out !== undefined) {
      const creates = checkOutDir(o.out, '--out', 'world');
      if (creates) ctx.note(creates);
    }
    if (kind === 'synth-sae-bench') {
      const meta = writeSynthSAEBenchWorld(o, (m) => ctx.note(m));
      if (o.json) ctx.print(JSON.stringify({ ...meta, hierarchy: undefined, out: o.out }));
      else {
        ctx.print(`synth-sae-bench world (${meta.preset}): ${meta.latents} features, dim ${meta.dim}, mean L0 ${(meta.mean_l0 as number).toFixed(2)}, seed ${o.seed}`);
        ctx.print(`  wrote ${join(o.out, 'world.json')}, mixing.npy, {train,val}_{x,z}.npy`);
      }
      return;
    }
    for (const [k, v] of [['--latents', o.latents], ['--samples', o.samples]]) if (v === undefined) fail('E_USAGE', `world ${kind} needs ${k}`);
    let world: World<string>;
    if (kind === 'superposition') {
      if (o.active === undefined) fail('E_USAGE', 'world superposition needs --active K');
      if (o.p !== undefined) fail('E_USAGE', '--p applies to `world iid` only; superposition worlds have exactly --active latents per sample');
      world = superpositionWorld({
        latents: o.latents, active: o.active, samples: o.samples, dim: o.dim, noise: o.noise, magnitude: o.magnitude,
        seed: o.seed, split: o.split, oodLatents: o['ood-latents'], oodSamples: o['ood-samples'],
      });
    } else {
      if ((o.active === undefined) === (o.p === undefined)) fail('E_USAGE', 'world iid needs exactly one of --active K or --p P');
      world = iidSparseWorld({
        latents: o.latents, active: o.active, p: o.p, samples: o.samples, dim: o.dim, noise: o.noise,
        magnitude: o.magnitude, seed: o.seed, valFraction: o['val-fraction'],
      });
    }
    writeWorld(o.out, world);
    if (o.json) {
      ctx.print(JSON.stringify({ kind: world.kind, params: world.params, latents: world.A.rows, dim: world.dim, sizes: world.sizes, out: o.out }));
      return;
    }
    ctx.print(`${world.kind} world: ${world.A.rows} latents, dim ${world.dim}, seed ${o.seed}`);
    ctx.print(`  splits: ${world.splits.map((s) => `${s} ${world.sizes[s as keyof typeof world.sizes]}`).join(', ')}`);
    ctx.print(`  wrote ${join(o.out, 'world.json')}, mixing.npy, {${world.splits.join(',')}}_{x,z,y}.npy`);
  },
};
