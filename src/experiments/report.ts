import { fail } from '../core/errors.js';
import { configKey, latestByCell, type CellConfig, type ResultLine } from './runner.js';
import { linePlot, PALETTE, type PlotSeries } from './svg.js';

/**
 * Turning result lines into summaries: mean and standard deviation over seeds, Markdown
 * tables and SVG plots (a metric against one config key, one line per method, error bars =
 * std over seeds).
 */

/** Results of one config (seed removed) × method, aggregated over seeds. */
export interface SummaryRow {
  /** the config without the seed key */
  config: CellConfig;
  method: string;
  /** seeds that succeeded, in the order met */
  seeds: number[];
  /** per metric: mean over the seeds that report it */
  mean: Record<string, number>;
  /** per metric: sample standard deviation (n − 1 in the denominator; 0 for one seed) */
  std: Record<string, number>;
  /** failed cells (error lines) of this config × method */
  failed: number;
}

/** Mean and sample standard deviation (n − 1; 0 when n = 1, NaN when n = 0), float64. */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = s / n;
  if (n === 1) return { mean, std: 0 };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/**
 * Group result lines by (config without `seedKey`, method) and average each metric over the
 * seeds. Duplicate lines of one cell count once (the last one wins, as on resume). Rows come
 * in the order their first line appears.
 */
export function aggregate(lines: ResultLine[], opts: { seedKey?: string } = {}): SummaryRow[] {
  const seedKey = opts.seedKey ?? 'seed';
  const latest = [...latestByCell(lines).values()];
  const groups = new Map<string, { config: CellConfig; method: string; seeds: number[]; values: Map<string, number[]>; failed: number }>();
  for (const l of latest) {
    const { [seedKey]: seed, ...rest } = l.config;
    const key = `${configKey(rest)}|${l.method}`;
    let g = groups.get(key);
    if (!g) {
      g = { config: rest, method: l.method, seeds: [], values: new Map(), failed: 0 };
      groups.set(key, g);
    }
    if (l.error !== undefined || !l.metrics) {
      g.failed++;
      continue;
    }
    g.seeds.push(typeof seed === 'number' ? seed : Number(seed));
    for (const [k, v] of Object.entries(l.metrics)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      let arr = g.values.get(k);
      if (!arr) g.values.set(k, (arr = []));
      arr.push(v);
    }
  }
  return [...groups.values()].map((g) => {
    const mean: Record<string, number> = {};
    const std: Record<string, number> = {};
    for (const [k, arr] of g.values) {
      const ms = meanStd(arr);
      mean[k] = ms.mean;
      std[k] = ms.std;
    }
    return { config: g.config, method: g.method, seeds: g.seeds, mean, std, failed: g.failed };
  });
}

/** A GitHub-flavoured Markdown table; cells are escaped for `|`. */
export function markdownTable(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const a = align ?? header.map(() => 'l');
  const lines = [`| ${header.map(esc).join(' | ')} |`, `|${a.map((x) => (x === 'r' ? '---:' : ':---')).join('|')}|`];
  for (const r of rows) {
    if (r.length !== header.length) fail('E_SHAPE', `markdownTable: a row has ${r.length} cells, the header has ${header.length}`);
    lines.push(`| ${r.map(esc).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** `0.912 ± 0.013` (3 decimals), or `—` when missing. */
export function formatMeanStd(mean: number | undefined, std: number | undefined, digits = 3): string {
  if (mean === undefined || !Number.isFinite(mean)) return '—';
  const m = mean.toFixed(digits);
  return std !== undefined && Number.isFinite(std) && std > 0 ? `${m} ± ${std.toFixed(digits)}` : m;
}

/** Config keys whose value differs between rows (the ones worth a column). */
export function varyingKeys(rows: { config: CellConfig }[]): string[] {
  const keys: string[] = [];
  const all = new Set(rows.flatMap((r) => Object.keys(r.config)));
  for (const k of all) {
    const vals = new Set(rows.map((r) => JSON.stringify(r.config[k] ?? null)));
    if (vals.size > 1) keys.push(k);
  }
  return keys;
}

/**
 * A summary table: one row per config × method, columns = the given config keys, method,
 * number of seeds, then `mean ± std` of each metric.
 */
export function summaryTable(rows: SummaryRow[], metrics: string[], keys: string[] = varyingKeys(rows)): string {
  const header = [...keys, 'method', 'seeds', ...metrics];
  const body = rows.map((r) => [
    ...keys.map((k) => String(r.config[k] ?? '')),
    r.method,
    `${r.seeds.length}${r.failed ? ` (+${r.failed} failed)` : ''}`,
    ...metrics.map((m) => formatMeanStd(r.mean[m], r.std[m])),
  ]);
  return markdownTable(header, body, [...keys.map(() => 'r' as const), 'l', 'r', ...metrics.map(() => 'r' as const)]);
}

/**
 * A pivot table of one metric: rows = methods, columns = values of `xKey` (like the paper's
 * tables). Cells `mean ± std`; `—` where missing.
 */
export function pivotTable(rows: SummaryRow[], xKey: string, metric: string, methods?: string[]): string {
  const xs = [...new Set(rows.map((r) => r.config[xKey]).filter((v) => v !== undefined))].sort((a, b) => Number(a) - Number(b));
  const ms = methods ?? [...new Set(rows.map((r) => r.method))];
  const body = ms
    .filter((m) => rows.some((r) => r.method === m))
    .map((m) => [
      m,
      ...xs.map((x) => {
        const r = rows.find((rr) => rr.method === m && rr.config[xKey] === x);
        return r ? formatMeanStd(r.mean[metric], r.std[metric]) : '—';
      }),
    ]);
  return markdownTable([`${metric} \\ ${xKey}`, ...xs.map(String)], body, ['l', ...xs.map(() => 'r' as const)]);
}

export interface MetricPlotOptions {
  xKey: string;
  metric: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  /** method order and subset (default: every method, in order met) */
  methods?: string[];
  /** display names for methods */
  labels?: Record<string, string>;
  /** colours for methods (default: the palette by position in `methods`, so colours stay put when a method is missing) */
  colors?: Record<string, string>;
  /** methods drawn dashed */
  dashed?: (method: string) => boolean;
  yMin?: number;
  yMax?: number;
}

/** SVG: `metric` against `config[xKey]`, one series per method, error bars = std over seeds. */
export function metricPlot(rows: SummaryRow[], o: MetricPlotOptions): string {
  const methods = o.methods ?? [...new Set(rows.map((r) => r.method))];
  const series: PlotSeries[] = [];
  methods.forEach((m, mi) => {
    const points = rows
      .filter((r) => r.method === m && typeof r.config[o.xKey] === 'number' && Number.isFinite(r.mean[o.metric]))
      .map((r) => ({ x: r.config[o.xKey] as number, y: r.mean[o.metric], err: r.std[o.metric] }));
    if (points.length) series.push({ name: o.labels?.[m] ?? m, points, color: o.colors?.[m] ?? PALETTE[mi % PALETTE.length], dashed: o.dashed?.(m) ?? false });
  });
  return linePlot({ series, title: o.title, xLabel: o.xLabel ?? o.xKey, yLabel: o.yLabel ?? o.metric, logX: o.logX, yMin: o.yMin, yMax: o.yMax });
}

/** A duration for progress notes: m:ss, or h:mm:ss from an hour; '?' when unknown. */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0'), ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${Math.floor(s / 60)}:${ss}`;
}
