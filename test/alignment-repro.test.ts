import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { matmul } from '../src/backend/ops.js';
import { rsa } from '../src/alignment/rsa.js';
import { predictedLinearCKA, kSparseLatentCovariance } from '../src/alignment/superposition.js';
import { iidSparseWorld, randomMixing } from '../src/worlds/superposition.js';
import {
  alignmentSuperpositionGrid, alignmentSuperpositionCells, predictedSqEuclideanRSA, runAlignmentSuperposition, AS_QUICK_SETTINGS,
} from '../src/experiments/alignment-superposition.js';
import { HA_QUICK_SETTINGS, hiddenAlignmentCells, randomTopKSAE, runHiddenAlignment, runHiddenAlignmentCell } from '../src/experiments/hidden-alignment.js';
import { assertThrowsCode } from './helpers.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'sparsecode-align-repro-'));
}

function readLines(dir: string): any[] {
  return readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('predictedSqEuclideanRSA matches simulation for k-sparse latents (and sits far above CKA)', () => {
  for (const [n, m, k] of [[60, 20, 3], [40, 10, 5]]) {
    const w = iidSparseWorld({ latents: n, active: k, samples: 3000, dim: m, seed: 11, valFraction: 0.5 });
    const B = randomMixing(n, m, new Rng(12));
    const YA = w.X.val, YB = matmul(w.Z.val, B);
    const sim = rsa(YA, YB, { rdm: 'sqeuclidean', compare: 'pearson' }).value;
    const pred = predictedSqEuclideanRSA(w.A, B, { active: k });
    assert.ok(Math.abs(sim - pred) < 0.04, `n=${n} m=${m} k=${k}: simulated RSA ${sim} vs predicted ${pred}`);
    const cka = predictedLinearCKA(w.A, B, kSparseLatentCovariance({ nLatents: n, k }));
    assert.ok(pred > cka + 0.1, `RSA ${pred} should exceed CKA ${cka} for sparse latents`);
  }
  // identical maps: perfect agreement; symmetric in A and B
  const A = randomMixing(30, 8, new Rng(1));
  const B = randomMixing(30, 8, new Rng(2));
  assert.ok(Math.abs(predictedSqEuclideanRSA(A, A, { active: 3 }) - 1) < 1e-9);
  assert.ok(Math.abs(predictedSqEuclideanRSA(A, B, { active: 3 }) - predictedSqEuclideanRSA(B, A, { active: 3 })) < 1e-9);
  assertThrowsCode(() => predictedSqEuclideanRSA(A, new Matrix(29, 8), { active: 3 }), 'E_SHAPE', /one row per latent/);
  assertThrowsCode(() => predictedSqEuclideanRSA(A, B, { active: 31 }), 'E_ARG', /active/);
});

test('alignment-superposition: grid, cells and argument checks', () => {
  const quick = alignmentSuperpositionGrid({ preset: 'quick' });
  // the two sweeps share their base config once
  assert.equal(quick.length, 4 + 3 - 1);
  assert.deepEqual(alignmentSuperpositionGrid({ latents: [20], dims: [5, 10] }).map((c) => c.dim), [5, 10]);
  assert.equal(alignmentSuperpositionCells(quick, [0, 1], ['raw', 'predicted']).length, quick.length * 2 * 2);
  assert.equal(alignmentSuperpositionCells(quick, [0], ['raw', 'predicted'])[0].method, 'predicted');
  assertThrowsCode(() => alignmentSuperpositionCells(quick, [0], ['nope']), 'E_USAGE', /unknown method/);
  assertThrowsCode(() => alignmentSuperpositionGrid({ latents: [5], active: [6] }), 'E_USAGE', /cannot exceed/);
  assertThrowsCode(() => alignmentSuperpositionGrid({ dims: [0] }), 'E_USAGE', /--dims/);
  assertThrowsCode(() => hiddenAlignmentCells([0], [0], ['sae-sae']), 'E_USAGE', /--hidden/);
  assertThrowsCode(() => hiddenAlignmentCells([8], [0], ['x']), 'E_USAGE', /unknown method/);
});

test('alignment-superposition end to end (tiny): fields, report, plots, resume; codes align far better than raw activations', async () => {
  const dir = tmp();
  try {
    const opts = {
      out: dir, latents: [30], dims: [10, 16], active: [2], samples: [800], seeds: [0],
      settings: { dlMaxOuter: 40, saeSteps: 400, pairSamples: 300 },
    };
    const run = await runAlignmentSuperposition(opts);
    assert.equal(run.summary.failed, 0);
    const lines = readLines(dir);
    assert.equal(lines.length, 2 * 5);
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).sort(), ['config', 'method', 'metrics', 'seconds']);
      assert.deepEqual(Object.keys(l.config).sort(), ['active', 'dim', 'latents', 'samples', 'seed']);
      const want = l.method === 'predicted'
        ? ['linear_cka', 'regression_r2', 'rp_cka', 'rp_r2', 'rsa']
        : ['debiased_cka', 'linear_cka', 'regression_r', 'regression_r2', 'rsa', 'semi_matching', 'soft_matching'];
      for (const k of want) assert.equal(typeof l.metrics[k], 'number', `${l.method} ${k}`);
      if (!['predicted', 'raw'].includes(l.method)) assert.ok(l.metrics.codes_vs_latents > 0, `${l.method} codes_vs_latents`);
    }
    const at = (method: string, dim: number) => lines.find((l) => l.method === method && l.config.dim === dim).metrics;
    for (const dim of [10, 16]) {
      const raw = at('raw', dim), pred = at('predicted', dim);
      // the closed forms describe the simulation
      assert.ok(Math.abs(raw.linear_cka - pred.linear_cka) < 0.06, `m=${dim}: CKA raw ${raw.linear_cka} vs predicted ${pred.linear_cka}`);
      assert.ok(Math.abs(raw.rsa - pred.rsa) < 0.06, `m=${dim}: RSA raw ${raw.rsa} vs predicted ${pred.rsa}`);
    }
    // the headline at m = 16 (2k ln(n/k) ≈ 11 < 16): codes align near 1, raw activations do not
    const raw = at('raw', 16);
    for (const method of ['oracle', 'dl-fista']) {
      const c = at(method, 16);
      assert.ok(c.linear_cka > 0.9 && c.linear_cka > raw.linear_cka + 0.4, `${method}: codes CKA ${c.linear_cka} vs raw ${raw.linear_cka}`);
      assert.ok(c.soft_matching > 0.9 && c.soft_matching > raw.soft_matching + 0.4, `${method}: codes soft-matching ${c.soft_matching} vs raw ${raw.soft_matching}`);
    }
    assert.ok(at('topk-sae', 16).linear_cka > raw.linear_cka, 'SAE codes align better than raw activations');
    const report = readFileSync(run.reportPath, 'utf8');
    assert.match(report, /Closed form vs simulation/);
    assert.match(report, /linear_cka \\ dim/);
    const svgs = readdirSync(dir).filter((f) => f.endsWith('.svg'));
    assert.deepEqual(svgs.sort(), ['linear_cka', 'regression_r2', 'rsa'].map((m) => `${m}_vs_dim_latents_30_active_2_samples_800.svg`));
    for (const f of svgs) assert.match(readFileSync(join(dir, f), 'utf8'), /^<svg/);
    // resume: nothing left to run; other hyperparameters in the same folder are refused
    const again = await runAlignmentSuperposition(opts);
    assert.equal(again.summary.ran, 0);
    assert.equal(again.summary.skipped, 10);
    await assert.rejects(runAlignmentSuperposition({ ...opts, settings: { ...opts.settings, lambda: 0.2 } }), (e: any) => e.code === 'E_USAGE' && /other hyperparameters/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Small toy-model settings that run in seconds (32 features). */
const SMALL = {
  ...HA_QUICK_SETTINGS, features: 32, steps: 600, batch: 512, lr: 3e-3, saeWidth: 32, saeK: 4, saeSamples: 5000, saeSteps: 2000, evalSamples: 2000,
};

test('hidden-alignment end to end (tiny): fields, report, plots', async () => {
  const dir = tmp();
  try {
    const run = await runHiddenAlignment({ out: dir, hidden: [4, 8], seeds: [0], settings: { ...SMALL, steps: 200, saeSteps: 300, saeSamples: 1500, evalSamples: 600 } });
    assert.equal(run.summary.failed, 0);
    const lines = readLines(dir);
    assert.equal(lines.length, 2 * 4);
    for (const l of lines) {
      assert.deepEqual(Object.keys(l.config).sort(), ['hidden', 'seed']);
      for (const k of ['semi_matching', 'soft_matching', 'regression_r', 'regression_r2', 'model0_eval_loss', 'trivial_loss', 'sae0_fvu', 'sae0_feature_recovery']) {
        assert.equal(typeof l.metrics[k], 'number', `${l.method} ${k}`);
      }
      assert.ok(l.metrics.semi_matching <= 1 && l.metrics.soft_matching <= l.metrics.semi_matching + 1e-9, `${l.method}: soft-matching cannot beat semi-matching`);
    }
    assert.deepEqual(lines.map((l) => l.method).slice(0, 4), ['neuron-neuron', 'sae-neuron', 'sae-sae', 'random-sae']);
    const report = readFileSync(run.reportPath, 'utf8');
    assert.match(report, /Headline: SAE → SAE minus neuron → neuron/);
    assert.ok(existsSync(join(dir, 'semi_matching_vs_hidden.svg')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hidden-alignment headline (32 features, hidden 16, seed 0): SAE → SAE aligns better than neuron → neuron', async () => {
  const cache = new Map<string, unknown>();
  const cfg = { hidden: 16, seed: 0 };
  const nn = await runHiddenAlignmentCell(cfg, 'neuron-neuron', SMALL, cache);
  const ss = await runHiddenAlignmentCell(cfg, 'sae-sae', SMALL, cache);
  const rnd = await runHiddenAlignmentCell(cfg, 'random-sae', SMALL, cache);
  // the models learned (well below the best constant predictor)
  assert.ok(nn.model0_eval_loss < 0.5 * nn.trivial_loss, `model loss ${nn.model0_eval_loss} vs trivial ${nn.trivial_loss}`);
  assert.ok(ss.semi_matching > nn.semi_matching + 0.1, `semi-matching SAE→SAE ${ss.semi_matching} vs neuron→neuron ${nn.semi_matching}`);
  assert.ok(ss.soft_matching > nn.soft_matching + 0.05, `soft-matching SAE→SAE ${ss.soft_matching} vs neuron→neuron ${nn.soft_matching}`);
  // the gain is not just from having more, sparser units
  assert.ok(ss.semi_matching > rnd.semi_matching + 0.2, `SAE→SAE ${ss.semi_matching} vs random SAEs ${rnd.semi_matching}`);
});

test('randomTopKSAE: unit-norm random decoder, encoder = its transpose, b_dec = mean activation', () => {
  const H = new Matrix(4, 3, Float32Array.from([1, 2, 3, 3, 2, 1, 0, 0, 0, 4, 4, 4]));
  const sae = randomTopKSAE(H, 5, 2, 7);
  const w = sae.getWeights();
  for (let a = 0; a < 5; a++) {
    let s = 0;
    for (let j = 0; j < 3; j++) s += w.W_dec.get(a, j) ** 2;
    assert.ok(Math.abs(s - 1) < 1e-5);
    for (let j = 0; j < 3; j++) assert.equal(w.W_enc.get(j, a), w.W_dec.get(a, j));
  }
  assert.deepEqual(Array.from(w.b_dec), [2, 2, 2]);
  const Z = sae.encode(H);
  for (let i = 0; i < 4; i++) {
    let nz = 0;
    for (let a = 0; a < 5; a++) if (Z.get(i, a) !== 0) nz++;
    assert.ok(nz <= 2);
  }
});

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], {
    encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: repro alignment-superposition (tiny, --json) and usage errors', () => {
  const dir = tmp();
  try {
    const r = cli(['repro', 'alignment-superposition', '--latents', '20', '--dims', '10', '--active', '2', '--samples', '300', '--methods', 'predicted,raw,oracle', '--out', dir, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.experiment, 'alignment-superposition');
    assert.deepEqual(j.rows.map((x: any) => x.method), ['predicted', 'raw', 'oracle']);
    assert.deepEqual(j.rows[0].config, { latents: 20, dim: 10, active: 2, samples: 300 });
    assert.ok(existsSync(join(dir, 'report.md')));
    const bad = cli(['repro', 'alignment-superposition', '--hidden', '8', '--out', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hidden does not apply/);
    const bad2 = cli(['repro', 'hidden-alignment', '--methods', 'raw', '--out', dir]);
    assert.equal(bad2.code, 2);
    assert.match(bad2.stderr, /not a method of hidden-alignment/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quick presets keep the protocol hyperparameters stated in PAPERS.md', () => {
  assert.equal(HA_QUICK_SETTINGS.features, 64);
  assert.equal(HA_QUICK_SETTINGS.featureProb, 0.1);
  assert.equal(HA_QUICK_SETTINGS.saeK, 7);
  assert.equal(HA_QUICK_SETTINGS.saeWidth, 64);
  assert.equal(HA_QUICK_SETTINGS.batch, 1024);
  assert.equal(HA_QUICK_SETTINGS.lr, 1e-3);
  assert.equal(AS_QUICK_SETTINGS.folds, 5);
});
