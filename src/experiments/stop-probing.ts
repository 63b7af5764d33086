import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { checkAborted } from '../core/validate.js';
import { loadCheckpoint } from '../dictionary/checkpoint.js';
import type { DictionaryProgress } from '../dictionary/dl-fista.js';
import type { TrainProgress } from '../dictionary/trainer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { defaultDim, superpositionWorld, type CompositionalSplit, type World } from '../worlds/superposition.js';
import { fista } from '../inference/fista.js';
import { mcc } from '../metrics/mcc.js';
import { dictionaryRecovery } from '../metrics/dictionary.js';
import { ridgeProbe, logisticProbe } from '../metrics/probes.js';
import { bestUnitAuc } from '../metrics/auc.js';
import { fitStopProbingSAE, learnStopProbingDictionary, paperSAEConfig, type SaeKindName, type TrainedSAE } from './stop-probing-methods.js';
import { cellKey, configKey, latestByCell, readResults, runSweep, type Cell, type CellRun, type ResultLine, type SweepProgress, type SweepSummary } from './runner.js';
import { aggregate, metricPlot, pivotTable, summaryTable, varyingKeys, type SummaryRow } from './report.js';

/**
 * "Stop Probing, Start Coding" (PAPERS sec. 1): compositional generalisation of codes from a
 * linear probe, SAEs, FISTA on frozen SAE decoders, dictionary learning + FISTA and the FISTA
 * oracle, in and out of distribution, swept over n (latents), k (active) and N (samples).
 */

export const SAE_METHODS = ['relu-sae', 'topk-sae', 'jumprelu-sae', 'mp-sae'] as const;
export const STOP_PROBING_METHODS = [
  'oracle',
  'probe',
  'dl-fista',
  ...SAE_METHODS,
  ...SAE_METHODS.map((m) => `fista-on-${m}` as const),
] as const;
export type StopProbingMethod = (typeof STOP_PROBING_METHODS)[number];

export const METRIC_NAMES = ['mcc_id', 'mcc_ood', 'acc_id', 'acc_ood', 'auc_ood', 'dict_mean_cos', 'dict_frac_090'] as const;

export const METHOD_LABELS: Record<string, string> = {
  oracle: 'FISTA oracle',
  probe: 'Linear probe',
  'dl-fista': 'DL-FISTA',
  'relu-sae': 'SAE ReLU',
  'topk-sae': 'SAE TopK',
  'jumprelu-sae': 'SAE JumpReLU',
  'mp-sae': 'SAE MP',
  'fista-on-relu-sae': 'FISTA on SAE ReLU decoder',
  'fista-on-topk-sae': 'FISTA on SAE TopK decoder',
  'fista-on-jumprelu-sae': 'FISTA on SAE JumpReLU decoder',
  'fista-on-mp-sae': 'FISTA on SAE MP decoder',
};

/** Plot colours: an SAE and FISTA on its decoder share a colour (the latter dashed). */
export const METHOD_COLORS: Record<string, string> = {
  oracle: '#000000',
  probe: '#D55E00',
  'dl-fista': '#009E73',
  'relu-sae': '#CC79A7',
  'topk-sae': '#0072B2',
  'jumprelu-sae': '#E69F00',
  'mp-sae': '#56B4E9',
  'fista-on-relu-sae': '#CC79A7',
  'fista-on-topk-sae': '#0072B2',
  'fista-on-jumprelu-sae': '#E69F00',
  'fista-on-mp-sae': '#56B4E9',
};

/** A cell's config: exactly these fields go into results.jsonl. */
export interface StopProbingConfig {
  latents: number;
  active: number;
  samples: number;
  dim: number;
  seed: number;
  [key: string]: number;
}

export { FULL_SETTINGS, type StopProbingSettings } from './stop-probing-methods.js';
import { FULL_SETTINGS, type StopProbingSettings } from './stop-probing-methods.js';

/** The quick preset keeps the paper's hyperparameters; it is small through its sweeps and seeds. */
export const QUICK_SETTINGS: StopProbingSettings = { ...FULL_SETTINGS };

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

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    settings: QUICK_SETTINGS,
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

