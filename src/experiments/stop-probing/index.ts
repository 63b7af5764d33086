import { runExperiment, type ExperimentDef, type ExperimentExecutor, type ExperimentRun } from '../experiment.js';
import { checkSeeds, type SweepProgress } from '../runner.js';
import { runStopProbingCell, type StopProbingCellOptions } from './cell.js';
import { checkpointFolderName } from './checkpoints.js';
import { PRESETS, stopProbingCells, sweepGrid, type ConfigGridOptions, type Preset } from './grid.js';
import { orderMethods, type StopProbingConfig } from './methods.js';
import { writeStopProbingReport } from './report.js';
import type { StopProbingSettings } from './settings.js';

/**
 * "Stop Probing, Start Coding" (PAPERS sec. 1): compositional generalisation of codes from a
 * linear probe, SAEs, FISTA on frozen SAE decoders, dictionary learning + FISTA and the FISTA
 * oracle, in and out of distribution, swept over n (latents), k (active) and N (samples).
 *
 * The parts: `methods` (names, labels, which learner a method is), `settings` and `training`
 * (the paper's hyperparameters and learners), `grid` (presets, sweeps, cells), `cell` (one
 * method on one world), `checkpoints` (folder names), `report`; here the experiment for
 * `runExperiment`, run here or on a queue.
 */

export * from './methods.js';
export * from './settings.js';
export * from './training.js';
export * from './grid.js';
export * from './checkpoints.js';
export * from './cell.js';
export * from './report.js';

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
  /** SAEs: seconds between checkpoints [60] */
  saeCheckpointSeconds?: number;
  /** SAEs: epochs between checkpoints instead (a fixed step interval; tests of resume use it) */
  saeCheckpointEpochs?: number;
  /** notes for the user (cells resumed from checkpoints, progress inside the long cells) */
  onNote?: (message: string) => void;
  /** seconds between progress notes from inside the cells that learn [60] */
  progressSeconds?: number;
  /** where the cells run (default here; experiments/queue: on workers) */
  executor?: ExperimentExecutor;
}

export type StopProbingRun = ExperimentRun<StopProbingSettings>;

/**
 * The experiment for `runExperiment`. `grid` picks the configs, seeds and methods of a run (the
 * default: the preset's latents sweep); `cellOptions` tune checkpoint intervals and progress
 * notes, which change no result.
 */
export function stopProbingExperiment(
  grid: Omit<ConfigGridOptions, 'preset'> & { seeds?: number[]; methods?: string[] } = {},
  cellOptions: Omit<StopProbingCellOptions, 'checkpointDir' | 'onNote'> = {},
): ExperimentDef<StopProbingSettings, Preset, StopProbingConfig> {
  return {
    name: 'stop-probing',
    presets: PRESETS,
    cells: (preset) => {
      const configs = sweepGrid(preset.sweeps, grid);
      const seeds = grid.seeds?.length ? grid.seeds : preset.seeds;
      checkSeeds(seeds);
      return stopProbingCells(configs, seeds, orderMethods(grid.methods?.length ? grid.methods : preset.methods));
    },
    runCell: (config, method, settings, cache, signal, run) => runStopProbingCell(config, method, settings, cache, signal, cellOptions, run),
    writeReport: writeStopProbingReport,
    checkpointFolder: checkpointFolderName,
  };
}

/** Run (or resume) the protocol into `out`, then write report.md and the plots. */
export async function runStopProbing(o: StopProbingOptions): Promise<StopProbingRun> {
  const def = stopProbingExperiment(
    { sweep: o.sweep, latents: o.latents, active: o.active, samples: o.samples, dim: o.dim, seeds: o.seeds, methods: o.methods },
    { dlCheckpointSeconds: o.dlCheckpointSeconds, saeCheckpointEpochs: o.saeCheckpointEpochs, saeCheckpointSeconds: o.saeCheckpointSeconds, progressSeconds: o.progressSeconds },
  );
  return runExperiment(def, { ...o, overrides: o.settings });
}
