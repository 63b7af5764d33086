import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readResults, runSweep, type Cell, type CellConfig, type ResultLine, type SweepProgress, type SweepSummary } from './runner.js';
import { aggregate, type SummaryRow } from './report.js';

/**
 * The skeleton every reproduction shares: look up the preset, merge hyperparameter overrides,
 * build the cells, pin the hyperparameters of the output folder (DIR/sweep.json), run (or resume)
 * the sweep into DIR/results.jsonl, aggregate over seeds and write DIR/report.md.
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
      fail('E_USAGE', `${out} holds results made with other hyperparameters (${path}); use another --out, or the same --preset as before`);
    }
  } else {
    writeFileAtomic(path, JSON.stringify({ experiment, preset, settings }, null, 2) + '\n');
  }
}

/** One experiment's pieces, for `runExperiment`. */
export interface ExperimentDef<S, P extends { settings: S }, C extends CellConfig> {
  /** the name stored in sweep.json */
  name: string;
  presets: Record<string, P>;
  /** the cells of a run (validates the caller's grid, seeds and methods; throws E_USAGE) */
  cells: (preset: P, settings: S) => Cell[];
  /** computes one cell's metrics; `cache` is shared within a cell group */
  runCell: (config: C, method: string, settings: S, cache: Map<string, unknown>, signal?: AbortSignal) => Promise<Record<string, number>>;
  /** also write each line's method under this field name (see SweepOptions.methodField) */
  methodField?: string;
  /** writes DIR/report.md (and plots) from every line of the results file; returns the report's path */
  writeReport: (dir: string, lines: ResultLine[], o: { settings: S; preset: string }) => string;
}

export interface ExperimentRunOptions<S> {
  out: string;
  preset?: string;
  /** hyperparameter overrides on top of the preset's (they must match what an existing `out` was made with) */
  overrides?: Partial<S>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

/** Run (or resume) an experiment into `o.out`, then write its report. */
export async function runExperiment<S, P extends { settings: S }, C extends CellConfig>(
  def: ExperimentDef<S, P, C>, o: ExperimentRunOptions<S>,
): Promise<ExperimentRun<S>> {
  const presetName = o.preset ?? 'quick';
  const preset = Object.hasOwn(def.presets, presetName) ? def.presets[presetName] : undefined;
  if (!preset) fail('E_USAGE', `unknown preset "${presetName}"; use quick or full`);
  const settings: S = { ...preset.settings, ...(o.overrides ?? {}) };
  const cells = def.cells(preset, settings);
  checkManifest(o.out, def.name, presetName, settings);
  const summary = await runSweep({
    dir: o.out,
    cells,
    signal: o.signal,
    onProgress: o.onProgress,
    methodField: def.methodField,
    run: (cell, cache, signal) => def.runCell(cell.config as C, cell.method, settings, cache, signal),
  });
  const rows = aggregate(summary.lines.filter((l): l is ResultLine => !!l));
  const reportPath = def.writeReport(o.out, readResults(summary.path).lines, { settings, preset: presetName });
  return { summary, rows, settings, reportPath };
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
