import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { orbitWorld } from '../src/worlds/orbits.js';
import {
  PHYIP_QUICK_SETTINGS, binnedLaw, forceScores, frozenLinear, orbitWindows, runPhyip, type PhyipState,
} from '../src/experiments/phyip.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-phyip-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('orbit windows: inputs are the last W positions, the target is the second difference, close to the force', () => {
  const w = orbitWorld({ orbits: 5, steps: 30, semiMajor: [1, 2.5], eccentricity: [0, 0.3], seed: 1 });
  const d = orbitWindows(w, 4, 2);
  assert.equal(d.inputs.rows, 5 * 26);
  assert.equal(d.inputs.cols, 8);
  // window 7 of orbit 2 ends at t = 3 + 7 = 10
  const i = 2 * 26 + 7, t = 10, base = 2 * 30;
  assert.equal(d.inputs.get(i, 6), Math.fround(w.positions[2 * (base + t)] / 2));
  assert.equal(d.inputs.get(i, 0), Math.fround(w.positions[2 * (base + t - 3)] / 2));
  assert.equal(d.radius[i], w.radius[base + t]);
  assert.equal(d.orbit[i], 2);
  let err = 0, tot = 0;
  for (let k = 0; k < d.accel.data.length; k++) {
    err += (d.accel.data[k] - d.force.data[k]) ** 2;
    tot += d.force.data[k] ** 2;
  }
  assert.ok(err / tot < 1e-3, `second difference vs force: relative error ${err / tot}`);
});

test('force scores: the exact force gives rho 1, MAPE 0 and exponent -2; the binned law follows 1/r^2', () => {
  const w = orbitWorld({ orbits: 6, steps: 40, semiMajor: [1, 3], eccentricity: [0.2, 0.5], seed: 2 });
  const d = orbitWindows(w, 3, 1);
  const s = forceScores(d.force, d);
  assert.ok(Math.abs(s.rho - 1) < 1e-12);
  assert.ok(s.mape < 1e-4);
  assert.ok(Math.abs(s.exponent + 2) < 1e-5, `exponent ${s.exponent}`);
  const f = new Float64Array(d.radius.length).map((_, k) => Math.hypot(d.force.data[2 * k], d.force.data[2 * k + 1]));
  const law = binnedLaw([f], [d.radius]);
  assert.ok(Object.keys(law).length >= 4);
});

test('frozen-linear recovers a force that is linear in the state, with CV over orbits, and extrapolates', () => {
  // states = [F, random features]: the readout must find F exactly
  const wl = orbitWorld({ orbits: 8, steps: 30, semiMajor: [1, 2], eccentricity: [0, 0.2], seed: 3 });
  const wo = orbitWorld({ orbits: 8, steps: 30, semiMajor: [3, 4], eccentricity: [0.3, 0.5], seed: 4 });
  const rng = new Rng(5);
  const state = (d: ReturnType<typeof orbitWindows>) => {
    const H = new Matrix(d.force.rows, 10);
    for (let i = 0; i < H.rows; i++) {
      H.set(i, 0, d.force.get(i, 0));
      H.set(i, 1, d.force.get(i, 1));
      for (let j = 2; j < 10; j++) H.set(i, j, rng.normal());
    }
    return H;
  };
  const labelled = orbitWindows(wl, 3, 2), ood = orbitWindows(wo, 3, 2);
  const st = { labelled, test: labelled, ood, H: { labelled: state(labelled), test: state(labelled), ood: state(ood) } } as unknown as PhyipState;
  const r = frozenLinear(st, { ...PHYIP_QUICK_SETTINGS, labelledOrbits: 8 });
  const s = forceScores(r.decode('ood'), ood);
  assert.ok(s.rho > 0.999, `rho ${s.rho}`);
  assert.ok(Math.abs(s.exponent + 2) < 0.05, `exponent ${s.exponent}`);
  assert.ok(r.alpha <= 1e-2, `alpha ${r.alpha}`);
});

test('repro phyip (tiny): three methods, the JSON fields, a report with the force-law plot, resumable', async () => {
  const out = join(dir, 'run');
  const settings = { pretrainOrbits: 30, labelledOrbits: 4, testOrbits: 10, oodOrbits: 10, steps: 24, hidden: [16, 16], epochs: 2, probeEpochs: 5, finetuneEpochs: 5 };
  const r = await runPhyip({ out, preset: 'quick', settings });
  assert.equal(r.summary.ran, 3);
  assert.equal(r.summary.failed, 0);
  for (const m of ['frozen-linear', 'finetune', 'mlp-probe']) {
    const row = r.rows.find((x) => x.method === m)!;
    for (const k of ['rho_ood', 'mape_ood', 'force_exponent', 'rho_id', 'ssl_eps_ood']) assert.ok(Number.isFinite(row.mean[k]), `${m} ${k}`);
  }
  assert.ok(existsSync(join(out, 'force_law.svg')));
  assert.match(readFileSync(r.reportPath, 'utf8'), /ρ ≈ 0\.05/);
  const again = await runPhyip({ out, preset: 'quick', settings });
  assert.equal(again.summary.ran, 0);
});

test('registry: repro restrav and repro phyip plan their cells (queue-ready) and refuse unknown methods', async () => {
  const { experimentPlan, findExperiment } = await import('../src/experiments/registry.js');
  const phy = await experimentPlan(findExperiment('phyip')!, {}, { seeds: [0, 1] });
  assert.equal(phy.cells.length, 6);
  assert.deepEqual([...new Set(phy.cells.map((c) => c.method))], ['frozen-linear', 'finetune', 'mlp-probe']);
  const rs = await experimentPlan(findExperiment('restrav')!, {}, { preset: 'full' });
  assert.equal(rs.cells.length, 3 * 3 * 4);
  await assert.rejects(experimentPlan(findExperiment('phyip')!, {}, { methods: ['probe'] }), /unknown method "probe"/);
});
