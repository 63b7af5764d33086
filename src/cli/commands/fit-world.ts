import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../../core/errors.js';
import { SYNTH_SAE_BENCH_PRESETS, SynthSAEBenchWorld, type SynthSAEBenchConfig } from '../../worlds/synth-sae-bench.js';
import { synthWorldSource, type WorldRowSource } from '../../worlds/world-source.js';

/**
 * `fit --world synth-sae-bench [--preset small|16k] [--world-seed S] --samples N`, or
 * `fit --world DIR --samples N` with DIR a `world synth-sae-bench` folder (its world.json gives the
 * configuration and the seed, so the world is the folder's: same dictionary and hierarchy, and
 * `eval --model M --world DIR` scores on its val split): a RowSource of N rows the world generates
 * on demand (worlds/world-source.ts), nothing stored.
 */
export function openWorldArg(o: Record<string, any>): { source: WorldRowSource; world: SynthSAEBenchWorld; describe: Record<string, unknown> } {
  if (o.samples === undefined) fail('E_USAGE', '--world needs --samples N (how many rows to draw from the world, e.g. --samples 10000000)');
  if (!Number.isSafeInteger(o.samples) || o.samples < 2) fail('E_USAGE', `--samples must be an integer >= 2, got ${o.samples}`);
  let cfg: SynthSAEBenchConfig, seed: number, describe: Record<string, unknown>;
  if (o.world === 'synth-sae-bench') {
    const preset = o.preset ?? 'small';
    if (!Object.hasOwn(SYNTH_SAE_BENCH_PRESETS, preset)) fail('E_USAGE', `--preset must be small or 16k, got "${preset}"`);
    cfg = { ...SYNTH_SAE_BENCH_PRESETS[preset as 'small'] };
    seed = o['world-seed'] ?? 0;
    describe = { world: 'synth-sae-bench', preset, seed, samples: o.samples };
  } else {
    for (const k of ['preset', 'world-seed']) if (o[k] !== undefined) fail('E_USAGE', `--${k} applies to --world synth-sae-bench; the folder ${o.world} fixes its world in world.json`);
    const meta = join(o.world, 'world.json');
    if (!existsSync(meta)) fail('E_USAGE', `--world ${o.world}: neither synth-sae-bench nor a folder with a world.json; make one with \`sparsecode world synth-sae-bench --out ${o.world}\` or pass --world synth-sae-bench --preset small`);
    let m: any;
    try {
      m = JSON.parse(readFileSync(meta, 'utf8'));
    } catch (e) {
      return fail('E_FORMAT', `${meta}: not valid JSON (${(e as Error).message})`);
    }
    if (m?.kind !== 'synth-sae-bench' || typeof m.params !== 'object') fail('E_FORMAT', `${meta}: fit --world streams from synth-sae-bench worlds; this folder holds ${JSON.stringify(m?.kind)}`);
    const { seed: s, ...rest } = m.params;
    cfg = rest as SynthSAEBenchConfig;
    seed = Number(s ?? 0);
    describe = { world: o.world, preset: m.preset ?? null, seed, samples: o.samples };
  }
  const world = new SynthSAEBenchWorld(cfg, seed);
  const source = synthWorldSource(world, { rows: o.samples, seed, name: o.world === 'synth-sae-bench' ? `world synth-sae-bench (${describe.preset}), seed ${seed}` : `world ${o.world}, seed ${seed}` });
  return { source, world, describe };
}
