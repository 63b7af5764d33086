import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { readResults } from '../src/experiments/runner.js';
import { LEJEPA_PRESETS, LEJEPA_QUICK_SETTINGS, lejepaCells, runLejepaCell, runLejepaRepro, type LejepaSettings } from '../src/experiments/lejepa.js';
import { randomDirections, sigreg } from '../src/objectives/sigreg.js';
import { experimentPlan, findExperiment } from '../src/experiments/registry.js';
import { assertThrowsCode } from './helpers.js';

const TINY: Partial<LejepaSettings> = { steps: 20, matchedSteps: 20, hidden: 8, hiddenLayers: 2, numDirections: 8, evalPoints: 400 };

test('lejepa cells: the quick preset runs 2d (3 mixings), gennorm (alpha 2, 16) and scaling (N = 2, 8, 32) with SIGReg', () => {
  const p = LEJEPA_PRESETS.quick;
  const cells = lejepaCells(p, p.settings, { experiments: p.experiments, objectives: p.objectives });
  assert.equal(cells.length, 3 + 2 + 3);
  for (const c of cells) {
    assert.deepEqual(Object.keys(c.config).sort(), ['alpha', 'experiment', 'lambda', 'latents', 'mixing', 'rho', 'seed']);
    assert.equal(c.method, 'sigreg');
  }
  assert.deepEqual(cells.filter((c) => c.config.experiment === 'scaling').map((c) => [c.config.latents, c.config.lambda]), [[2, 1e-6], [8, 1e-6], [32, 1e-6]]);
  assert.deepEqual(cells.filter((c) => c.config.experiment === 'gennorm').map((c) => c.config.alpha), [2, 16]);
  // the full preset: the paper's objectives per experiment (2d: sigreg + whiten; grid: sigreg over λ x ρ)
  const f = LEJEPA_PRESETS.full;
  const full = lejepaCells(f, f.settings, { experiments: ['2d', 'grid'], objectives: f.objectives });
  assert.equal(full.filter((c) => c.config.experiment === '2d').length, 4 * 2 * 3);
  assert.equal(full.filter((c) => c.config.experiment === 'grid').length, 9 * 7 * 3);
  assert.ok(full.filter((c) => c.method === 'whiten').every((c) => c.config.lambda === 0.5));
  // explicit objectives override the paper's subset; InfoNCE has no λ
  const inf = lejepaCells(p, p.settings, { experiments: ['2d'], objectives: ['infonce'], objectivesGiven: true, seeds: [4, 5] });
  assert.equal(inf.length, 6);
  assert.ok(inf.every((c) => c.config.lambda === null && c.method === 'infonce'));
  // --latents sets N of the scaling experiment
  assert.deepEqual(lejepaCells(p, p.settings, { experiments: ['scaling'], objectives: ['sigreg'], latents: [4, 16] }).map((c) => c.config.latents), [4, 16]);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['scaling'], objectives: ['sigreg'], latents: [5] }), 'E_USAGE', /even N/);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['2d'], objectives: ['sigreg'], latents: [4] }), 'E_USAGE', /--experiment scaling/);
  assert.deepEqual(lejepaCells(p, p.settings, { experiments: ['gennorm'], objectives: ['sigreg'], alphas: [0.5, 8] }).map((c) => c.config.alpha), [0.5, 8]);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['gennorm'], objectives: ['sigreg'], alphas: [0] }), 'E_USAGE', /--alphas/);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['gennorm'], objectives: ['sigreg'], alphas: [NaN] }), 'E_USAGE', /--alphas/);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['3d' as never], objectives: ['sigreg'] }), 'E_USAGE', /2d, gennorm, scaling, grid/);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['2d'], objectives: ['byol' as never] }), 'E_USAGE', /objective/);
  assertThrowsCode(() => lejepaCells(p, p.settings, { experiments: ['2d'], objectives: ['sigreg'], seeds: [-1] }), 'E_USAGE', /seeds/);
});

test('the registry plans lejepa runs (what a queue worker rebuilds): options reach the cells', async () => {
  const ex = findExperiment('lejepa');
  assert.ok(ex);
  const plan = await experimentPlan(ex, { experiment: ['scaling', 'gennorm'], objectives: ['whiten'], latents: [4], alphas: ['1', '8'] }, { seeds: [3] });
  assert.equal(plan.def.name, 'lejepa');
  assert.deepEqual(plan.cells.map((c) => [c.config.experiment, c.config.latents, c.config.alpha, c.config.seed, c.method]), [
    ['scaling', 4, 2, 3, 'whiten'], ['gennorm', 2, 1, 3, 'whiten'], ['gennorm', 2, 8, 3, 'whiten'],
  ]);
});

test('a short SIGReg run of the matched encoder on the coupling world improves linear identifiability', async () => {
  const s: LejepaSettings = { ...LEJEPA_QUICK_SETTINGS, matchedSteps: 1500, numDirections: 16, evalPoints: 2000 };
  const config = { experiment: 'scaling' as const, mixing: 'coupling' as const, alpha: 2, latents: 4, rho: 0.95, lambda: 1e-6, seed: 3 };
  const untrained = await runLejepaCell(config, 'sigreg', { ...s, matchedSteps: 1, lr: 1e-12 });
  const trained = await runLejepaCell(config, 'sigreg', s);
  assert.ok(trained.r2_hz > 0.85 && trained.r2_hz > untrained.r2_hz + 0.1, `r2_hz ${untrained.r2_hz} -> ${trained.r2_hz}`);
  assert.ok(trained.orth_err < untrained.orth_err, `orth_err ${untrained.orth_err} -> ${trained.orth_err}`);
  assert.equal(trained.r2_xz, untrained.r2_xz);
  assert.equal(trained.steps, 1500);
});

