/**
 * The sparsity / samples tables of docs/stop-probing.md from a results.jsonl: MCC_OOD mean ±
 * sample std over the seeds run (their number in brackets) per method and value of the swept
 * key, beside the reference repository's value where it has one (shrutij01/compositional-
 * sparse-ood, results/exp_vary_sparsity.json and exp_vary_samples.json: mean of its seeds
 * 0–2), then the mean seconds per cell. Cells not run (yet) show —.
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
/** The reference repository's MCC_OOD, mean of seeds 0–2 (k at n = 1000, N = 5000; N at n = 100, k = 10). */
const REFERENCE: Record<string, { xs: number[]; rows: Record<string, number[]> }> = {
  active: {
    xs: [2, 5, 10, 20, 50, 100],
    rows: {
      oracle: [0.977, 0.993, 0.993, 0.992, 0.990, 0.986],
      probe: [0.143, 0.159, 0.160, 0.155, 0.155, 0.162],
      'dl-fista': [0.744, 0.583, 0.475, 0.152, 0.134, 0.130],
      'relu-sae': [0.249, 0.227, 0.183, 0.164, 0.147, 0.139],
      'topk-sae': [0.623, 0.318, 0.191, 0.145, 0.126, 0.123],
      'jumprelu-sae': [0.112, 0.187, 0.166, 0.147, 0.149, 0.150],
      'mp-sae': [0.649, 0.226, 0.143, 0.111, 0.101, 0.103],
    },
  },
  samples: {
    xs: [100, 500, 1000, 5000, 10000, 50000, 100000],
    rows: {
      oracle: [0.985, 0.986, 0.986, 0.986, 0.986, 0.986, 0.986],
      probe: [0.459, 0.430, 0.424, 0.408, 0.410, 0.394, 0.392],
      'dl-fista': [0.485, 0.416, 0.895, 0.945, 0.936, 0.947, 0.958],
      'relu-sae': [0.446, 0.360, 0.359, 0.413, 0.424, 0.434, 0.438],
      'topk-sae': [0.479, 0.342, 0.347, 0.705, 0.752, 0.797, 0.803],
      'jumprelu-sae': [0.441, 0.350, 0.333, 0.324, 0.322, 0.317, 0.346],
      'mp-sae': [0.460, 0.278, 0.259, 0.349, 0.649, 0.688, 0.693],
    },
  },
};
const ref = (m: string, x: number): number | undefined => {
  const r = REFERENCE[key];
  const i = r ? r.xs.indexOf(x) : -1;
  return i >= 0 ? r.rows[m]?.[i] : undefined;
};
const rows = aggregate(readResults(file).lines);
const xs = [...new Set([...rows.map((r) => Number(r.config[key])), ...(REFERENCE[key]?.xs ?? [])])].sort((a, b) => a - b);
// every method run, and every method the reference has (its cells not run yet show — / ref.)
const methods = STOP_PROBING_METHODS.filter((m) => rows.some((r) => r.method === m) || REFERENCE[key]?.rows[m]);
const name = { active: 'k', samples: 'N', latents: 'n' }[key];
const cell = (m: string, x: number, f: (r: (typeof rows)[number]) => string) => {
  const r = rows.find((rr) => rr.method === m && Number(rr.config[key]) === x && rr.seeds.length > 0);
  return r ? f(r) : '—';
};
const mcc = methods.map((m) => [METHOD_LABELS[m] ?? m, ...xs.map((x) => {
  const theirs = ref(m, x);
  const refText = theirs === undefined ? '' : ` / ${theirs.toFixed(3)}`;
  return cell(m, x, (r) => {
    const sd = r.seeds.length > 1 ? ` ± ${r.std.mcc_ood.toFixed(3)}` : '';
    return `${r.mean.mcc_ood.toFixed(3)}${sd} (${r.seeds.length})${refText}`;
  }) + (rows.some((rr) => rr.method === m && Number(rr.config[key]) === x && rr.seeds.length) ? '' : refText);
})]);
console.log(markdownTable([`MCC_OOD: ours (seeds) / ref.`, ...xs.map((x) => `${name} = ${x}`)], mcc, ['l', ...xs.map(() => 'r' as const)]));
console.log('');
// seconds are not metrics: average them from the lines
const lines = readResults(file).lines.filter((l) => l.metrics);
const sec = methods.map((m) => [METHOD_LABELS[m] ?? m, ...xs.map((x) => {
  const v = lines.filter((l) => l.method === m && Number(l.config[key]) === x).map((l) => l.seconds);
  return v.length ? String(Math.round(v.reduce((a, b) => a + b, 0) / v.length)) : '—';
})]);
console.log(markdownTable([`seconds per cell (mean)`, ...xs.map((x) => `${name} = ${x}`)], sec, ['l', ...xs.map(() => 'r' as const)]));
