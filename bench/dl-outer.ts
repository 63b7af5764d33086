/**
 * `sparsecode bench dl-outer`: one DL-FISTA outer step at the Stop-Probing sizes, against the
 * same step written the obvious dense way in NumPy and PyTorch (bench/peers/dl_outer.py).
 *
 * Problem, per n in --latents (default 1000,5000; 10000 allowed): the Stop-Probing world
 * superpositionWorld({latents: n, active: 10, samples: 5000, seed: 0, split: 'compositional'})
 * (dim ⌈2k·ln(n/k)⌉: 93 at 1000, 125 at 5000), X = world.X.val (2500 rows), n atoms, λ = 0.1,
 * non-negative codes, ridge 1e-6, a seeded random unit-norm D0.
 *
 * Warm start (untimed): learnDictionaryFista(X, {atoms: n, lambda: 0.1, fistaIters: 100,
 * maxOuter: --warm (default 3), tol: 0, nonneg: true, init: D0, seed: 0}) — the learner the
 * experiment runs — gives a dictionary D_w and its codes Z_w, so the timed steps see realistic
 * sparse iterates. Its onProgress timestamps give `libStepSeconds` (median of the warm steps
 * after the first, including the learner's progress loss) as a cross-check.
 *
 * One outer step, ours: the learner's loop body with the library functions it calls (and no
 * progress loss, as in the experiment, which passes no onProgress): fista(X, D, {lambda,
 * iters: 100, tol: 0, nonneg: true, init: Z, objective: false, lipschitz: lipschitzViaGram(D)})
 * (gradient 'auto': 'sparse-gram', the Gram iteration row by row through the iterates' nonzeros,
 * once the warm codes are sparse; else 'direct', Y·D through the nonzeros), ModSolver.update
 * (sparse float64 Gram + LAPACK Cholesky; the dual form when atoms > samples), normalizeRows.
 * From (D_w, Z_w): one untimed step (the warm-up, and the agreement step), then --steps
 * (default 3) timed steps; the row reports their median.
 *
 * Peers: the same (D_w, Z_w) and X as .npy; NumPy (and PyTorch CPU when importable) do FISTA
 * densely in float32 (R = Y@D − X; V = Y − R@Dᵀ/L; Z = max(V − λ/L, 0); momentum), L = ‖D‖₂²
 * in float64 once per step, MOD in float64 (dense Gram, Cholesky solve), renormalise. Their
 * first step is from the same state as ours; `maxAbsDeltaD` is max |D_ours − D_peer| after it
 * (rows that went to zero and were re-drawn on either side are excluded and counted as
 * `redrawn`), `relDeltaD` the relative Frobenius difference. Then --steps timed steps; the row
 * reports their median and speedup = peer seconds / our seconds. Threads: our backend's count;
 * the peers get OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = the core count
 * (unless set) and torch.set_num_threads(cores).
 * Every row reports the load average: compare ratios taken in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { backend } from '../src/backend/index.js';
import { fail } from '../src/core/errors.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpyMatrix, writeNpy } from '../src/io/npy.js';
import { fista } from '../src/inference/fista.js';
import { learnDictionaryFista, lipschitzViaGram } from '../src/dictionary/dl-fista.js';
import { normalizeRows, randomUnitRows } from '../src/linalg/rows.js';
import { ModSolver } from '../src/dictionary/mod.js';
import { superpositionWorld } from '../src/worlds/index.js';
import type { Bench } from './types.js';
import { cores, median, runPeer, sig } from './util.js';

const now = (): number => performance.now() / 1000;

/** Mean nonzeros per row of Z. */
function l0(Z: Matrix): number {
  let nnz = 0;
  for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nnz++;
  return nnz / Z.rows;
}

/**
 * max |A − B| and ‖A − B‖_F / ‖A‖_F over the rows where neither side is all zero (the peer
 * writes the rows it would re-draw as zeros; ours are flagged in `ourRedrawn`).
 */
