import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configGrid, orderMethods, stopProbingCells, compositionalProblem } from '../src/experiments/stop-probing/index.js';
import { paperSAEConfig } from '../src/experiments/stop-probing/training.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, SPARSECODE_BACKEND: 'js' },
    timeout: 120000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY = ['--latents', '20', '--active', '3', '--samples', '200', '--seeds', '0,1'];

test('repro stop-probing: a tiny run writes results.jsonl with the exact fields, a report, and a JSON summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-repro-'));
  try {
    const r = cli(['repro', 'stop-probing', ...TINY, '--methods', 'oracle,probe,topk-sae,fista-on-topk-sae', '--epochs', '2', '--out', dir, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2 * 4);
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).sort(), ['config', 'method', 'metrics', 'seconds']);
      assert.deepEqual(Object.keys(l.config).sort(), ['active', 'dim', 'latents', 'samples', 'seed']);
      assert.equal(l.config.latents, 20);
      assert.equal(l.config.active, 3);
      assert.equal(l.config.samples, 200);
      assert.equal(l.config.dim, Math.max(4, Math.ceil(2 * 3 * Math.log(20 / 3))));
      for (const m of ['mcc_id', 'mcc_ood', 'acc_id', 'acc_ood', 'auc_ood']) {
        assert.equal(typeof l.metrics[m], 'number', `${l.method} ${m}`);
        assert.ok(l.metrics[m] >= 0 && l.metrics[m] <= 1, `${l.method} ${m} = ${l.metrics[m]}`);
      }
      const hasDict = l.method.includes('sae');
      assert.equal('dict_mean_cos' in l.metrics, hasDict, `${l.method} dictionary metrics`);
      assert.equal('dict_frac_090' in l.metrics, hasDict);
    }
    // the oracle knows the dictionary: near-perfect recovery even in this tiny world
    const oracle = lines.filter((l) => l.method === 'oracle');
    for (const o of oracle) assert.ok(o.metrics.mcc_ood > 0.9, `oracle mcc_ood ${o.metrics.mcc_ood}`);
    const j = JSON.parse(r.stdout);
    assert.equal(j.rows.length, 4);
    const row = j.rows.find((x: any) => x.method === 'oracle');
    assert.deepEqual(Object.keys(row).sort(), ['config', 'mean', 'method', 'seeds', 'std']);
    assert.deepEqual(row.config, { latents: 20, active: 3, samples: 200, dim: 12 });
    assert.deepEqual(row.seeds, [0, 1]);
    const mean = (oracle[0].metrics.mcc_ood + oracle[1].metrics.mcc_ood) / 2;
    assert.ok(Math.abs(row.mean.mcc_ood - mean) < 1e-12);
    assert.ok(Math.abs(row.std.mcc_ood - Math.abs(oracle[0].metrics.mcc_ood - oracle[1].metrics.mcc_ood) / Math.SQRT2) < 1e-12);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(report, /## All metrics/);
    assert.ok(existsSync(join(dir, 'sweep.json')));

    // running again resumes: nothing recomputed, same lines; the table goes to stdout
    const again = cli(['repro', 'stop-probing', ...TINY, '--methods', 'oracle,probe,topk-sae,fista-on-topk-sae', '--epochs', '2', '--out', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 cells run, 8 skipped/);
    assert.match(again.stdout, /\| 20 \| 3 \| 200 \| oracle \| 2 \|/);
    assert.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').length, 8);

    // other hyperparameters into the same folder are refused
    const clash = cli(['repro', 'stop-probing', ...TINY, '--methods', 'oracle', '--epochs', '3', '--out', dir]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /other hyperparameters .*saeEpochs: 2 there, 3 in this run/);
    // DL-FISTA's dead atoms: re-drawn by default, which is the setting's absence (folders written
    // before it existed resume); --dl-dead-atoms zero is another setting, and the clash names it
    assert.equal('dlDeadAtoms' in JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')).settings, false);
    const zero = cli(['repro', 'stop-probing', ...TINY, '--methods', 'oracle', '--epochs', '2', '--dl-dead-atoms', 'zero', '--out', dir]);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /dlDeadAtoms: \(absent\) there, "zero" in this run/);
    const redraw = cli(['repro', 'stop-probing', ...TINY, '--methods', 'oracle,probe,topk-sae,fista-on-topk-sae', '--epochs', '2', '--dl-dead-atoms', 'redraw', '--out', dir]);
    assert.equal(redraw.code, 0, redraw.stderr);
    assert.match(redraw.stderr, /0 cells run, 8 skipped/);
    const badDead = cli(['repro', 'stop-probing', ...TINY, '--dl-dead-atoms', 'keep', '--out', dir]);
    assert.equal(badDead.code, 2);
    assert.match(badDead.stderr, /dl-dead-atoms/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repro: usage errors exit 2 with a message that names the fix', () => {
  const none = cli(['repro']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /stop-probing/);
  const bad = cli(['repro', 'stop-probing', '--latents', '10', '--active', '8', '--out', join(tmpdir(), 'never-written')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ID pool/);
  const m = cli(['repro', 'stop-probing', '--methods', 'oracle,sae']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /"sae"(; choose from| is not one of| is not a method of stop-probing; choose from)/);
  const h = cli(['repro', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--preset quick\|full/);
});

test('sweep grids, method order and cells', () => {
  const g = configGrid({ preset: 'full', sweep: 'latents' });
  assert.deepEqual(g.map((c) => c.latents), [50, 100, 500, 1000, 5000, 10000]);
  assert.deepEqual(g.map((c) => c.dim), [33, 47, 79, 93, 125, 139]);
  assert.ok(g.every((c) => c.active === 10 && c.samples === 5000));
  const k = configGrid({ preset: 'full', sweep: 'sparsity' });
  assert.deepEqual(k.map((c) => [c.latents, c.active]), [[1000, 2], [1000, 5], [1000, 10], [1000, 20], [1000, 50], [1000, 100]]);
  const N = configGrid({ preset: 'full', sweep: 'samples', latents: [50] });
  assert.deepEqual(N.map((c) => [c.latents, c.samples]), [[50, 100], [50, 500], [50, 1000], [50, 5000], [50, 10000], [50, 50000], [50, 100000]]);
  const one = configGrid({ latents: [30], active: [4] });
  assert.deepEqual(one, [{ latents: 30, active: 4, samples: 5000, dim: Math.ceil(8 * Math.log(30 / 4)) }]);
  assert.equal(compositionalProblem(20, 10), null);
  assert.match(compositionalProblem(20, 11)!, /ID pool/);
  assert.deepEqual(orderMethods(['fista-on-topk-sae', 'topk-sae', 'probe']), ['probe', 'topk-sae', 'fista-on-topk-sae']);
  assert.throws(() => orderMethods(['nope']), (e: any) => e.code === 'E_USAGE');
  const cells = stopProbingCells(one, [0, 1], ['probe', 'oracle']);
  assert.equal(cells.length, 4);
  assert.equal(cells[0].group, cells[1].group);
  assert.notEqual(cells[1].group, cells[2].group);
});

test("the paper's SAE loss (per-element MSE + γ·R) maps to sparsecode's per-row loss with coefficient γ·dim", () => {
  const base = { atoms: 100, k: 10, lr: 5e-4, batch: 64, epochs: 500, gamma: 1e-4, weightDecay: 0.01, seed: 0 };
  const relu = paperSAEConfig('relu', 47, base);
  assert.ok(Math.abs(relu.l1! - 47e-4) < 1e-15);
  assert.equal(relu.scaleInputs, false);
  assert.equal(relu.warmupSteps, 0);
  assert.equal(relu.decaySteps, 0);
  assert.equal(relu.bDecInit, 'zeros');
  const jr = paperSAEConfig('jumprelu', 47, base);
  assert.ok(Math.abs(jr.l0! - 47e-4) < 1e-15);
  assert.equal(jr.thresholdInit, 1e-3);
  const topk = paperSAEConfig('topk', 47, base);
  assert.equal(topk.k, 10);
  assert.equal(topk.auxkCoef, 0);
  assert.equal(paperSAEConfig('mp', 47, base).k, 10);
});
