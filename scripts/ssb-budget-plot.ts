// F1 (and EV) against training samples for the SynthSAEBench full preset, one line per method,
// from result files of runs at different budgets, with the reference (200M samples) as markers.
//
//   node --import tsx scripts/ssb-budget-plot.ts OUT_PREFIX STEPS=FILE.jsonl [STEPS=FILE.jsonl ...]
//
// Each FILE holds `repro synth-sae-bench --preset full --steps STEPS` result lines (batch 1024:
// samples = STEPS x 1024). Writes OUT_PREFIX_f1.svg and OUT_PREFIX_ev.svg and prints a markdown
// table of F1 / MCC / EV per method and budget beside the reference.
import { readFileSync } from 'node:fs';
import { linePlot, PALETTE, type PlotSeries } from '../src/experiments/svg.js';
import { SSB_METHODS, SSB_REFERENCE } from '../src/experiments/synth-sae-bench.js';
import { writeFileAtomic } from '../src/io/atomic.js';

const BATCH = 1024, REF_SAMPLES = 200e6;
const [prefix, ...specs] = process.argv.slice(2);
if (!prefix || specs.length === 0) {
  console.error('usage: node --import tsx scripts/ssb-budget-plot.ts OUT_PREFIX STEPS=FILE.jsonl [...]');
  process.exit(2);
}
type Row = { method: string; metrics: Record<string, number> };
const runs = specs.map((s) => {
  const [steps, file] = s.split('=');
  const rows: Row[] = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  return { samples: Number(steps) * BATCH, rows };
}).sort((a, b) => a.samples - b.samples);
const methods = SSB_METHODS.filter((m) => runs.some((r) => r.rows.some((x) => x.method === m)));
const value = (m: string, samples: number, k: string) => runs.find((r) => r.samples === samples)?.rows.find((x) => x.method === m)?.metrics[k];
for (const [key, label] of [['f1', 'F1'], ['ev', 'explained variance']] as const) {
  const series: PlotSeries[] = methods.map((m, q) => ({
    name: m,
    color: PALETTE[q % PALETTE.length],
    points: runs.map((r) => ({ x: r.samples, y: value(m, r.samples, key) ?? NaN })).filter((p) => Number.isFinite(p.y)),
  }));
  // the reference at 200M samples, dashed from our largest budget
  const last = runs[runs.length - 1].samples;
  for (const [q, m] of methods.entries()) {
    const ref = (SSB_REFERENCE as Record<string, Record<string, number>>)[m]?.[key === 'f1' ? 'f1' : 'ev'];
    const y = value(m, last, key);
    if (ref !== undefined && y !== undefined) series.push({ name: `${m}: to the reference at 200M`, points: [{ x: last, y }, { x: REF_SAMPLES, y: ref }], dashed: true, color: PALETTE[q % PALETTE.length] });
  }
  writeFileAtomic(`${prefix}_${key}.svg`, linePlot({ series, title: `SynthSAEBench full preset: ${label} against training samples`, xLabel: 'training samples', yLabel: label, logX: true, yMin: 0, yMax: 1 }));
}
const head = ['method', ...runs.map((r) => `${(r.samples / 1e6).toFixed(2)}M: F1 / MCC / EV`), 'reference 200M'];
console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
for (const m of methods) {
  const ref = (SSB_REFERENCE as Record<string, Record<string, number>>)[m];
  const cells = runs.map((r) => {
    const f = (k: string) => value(m, r.samples, k)?.toFixed(3) ?? '—';
    return `${f('f1')} / ${f('mcc_dec')} / ${f('ev')}`;
  });
  console.log(`| ${m} | ${cells.join(' | ')} | ${ref ? `${ref.f1.toFixed(3)} / ${ref.mcc_dec.toFixed(3)} / ${ref.ev.toFixed(3)}` : '—'} |`);
}
