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
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readResults } from '../src/experiments/runner.js';
import { PAPER_MCC_OOD, STOP_PROBING_METHODS } from '../src/experiments/stop-probing/index.js';
import { REFERENCE_ACC_OOD, writeStopProbingReport } from '../src/experiments/stop-probing/report.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: scripts/stop-probing-tables.ts RESULTS.jsonl');
  process.exit(2);
}
interface Line { config: { latents: number; active: number; samples: number; seed: number }; method: string; metrics?: Record<string, number>; seconds: number }
const lines: Line[] = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const ok = lines.filter((l) => l.metrics && l.config.active === 10 && l.config.samples === 5000);
const ns = [...new Set(ok.map((l) => l.config.latents))].sort((a, b) => a - b);
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
const cells = (m: string, n: number) => ok.filter((l) => l.method === m && l.config.latents === n);

const head = (title: string) => [`| ${title} | ${ns.map((n) => `n = ${n}`).join(' | ')} |`, `|:---|${ns.map(() => '---:').join('|')}|`];
const mcc = head('MCC_OOD: ours (seeds) / paper');
let misses = 0;
for (const m of ORDER) {
  const row = ns.map((n) => {
    const v = cells(m, n).map((l) => l.metrics!.mcc_ood);
    const ref = PAPER_MCC_OOD.rows[m]?.[PAPER_MCC_OOD.latents.indexOf(n)];
    const refS = ref !== undefined ? ` / ${ref.toFixed(3)}` : '';
    if (!v.length) return `—${refS}`;
    const { mean, sd } = stats(v);
    const miss = ref !== undefined && Math.abs(mean - ref) > target(m) ? ' ✗' : '';
    if (miss) misses++;
    return `${mean.toFixed(3)}${v.length > 1 ? ` ± ${sd.toFixed(3)}` : ''} (${v.length})${refS}${miss}`;
  });
  mcc.push(`| ${NAMES[m] ?? m} | ${row.join(' | ')} |`);
}
const sec = head('seconds per cell, mean over the seeds run');
for (const m of ORDER) {
  const row = ns.map((n) => {
    const v = cells(m, n).map((l) => l.seconds);
    return v.length ? String(Math.round(stats(v).mean)) : '—';
  });
  sec.push(`| ${NAMES[m] ?? m} | ${row.join(' | ')} |`);
}
console.log(mcc.join('\n'));
console.log(`\n${misses === 0 ? 'Every cell with a paper value is within its target.' : `${misses} cell(s) outside the target (✗).`}\n`);
console.log(sec.join('\n'));
const acc = head('acc_OOD: ours (seeds) / reference');
const accId = head('acc_ID (mean of seeds)');
for (const m of ORDER) {
  acc.push(`| ${NAMES[m] ?? m} | ${ns.map((n) => {
    const v = cells(m, n).map((l) => l.metrics!.acc_ood);
    const ref = REFERENCE_ACC_OOD.rows[m]?.[REFERENCE_ACC_OOD.latents.indexOf(n)];
    const refS = ref !== undefined ? ` / ${ref.toFixed(3)}` : '';
    if (!v.length) return `—${refS}`;
    const { mean, sd } = stats(v);
    return `${mean.toFixed(3)}${v.length > 1 ? ` ± ${sd.toFixed(3)}` : ''} (${v.length})${refS}`;
  }).join(' | ')} |`);
  accId.push(`| ${NAMES[m] ?? m} | ${ns.map((n) => {
    const v = cells(m, n).map((l) => l.metrics!.acc_id);
    return v.length ? stats(v).mean.toFixed(3) : '—';
  }).join(' | ')} |`);
}
console.log(`\n${acc.join('\n')}\n\n${accId.join('\n')}`);
const plotDir = process.argv[3];
if (plotDir) {
  const tmp = mkdtempSync(join(tmpdir(), 'sp-tables-'));
  try {
    writeStopProbingReport(tmp, readResults(file).lines);
    copyFileSync(join(tmp, 'mcc_ood_vs_latents.svg'), join(plotDir, 'mcc_ood_vs_latents.svg'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
