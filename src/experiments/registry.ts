import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import type { ExperimentExecutor, SweepPlan } from './experiment.js';
import { formatMeanStd, type SummaryRow } from './report.js';
import type { Cell, SweepProgress, SweepSummary } from './runner.js';
import { METRIC_NAMES, STOP_PROBING_METHODS, runStopProbing, type PresetName, type StopProbingSettings, type SweepName } from './stop-probing/index.js';
import { ALIGNMENT_SUPERPOSITION_METHODS, AS_METRICS, runAlignmentSuperposition, type AsSweepName } from './alignment-superposition.js';
import { HA_METRICS, HIDDEN_ALIGNMENT_METHODS, runHiddenAlignment } from './hidden-alignment.js';
import { AMORTISATION_METHODS, runAmortisationGap, type AmortisationSetting } from './amortisation-gap.js';
import { WHITENING_METHODS, WHITENING_METRICS, runWhiteningRepro } from './whitening.js';
import { INTERPRETABILITY_METHODS, runInterpretabilityRepro } from './interpretability.js';
import { RUNG_METHODS, runCausalRungsRepro } from './causal-rungs.js';
import { FF_METHODS, runFederatedFactory } from './federated-factory.js';
import { SSB_JUMPRELU_LOSSES, SSB_METHODS, runSynthSAEBenchRepro, type JumpReluLoss, type SsbSettings } from './synth-sae-bench.js';
import { LEJEPA_METRICS, LEJEPA_OBJECTIVES, runLejepaRepro } from './lejepa.js';
import { RICH_LAZY_METHODS, runRichLazy } from './rich-lazy.js';
import { CROSS_ENTROPY_METHODS, runCrossEntropy } from './cross-entropy.js';
import { SLOWVAE_METHODS, runSlowVae } from './slowvae.js';
import { RESTRAV_METHODS, RESTRAV_METRICS, runRestrav } from './restrav.js';
import { PHYIP_METHODS, PHYIP_METRICS, runPhyip } from './phyip.js';

/**
 * The registry of reproductions: every experiment `sparsecode repro` runs, with the options it
 * accepts and how its summary is printed. It lives below the CLI so that queue workers find an
 * experiment by the name in a job and rebuild its cell function (`experimentPlan`).
 */

/** Parsed command-line options (the CLI's Opts). */
export type ReproOptions = Record<string, any>;

/** What every experiment's run function gets from the driver. */
export interface ReproRunArgs {
  out: string;
  preset: 'quick' | 'full';
  seeds: number[] | undefined;
  methods: string[] | undefined;
  signal: AbortSignal;
  onProgress: (p: SweepProgress) => void;
  /** one-line notes from inside a cell (e.g. "resumed from its checkpoint at step ...") */
  onNote: (message: string) => void;
  /** where the cells run (default here); run() hands it on to runExperiment with the other options */
  executor?: ExperimentExecutor;
  /** seconds between the in-cell checkpoints of the cells that learn (`--checkpoint-seconds`) */
  checkpointSeconds?: number;
}

/** One `repro` experiment: what it accepts, how to run it and how to print its summary. */
export interface ReproExperiment {
  name: string;
  /** options it accepts besides the shared ones (REPRO_SHARED); any other option is refused (exit 2) */
  options: readonly string[];
  /** the values --methods may take, and how the usage error lists them */
  methods: readonly string[];
  methodsHint?: string;
  /** the values --sweep may take (when `sweep` is accepted) */
  sweeps?: readonly string[];
  run: (o: ReproOptions, a: ReproRunArgs) => Promise<{ summary: SweepSummary; rows: SummaryRow[]; reportPath: string }>;
  /** the progress bar's "last cell" text (default: method and config as JSON) */
  progressLabel?: (cell: Cell) => string;
  /** stdout table: config columns (header, key, alignment), then method, seeds and these metrics (those present) */
  columns: { header: string; key: string; align?: 'l' | 'r' }[];
  metrics: readonly string[];
  /** one metric's table cell (default mean ± std, 3 decimals) */
  format?: (r: SummaryRow, metric: string) => string;
  /** --json prints only { rows } (stop-probing's historical output) instead of { experiment, rows, results, report } */
  jsonRowsOnly?: boolean;
  /** what the experiment calls its methods (e.g. `objective`): the --json rows' field and the table's column */
  methodField?: string;
}

/** Options every experiment accepts. */
export const REPRO_SHARED = ['preset', 'seeds', 'methods', 'out', 'json', 'queue', 'wait', 'attempts'];
/** Integer options that must be >= 1 where accepted. */
export const REPRO_POSITIVE = ['epochs', 'steps'];

/**
 * The experiments of `sparsecode repro`, by name. An entry's `run` hands its options (with the
 * executor) to the experiment's run function, which runs through `runExperiment`: that is all a
 * queue worker needs to run its cells (`experimentPlan`).
 */
