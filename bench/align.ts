/**
 * `sparsecode bench align`: linear CKA and RSA (correlation RDM, Spearman) on two
 * [rows x cols] float32 representations (default 10,000 x 4,096), timed against NumPy/SciPy on
 * the same data in the same run (bench/peers/align.py reads the very matrices from .npy files).
 *
 * Options: --sizes ROWSxCOLS[,...] (default 10000x4096), --repeats N (default 3),
 * --budget SECONDS per measurement (default 20), --no-peers. Memory: RSA on 10,000 samples holds
 * two 5·10⁷-entry float64 RDM triangles plus ranking scratch (about 2.5 GB per side, JS and
 * Python run one after the other).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backend } from '../src/backend/index.js';
import { linearCKA, rsa } from '../src/alignment/index.js';
import { fail } from '../src/core/errors.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import type { Bench } from './types.js';
import { runPeer, sig, timeIt } from './util.js';

function parseSize(s: string): { rows: number; cols: number } {
  const parts = s.toLowerCase().split('x').map(Number);
  if (parts.length !== 2 || parts.some((p) => !Number.isInteger(p) || p < 4)) {
    fail('E_USAGE', `--sizes: "${s}" is not ROWSxCOLS with whole numbers >= 4 (e.g. 10000x4096)`);
  }
  return { rows: parts[0], cols: parts[1] };
}

/** Two related representations: B = a noisy, partly rectified copy of A (CKA, RSA well inside (0, 1)). */
function makePair(rows: number, cols: number): { A: Matrix; B: Matrix } {
  const rng = new Rng(0);
  const A = new Matrix(rows, cols);
  rng.fillNormal(A.data);
  const B = new Matrix(rows, cols);
  const a = A.data;
  const b = B.data;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] + 0.8 * rng.normal();
    b[i] = v > 0 ? v : 0.2 * v;
  }
  return { A, B };
}

export const alignBench: Bench = {
  name: 'align',
  summary: 'linear CKA and RSA (correlation RDM, Spearman) on 10,000 x 4,096, against NumPy/SciPy',
  async run(ctx) {
    const sizes = (ctx.opts.sizes as string[] | undefined)?.map(parseSize) ?? [{ rows: 10000, cols: 4096 }];
    const repeats = ctx.opts.repeats ?? 3;
    const budgetS = ctx.opts.budget ?? 20;
    const peers = ctx.opts.peers !== false;
    for (const { rows, cols } of sizes) {
      if (ctx.signal.aborted) return;
      const { A, B } = makePair(rows, cols);
      const be = backend().name;
      const ours: Record<string, number> = {};
      for (const [metric, fn] of [
        ['linear-cka', () => linearCKA(A, B).value],
        ['rsa', () => rsa(A, B).value],
      ] as const) {
        if (ctx.signal.aborted) return;
        let value = NaN;
        const t = timeIt(() => { value = fn(); }, { repeats, budgetS });
        ours[metric] = value;
        ctx.emit({ bench: 'align', impl: 'sparsecode', backend: be, metric, rows, cols, seconds: sig(t.median), value: sig(value, 8), runs: t.runs });
      }
      if (!peers) continue;
      const dir = mkdtempSync(join(tmpdir(), 'sparsecode-bench-align-'));
      try {
        const pa = join(dir, 'a.npy');
        const pb = join(dir, 'b.npy');
        writeNpy(pa, A);
        writeNpy(pb, B);
        const r = runPeer('align.py', { a: pa, b: pb, metrics: ['linear-cka', 'rsa'], repeats, budget_s: budgetS }, { timeoutS: 1800 });
        if (!r.ok) {
          ctx.note(`numpy peer skipped: ${r.reason}`);
          continue;
        }
        for (const row of r.rows) {
          const metric = String(row.metric);
          const mine = ours[metric];
          ctx.emit({
            bench: 'align', impl: 'numpy', metric, rows, cols, seconds: sig(Number(row.seconds)), value: sig(Number(row.value), 8), runs: row.runs,
            absDiffVsOurs: sig(Math.abs(Number(row.value) - mine), 2),
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};
