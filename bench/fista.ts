/**
 * `sparsecode bench fista`: batched FISTA inference, 4096 samples, 1024 atoms, dim 256,
 * λ 0.1, 100 iterations (no early stop): samples/s per loaded backend, against a NumPy FISTA
 * (same algorithm and gradient form, float32, bench/peers/fista.py) and scikit-learn
 * `sparse_encode` (lasso_cd, lasso_lars, omp) on the same data in the same run.
 *
 * Equal objective: every row reports the mean objective 1/2||x − zD||² + λ||z||₁ it reached.
 * lasso_lars is exact, so its objective is the optimum on its rows; FISTA's gap to it after
 * 100 iterations is reported as `gapVsLars` (relative). scikit-learn runs on the first 256
 * rows (a per-sample solver: samples/s is comparable), and so do sparsecode's own lasso-cd and
 * omp (rows named "lasso-cd dense (native)" etc.). omp gets k = FISTA's mean L0 (its objective is
 * the L0 problem's, shown for information).
 *
 * The fast path, "lasso-ws" per backend: lassoCD's working-set solver (src/inference/
 * working-set.ts) on all 4096 rows, run to its own stopping rule (tol 1e-6: a full
 * coordinate-descent sweep over all atoms would move no code by more than 1e-6·max|z|), i.e.
 * timed to convergence, not for a fixed iteration count. Its objective on the first 256 rows
 * is compared with lasso_lars's (gapVsLars, relative; the target is |gap| <= ~1e-6).
 * Every row reports the machine's load average: the machine may be shared, so compare ratios
 * taken in the same run.
 * The js backend is measured only when asked for (--backends js): one run takes minutes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, getBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { chooseGradient, fista, lassoCD, lassoObjectives, meanL0, omp } from '../src/inference/index.js';
import type { Bench } from './types.js';
import { cores, runPeer, sig, timeIt } from './util.js';

export const fistaBench: Bench = {
  name: 'fista',
  summary: 'FISTA inference samples/s per backend vs NumPy FISTA and scikit-learn sparse_encode (4096 samples, 1024 atoms, dim 256, λ 0.1, 100 iterations)',
  async run(ctx) {
    const n = 4096;
    const atoms = 1024;
    const dim = 256;
    const lambda = 0.1;
    const iters = 100;
    const repeats: number = ctx.opts.repeats ?? 3;
    const budgetS: number = ctx.opts.budget ?? 10;
    const wanted = ctx.opts.backends as string[] | undefined;
    const names = availableBackends().filter((b) => (wanted?.length ? wanted.includes(b) : b !== 'js'));
    const gradient = chooseGradient(n, atoms, dim, iters);

    // data: unit-norm random dictionary, 16-sparse U(0,1) codes, 1% noise
    const rng = new Rng(0);
    const D = new Matrix(atoms, dim);
    rng.fillNormal(D.data);
    for (let j = 0; j < atoms; j++) {
      const r = D.row(j);
      let s = 0;
      for (const v of r) s += v * v;
      const inv = 1 / Math.sqrt(s);
      for (let c = 0; c < dim; c++) r[c] *= inv;
    }
    const X = new Matrix(n, dim);
    for (let i = 0; i < n; i++) {
      for (const j of rng.choice(atoms, 16)) {
        const z = rng.uniform();
        for (let c = 0; c < dim; c++) X.data[i * dim + c] += z * D.data[j * dim + c];
      }
    }
    for (let i = 0; i < X.size; i++) X.data[i] += 0.01 * rng.normal();
    ctx.note(`fista: ${n} samples, ${atoms} atoms, dim ${dim}, λ ${lambda}, ${iters} iterations, ${gradient} gradient; backends ${names.join(', ') || '(none)'}; ${cores()} cores; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

    const rows: Record<string, unknown>[] = [];
    let l0 = 16;
    for (const name of names as BackendName[]) {
      if (ctx.signal.aborted) return;
      const b = getBackend(name)!;
      let Z: Matrix | undefined;
      const t = timeIt(() => {
        Z = fista(X, D, { lambda, iters, tol: 0, objective: false, backend: b }).Z;
      }, { repeats, budgetS });
      const objective = lassoObjectives(X, D, Z!, lambda).reduce((s, v) => s + v, 0) / n;
      l0 = meanL0(Z!);
      const head = lassoObjectives(X.rowSlice(0, 256), D, Z!.rowSlice(0, 256), lambda).reduce((s, v) => s + v, 0) / 256;
      rows.push({ bench: 'fista', impl: name, threads: b.threads ?? 1, gradient, iters, seconds: sig(t.median), samplesPerSec: sig(n / t.median), objective: sig(objective, 6), objective256: head, meanL0: sig(l0, 3), runs: t.runs, fullRows: true, load: sig(loadavg()[0], 3) });
    }
    // the fast path: working-set coordinate descent on every row, to convergence
    for (const name of names as BackendName[]) {
      if (ctx.signal.aborted) return;
      const b = getBackend(name)!;
      let r: ReturnType<typeof lassoCD> | undefined;
      // a fraction of a second per run: more repeats for a steadier median on a shared machine
      const t = timeIt(() => {
        r = lassoCD(X, D, { lambda, objective: false, backend: b });
      }, { repeats: Math.max(repeats, 9), budgetS });
      const objective = lassoObjectives(X, D, r!.Z, lambda).reduce((s, v) => s + v, 0) / n;
      const head = lassoObjectives(X.rowSlice(0, 256), D, r!.Z.rowSlice(0, 256), lambda).reduce((s, v) => s + v, 0) / 256;
      rows.push({
        bench: 'fista', impl: `lasso-ws (${name})`, threads: b.threads ?? 1, seconds: sig(t.median), minSeconds: sig(t.min), samplesPerSec: sig(n / t.median),
        objective: sig(objective, 8), objective256: head, meanL0: sig(meanL0(r!.Z), 3), sweeps: r!.iterations, rounds: r!.rounds,
        workingSet: sig(r!.meanWorkingSet!, 3), kkt: sig(r!.kkt!, 3), converged: r!.converged, runs: t.runs, fullRows: true, load: sig(loadavg()[0], 3),
      });
    }

    // our per-sample solvers on the rows scikit-learn gets, for the like-for-like comparison
    const Xs = X.rowSlice(0, 256);
    const active = getBackend(names[0] as BackendName) ?? undefined;
    if (names.length) {
      let cd: ReturnType<typeof lassoCD> | undefined;
      const tc = timeIt(() => { cd = lassoCD(Xs, D, { lambda, workingSet: false, backend: active }); }, { repeats, budgetS });
      rows.push({ bench: 'fista', impl: `lasso-cd dense (${names[0]})`, samples: 256, seconds: sig(tc.median), samplesPerSec: sig(256 / tc.median), objective: sig(cd!.objective!, 6), objective256: cd!.objective!, runs: tc.runs });
      let om: ReturnType<typeof omp> | undefined;
      const k = Math.max(1, Math.round(l0));
      const to = timeIt(() => { om = omp(Xs, D, { k, backend: active }); }, { repeats, budgetS });
      rows.push({ bench: 'fista', impl: `omp k=${k} (${names[0]})`, samples: 256, seconds: sig(to.median), samplesPerSec: sig(256 / to.median), objective: sig(om!.objective!, 6), runs: to.runs });
    }

    let numpy: number | undefined;
    let lars: { sps: number; objective: number } | undefined;
    if (ctx.opts.peers !== false) {
      const dir = mkdtempSync(join(tmpdir(), 'sparsecode-bench-fista-'));
      try {
        writeNpy(join(dir, 'X.npy'), X);
        writeNpy(join(dir, 'D.npy'), D);
        const peer = runPeer('fista.py', {
          x: join(dir, 'X.npy'), d: join(dir, 'D.npy'), lambda, iters, repeats, budget_s: budgetS,
          sklearn_samples: 256, omp_k: Math.max(1, Math.round(l0)), gradient,
        }, { timeoutS: 1200 });
        if (!peer.ok) ctx.note(`fista: Python peers skipped: ${peer.reason}`);
        else {
          for (const r of peer.rows) {
            if (r.unavailable) {
              ctx.note(`fista: ${r.impl} skipped: ${r.unavailable}`);
              continue;
            }
            const sps = r.samples_per_s as number;
            if (r.impl === 'numpy-fista') numpy = sps;
            if (r.impl === 'sklearn-lasso_lars') lars = { sps, objective: r.objective as number };
            ctx.emit({ bench: 'fista', impl: r.impl, version: r.version, samples: r.samples, seconds: sig(r.seconds as number), samplesPerSec: sig(sps), objective: sig(r.objective as number, 8), runs: r.runs, load: sig(loadavg()[0], 3) });
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const r of rows) {
      const sps = r.samplesPerSec as number;
      const head = r.objective256 as number | undefined;
      const full = r.fullRows === true;
      delete r.objective256;
      delete r.fullRows;
      ctx.emit({
        ...r,
        vsNumpy: numpy && full ? sig(sps / numpy, 3) : null,
        vsLassoLars: lars ? sig(sps / lars.sps, 3) : null,
        gapVsLars: lars && head !== undefined ? sig((head - lars.objective) / lars.objective, 3) : null,
        objective256: head !== undefined ? sig(head, 10) : undefined,
      });
    }
  },
};
