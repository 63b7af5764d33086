/**
 * The tables of docs/stop-probing.md ("Results of the full latents sweep") from a results.jsonl:
 * MCC_OOD mean ± sample std over the seeds run, against the paper's value and its target
 * (oracle ±0.02, probe ±0.03, learned methods ±0.10; a miss is marked ✗), seconds per cell, and
 * acc_OOD (mean ± sample std) against the reference code's committed results with acc_ID beside it.
 *
 *   node --import tsx scripts/stop-probing-tables.ts docs/results/stop-probing-latents.jsonl [PLOT_DIR]
 *
 * With PLOT_DIR, also writes the MCC_OOD-against-n plot the run report draws
 * (PLOT_DIR/mcc_ood_vs_latents.svg: docs/results/ for the docs).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readResults } from '../src/experiments/runner.js';
import { PAPER_MCC_OOD, STOP_PROBING_METHODS } from '../src/experiments/stop-probing/index.js';
import { REFERENCE_ACC_OOD, writeStopProbingReport } from '../src/experiments/stop-probing/report.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: scripts/stop-probing-tables.ts RESULTS.jsonl [PLOT_DIR]');
  process.exit(2);
}
const plotDir = process.argv[3];
if (plotDir !== undefined && !(existsSync(plotDir) && statSync(plotDir).isDirectory())) {
  console.error(`${plotDir}: not a folder; give the folder the plot goes into (docs/results for the docs)`);
  process.exit(2);
}
const read = readResults(file);
if (read.bad.length || !read.lines.length) {
  console.error(`${file}: ${read.lines.length ? `${read.bad.length} line(s) are not result lines (first: line ${read.bad[0].line})` : 'no result lines (missing or empty)'}; give a results.jsonl written by \`sparsecode repro stop-probing\` or scripts/merge-results.ts`);
  process.exit(1);
}
const lines = read.lines;
const ok = lines.filter((l) => l.metrics && l.config.active === 10 && l.config.samples === 5000);
const ns = [...new Set(ok.map((l) => l.config.latents as number))].sort((a, b) => a - b);
const NAMES: Record<string, string> = {
  oracle: 'FISTA oracle', probe: 'Linear probe', 'dl-fista': 'DL-FISTA', 'relu-sae': 'SAE ReLU', 'topk-sae': 'SAE TopK',
  'jumprelu-sae': 'SAE JumpReLU', 'mp-sae': 'SAE MP', 'fista-on-relu-sae': 'FISTA on SAE ReLU dec.', 'fista-on-topk-sae': 'FISTA on SAE TopK dec.',
  'fista-on-jumprelu-sae': 'FISTA on SAE JumpReLU dec.', 'fista-on-mp-sae': 'FISTA on SAE MP dec.',
};
const ORDER = ['oracle', 'probe', 'dl-fista', 'relu-sae', 'topk-sae', ...STOP_PROBING_METHODS.filter((m) => !['oracle', 'probe', 'dl-fista', 'relu-sae', 'topk-sae'].includes(m))];
const target = (m: string) => (m === 'oracle' ? 0.02 : m === 'probe' ? 0.03 : 0.1);
const stats = (v: number[]) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : NaN;
  return { mean, sd };
};
/** one value per seed run of method m at n */
const values = (m: string, n: number, of: (l: (typeof ok)[number]) => number) => ok.filter((l) => l.method === m && l.config.latents === n).map(of);

/** a markdown table: one row per method, one column per n */
const table = (title: string, cell: (m: string, n: number) => string) => [
  `| ${title} | ${ns.map((n) => `n = ${n}`).join(' | ')} |`,
  `|:---|${ns.map(() => '---:').join('|')}|`,
  ...ORDER.map((m) => `| ${NAMES[m] ?? m} | ${ns.map((n) => cell(m, n)).join(' | ')} |`),
].join('\n');

let misses = 0;
/** "mean ± sd (seeds) / ref", and ✗ where a tolerance is given and the mean misses ref by more */
const versus = (metric: string, ref: { latents: number[]; rows: Record<string, number[]> }, tolerance?: (m: string) => number) => (m: string, n: number) => {
  const v = values(m, n, (l) => l.metrics![metric]);
  const r = ref.rows[m]?.[ref.latents.indexOf(n)];
  const refS = r !== undefined ? ` / ${r.toFixed(3)}` : '';
  if (!v.length) return `—${refS}`;
  const { mean, sd } = stats(v);
  const miss = tolerance && r !== undefined && Math.abs(mean - r) > tolerance(m) ? ' ✗' : '';
  if (miss) misses++;
  return `${mean.toFixed(3)}${v.length > 1 ? ` ± ${sd.toFixed(3)}` : ''} (${v.length})${refS}${miss}`;
};
const meanOf = (of: (l: (typeof ok)[number]) => number, show: (x: number) => string) => (m: string, n: number) => {
  const v = values(m, n, of);
  return v.length ? show(stats(v).mean) : '—';
};

console.log(table('MCC_OOD: ours (seeds) / paper', versus('mcc_ood', PAPER_MCC_OOD, target)));
console.log(`\n${misses === 0 ? 'Every cell with a paper value is within its target.' : `${misses} cell(s) outside the target (✗).`}\n`);
console.log(table('seconds per cell, mean over the seeds run', meanOf((l) => l.seconds, (x) => String(Math.round(x)))));
console.log(`\n${table('acc_OOD: ours (seeds) / reference', versus('acc_ood', REFERENCE_ACC_OOD))}`);
console.log(`\n${table('acc_ID (mean of seeds)', meanOf((l) => l.metrics!.acc_id, (x) => x.toFixed(3)))}`);

if (plotDir) {
  const tmp = mkdtempSync(join(tmpdir(), 'sp-tables-'));
  try {
    writeStopProbingReport(tmp, lines);
    copyFileSync(join(tmp, 'mcc_ood_vs_latents.svg'), join(plotDir, 'mcc_ood_vs_latents.svg'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
