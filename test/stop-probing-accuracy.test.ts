// Stop-Probing's accuracy is scikit-learn's LogisticRegression(C=inf, lbfgs) (issue 14 §1): at the
// paper's default world (n = 100, k = 10, N = 5000) the oracle's OOD accuracy is the reference's
// ~0.9, not the ~0.55 of a solver that runs on towards the separable optimum at infinity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackends } from '../src/backend/index.js';
import { FULL_SETTINGS, REFERENCE_ACC_OOD, runStopProbingCell, writeStopProbingReport } from '../src/experiments/stop-probing/index.js';
import { defaultDim } from '../src/worlds/superposition.js';
import { logisticProbe } from '../src/metrics/logistic-probe.js';
import { fista } from '../src/inference/fista.js';
import { superpositionWorld } from '../src/worlds/superposition.js';

await loadBackends({ quiet: true });

test('oracle accuracy at the default world, seed 0: L-BFGS (scikit-learn semantics) gives ~0.9 OOD; Newton to the optimum overfits', async () => {
  const config = { latents: 100, active: 10, samples: 5000, dim: defaultDim(100, 10), seed: 0 };
  const m = await runStopProbingCell(config, 'oracle', FULL_SETTINGS);
  assert.ok(m.acc_ood > 0.88 && m.acc_ood < 0.96, `acc_ood ${m.acc_ood} (reference seed 0: 0.927)`);
  assert.ok(m.acc_id > 0.98, `acc_id ${m.acc_id}`);
  // the same codes fitted to the (regularised) optimum generalise much worse: where the solver stops matters
  const w = superpositionWorld({ ...config, split: 'compositional' });
  const o = { lambda: FULL_SETTINGS.fistaLambda, iters: FULL_SETTINGS.fistaIters, tol: 0, nonneg: true, objective: false };
  const id = fista(w.X.val, w.A, o).Z, ood = fista(w.X.ood, w.A, o).Z;
  const newton = logisticProbe(id, w.y.val, ood, w.y.ood, { solver: 'newton' });
  assert.ok(newton.accuracy < m.acc_ood - 0.2, `Newton ${newton.accuracy} vs L-BFGS ${m.acc_ood}`);
});

test('the report sets acc_OOD beside the reference code\'s committed results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-acc-'));
  try {
    const config = { latents: 100, active: 10, samples: 5000, dim: 47 };
    const lines = [0, 1, 2].map((seed) => ({ config: { ...config, seed }, method: 'oracle', metrics: { mcc_id: 0.98, mcc_ood: 0.98, acc_id: 0.99, acc_ood: 0.92, auc_ood: 0.99 }, seconds: 1 }));
    writeStopProbingReport(dir, lines);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(md, /## Against the reference code \(acc_OOD, k = 10, N = 5000\)/);
    assert.match(md, /\| oracle \| 100 \| 0\.920 \| 0\.915 \| \+0\.005 \|/);
    assert.equal(REFERENCE_ACC_OOD.rows.probe[1], 0.677);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
