/**
 * `sparsecode bench convergence`: SAEs trained with default settings only (epochs 'auto': until
 * the held-out FVU and L0 settle, dictionary/convergence.ts) on k-sparse worlds of 80–1000 atoms
 * and 10^4–10^5 rows: steps to convergence, wall time, and how well the dictionary was recovered
 * (mean matched |cos| to the true atoms, Hungarian). Issue 14's target: >= 0.9 for TopK,
 * BatchTopK and JumpReLU. Options: --kinds topk,batchtopk,jumprelu; --worlds small,medium,large.
 */
import { backend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE, type SAEKind } from '../src/dictionary/index.js';
import { dictionaryRecovery } from '../src/metrics/dictionary.js';
import type { Bench } from './types.js';

/** The worlds of the table: atoms, dim, active per row, rows. */
const WORLDS: Record<string, { atoms: number; dim: number; k: number; rows: number }> = {
  small: { atoms: 80, dim: 40, k: 4, rows: 10_000 },
  medium: { atoms: 300, dim: 96, k: 6, rows: 30_000 },
  large: { atoms: 1000, dim: 256, k: 10, rows: 100_000 },
};

/** Unit-norm random atoms (rows of A); each row of X has exactly k active atoms with U(0, 1) magnitudes. */
function kSparseWorld(seed: number, atoms: number, dim: number, k: number, rows: number): { X: Matrix; A: Matrix } {
  const rng = new Rng(seed);
  const A = new Matrix(atoms, dim);
  rng.fork('atoms').fillNormal(A.data);
  for (let a = 0; a < atoms; a++) {
    const r = A.row(a);
    let s = 0;
    for (const v of r) s += v * v;
    for (let j = 0; j < dim; j++) r[j] /= Math.sqrt(s);
  }
  const X = new Matrix(rows, dim);
  const zr = rng.fork('codes');
  for (let i = 0; i < rows; i++) {
    for (const a of zr.choice(atoms, k)) {
      const m = zr.uniform();
      for (let j = 0; j < dim; j++) X.data[i * dim + j] += m * A.data[a * dim + j];
    }
  }
  return { X, A };
}

export const convergenceBench: Bench = {
  name: 'convergence',
  summary: 'SAEs with default settings (epochs auto) on k-sparse worlds of 80–1000 atoms, 10^4–10^5 rows: steps, seconds, matched |cos|',
  async run(ctx) {
    const kinds = String(ctx.opts.kinds ?? 'topk,batchtopk,jumprelu').split(',') as SAEKind[];
    const worlds = String(ctx.opts.worlds ?? 'small,medium,large').split(',');
    for (const wname of worlds) {
      const w = WORLDS[wname];
      if (!w) {
        ctx.note(`unknown world ${wname}; choose from ${Object.keys(WORLDS).join(', ')}`);
        continue;
      }
      const { X, A } = kSparseWorld(0, w.atoms, w.dim, w.k, w.rows);
      for (const kind of kinds) {
        if (ctx.signal.aborted) return;
        const sae = createSAE(kind, kind === 'jumprelu' || kind === 'relu' ? { atoms: w.atoms, epochs: 'auto' } : { atoms: w.atoms, k: w.k, epochs: 'auto' });
        const t0 = performance.now();
        const res = await sae.fit(X, { seed: 0, signal: ctx.signal });
        const seconds = (performance.now() - t0) / 1000;
        const rec = dictionaryRecovery(sae.getWeights().W_dec, A);
        ctx.emit({
          bench: 'convergence', backend: backend().name, world: wname, kind, ...w, steps: res.steps, converged: res.converged,
          converged_at: res.convergence?.convergedAt ?? null, held_out_fvu: res.heldOutFvu, l0: res.l0, dead: res.deadFraction,
          mean_cos: rec.meanCos, frac_090: rec.frac090, seconds,
        });
      }
    }
  },
};
