import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readResults, runSweep, type Cell, type CellConfig, type CellRun, type ResultLine, type SweepExecutor, type SweepProgress, type SweepSummary } from './runner.js';
import { aggregate, type SummaryRow } from './report.js';

/**
 * The skeleton every reproduction shares: look up the preset, merge hyperparameter overrides,
 * build the cells (`planExperiment`); pin the hyperparameters of the output folder
 * (DIR/sweep.json), run (or resume) the sweep into DIR/results.jsonl with an executor (here, or
 * on a queue of workers), aggregate over seeds and write DIR/report.md (`executePlan`).
 */

/** What a reproduction returns. */
export interface ExperimentRun<S> {
  summary: SweepSummary;
  rows: SummaryRow[];
  settings: S;
  reportPath: string;
}

/**
 * One output folder holds results of one set of hyperparameters: write DIR/sweep.json on the
 * first run, refuse (E_USAGE) a later run with other settings.
 */
export function checkManifest(out: string, experiment: string, preset: string, settings: unknown): void {
  const path = join(out, 'sweep.json');
  if (existsSync(path)) {
    let prev: { experiment?: string; settings?: unknown } = {};
    try {
      prev = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      fail('E_FORMAT', `${path} is not valid JSON; delete it or use another --out`);
    }
    if (prev.experiment && prev.experiment !== experiment) fail('E_USAGE', `${out} holds results of the ${prev.experiment} experiment; use another --out`);
    if (prev.settings && JSON.stringify(prev.settings) !== JSON.stringify(settings)) {
      fail('E_USAGE', `${out} holds results made with other hyperparameters (${path}${settingsDiff(prev.settings, settings)}); use another --out, or the preset and options those results were made with`);
    }
  } else {
    writeFileAtomic(path, JSON.stringify({ experiment, preset, settings }, null, 2) + '\n');
  }
}

/** `: key: A there, B in this run; ...` for two settings objects (as JSON holds them), else ''. */
function settingsDiff(before: unknown, now: unknown): string {
  const plain = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (JSON.parse(JSON.stringify(v)) as Record<string, unknown>) : null);
  const was = plain(before);
  const is = plain(now);
  if (!was || !is) return '';
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  const keys = [...new Set([...Object.keys(was), ...Object.keys(is)])].filter((k) => JSON.stringify(was[k]) !== JSON.stringify(is[k]));
  return keys.length ? `: ${keys.map((k) => `${k}: ${show(was[k])} there, ${show(is[k])} in this run`).join('; ')}` : '';
}

/** One experiment's pieces, for `runExperiment`. */
export interface ExperimentDef<S, P extends { settings: S }, C extends CellConfig> {
  /** the name stored in sweep.json (and the experiment's name in the registry, for queue workers) */
  name: string;
  presets: Record<string, P>;
  /** the cells of a run (validates the caller's grid, seeds and methods; throws E_USAGE) */
  cells: (preset: P, settings: S) => Cell[];
  /**
   * computes one cell's metrics; `cache` is shared within a cell group; `run` carries the
   * cell's checkpoint folder, its notes and the seconds a resumed checkpoint recorded
   */
  runCell: (config: C, method: string, settings: S, cache: Map<string, unknown>, signal?: AbortSignal, run?: CellRun) => Promise<Record<string, number>>;
  /** writes DIR/report.md (and plots) from every line of the results file; returns the report's path */
  writeReport: (dir: string, lines: ResultLine[], o: { settings: S; preset: string }) => string;
  /**
   * the checkpoint folder (a relative path) of a cell that learns, or null; cells that share a
   * trained model share its folder. Without it the cells write no checkpoints.
   */
  checkpointFolder?: (config: C, method: string) => string | null;
  /** also write each line's method under this field name (see SweepOptions.methodField) */
  methodField?: string;
}

/** An experiment definition of any settings type (the registry and the queue hold several kinds). */
export type AnyExperimentDef = ExperimentDef<any, any, any>;

/** Everything a run needs, before anything is written: the definition, the preset, the settings and the cells. */
export interface SweepPlan<S = unknown> {
  def: ExperimentDef<S, any, any>;
  preset: string;
  settings: S;
  cells: Cell[];
}

