import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { readResults } from '../experiments/runner.js';
import { aggregate, varyingKeys, type SummaryRow } from '../experiments/report.js';
import { METHOD_COLORS, METHOD_LABELS, METRIC_NAMES, STOP_PROBING_METHODS } from '../experiments/stop-probing/index.js';

/** What the explorer shows of a `repro` output directory (results.jsonl, sweep.json, report.md, plots). */
export interface ExperimentView {
  experiment: string;
  preset: string | null;
  settings: unknown;
  /** result lines read, lines that could not be parsed, failed cells */
  lines: number;
  badLines: number;
  failed: { method: string; config: Record<string, unknown>; error: string }[];
  /** config × method rows, mean and std over seeds (NaN sent as null) */
  rows: SummaryRow[];
  /** config keys that vary across rows (candidate x axes) */
  varying: string[];
  methods: string[];
  metrics: string[];
  labels: Record<string, string>;
  colors: Record<string, string>;
  /** files beside the results a browser can open (report.md, *.svg) */
  files: string[];
}

/** Whether DIR looks like a repro output directory. */
export function isExperimentDir(dir: string): boolean {
  return existsSync(join(dir, 'results.jsonl')) || existsSync(join(dir, 'sweep.json'));
}

export function buildExperimentView(dir: string): ExperimentView {
  if (!isExperimentDir(dir)) fail('E_IO', `${dir} holds neither results.jsonl nor sweep.json; is it a "sparsecode repro" output directory?`);
  let manifest: { experiment?: string; preset?: string; settings?: unknown } = {};
  const mpath = join(dir, 'sweep.json');
  if (existsSync(mpath)) {
    try {
      manifest = JSON.parse(readFileSync(mpath, 'utf8'));
    } catch {
      fail('E_FORMAT', `${mpath} is not valid JSON`);
    }
  }
  const res = readResults(join(dir, 'results.jsonl'));
  const rows = aggregate(res.lines);
  const present = new Set(rows.map((r) => r.method));
  const known = STOP_PROBING_METHODS.filter((m) => present.has(m)) as string[];
  const methods = [...known, ...[...present].filter((m) => !known.includes(m))];
  const metricSet = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.mean)) metricSet.add(k);
  const metrics = [...METRIC_NAMES.filter((m) => metricSet.has(m)), ...[...metricSet].filter((m) => !(METRIC_NAMES as readonly string[]).includes(m))];
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.(svg|md|json|jsonl)$/i.test(e.name))
    .map((e) => e.name)
    .sort();
  return {
    experiment: manifest.experiment ?? 'stop-probing',
    preset: manifest.preset ?? null,
    settings: manifest.settings ?? null,
    lines: res.lines.length,
    badLines: res.bad.length,
    failed: res.lines.filter((l) => l.error !== undefined).map((l) => ({ method: l.method, config: l.config, error: l.error! })),
    rows,
    varying: varyingKeys(rows).filter((k) => k !== 'dim'),
    methods,
    metrics,
    labels: METHOD_LABELS,
    colors: METHOD_COLORS,
    files,
  };
}