export function isStopProbingMethod(s: string): s is StopProbingMethod {
  return (STOP_PROBING_METHODS as readonly string[]).includes(s);
}

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
  const preset = PRESETS[o.preset ?? 'quick'];
  if (!preset) fail('E_USAGE', `unknown preset "${o.preset}"; use quick or full`);
  const explicit = o.latents || o.active || o.samples;
  const sweepName: SweepName | undefined = o.sweep ?? (explicit ? undefined : 'latents');
  let spec: SweepSpec | undefined;
  if (sweepName) {
    spec = preset.sweeps[sweepName];
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

/** Put methods in run order: an SAE before FISTA on its decoder (they share the trained SAE). */
export function orderMethods(methods: string[]): StopProbingMethod[] {
  for (const m of methods) if (!isStopProbingMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${STOP_PROBING_METHODS.join(', ')}`);
  const set = new Set(methods);
  return STOP_PROBING_METHODS.filter((m) => set.has(m));
}

/** Cells in run order: config × seed × method; one group (shared world, SAEs) per config × seed. */
export function stopProbingCells(configs: Omit<StopProbingConfig, 'seed'>[], seeds: number[], methods: StopProbingMethod[]): Cell[] {
  const cells: Cell[] = [];
  for (const c of configs) {
    for (const seed of seeds) {
      const config: StopProbingConfig = { latents: c.latents, active: c.active, samples: c.samples, dim: c.dim, seed };
      const group = configKey(config);
      for (const method of methods) cells.push({ config, method, group });
    }
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* Metrics                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/**
 * The paper's code metrics: ID on the validation split, OOD on the OOD split.
 * mcc_id: MCC against the active true latents (noise padding); mcc_ood: the OOD rule (active
 * latents only, as many code columns of largest variance); acc_id / acc_ood: unregularised
 * logistic regression of y = [z₀ > 0.5] trained on the ID codes; auc_ood: the unit with the
 * best ID AUC, scored on OOD.
 */
export function codeMetrics(world: World<CompositionalSplit>, codesId: Matrix, codesOod: Matrix): Record<string, number> {
  const out: Record<string, number> = {};
  out.mcc_id = mcc(codesId, world.Z.val).mcc;
  out.mcc_ood = mcc(codesOod, world.Z.ood, { ood: true }).mcc;
  const lr = logisticProbe(codesId, world.y.val, codesOod, world.y.ood);
  out.acc_id = lr.trainAccuracy;
  out.acc_ood = lr.accuracy;
  out.auc_ood = bestUnitAuc(codesId, world.y.val, codesOod, world.y.ood).aucOod;
  return out;
}

function dictMetrics(learned: Matrix, truth: Matrix): Record<string, number> {
  const r = dictionaryRecovery(learned, truth);
  return { dict_mean_cos: r.meanCos, dict_frac_090: r.frac090 };
}

/** Subtract a bias vector from every row (a copy). */
function subtractRow(X: Matrix, b: Float32Array): Matrix {
  const out = X.clone();
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) out.data[i * d + j] -= b[j];
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

function getWorld(config: StopProbingConfig, cache: Map<string, unknown>): World<CompositionalSplit> {
  let w = cache.get('world') as World<CompositionalSplit> | undefined;
  if (!w) {
    w = superpositionWorld({ latents: config.latents, active: config.active, samples: config.samples, dim: config.dim, seed: config.seed, split: 'compositional' });
    cache.set('world', w);
  }
  return w;
}

/** Options of one cell beyond its config and settings (all optional). */
export interface StopProbingCellOptions {
  /**
   * folder for the checkpoints of the cells that learn (runStopProbing: DIR/checkpoints).
   * DL-FISTA checkpoints to `<dir>/<config>/dl-fista/`, each SAE kind to `<dir>/<config>/sae-<kind>/`
   * (one folder for an SAE and FISTA on its decoder, which share the trained SAE); a cell
   * resumes from its folder when it holds a checkpoint. Nothing is written without it.
   */
  checkpointDir?: string;
  /** DL-FISTA: seconds between checkpoints [60] */
  dlCheckpointSeconds?: number;
  /** SAEs: epochs between checkpoints [max(1, round(epochs / 100)): 5 at the paper's 500] */
  saeCheckpointEpochs?: number;
  /**
   * notes for the user: a cell that resumed from a checkpoint, and inside the cells that learn
   * a progress line every `progressSeconds` (DL-FISTA's outer step and relative change, an
   * SAE's epoch, FVU and ETA)
   */
  onNote?: (message: string) => void;
  /** seconds between progress notes from inside a cell [60] */
  progressSeconds?: number;
}

/** m:ss or h:mm:ss */
function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0'), ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${Math.floor(s / 60)}:${ss}`;
}

/** DL-FISTA progress as a note at most every `everyMs`: outer step, relative change of D, L0, time per step. */
function dlProgressNotes(config: StopProbingConfig, settings: StopProbingSettings, note: (m: string) => void, everyMs: number): (p: DictionaryProgress) => void {
  let last = performance.now();
  let lastStep = -1;
  return (p) => {
    const now = performance.now();
    if (lastStep < 0) lastStep = p.step - 1;
    if (now - last < everyMs) return;
    const perStep = (now - last) / 1000 / Math.max(1, p.step - lastStep);
    note(`dl-fista n=${config.latents} seed=${config.seed}: outer step ${p.step}/${p.total} (stops when ‖ΔD‖/‖D‖ < ${settings.dlTol}: now ${p.relChange.toExponential(2)}), L0 ${p.l0.toFixed(1)}, ${perStep.toFixed(1)} s/step, at most ${clock(perStep * (p.total - p.step))} left`);
    last = now;
    lastStep = p.step;
  };
}

/** A filesystem-safe folder name for a config: `active-10_dim-47_latents-100_samples-5000_seed-0`. */
export function configSlug(config: StopProbingConfig): string {
  return Object.keys(config).sort().map((k) => `${k}-${String(config[k])}`.replace(/[^A-Za-z0-9.+-]/g, '_')).join('_');
}

/**
 * The checkpoint folder a cell uses under `root`, or null for cells that learn nothing (probe,
 * oracle). An SAE and FISTA on its decoder share the SAE's folder.
 */
export function stopProbingCheckpointFolder(root: string, config: StopProbingConfig, method: string): string | null {
  if (method === 'dl-fista') return join(root, configSlug(config), 'dl-fista');
  const m = /^(?:fista-on-)?(relu|topk|jumprelu|mp)-sae$/.exec(method);
  return m ? join(root, configSlug(config), `sae-${m[1]}`) : null;
}

async function getSAE(
  kind: SaeKindName, config: StopProbingConfig, world: World<CompositionalSplit>, settings: StopProbingSettings, cache: Map<string, unknown>,
  signal?: AbortSignal, co: StopProbingCellOptions = {}, run?: CellRun,
): Promise<TrainedSAE> {
  const key = `sae:${kind}`;
  let t = cache.get(key) as TrainedSAE | undefined;
  if (!t) {
    const o = {
      atoms: config.latents,
      k: config.active,
      lr: settings.saeLr,
      batch: settings.saeBatch,
      epochs: settings.saeEpochs,
      gamma: settings.saeGamma,
      weightDecay: settings.saeWeightDecay,
      seed: `${config.seed}:sae:${kind}`,
      signal,
    };
    const Xt = world.X.train;
    let ck: { checkpointDir: string; checkpointEvery: number } | undefined;
    if (co.checkpointDir) {
      const dir = stopProbingCheckpointFolder(co.checkpointDir, config, `${kind}-sae`)!;
      // the trainer checks the shapes and step counts; the hyperparameters are checked here
      const prev = loadCheckpoint(dir);
      if (prev) {
        const had = (prev.state.config ?? {}) as Record<string, unknown>;
        for (const [k, v] of Object.entries(paperSAEConfig(kind, Xt.cols, o))) {
          if (JSON.stringify(had[k]) !== JSON.stringify(v)) {
            fail('E_ARG', `the SAE checkpoint in ${dir} was trained with ${k} = ${JSON.stringify(had[k])}, this run has ${k} = ${JSON.stringify(v)}; delete ${dir} to train afresh`);
          }
        }
      }
      const epochs = co.saeCheckpointEpochs ?? Math.max(1, Math.round(settings.saeEpochs / 100));
      if (!Number.isInteger(epochs) || epochs < 1) fail('E_ARG', `saeCheckpointEpochs must be a positive integer, got ${epochs}`);
      const stepsPerEpoch = Math.ceil(Xt.rows / Math.min(settings.saeBatch, Xt.rows));
      ck = { checkpointDir: dir, checkpointEvery: epochs * stepsPerEpoch };
    }
    const every = (co.progressSeconds ?? 60) * 1000;
    const where = `${kind} SAE n=${config.latents} seed=${config.seed}`;
    const onProgress = co.onNote
      ? (p: TrainProgress) => {
          if (p.step < p.totalSteps) co.onNote!(`${where}: epoch ${p.epoch}/${settings.saeEpochs}, FVU ${p.fvu.toFixed(3)}, L0 ${p.l0.toFixed(1)}, ETA ${clock(p.etaSeconds)}`);
        }
      : undefined;
    t = await fitStopProbingSAE(kind, Xt, { ...o, ...ck, onProgress, progressIntervalMs: every });
    if (t.resumedFrom !== null) co.onNote?.(`${kind} SAE ${configSlug(config)}: resumed from its checkpoint at step ${t.resumedFrom} of ${t.steps}`);
    if (run) run.priorSeconds += t.resumedSeconds;
    cache.set(key, t);
  }
  return t;
}

/**
 * Run one method on one config × seed and return its metrics. `cache` holds what the methods
 * of one config × seed share (the world, trained SAEs); `options.checkpointDir` makes the
 * learning cells checkpoint and resume (StopProbingCellOptions); `run` (the sweep runner's)
 * receives the seconds a resumed checkpoint had recorded.
 */
export async function runStopProbingCell(
  config: StopProbingConfig, method: string, settings: StopProbingSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
  options: StopProbingCellOptions = {}, run?: CellRun,
): Promise<Record<string, number>> {
  if (!isStopProbingMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${STOP_PROBING_METHODS.join(', ')}`);
  checkAborted(signal);
  const world = getWorld(config, cache);
  const { X, Z, A } = world;
  const fistaOpts = { lambda: settings.fistaLambda, iters: settings.fistaIters, tol: 0, nonneg: true, objective: false };

  if (method === 'probe') {
    // trained on the train half (float64 inside); ID codes are its predictions on val
    const p = ridgeProbe(X.train, Z.train, { alphas: settings.probeAlphas });
    return { ...codeMetrics(world, p.predict(X.val), p.predict(X.ood)), probe_alpha: p.alpha };
  }
  if (method === 'oracle') {
    const id = fista(X.val, A, fistaOpts).Z;
    const ood = fista(X.ood, A, fistaOpts).Z;
    return codeMetrics(world, id, ood);
  }
  if (method === 'dl-fista') {
    // the dictionary is learned on the validation split; OOD codes use that dictionary
    const r = await learnStopProbingDictionary(X.val, {
      atoms: config.latents,
      lambda: settings.dlLambda,
      fistaIters: settings.dlFistaIters,
      maxOuter: settings.dlMaxOuter,
      tol: settings.dlTol,
      seed: `${config.seed}:dl-fista`,
      signal,
      checkpoint: options.checkpointDir
        ? { dir: stopProbingCheckpointFolder(options.checkpointDir, config, method)!, everySeconds: options.dlCheckpointSeconds ?? 60 }
        : undefined,
      onProgress: options.onNote ? dlProgressNotes(config, settings, options.onNote, (options.progressSeconds ?? 60) * 1000) : undefined,
    });
    if (r.resumedFrom !== null) options.onNote?.(`dl-fista ${configSlug(config)}: resumed from its checkpoint at outer step ${r.resumedFrom}`);
    if (run) run.priorSeconds += r.resumedSeconds;
    checkAborted(signal);
    const ood = fista(X.ood, r.D, { lambda: settings.dlLambda, iters: settings.dlOodIters, tol: 1e-6, nonneg: true, objective: false }).Z;
    return { ...codeMetrics(world, r.Z, ood), ...dictMetrics(r.D, A), dl_outer: r.iterations };
  }
  const fistaOn = method.startsWith('fista-on-');
  const saeMethod = (fistaOn ? method.slice('fista-on-'.length) : method) as (typeof SAE_METHODS)[number];
  const kind = saeMethod.replace(/-sae$/, '') as SaeKindName;
  const sae = await getSAE(kind, config, world, settings, cache, signal, options, run);
  checkAborted(signal);
  const dict = dictMetrics(sae.decoder, A);
  if (!fistaOn) return { ...codeMetrics(world, sae.encode(X.val), sae.encode(X.ood)), ...dict };
  // FISTA on the frozen decoder, inputs centred by the decoder bias (as the reference code)
  const id = fista(subtractRow(X.val, sae.decoderBias), sae.decoder, fistaOpts).Z;
  const ood = fista(subtractRow(X.ood, sae.decoderBias), sae.decoder, fistaOpts).Z;
  return { ...codeMetrics(world, id, ood), ...dict };
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */

export interface StopProbingOptions extends ConfigGridOptions {
  /** output folder: results.jsonl, sweep.json, report.md, *.svg */
  out: string;
  seeds?: number[];
  methods?: string[];
  /** hyperparameter overrides on top of the preset's */
  settings?: Partial<StopProbingSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  /**
   * checkpoints of the learning cells in DIR/checkpoints (default true): a killed sweep resumes
   * DL-FISTA and the SAEs where they stopped; a folder is removed once every cell that uses it
   * has its line in results.jsonl
   */
  checkpoints?: boolean;
  /** DL-FISTA: seconds between checkpoints [60] */
  dlCheckpointSeconds?: number;
  /** SAEs: epochs between checkpoints [max(1, round(epochs / 100))] */
  saeCheckpointEpochs?: number;
  /** notes for the user (cells resumed from checkpoints) */
  onNote?: (message: string) => void;
  /** seconds between progress notes from inside the cells that learn [60] */
  progressSeconds?: number;
}

export interface StopProbingRun {
  summary: SweepSummary;
  /** aggregated rows of this sweep's cells */
  rows: SummaryRow[];
  settings: StopProbingSettings;
  reportPath: string;
}

/** Remove a cell's checkpoint folder, then its config folder and `root` when they are left empty. */
function removeCheckpointFolder(folder: string, root: string): void {
  if (!existsSync(folder)) return;
  rmSync(folder, { recursive: true, force: true });
  for (const dir of [dirname(folder), root]) {
    try {
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    } catch {
      // already gone
    }
  }
}

function sameSettings(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Run (or resume) the protocol into `out`, then write report.md and the plots. */
export async function runStopProbing(o: StopProbingOptions): Promise<StopProbingRun> {
  const presetName = o.preset ?? 'quick';
  const preset = PRESETS[presetName];
  if (!preset) fail('E_USAGE', `unknown preset "${presetName}"; use quick or full`);
  const settings: StopProbingSettings = { ...preset.settings, ...(o.settings ?? {}) };
  const configs = configGrid(o);
  const seeds = o.seeds?.length ? o.seeds : preset.seeds;
  for (const s of seeds) if (!Number.isInteger(s) || s < 0) fail('E_USAGE', `--seeds must be non-negative integers, got ${s}`);
  const methods = orderMethods(o.methods?.length ? o.methods : preset.methods);
  const cells = stopProbingCells(configs, seeds, methods);

  // one folder holds results of one set of hyperparameters
  const manifestPath = join(o.out, 'sweep.json');
  if (existsSync(manifestPath)) {
    let prev: { settings?: unknown } = {};
    try {
      prev = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch {
      fail('E_FORMAT', `${manifestPath} is not valid JSON; delete it or use another --out`);
    }
    if (prev.settings && !sameSettings(prev.settings, settings)) {
      fail('E_USAGE', `${o.out} holds results made with other hyperparameters (${manifestPath}); use another --out, or the same --preset as before`);
    }
  } else {
    writeFileAtomic(manifestPath, JSON.stringify({ experiment: 'stop-probing', preset: presetName, settings }, null, 2) + '\n');
  }

  // checkpoint folders, and the cells that use each (an SAE's folder serves the SAE and FISTA on its decoder)
  const ckRoot = o.checkpoints === false ? undefined : join(o.out, 'checkpoints');
  const users = new Map<string, Set<string>>();
  const pending = new Set<string>();
  if (ckRoot) {
    for (const c of cells) {
      const f = stopProbingCheckpointFolder(ckRoot, c.config as StopProbingConfig, c.method);
      if (!f) continue;
      if (!users.has(f)) users.set(f, new Set());
      users.get(f)!.add(cellKey(c.config, c.method));
    }
    // cells without a successful line yet (failed cells run again)
    const stored = latestByCell(readResults(join(o.out, 'results.jsonl')).lines);
    for (const c of cells) {
      const key = cellKey(c.config, c.method);
      if (stored.get(key)?.metrics === undefined) pending.add(key);
    }
    // folders left behind by a sweep killed between a cell's line and the clean-up
    for (const [f, u] of users) if (![...u].some((k) => pending.has(k))) removeCheckpointFolder(f, ckRoot);
  }
  const cellOpts: StopProbingCellOptions = { checkpointDir: ckRoot, dlCheckpointSeconds: o.dlCheckpointSeconds, saeCheckpointEpochs: o.saeCheckpointEpochs, onNote: o.onNote, progressSeconds: o.progressSeconds };
  const summary = await runSweep({
    dir: o.out,
    cells,
    signal: o.signal,
    onProgress: (p) => {
      if (ckRoot && p.cell && p.line) {
        // the cell has its line: its folder goes once no other cell of this sweep needs it
        // (a failed cell too, so its rerun starts afresh rather than from a state that failed)
        pending.delete(cellKey(p.cell.config, p.cell.method));
        const f = stopProbingCheckpointFolder(ckRoot, p.cell.config as StopProbingConfig, p.cell.method);
        if (f && ![...users.get(f)!].some((k) => pending.has(k))) removeCheckpointFolder(f, ckRoot);
      }
      o.onProgress?.(p);
    },
    run: (cell, cache, signal, ctx) => runStopProbingCell(cell.config as StopProbingConfig, cell.method, settings, cache, signal, cellOpts, ctx),
  });
  const mine = summary.lines.filter((l): l is ResultLine => !!l);
  const rows = aggregate(mine);
  const all = readResults(summary.path).lines;
  const reportPath = writeStopProbingReport(o.out, all, { settings, preset: presetName });
  return { summary, rows, settings, reportPath };
}

/* ---------------------------------------------------------------------------------------- */
/* Report                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/** The paper's reported MCC_OOD (k = 10, N = 5000, mean of seeds 0–2), PAPERS sec. 1. */
export const PAPER_MCC_OOD: { latents: number[]; rows: Record<string, number[]> } = {
  latents: [50, 100, 500, 1000, 5000, 10000],
  rows: {
    oracle: [0.971, 0.986, 0.992, 0.993, 0.992, 0.982],
    probe: [0.751, 0.408, 0.196, 0.16, 0.102, 0.087],
    'dl-fista': [0.917, 0.945, 0.955, 0.475, 0.262, 0.338],
    'topk-sae': [0.603, 0.705, 0.212, 0.191, 0.344, 0.498],
    'relu-sae': [0.549, 0.413, 0.218, 0.183, 0.225, 0.281],
  },
};

const SWEEP_AXES: { key: 'latents' | 'active' | 'samples'; label: string; file: string }[] = [
  { key: 'latents', label: 'n (latents)', file: 'mcc_ood_vs_latents' },
  { key: 'active', label: 'k (active latents per sample)', file: 'mcc_ood_vs_active' },
  { key: 'samples', label: 'N (samples)', file: 'mcc_ood_vs_samples' },
];

/**
 * Write DIR/report.md (tables + links to SVG plots written beside it) from result lines.
 * Returns the report's path.
 */
export function writeStopProbingReport(dir: string, lines: ResultLine[], o: { settings?: StopProbingSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = STOP_PROBING_METHODS.filter((m) => rows.some((r) => r.method === m));
  const failed = lines.filter((l) => l.error !== undefined);
  const md: string[] = [];
  md.push('# Stop Probing, Start Coding — reproduction report', '');
  md.push('Protocol: docs/papers.md section 1 (compositional split; ID metrics on the validation half, OOD on the OOD set).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl, ${rows.length} config × method rows (mean ± sample std over seeds).`, '');
  const varying = varyingKeys(rows).filter((k) => k !== 'dim');
  for (const axis of SWEEP_AXES) {
    if (!varying.includes(axis.key)) continue;
    const others = varying.filter((k) => k !== axis.key);
    // one plot (and table) per combination of the other varying keys
    const combos = new Map<string, SummaryRow[]>();
    for (const r of rows) {
      const key = others.map((k) => `${k}=${r.config[k]}`).join(', ');
      if (!combos.has(key)) combos.set(key, []);
      combos.get(key)!.push(r);
    }
    for (const [combo, sub] of combos) {
      const fixed = (['latents', 'active', 'samples'] as const).filter((k) => k !== axis.key).map((k) => `${k} = ${sub[0].config[k]}`).join(', ');
      const suffix = combo ? `_${combo.replace(/[^a-z0-9]+/gi, '_')}` : '';
      const file = `${axis.file}${suffix}.svg`;
      const svg = metricPlot(sub, {
        xKey: axis.key,
        metric: 'mcc_ood',
        logX: true,
        methods,
        labels: METHOD_LABELS,
        colors: METHOD_COLORS,
        dashed: (m) => m.startsWith('fista-on-'),
        title: `MCC out of distribution vs ${axis.key} (${fixed})`,
        xLabel: axis.label,
        yLabel: 'MCC (OOD)',
        yMin: 0,
        yMax: 1,
      });
      writeFileAtomic(join(dir, file), svg);
      md.push(`## MCC_OOD against ${axis.label}${combo ? ` (${combo})` : ''}`, '', `Fixed: ${fixed}.`, '', `![MCC_OOD vs ${axis.key}](${file})`, '');
      md.push(pivotTable(sub, axis.key, 'mcc_ood', methods), '');
      md.push(pivotTable(sub, axis.key, 'mcc_id', methods), '');
    }
  }
  // the paper's table next to ours, where the configs match (k = 10, N = 5000)
  const comparable = rows.filter((r) => r.config.active === 10 && r.config.samples === 5000 && PAPER_MCC_OOD.latents.includes(r.config.latents as number));
  if (comparable.length) {
    md.push('## Against the paper (MCC_OOD, k = 10, N = 5000)', '');
    const header = ['method', 'n', 'ours', 'paper', 'difference'];
    const body: string[][] = [];
    for (const r of comparable) {
      const ref = PAPER_MCC_OOD.rows[r.method];
      if (!ref) continue;
      const p = ref[PAPER_MCC_OOD.latents.indexOf(r.config.latents as number)];
      const m = r.mean.mcc_ood;
      body.push([r.method, String(r.config.latents), Number.isFinite(m) ? m.toFixed(3) : '—', p.toFixed(3), Number.isFinite(m) ? (m - p >= 0 ? '+' : '') + (m - p).toFixed(3) : '—']);
    }
    if (body.length) {
      md.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`), '');
    }
  }
  md.push('## All metrics', '');
  md.push(summaryTable(rows, [...METRIC_NAMES]), '');
  if (failed.length) {
    md.push('## Failed cells', '');
    for (const f of failed) md.push(`- \`${f.method}\` ${JSON.stringify(f.config)}: ${f.error}`);
    md.push('');
  }
  if (o.settings) md.push('## Hyperparameters', '', '```json', JSON.stringify(o.settings, null, 2), '```', '');
  const path = join(dir, 'report.md');
  writeFileAtomic(path, md.join('\n'));
  return path;
}