export interface ExperimentRunOptions<S> {
  out: string;
  preset?: string;
  /** hyperparameter overrides on top of the preset's (they must match what an existing `out` was made with) */
  overrides?: Partial<S>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  /** notes from inside the cells (resumed from a checkpoint, progress of long cells) */
  onNote?: (message: string) => void;
  /** checkpoints of the cells that learn in DIR/checkpoints (default true, where the experiment has them) */
  checkpoints?: boolean;
  /** seconds of wall time between a learning cell's checkpoints (default: the cell's, 60 s) */
  checkpointSeconds?: number;
  /** where the cells run (default: here, one after another; experiments/queue: on workers) */
  executor?: ExperimentExecutor;
}

/** A sweep executor that may also look at (or refuse) the plan before anything is written. */
export interface ExperimentExecutor extends SweepExecutor {
  /** called with the plan before DIR/sweep.json is checked or written; may throw to refuse it */
  prepare?: (plan: SweepPlan<unknown>) => void;
}

/** Look up the preset, merge the overrides and build the cells. Writes nothing. */
export function planExperiment<S, P extends { settings: S }, C extends CellConfig>(def: ExperimentDef<S, P, C>, o: { preset?: string; overrides?: Partial<S> }): SweepPlan<S> {
  const presetName = o.preset ?? 'quick';
  const preset = Object.hasOwn(def.presets, presetName) ? def.presets[presetName] : undefined;
  if (!preset) fail('E_USAGE', `unknown preset "${presetName}"; use ${Object.keys(def.presets).join(' or ')}`);
  const settings: S = { ...preset.settings, ...(o.overrides ?? {}) };
  return { def, preset: presetName, settings, cells: def.cells(preset, settings) };
}

/**
 * Run (or resume) a plan into `o.out`: check DIR/sweep.json, run the cells without a line with
 * the executor, then write the report (unless the executor handed the cells to a queue and
 * returned before the last one landed).
 */
export async function executePlan<S>(plan: SweepPlan<S>, o: Omit<ExperimentRunOptions<S>, 'preset' | 'overrides'>): Promise<ExperimentRun<S>> {
  const { def, settings } = plan;
  o.executor?.prepare?.(plan as SweepPlan<unknown>);
  checkManifest(o.out, def.name, plan.preset, settings);
  const folder = def.checkpointFolder;
  const summary = await runSweep({
    dir: o.out,
    cells: plan.cells,
    signal: o.signal,
    onProgress: o.onProgress,
    onNote: o.onNote,
    executor: o.executor,
    identity: { experiment: def.name, preset: plan.preset, settings },
    methodField: def.methodField,
    checkpoints: folder && o.checkpoints !== false ? { root: join(o.out, 'checkpoints'), folder: (cell) => folder(cell.config, cell.method), seconds: o.checkpointSeconds } : undefined,
    run: (cell, cache, signal, ctx) => def.runCell(cell.config, cell.method, settings, cache, signal, ctx),
  });
  const rows = aggregate(summary.lines.filter((l): l is ResultLine => !!l));
  const finished = !summary.detached || summary.pending === 0;
  const reportPath = finished ? def.writeReport(o.out, readResults(summary.path).lines, { settings, preset: plan.preset }) : join(o.out, 'report.md');
  return { summary, rows, settings, reportPath };
}

/** Run (or resume) an experiment into `o.out`, then write its report. */
export async function runExperiment<S, P extends { settings: S }, C extends CellConfig>(
  def: ExperimentDef<S, P, C>, o: ExperimentRunOptions<S>,
): Promise<ExperimentRun<S>> {
  return executePlan(planExperiment(def, o), o);
}

/**
 * The common tail of a report: the failed cells, the hyperparameters and the list of plots; then
 * DIR/report.md is written. Returns its path.
 */
export function finishReport(dir: string, md: string[], o: { lines: ResultLine[]; settings?: unknown; plots: string[] }): string {
  const failed = o.lines.filter((l) => l.error !== undefined);
  if (failed.length) {
    md.push('## Failed cells', '');
    for (const f of failed) md.push(`- \`${f.method}\` ${JSON.stringify(f.config)}: ${f.error}`);
    md.push('');
  }
  if (o.settings) md.push('## Hyperparameters', '', '```json', JSON.stringify(o.settings, null, 2), '```', '');
  if (o.plots.length) md.push(`Plots: ${o.plots.join(', ')}.`, '');
  const path = join(dir, 'report.md');
  writeFileAtomic(path, md.join('\n'));
  return path;
}
