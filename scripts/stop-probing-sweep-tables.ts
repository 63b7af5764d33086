/**
 * The sparsity / samples tables of docs/stop-probing.md from a results.jsonl: MCC_OOD mean ±
 * sample std over the seeds run (their number in brackets) per method and value of the swept
 * key, then the mean seconds per cell. Cells not run (yet) show —.
 *
 *   node --import tsx scripts/stop-probing-sweep-tables.ts docs/results/stop-probing-sparsity.jsonl active
 *   node --import tsx scripts/stop-probing-sweep-tables.ts docs/results/stop-probing-samples.jsonl samples
 */
import { METHOD_LABELS, STOP_PROBING_METHODS } from '../src/experiments/stop-probing/index.js';
import { readResults } from '../src/experiments/runner.js';
import { aggregate, markdownTable } from '../src/experiments/report.js';

const [file, key] = process.argv.slice(2);
if (!file || (key !== 'active' && key !== 'samples' && key !== 'latents')) {
  console.error('usage: scripts/stop-probing-sweep-tables.ts RESULTS.jsonl active|samples|latents');
  process.exit(2);
}
const rows = aggregate(readResults(file).lines);
const xs = [...new Set(rows.map((r) => Number(r.config[key])))].sort((a, b) => a - b);
const methods = STOP_PROBING_METHODS.filter((m) => rows.some((r) => r.method === m));
const name = { active: 'k', samples: 'N', latents: 'n' }[key];
const cell = (m: string, x: number, f: (r: (typeof rows)[number]) => string) => {
  const r = rows.find((rr) => rr.method === m && Number(rr.config[key]) === x && rr.seeds.length > 0);
  return r ? f(r) : '—';
};
const mcc = methods.map((m) => [METHOD_LABELS[m] ?? m, ...xs.map((x) => cell(m, x, (r) => {
  const sd = r.seeds.length > 1 ? ` ± ${r.std.mcc_ood.toFixed(3)}` : '';
  return `${r.mean.mcc_ood.toFixed(3)}${sd} (${r.seeds.length})`;
}))]);
console.log(markdownTable([`MCC_OOD (seeds)`, ...xs.map((x) => `${name} = ${x}`)], mcc, ['l', ...xs.map(() => 'r' as const)]));
console.log('');
// seconds are not metrics: average them from the lines
const lines = readResults(file).lines.filter((l) => l.metrics);
const sec = methods.map((m) => [METHOD_LABELS[m] ?? m, ...xs.map((x) => {
  const v = lines.filter((l) => l.method === m && Number(l.config[key]) === x).map((l) => l.seconds);
  return v.length ? String(Math.round(v.reduce((a, b) => a + b, 0) / v.length)) : '—';
})]);
console.log(markdownTable([`seconds per cell (mean)`, ...xs.map((x) => `${name} = ${x}`)], sec, ['l', ...xs.map(() => 'r' as const)]));