test('runLejepaRepro: JSON Lines with the objective field, resumable, report with the scaling table and R²-vs-α plots', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-repro-'));
  try {
    const run = await runLejepaRepro({ out: dir, preset: 'quick', experiments: ['scaling', 'gennorm'], objectives: ['sigreg', 'infonce'], settings: TINY });
    assert.equal(run.summary.total, 3 * 2 + 2 * 2);
    assert.equal(run.summary.failed, 0);
    const raw = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(raw.length, 10);
    for (const l of raw) {
      assert.deepEqual(Object.keys(l).slice(0, 2), ['config', 'objective']);
      assert.equal(l.objective, l.method);
      assert.deepEqual(Object.keys(l.config).sort(), ['alpha', 'experiment', 'lambda', 'latents', 'mixing', 'rho', 'seed']);
      for (const k of ['r2_hz', 'r2_zh', 'r2_xz', 'orth_err']) assert.ok(Number.isFinite(l.metrics[k]), `${k} in ${JSON.stringify(l)}`);
      if (l.config.latents === 2) assert.ok(Number.isFinite(l.metrics.r2_hz_grid));
      assert.ok(l.seconds > 0);
    }
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(report, /## Scaling: R²\(h → z\)/);
    assert.match(report, /0\.999993/); // the paper's SIGReg value at N = 8 beside ours
    assert.match(report, /gennorm_spiral_sigreg\.svg/);
    assert.ok(existsSync(join(dir, 'gennorm_spiral_infonce.svg')));
    assert.match(readFileSync(join(dir, 'gennorm_spiral_sigreg.svg'), 'utf8'), /^<svg/);
    // resume: nothing left to run
    const again = await runLejepaRepro({ out: dir, preset: 'quick', experiments: ['scaling', 'gennorm'], objectives: ['sigreg', 'infonce'], settings: TINY });
    assert.equal(again.summary.ran, 0);
    assert.equal(again.summary.skipped, 10);
    assert.equal(readResults(join(dir, 'results.jsonl')).lines.length, 10);
    // other settings in the same folder are refused
    await assert.rejects(runLejepaRepro({ out: dir, preset: 'quick', experiments: ['scaling'], settings: { ...TINY, steps: 21 } }), /other hyperparameters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 180000 });

test('CLI: repro lejepa --json prints rows {config without seed, objective, seeds, mean, std}', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-cli-'));
  try {
    const r = cli(['repro', 'lejepa', '--experiment', 'scaling', '--objectives', 'whiten', '--steps', '15', '--seeds', '0,1', '--out', dir, '--json', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['rows']);
    assert.equal(j.rows.length, 3);
    for (const row of j.rows) {
      assert.deepEqual(Object.keys(row), ['config', 'objective', 'seeds', 'mean', 'std']);
      assert.equal(row.objective, 'whiten');
      assert.deepEqual(row.seeds, [0, 1]);
      assert.equal(row.config.seed, undefined);
      assert.equal(row.config.lambda, 0.5);
      assert.ok(Number.isFinite(row.mean.r2_hz) && Number.isFinite(row.std.r2_hz));
    }
    const bad = cli(['repro', 'lejepa', '--experiment', 'scaling', '--dims', '4', '--out', dir]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--dims does not apply to repro lejepa/);
    const bad2 = cli(['repro', 'lejepa', '--experiment', 'planets', '--out', dir]);
    assert.equal(bad2.status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: sigreg --input H.npy [--directions A.npy | --num-directions M --seed S] --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigreg-cli-'));
  try {
    const H = new Matrix(300, 6);
    new Rng(1).fillNormal(H.data);
    const A = randomDirections(6, 20, 2);
    writeNpy(join(dir, 'H.npy'), H);
    writeNpy(join(dir, 'A.npy'), A);
    const r = cli(['sigreg', '--input', join(dir, 'H.npy'), '--directions', join(dir, 'A.npy'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['value', 'directions', 'samples']);
    assert.equal(j.directions, 20);
    assert.equal(j.samples, 300);
    assert.ok(Math.abs(j.value - sigreg(H, { directions: A }).value) < 1e-6 * j.value);
    const s = JSON.parse(cli(['sigreg', '--input', join(dir, 'H.npy'), '--num-directions', '32', '--seed', '5', '--json']).stdout);
    assert.equal(s.directions, 32);
    assert.ok(Math.abs(s.value - sigreg(H, { numDirections: 32, seed: 5 }).value) < 1e-6 * s.value);
    const human = cli(['sigreg', '--input', join(dir, 'H.npy')]);
    assert.match(human.stdout, /SIGReg .* over 256 directions, 300 samples/);
    const both = cli(['sigreg', '--input', join(dir, 'H.npy'), '--directions', join(dir, 'A.npy'), '--num-directions', '3']);
    assert.equal(both.status, 2);
    const notUnit = A.clone();
    for (let i = 0; i < notUnit.data.length; i++) notUnit.data[i] *= 2;
    writeNpy(join(dir, 'B.npy'), notUnit);
    const nu = cli(['sigreg', '--input', join(dir, 'H.npy'), '--directions', join(dir, 'B.npy')]);
    assert.notEqual(nu.status, 0);
    assert.match(nu.stderr, /unit.*divide each column by its norm/);
    writeNpy(join(dir, 'T.npy'), A.transpose());
    const tr = cli(['sigreg', '--input', join(dir, 'H.npy'), '--directions', join(dir, 'T.npy')]);
    assert.match(tr.stderr, /\[6 x M\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
