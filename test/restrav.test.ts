import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../src/io/npy.js';
import { runRestrav } from '../src/experiments/restrav.js';
import { trajectoryWorld } from '../src/worlds/trajectories.js';
import { batchStraighteningFeatures } from '../src/metrics/curvature.js';

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-restrav-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('trajectory world: generated trajectories are more curved than natural ones, for every perturbation', () => {
  for (const p of ['jitter', 'resample', 'flicker'] as const) {
    const w = trajectoryWorld({ videos: 60, dim: 48, perturbation: p, seed: 2 });
    const fn = batchStraighteningFeatures(w.natural, 60, w.frames, w.dim);
    const fg = batchStraighteningFeatures(w.generated, 60, w.frames, w.dim);
    let cn = 0, cg = 0, dn = 0, dg = 0;
    for (let v = 0; v < 60; v++) {
      cn += fn[v * 21 + 17] / 60;
      cg += fg[v * 21 + 17] / 60;
      dn += fn[v * 21 + 16] / 60;
      dg += fg[v * 21 + 16] / 60;
    }
    assert.ok(cn > 5 && cn < 45, `${p}: natural curvature ${cn}`);
    assert.ok(cg > cn, `${p}: generated ${cg} vs natural ${cn}`);
    if (p === 'resample') assert.ok(dg > 2 * dn, `resample changes the step lengths: var ${dg} vs ${dn}`);
  }
  // strength 0 leaves the natural law unchanged (same statistics up to sampling)
  const w0 = trajectoryWorld({ videos: 200, dim: 32, perturbation: 'mixed', strength: 0, seed: 4 });
  const a = batchStraighteningFeatures(w0.natural, 200, w0.frames, w0.dim), b = batchStraighteningFeatures(w0.generated, 200, w0.frames, w0.dim);
  let ma = 0, mb = 0;
  for (let v = 0; v < 200; v++) {
    ma += a[v * 21 + 17] / 200;
    mb += b[v * 21 + 17] / 200;
  }
  assert.ok(Math.abs(ma - mb) < 3, `strength 0: ${ma} vs ${mb}`);
});

test('repro restrav (tiny): detector metrics per perturbation, curvature histograms, resumable', async () => {
  const out = join(dir, 'run');
  const o = { out, preset: 'quick' as const, methods: ['jitter', 'mixed'], settings: { videos: 150, dim: 32 } };
  const r = await runRestrav(o);
  assert.equal(r.summary.ran, 2);
  const jitter = r.rows.find((x) => x.method === 'jitter')!;
  assert.ok(jitter.mean.auroc > 0.95, `jitter auroc ${jitter.mean.auroc}`);
  assert.ok(jitter.mean.curvature_generated > jitter.mean.curvature_natural);
  const mixed = r.rows.find((x) => x.method === 'mixed')!;
  for (const k of ['auroc_jitter', 'auroc_resample', 'auroc_flicker']) assert.ok(mixed.mean[k] > 0.5, k);
  const md = readFileSync(r.reportPath, 'utf8');
  assert.match(md, /0\.9863/);
  assert.match(md, /Which perturbations are hard/);
  assert.ok(existsSync(join(out, 'curvature_jitter.svg')));
  assert.match(readFileSync(join(out, 'curvature_mixed.svg'), 'utf8'), /<svg[\s\S]*natural[\s\S]*<\/svg>/);
  const again = await runRestrav(o);
  assert.equal(again.summary.ran, 0);
  assert.equal(again.summary.skipped, 2);
});

test('CLI detect on .npy trajectories: metrics as JSON, shape mismatches refused', () => {
  const w = trajectoryWorld({ videos: 80, dim: 16, perturbation: 'jitter', seed: 9 });
  const R = join(dir, 'real.npy'), F = join(dir, 'fake.npy'), P = join(dir, 'pred.csv');
  writeNpy(R, { shape: [80, w.frames, 16], data: w.natural });
  writeNpy(F, { shape: [60, w.frames, 16], data: w.generated.subarray(0, 60 * w.frames * 16) });
  const r = cli(['detect', '--real', R, '--fake', F, '--json', '--predictions', P, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.n_real, 80);
  assert.equal(j.n_fake, 60);
  assert.equal(j.n_test, 60);
  assert.ok(j.auroc > 0.9, `auroc ${j.auroc}`);
  assert.ok(j.mean_curvature_fake > j.mean_curvature_real);
  assert.equal(readFileSync(P, 'utf8').trim().split('\n').length, 61);
  const bad = join(dir, 'bad.npy');
  writeNpy(bad, { shape: [10, w.frames, 8], data: new Float32Array(10 * w.frames * 8).map((_, i) => Math.sin(i) + i) });
  const e = cli(['detect', '--real', R, '--fake', bad]);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /24 frames x 16 dimensions but --fake .*24 x 8/);
});
