/**
 * The cross-entropy paper at its own scale (10,240 indices, batch 1024, the paper's encoder),
 * DIET only, with an R² point every 250 steps: `node --import tsx scripts/cross-entropy-full.ts [DIR]`.
 * Resumable: the cell checkpoints every 5 minutes into DIR/checkpoints/ and a rerun continues it.
 * Progress lines (step, loss, R²(h→z), ms/step) go to stderr.
 */
import { loadBackends } from '../src/backend/index.js';
import { runCrossEntropy } from '../src/experiments/cross-entropy.js';

await loadBackends();
const out = process.argv[2] ?? 'runs/cross-entropy-full';
const r = await runCrossEntropy({
  out, preset: 'full', methods: ['diet'], settings: { evalEvery: 250 },
  onNote: (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`),
});
for (const row of r.rows) console.log(JSON.stringify({ config: row.config, method: row.method, mean: row.mean }));