export const EXPERIMENTS: ReproExperiment[] = [
  {
    name: 'stop-probing',
    options: ['sweep', 'latents', 'active', 'samples', 'dim', 'epochs', 'checkpoint-seconds', 'dl-dead-atoms'],
    methods: STOP_PROBING_METHODS,
    sweeps: ['latents', 'sparsity', 'samples'],
    run: (o, a) => {
      const settings: Partial<StopProbingSettings> = {};
      if (o.epochs !== undefined) settings.saeEpochs = o.epochs as number;
      const dead = o['dl-dead-atoms'];
      if (dead !== undefined) {
        if (dead !== 'zero' && dead !== 'redraw') fail('E_USAGE', `--dl-dead-atoms must be redraw or zero, got ${String(dead)}`);
        // 'redraw' (the default) is the setting's absence: sweep.json files written before it existed match
        if (dead === 'zero') settings.dlDeadAtoms = 'zero';
      }
      return runStopProbing({
        ...a, preset: a.preset as PresetName, sweep: o.sweep as SweepName | undefined, latents: o.latents, active: o.active, samples: o.samples, dim: o.dim,
        settings: Object.keys(settings).length > 0 ? settings : undefined,
      });
    },
    progressLabel: (c) => `${c.method} n=${c.config.latents} seed=${c.config.seed}`,
    columns: [{ header: 'n', key: 'latents' }, { header: 'k', key: 'active' }, { header: 'N', key: 'samples' }],
    metrics: METRIC_NAMES,
    jsonRowsOnly: true,
  },
  {
    name: 'alignment-superposition',
    options: ['sweep', 'latents', 'dims', 'active', 'samples'],
    methods: ALIGNMENT_SUPERPOSITION_METHODS,
    sweeps: ['dims', 'latents'],
    run: (o, a) => runAlignmentSuperposition({
      ...a, sweeps: o.sweep ? [o.sweep as AsSweepName] : undefined, latents: o.latents, dims: o.dims, active: o.active, samples: o.samples,
    }),
    columns: [{ header: 'n', key: 'latents' }, { header: 'm', key: 'dim' }, { header: 'k', key: 'active' }],
    metrics: AS_METRICS,
  },
  {
    name: 'hidden-alignment',
    options: ['hidden'],
    methods: HIDDEN_ALIGNMENT_METHODS,
    run: (o, a) => runHiddenAlignment({ ...a, hidden: o.hidden }),
    columns: [{ header: 'hidden', key: 'hidden' }],
    metrics: HA_METRICS,
  },
  {
    name: 'amortisation-gap',
    options: ['setting', 'steps'],
    methods: AMORTISATION_METHODS,
    run: (o, a) => runAmortisationGap({
      ...a, settings: o.setting ? [o.setting as AmortisationSetting] : undefined, overrides: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    columns: [{ header: 'D', key: 'setting', align: 'l' }],
    metrics: ['mcc', 'dict_cos', 'flops_inference', 'flops_total', 'gap', 'gap_rel'],
    format: (r, m) => (m.startsWith('flops') ? (Number.isFinite(r.mean[m]) ? r.mean[m].toExponential(2) : '—') : formatMeanStd(r.mean[m], r.std[m], m === 'gap' ? 5 : 3)),
  },
  {
    name: 'whitening',
    options: ['conditions', 'whiten'],
    methods: ['relu-sae', 'topk-sae', ...WHITENING_METHODS],
    methodsHint: `relu-sae, topk-sae or one of ${WHITENING_METHODS.join(', ')}`,
    run: (o, a) => runWhiteningRepro({ ...a, conditions: o.conditions, preprocessings: o.whiten }),
    progressLabel: (c) => `${c.method} κ=${c.config.condition} seed=${c.config.seed}`,
    columns: [{ header: 'κ', key: 'condition' }],
    metrics: WHITENING_METRICS.filter((m) => m !== 'dict_cos_train'),
  },
  {
    name: 'interpretability',
    options: ['ratios', 'worlds'],
    methods: INTERPRETABILITY_METHODS,
    run: (o, a) => runInterpretabilityRepro({ ...a, ratios: o.ratios, worlds: o.worlds }),
    progressLabel: (c) => `${c.method} ${c.config.world} F/U=${c.config.ratio} seed=${c.config.seed}`,
    columns: [{ header: 'world', key: 'world', align: 'l' }, { header: 'F/U', key: 'ratio' }, { header: 'F', key: 'concepts' }],
    metrics: ['mis', 'mis_alpha', 'frac_mis090', 'dead'],
  },
  {
    name: 'causal-rungs',
    options: [],
    methods: RUNG_METHODS,
    run: (_o, a) => runCausalRungsRepro(a),
    progressLabel: (c) => `${c.method} seed=${c.config.seed}`,
    columns: [],
    metrics: ['holds_id', 'holds_ood', 'holds_mech', 'holds_cov', 'err_id', 'err_ood'],
  },
  {
    name: 'federated-factory',
    options: ['clients', 'generator'],
    methods: FF_METHODS,
    run: (o, a) => runFederatedFactory({ ...a, clients: o.clients, generators: o.generator }),
    progressLabel: (c) => `${c.method} K=${c.config.clients} seed=${c.config.seed}`,
    columns: [{ header: 'clients', key: 'clients' }],
    metrics: ['acc', 'auroc', 'bytes_per_client', 'unlearned_recall', 'unlearn_exact'],
    format: (r, m) => (m === 'bytes_per_client' ? (Number.isFinite(r.mean[m]) ? Math.round(r.mean[m]).toString() : '—') : formatMeanStd(r.mean[m], r.std[m])),
    jsonRowsOnly: true,
  },
  {
    name: 'synth-sae-bench',
    options: ['steps', 'lr', 'jumprelu-loss'],
    methods: SSB_METHODS,
    run: (o, a) => {
      const settings: Partial<SsbSettings> = {};
      if (o.steps !== undefined) settings.steps = o.steps as number;
      if (o.lr !== undefined) {
        if (!(typeof o.lr === 'number' && Number.isFinite(o.lr) && o.lr > 0 && o.lr < 1)) fail('E_USAGE', `--lr must be a learning rate in (0, 1), got ${o.lr}; e.g. --lr 1e-3`);
        settings.lr = o.lr;
      }
      if (o['jumprelu-loss'] !== undefined) {
        const loss = o['jumprelu-loss'] as JumpReluLoss;
        if (!SSB_JUMPRELU_LOSSES.includes(loss)) fail('E_USAGE', `--jumprelu-loss must be one of ${SSB_JUMPRELU_LOSSES.join(', ')}, got ${String(loss)}`);
        settings.jumpreluLoss = loss;
      }
      return runSynthSAEBenchRepro({ ...a, settings: Object.keys(settings).length > 0 ? settings : undefined });
    },
    progressLabel: (c) => `${c.method} seed=${c.config.seed}`,
    columns: [],
    metrics: ['f1', 'mcc_dec', 'ev', 'l0', 'dead_fraction', 'absorption'],
  },
  {
    name: 'lejepa',
    options: ['experiment', 'objectives', 'steps', 'latents', 'alphas'],
    methods: LEJEPA_OBJECTIVES,
    run: (o, a) => runLejepaRepro({
      ...a, experiments: o.experiment, objectives: o.objectives ?? a.methods, latents: o.latents, alphas: (o.alphas as string[] | undefined)?.map(Number),
      settings: o.steps !== undefined ? { steps: o.steps as number, matchedSteps: o.steps as number } : undefined,
    }),
    progressLabel: (c) => `${c.method} ${c.config.experiment} ${c.config.mixing} N=${c.config.latents} α=${c.config.alpha} seed=${c.config.seed}`,
    columns: [{ header: 'experiment', key: 'experiment', align: 'l' }, { header: 'mixing', key: 'mixing', align: 'l' }, { header: 'α', key: 'alpha' }, { header: 'N', key: 'latents' }, { header: 'ρ', key: 'rho' }, { header: 'λ', key: 'lambda' }],
    metrics: LEJEPA_METRICS,
    format: (r, m) => formatMeanStd(r.mean[m], r.std[m], m.startsWith('r2') ? 4 : 3),
    jsonRowsOnly: true,
    methodField: 'objective',
  },
  {
    name: 'restrav',
    options: [],
    methods: RESTRAV_METHODS,
    run: (_o, a) => runRestrav(a),
    progressLabel: (c) => `${c.method} strength=${c.config.strength} seed=${c.config.seed}`,
    columns: [{ header: 'strength', key: 'strength' }],
    metrics: RESTRAV_METRICS,
    format: (r, m) => formatMeanStd(r.mean[m], r.std[m], m.startsWith('curvature') ? 1 : 3),
    jsonRowsOnly: true,
  },
  {
    name: 'phyip',
    options: [],
    methods: PHYIP_METHODS,
    run: (_o, a) => runPhyip(a),
    progressLabel: (c) => `${c.method} seed=${c.config.seed}`,
    columns: [],
    metrics: PHYIP_METRICS,
    format: (r, m) => (m === 'ssl_eps_ood' ? (Number.isFinite(r.mean[m]) ? r.mean[m].toExponential(2) : '—') : formatMeanStd(r.mean[m], r.std[m], m.startsWith('mape') ? 1 : 3)),
    jsonRowsOnly: true,
  },
  {
    name: 'rich-lazy',
    options: ['deltas', 'taus', 'steps'],
    methods: RICH_LAZY_METHODS,
    run: (o, a) => runRichLazy({
      ...a, deltas: numberList('deltas', o.deltas), taus: numberList('taus', o.taus), settings: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    progressLabel: (c) => (c.method === 'single-neuron' ? `single-neuron ${c.config.figure}` : `two-layer-relu δ=${c.config.delta} τ=${c.config.tau} seed=${c.config.seed}`),
    columns: [{ header: 'figure', key: 'figure', align: 'l' }, { header: 'δ', key: 'delta' }, { header: 'τ', key: 'tau' }],
    metrics: ['max_abs_theory_error', 'max_delta_drift', 'implicit_bias_error', 'kernel_distance', 'test_loss'],
    format: (r, m) => (!Number.isFinite(r.mean[m]) ? '—' : m.startsWith('max_') || m === 'implicit_bias_error' ? r.mean[m].toExponential(2) : formatMeanStd(r.mean[m], r.std[m], m === 'test_loss' ? 5 : 3)),
    jsonRowsOnly: true,
  },
  {
    name: 'cross-entropy',
    options: ['indices', 'clusters', 'kappa', 'steps'],
    methods: CROSS_ENTROPY_METHODS,
    run: (o, a) => runCrossEntropy({
      ...a, indices: o.indices,
      settings: {
        ...(o.steps !== undefined ? { steps: o.steps as number } : {}),
        ...(o.clusters !== undefined ? { clusters: o.clusters as number } : {}),
        ...(o.kappa !== undefined ? { kappa: o.kappa as number } : {}),
      },
    }),
    progressLabel: (c) => `${c.method} N_idx=${c.config.indices} seed=${c.config.seed}`,
    columns: [{ header: 'N_idx', key: 'indices' }],
    metrics: ['r2_hz', 'r2_xz', 'r2_w', 'knn_acc', 'probe_acc', 'knn_acc_before', 'probe_acc_before'],
    jsonRowsOnly: true,
  },
  {
    name: 'slowvae',
    options: ['world', 'rates', 'steps'],
    methods: SLOWVAE_METHODS,
    run: (o, a) => runSlowVae({
      ...a, worlds: o.world, rates: numberList('rates', o.rates), settings: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    progressLabel: (c) => `${c.method} ${c.config.world} rate=${c.config.rate} seed=${c.config.seed}`,
    columns: [{ header: 'world', key: 'world', align: 'l' }, { header: 'rate', key: 'rate' }],
    metrics: ['mcc', 'mcc_continuous', 'recon', 'kl_normal'],
    jsonRowsOnly: true,
  },
];

export function findExperiment(name: string): ReproExperiment | undefined {
  return EXPERIMENTS.find((e) => e.name === name);
}

/** Thrown by the planning executor to stop a run at its plan, before anything is written. */
class PlanReached extends Error {
  constructor(readonly plan: SweepPlan<unknown>) {
    super('plan reached');
  }
}

/**
 * An experiment's plan (its definition, preset, settings and cells) for these options, found
 * by running its entry up to the point where runExperiment would start: nothing is computed
 * or written. Refuses (E_USAGE) an experiment whose run does not hand its executor on to
 * runExperiment (it could not run on a queue).
 */
export async function experimentPlan(ex: ReproExperiment, o: ReproOptions = {}, a: Partial<Omit<ReproRunArgs, 'executor'>> = {}): Promise<SweepPlan<unknown>> {
  const planner: ExperimentExecutor = {
    name: 'plan',
    prepare: (plan) => {
      throw new PlanReached(plan);
    },
    execute: async () => ({ cancelled: true }),
  };
  // an experiment that ignores the executor would start running: give it a cancelled signal
  // and a throw-away folder, so that it stops before its first cell and leaves nothing behind
  const stop = new AbortController();
  stop.abort();
  const out = mkdtempSync(join(tmpdir(), 'sparsecode-plan-'));
  try {
    await ex.run(o, {
      out, preset: 'quick', seeds: undefined, methods: undefined, onProgress: () => {}, onNote: () => {}, ...a,
      signal: stop.signal, executor: planner,
    });
  } catch (e) {
    if (e instanceof PlanReached) return e.plan;
    throw e;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  fail('E_USAGE', `experiment ${ex.name} does not hand its executor to runExperiment, so its cells cannot run on a queue; run it without --queue`);
}

/** A comma list of numbers given as a string list (--deltas -1,0,1). */
function numberList(flag: string, v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  return (v as string[]).map((s) => {
    const x = Number(s);
    if (s.trim() === '' || !Number.isFinite(x)) fail('E_USAGE', `--${flag} needs comma-separated numbers, got "${s}"`);
    return x;
  });
}
