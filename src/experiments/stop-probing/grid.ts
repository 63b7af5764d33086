import { fail } from '../../core/errors.js';
import { defaultDim } from '../../worlds/superposition.js';
import { configKey, type Cell } from '../runner.js';
import { methodFamily, STOP_PROBING_METHODS, type StopProbingConfig, type StopProbingMethod } from './methods.js';
import { FULL_SETTINGS, type StopProbingSettings } from './settings.js';

/** Presets, the paper's sweeps and the cells of a run. */

export type SweepName = 'latents' | 'sparsity' | 'samples';
export type PresetName = 'quick' | 'full';

export interface SweepSpec {
  /** the config field the sweep varies */
  key: 'latents' | 'active' | 'samples';
  values: number[];
  /** the fixed fields */
  base: { latents: number; active: number; samples: number };
}

/** The paper's sweeps (PAPERS sec. 1). */
export const FULL_SWEEPS: Record<SweepName, SweepSpec> = {
  latents: { key: 'latents', values: [50, 100, 500, 1000, 5000, 10000], base: { latents: 1000, active: 10, samples: 5000 } },
  sparsity: { key: 'active', values: [2, 5, 10, 20, 50, 100], base: { latents: 1000, active: 10, samples: 5000 } },
  samples: { key: 'samples', values: [100, 500, 1000, 5000, 10000, 50000, 100000], base: { latents: 100, active: 10, samples: 5000 } },
};

/** Small versions that run in minutes on two cores (the latents one is the paper's first two columns). */
export const QUICK_SWEEPS: Record<SweepName, SweepSpec> = {
  latents: { key: 'latents', values: [50, 100], base: { latents: 100, active: 10, samples: 5000 } },
  sparsity: { key: 'active', values: [2, 5, 10], base: { latents: 100, active: 10, samples: 2000 } },
  samples: { key: 'samples', values: [500, 1000, 2000, 5000], base: { latents: 50, active: 10, samples: 5000 } },
};

export interface Preset {
  settings: StopProbingSettings;
  sweeps: Record<SweepName, SweepSpec>;
  seeds: number[];
  methods: StopProbingMethod[];
}

/** Both presets use the paper's hyperparameters; quick is small through its sweeps, seeds and methods. */
export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    settings: FULL_SETTINGS,
    sweeps: QUICK_SWEEPS,
    seeds: [0],
    methods: ['oracle', 'probe', 'dl-fista', 'relu-sae', 'topk-sae', 'jumprelu-sae', 'mp-sae', 'fista-on-topk-sae'],
  },
  full: {
    settings: FULL_SETTINGS,
    sweeps: FULL_SWEEPS,
    seeds: [0, 1, 2],
    methods: [...STOP_PROBING_METHODS],
  },
};

/**
 * Why a world (n, k) cannot be built with the compositional split, or null when it can:
 * setting A needs k−1 latents from the ID pool (n − floor(n/2) − 1 latents), setting C k−1
 * from the OOD pool (floor(n/2)).
 */
export function compositionalProblem(latents: number, active: number): string | null {
  if (!Number.isInteger(latents) || latents < 2) return `latents must be an integer >= 2, got ${latents}`;
  if (!Number.isInteger(active) || active < 1) return `active must be an integer >= 1, got ${active}`;
  const nOod = Math.floor(latents / 2);
  const idPool = latents - nOod - 1;
  if (active - 1 > idPool) return `k = ${active} needs k−1 = ${active - 1} latents in the ID pool, which has ${idPool} at n = ${latents}; raise --latents to at least ${2 * active} or lower --active`;
  if (active - 1 > nOod) return `k = ${active} needs k−1 latents in the OOD pool, which has ${nOod} at n = ${latents}`;
  return null;
}

export interface ConfigGridOptions {
  preset?: PresetName;
  sweep?: SweepName;
  /** explicit values (override the sweep's values for the swept key, or its base for the others) */
  latents?: number[];
  active?: number[];
  samples?: number[];
  /** observation dimension (default: max(k+1, ceil(2k ln(n/k)))) */
  dim?: number;
}

/** The configs (without seed) of a sweep: the cartesian product of latents × active × samples. */
export function configGrid(o: ConfigGridOptions): Omit<StopProbingConfig, 'seed'>[] {
  const preset = Object.hasOwn(PRESETS, o.preset ?? 'quick') ? PRESETS[o.preset ?? 'quick'] : undefined;
  if (!preset) fail('E_USAGE', `unknown preset "${o.preset}"; use quick or full`);
  return sweepGrid(preset.sweeps, o);
}

/** The configs (without seed) of one of these sweeps (ConfigGridOptions without the preset). */
export function sweepGrid(sweeps: Record<SweepName, SweepSpec>, o: Omit<ConfigGridOptions, 'preset'>): Omit<StopProbingConfig, 'seed'>[] {
  const explicit = o.latents || o.active || o.samples;
  const sweepName: SweepName | undefined = o.sweep ?? (explicit ? undefined : 'latents');
  let spec: SweepSpec | undefined;
  if (sweepName) {
    spec = Object.hasOwn(sweeps, sweepName) ? sweeps[sweepName] : undefined;
    if (!spec) fail('E_USAGE', `unknown sweep "${sweepName}"; use latents, sparsity or samples`);
  }
  const base = spec?.base ?? { latents: 100, active: 10, samples: 5000 };
  const pick = (key: 'latents' | 'active' | 'samples'): number[] => {
    if (o[key]?.length) return o[key]!;
    if (spec && spec.key === key) return spec.values;
    return [base[key]];
  };
  const out: Omit<StopProbingConfig, 'seed'>[] = [];
  for (const n of pick('latents')) {
    for (const k of pick('active')) {
      for (const N of pick('samples')) {
        const why = compositionalProblem(n, k);
        if (why) fail('E_USAGE', `cannot build the compositional world n = ${n}, k = ${k}: ${why}`);
        if (!Number.isInteger(N) || N < 4) fail('E_USAGE', `--samples must be an integer >= 4, got ${N}`);
        if (o.dim !== undefined && (!Number.isInteger(o.dim) || o.dim < 1)) fail('E_USAGE', `--dim must be a positive integer, got ${o.dim}`);
        out.push({ latents: n, active: k, samples: N, dim: o.dim ?? defaultDim(n, k) });
      }
    }
  }
  return out;
}

/**
 * Cells in run order: config × seed × method. One group per config × seed × method family
 * (methodFamily): the cells that share a trained model run back to back with one cache, and
 * are one job on a queue.
 */
export function stopProbingCells(configs: Omit<StopProbingConfig, 'seed'>[], seeds: number[], methods: StopProbingMethod[]): Cell[] {
  const cells: Cell[] = [];
  for (const c of configs) {
    for (const seed of seeds) {
      const config: StopProbingConfig = { latents: c.latents, active: c.active, samples: c.samples, dim: c.dim, seed };
      const key = configKey(config);
      for (const method of methods) cells.push({ config, method, group: `${key}|${methodFamily(method)}` });
    }
  }
  return cells;
}
