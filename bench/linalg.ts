/**
 * `sparsecode bench linalg`: float64 dense linear algebra in pure TypeScript — symmetric
 * eigendecomposition, thin SVD, ridge, and PCA whitening fits (the backend GEMM is used for
 * the Gram matrices of ridge and whitening). Sizes via --sizes "256,512,1024" (eigh n).
 */
import { eighSym, svd, ridge } from '../src/linalg/index.js';
import { fitWhitening } from '../src/preprocess/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import type { Bench } from './types.js';
import { sig, timeIt } from './util.js';

function symmetric(n: number, seed: number): Float64Array {
  const b = new Rng(seed).fillNormal(new Float64Array(n * n)) as Float64Array;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
}

export const linalgBench: Bench = {
  name: 'linalg',
  summary: 'eighSym, svd, ridge and whitening fits (float64, pure TypeScript; Gram via the backend GEMM)',
  async run(ctx) {
    const sizes: number[] = String(ctx.opts.sizes ?? '256,512,1024').split(',').map(Number);
    const budgetS: number = ctx.opts.budget ?? 10;
    for (const n of sizes) {
      if (ctx.signal.aborted) return;
      const A = symmetric(n, n);
      const vals = timeIt(() => eighSym(A, n, { vectors: false }), { repeats: 3, budgetS });
      ctx.emit({ bench: 'linalg', op: 'eighSym(values)', n, seconds: sig(vals.median), runs: vals.runs });
      const full = timeIt(() => eighSym(A, n), { repeats: 3, budgetS });
      ctx.emit({ bench: 'linalg', op: 'eighSym(values+vectors)', n, seconds: sig(full.median), runs: full.runs });
    }
    const rng = new Rng(1);
    const [m, k] = [2048, 256];
    const S = rng.fillNormal(new Float64Array(m * k)) as Float64Array;
    for (const polish of [true, false]) {
      const t = timeIt(() => svd(S, m, k, { polish }), { repeats: 3, budgetS });
      ctx.emit({ bench: 'linalg', op: `svd(polish=${polish})`, shape: `${m}x${k}`, seconds: sig(t.median), runs: t.runs });
    }
    const X = new Matrix(20000, 256);
    rng.fillNormal(X.data);
    const Y = new Matrix(20000, 8);
    rng.fillNormal(Y.data);
    const r = timeIt(() => ridge(X, Y, 1), { repeats: 3, budgetS });
    ctx.emit({ bench: 'linalg', op: 'ridge(alpha=1)', shape: '20000x256 -> 8', seconds: sig(r.median), runs: r.runs });
    for (const method of ['pca', 'zca'] as const) {
      const w = timeIt(() => fitWhitening(X, { method }), { repeats: 3, budgetS });
      ctx.emit({ bench: 'linalg', op: `fitWhitening(${method})`, shape: '20000x256', seconds: sig(w.median), runs: w.runs });
    }
  },
};