function compare(A: Matrix, B: Matrix, ourRedrawn: Uint8Array): { maxAbs: number; rel: number; skipped: number } {
  let maxAbs = 0, diff = 0, base = 0, skipped = 0;
  const d = A.cols;
  for (let r = 0; r < A.rows; r++) {
    let bz = true;
    for (let c = 0; c < d; c++) if (B.data[r * d + c] !== 0) bz = false;
    if (bz || ourRedrawn[r]) {
      skipped++;
      continue;
    }
    for (let c = 0; c < d; c++) {
      const v = A.data[r * d + c] - B.data[r * d + c];
      if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
      diff += v * v;
      base += A.data[r * d + c] ** 2;
    }
  }
  return { maxAbs, rel: Math.sqrt(diff / Math.max(base, 1e-300)), skipped };
}

export const dlOuterBench: Bench = {
  name: 'dl-outer',
  summary: 'one DL-FISTA outer step (100 warm-started FISTA iterations + MOD + renormalise) at the Stop-Probing sizes (2500 rows, 1000/5000 atoms) vs the same step dense in NumPy and PyTorch',
  async run(ctx) {
    const latentsList: number[] = ctx.opts.latents ?? [1000, 5000];
    const steps: number = ctx.opts.steps ?? 3;
    const warm: number = ctx.opts.warm ?? 3;
    const lambda = 0.1;
    const fistaIters = 100;
    const ridge = 1e-6;
    const active = 10;
    for (const n of latentsList) {
      if (!Number.isInteger(n) || n < 2 * active || n > 10000) fail('E_USAGE', `--latents: ${n} is out of range; use whole numbers from ${2 * active} to 10000 (e.g. 1000,5000)`);
    }
    if (!Number.isInteger(steps) || steps < 1) fail('E_USAGE', `--steps must be a whole number >= 1, got ${steps}`);
    if (!Number.isInteger(warm) || warm < 1) fail('E_USAGE', `warm must be a whole number >= 1, got ${warm}`);
    const b = backend();
    const c = String(cores());
    const env: Record<string, string> = {
      OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? c,
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? c,
      MKL_NUM_THREADS: process.env.MKL_NUM_THREADS ?? c,
    };
    ctx.note(`dl-outer: latents ${latentsList.join(', ')}; ${warm} warm-up outer steps, 1 untimed + ${steps} timed; λ ${lambda}, ${fistaIters} FISTA iterations, nonneg, ridge ${ridge}; backend ${b.name} (${b.threads ?? 1} threads), ${cores()} cores; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

    for (const n of latentsList) {
      if (ctx.signal.aborted) return;
      const world = superpositionWorld({ latents: n, active, samples: 5000, seed: 0, split: 'compositional' });
      const X = world.X.val;
      const d = X.cols, rows = X.rows;
      const D0 = randomUnitRows(n, d, new Rng(1));

      // warm start with the learner itself
      const stamps: number[] = [];
      const tw = now();
      const warmRun = await learnDictionaryFista(X, { atoms: n, lambda, fistaIters, maxOuter: warm, tol: 0, nonneg: true, init: D0, seed: 0, signal: ctx.signal, onProgress: () => stamps.push(now()) });
      const warmSeconds = now() - tw;
      const libSteps = stamps.slice(1).map((s, i) => s - stamps[i]);
      const Dw = warmRun.D.clone();
      const Zw = warmRun.Z.clone();

      // our outer step: the learner's loop body
      const gramBuf = new Float64Array(Math.min(n, d) ** 2);
      const mod = new ModSolver(rows, n, d, ridge);
      const redrawRng = new Rng(0).fork('redraw');
      let D = Dw.clone();
      let Dnew = new Matrix(n, d);
      let Z: Matrix = Zw.clone();
      let gradient = '';
      let denseRows = 0;
      const step = (): number => {
        const r = fista(X, D, { lambda, iters: fistaIters, tol: 0, nonneg: true, init: Z, objective: false, lipschitz: lipschitzViaGram(D, gramBuf) });
        Z = r.Z;
        gradient = r.gradient;
        denseRows = r.denseRows;
        if (!mod.update(Z, X, Dnew)) fail('E_ARG', `dl-outer: the MOD update failed at ${n} atoms`);
        const redrawn = normalizeRows(Dnew, { redraw: redrawRng, eps: 1e-10 });
        const t = D;
        D = Dnew;
        Dnew = t;
        return redrawn;
      };
      // the first step: warm-up and the agreement state; flag our re-drawn rows (zero before normalising)
      const t1 = now();
      step();
      const firstSeconds = now() - t1;
      const D1 = D.clone();
      const ourRedrawn = new Uint8Array(n);
      {
        // rows re-drawn by normalizeRows have no nonzero code in Z (the MOD row is then zero)
        const used = new Uint8Array(n);
        for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) if (Z.data[i * n + j] !== 0) used[j] = 1;
        for (let j = 0; j < n; j++) ourRedrawn[j] = used[j] ? 0 : 1;
      }
      const l0First = l0(Z);
      const times: number[] = [];
      let redrawnTimed = 0;
      for (let s = 0; s < steps && !ctx.signal.aborted; s++) {
        const t0 = now();
        redrawnTimed += step();
        times.push(now() - t0);
      }
      if (ctx.signal.aborted) return;
      const ours = median(times);
      const load = () => sig(loadavg()[0], 3);
      ctx.emit({
        bench: 'dl-outer', latents: n, rows, dim: d, impl: `sparsecode (${b.name})`, threads: b.threads ?? 1,
        secondsPerStep: sig(ours), minSeconds: sig(Math.min(...times)), firstStepSeconds: sig(firstSeconds), steps: times.length,
        libStepSeconds: libSteps.length ? sig(median(libSteps)) : null, warmSeconds: sig(warmSeconds),
        l0: sig(l0First, 3), l0End: sig(l0(Z), 3), gradient, denseRows, modSparse: `${mod.sparseUpdates}/${mod.updates}`, dual: mod.dual, redrawn: redrawnTimed, load: load(),
      });

      if (ctx.opts.peers === false) continue;
      const dir = mkdtempSync(join(tmpdir(), 'sparsecode-bench-dl-outer-'));
      try {
        writeNpy(join(dir, 'X.npy'), X);
        writeNpy(join(dir, 'D.npy'), Dw);
        writeNpy(join(dir, 'Z.npy'), Zw);
        const peer = runPeer('dl_outer.py', { x: join(dir, 'X.npy'), d: join(dir, 'D.npy'), z: join(dir, 'Z.npy'), lambda, iters: fistaIters, ridge, steps, threads: cores(), out: dir }, { env, timeoutS: 1800 });
        if (!peer.ok) {
          ctx.note(`dl-outer: Python peers skipped: ${peer.reason}`);
          continue;
        }
        for (const r of peer.rows) {
          if (r.unavailable) {
            ctx.note(`dl-outer: ${r.impl} skipped: ${r.unavailable}`);
            continue;
          }
          const sec = r.seconds_per_step as number;
          const cmp = compare(D1, readNpyMatrix(r.d1 as string), ourRedrawn);
          ctx.emit({
            bench: 'dl-outer', latents: n, rows, dim: d, impl: r.impl, version: r.version, threads: r.threads,
            secondsPerStep: sig(sec), minSeconds: sig(r.min_seconds as number), firstStepSeconds: sig(r.first_seconds as number), steps: r.steps,
            speedup: sig(sec / ours, 3), maxAbsDeltaD: sig(cmp.maxAbs, 3), relDeltaD: sig(cmp.rel, 3), excludedRows: cmp.skipped,
            l0: sig(r.l0 as number, 3), solver: r.solver, load: load(),
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};
