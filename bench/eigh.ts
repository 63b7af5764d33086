/**
 * `sparsecode bench eigh`: symmetric eigendecomposition (eighSym) and thin SVD (svd) in float64
 * against NumPy (numpy.linalg.eigh / eigvalsh / svd, LAPACK) measured in the same run
 * (bench/peers/eigh.py), with the ratio sparsecode / NumPy (below 1 = faster than NumPy).
 *
 * eighSym and svd run through the active backend's LAPACK (native: OpenBLAS dsyevd / dgesdd)
 * when it has one, else the JavaScript routines; each row says which ("lapack" or "js").
 * Options: --sizes N[,N...] (eigh orders; default 1024), --repeats N (default 3), --budget S
 * (default 10), --no-peers. The JavaScript reference is also timed at n <= 1024 (`lapack: false`).
 */
import { backend } from '../src/backend/index.js';
import { fail } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { eighSym, svd } from '../src/linalg/index.js';
import type { Bench } from './types.js';
import { runPeer, sig, timeIt } from './util.js';

function symmetric(n: number, seed: number): Float64Array {
  const b = new Rng(seed).fillNormal(new Float64Array(n * n)) as Float64Array;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
}

const SVD_SHAPES: [number, number][] = [[2048, 256], [1024, 1024]];
/** the JavaScript reference is timed up to this order (it takes seconds at 1024, minutes at 4096) */
const JS_MAX_N = 1024;

export const eighBench: Bench = {
  name: 'eigh',
  summary: 'eighSym (n = 1024; --sizes 1024,4096) and svd in float64 vs NumPy (LAPACK) in the same run; LAPACK through the native backend when loaded',
  async run(ctx) {
    const raw = (ctx.opts.sizes as string[] | undefined) ?? ['1024'];
    const sizes = raw.map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 2) fail('E_USAGE', `--sizes: "${s}" is not a matrix order (a whole number >= 2, e.g. 1024,4096)`);
      return n;
    });
    const repeats: number = ctx.opts.repeats ?? 3;
    const budgetS: number = ctx.opts.budget ?? 10;
    const bk = backend();
    const how = bk.symEig ? 'lapack' : 'js';
    ctx.note(`eigh: backend ${bk.name} (${bk.symEig ? 'LAPACK dsyevd/dgesdd' : 'JavaScript routines'}); NumPy runs in its own process with the same environment`);

    const ref = new Map<string, number>();
    if (ctx.opts.peers !== false) {
      const peer = runPeer('eigh.py', { eigh: sizes, svd: SVD_SHAPES, repeats, budget_s: budgetS });
      if (!peer.ok) ctx.note(`eigh: NumPy peer skipped: ${peer.reason}`);
      else {
        for (const row of peer.rows) {
          ref.set(`${row.op}/${row.n ?? row.shape}`, row.seconds as number);
          ctx.emit({ bench: 'eigh', backend: 'numpy', op: row.op, n: row.n, shape: row.shape, seconds: sig(row.seconds as number), ratio: 1, runs: row.runs, version: row.version });
        }
      }
    }
    const ratio = (key: string, s: number) => (ref.has(key) ? sig(s / ref.get(key)!, 3) : null);
    for (const n of sizes) {
      if (ctx.signal.aborted) return;
      const A = symmetric(n, n);
      for (const vectors of [false, true]) {
        const op = vectors ? 'eigh(values+vectors)' : 'eigh(values)';
        const t = timeIt(() => eighSym(A, n, { vectors }), { repeats, budgetS });
        ctx.emit({ bench: 'eigh', backend: bk.name, via: how, op, n, seconds: sig(t.median), ratio: ratio(`${op}/${n}`, t.median), runs: t.runs });
        if (how === 'lapack' && n <= JS_MAX_N) {
          const j = timeIt(() => eighSym(A, n, { vectors, lapack: false }), { repeats: 1, budgetS });
          ctx.emit({ bench: 'eigh', backend: bk.name, via: 'js', op, n, seconds: sig(j.median), ratio: ratio(`${op}/${n}`, j.median), runs: j.runs });
        }
      }
    }
    const rng = new Rng(1);
    for (const [rows, cols] of SVD_SHAPES) {
      if (ctx.signal.aborted) return;
      const M = rng.fillNormal(new Float64Array(rows * cols)) as Float64Array;
      const t = timeIt(() => svd(M, rows, cols), { repeats, budgetS });
      const shape = `${rows}x${cols}`;
      ctx.emit({ bench: 'eigh', backend: bk.name, via: bk.svdThin ? 'lapack' : 'js', op: 'svd', shape, seconds: sig(t.median), ratio: ratio(`svd/${shape}`, t.median), runs: t.runs });
    }
  },
};
