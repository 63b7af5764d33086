import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng.js';
import { SynthSAEBenchWorld, SYNTH_SAE_BENCH_PRESETS, maxOffCos, normInv, orthogonalityGradient, zipfProbabilities } from '../src/worlds/synth-sae-bench.js';
import { Matrix } from '../src/core/matrix.js';
import { assertThrowsCode } from './helpers.js';

const tiny = { ...SYNTH_SAE_BENCH_PRESETS.small, features: 120, dim: 24, roots: 3, branching: 3, depth: 2, orthoSteps: 5, corrRank: 4 };

test('orthogonalisation gradient: C·D with C = D·Dᵀ off its diagonal, by definition in float64, both ways it is computed (rows > and <= columns)', () => {
  for (const [G, d] of [[300, 17], [40, 40], [9, 33]]) {
    const D = new Matrix(G, d);
    new Rng(G).fillNormal(D.data);
    for (let i = 0; i < G; i++) {
      let nn = 0;
      for (let j = 0; j < d; j++) nn += D.data[i * d + j] ** 2;
      for (let j = 0; j < d; j++) D.data[i * d + j] /= Math.sqrt(nn) * (i % 3 === 0 ? 2 : 1); // some rows not unit norm
    }
    const got = orthogonalityGradient(D);
    let worst = 0, scale = 0;
    for (let i = 0; i < G; i++) for (let q = 0; q < d; q++) {
      let s = 0;
      for (let j = 0; j < G; j++) {
        if (j === i) continue;
        let c = 0;
        for (let t = 0; t < d; t++) c += D.data[i * d + t] * D.data[j * d + t];
        s += c * D.data[j * d + q];
      }
      worst = Math.max(worst, Math.abs(got.data[i * d + q] - s));
      scale = Math.max(scale, Math.abs(s));
    }
    assert.ok(worst <= 1e-5 * scale, `[${G} x ${d}]: max error ${worst} (largest entry ${scale})`);
    // the max off-diagonal |cos| by row blocks (7 rows: blocks that do not divide the rows) = by definition
    let want = 0;
    for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
      if (i === j) continue;
      let c = 0;
      for (let t = 0; t < d; t++) c += D.data[i * d + t] * D.data[j * d + t];
      want = Math.max(want, Math.abs(c));
    }
    assert.ok(Math.abs(maxOffCos(D, 7) - want) <= 1e-6 * want, `[${G} x ${d}]: maxOffCos ${maxOffCos(D, 7)} vs ${want}`);
  }
});

test('synth-sae-bench world: Zipf probabilities, inverse normal CDF, hierarchy rules, firing rates', () => {
  const p = zipfProbabilities(100, 0.5, 5e-4, 0.4);
  assert.ok(Math.abs(p[0] - 0.4) < 1e-12 && Math.abs(p[99] - 5e-4) < 1e-12);
  for (let i = 1; i < 100; i++) assert.ok(p[i] < p[i - 1]);
  // scipy.stats.norm.ppf values
  for (const [q, z] of [[0.5, 0], [0.975, 1.959963984540054], [0.01, -2.3263478740408408], [5e-4, -3.2905267314919255]]) assert.ok(Math.abs(normInv(q) - z) < 1e-8, `normInv(${q})`);
  const w = new SynthSAEBenchWorld(tiny, 3);
  assert.equal(w.parents().length, 3 + 9);
  const { X, A } = w.sample(3000, new Rng(5));
  assert.equal(X.cols, 24);
  const G = tiny.features;
  let parentViol = 0, exclViol = 0;
  for (let t = 0; t < A.rows; t++) {
    for (let f = 0; f < G; f++) {
      const par = w.parent[f];
      if (par >= 0 && A.data[t * G + f] > 0 && !(A.data[t * G + par] > 0)) parentViol++;
      const ch = w.children[f];
      if (ch.filter((h) => A.data[t * G + h] > 0).length > 1) exclViol++;
    }
  }
  assert.equal(parentViol, 0, 'a child fired without its parent');
  assert.equal(exclViol, 0, 'two children of one parent fired together');
  // a feature outside the hierarchy fires at its Zipf rate (copula marginal is N(0,1))
  const free = Array.from({ length: G }, (_, f) => f).filter((f) => w.parent[f] < 0 && w.children[f].length === 0)[0];
  let on = 0;
  for (let t = 0; t < A.rows; t++) if (A.data[t * G + free] > 0) on++;
  const pf = w.p[free], se = Math.sqrt((pf * (1 - pf)) / A.rows);
  assert.ok(Math.abs(on / A.rows - pf) < 5 * se + 1e-3, `feature ${free}: rate ${on / A.rows} vs p ${pf}`);
  // x = a·D + bias
  let err = 0;
  for (let j = 0; j < 24; j++) {
    let s = w.biasVec[j];
    for (let f = 0; f < G; f++) s += A.data[f] * w.D.data[f * 24 + j];
    err = Math.max(err, Math.abs(s - X.data[j]));
  }
  assert.ok(err < 1e-4);
  // sampleX: the same rows as sample() from the same generator, made in chunks that reuse one buffer
  const Xc = w.sampleX(3000, new Rng(5), 7);
  assert.deepEqual(Array.from(Xc.data), Array.from(X.data));
  assertThrowsCode(() => new SynthSAEBenchWorld({ ...tiny, features: 20 }, 0), 'E_ARG', /needs 3 x 13 = 39 features, but there are only 20/);
  assertThrowsCode(() => new SynthSAEBenchWorld({ ...tiny, compensate: 'yes' as unknown as boolean }, 0), 'E_ARG', /compensate must be true or false/);
});

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: world synth-sae-bench -> fit matryoshka-sae -> eval --model --world (--saebench) -> compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssb-'));
  try {
    const w = join(dir, 'w');
    let r = cli(['world', 'synth-sae-bench', '--latents', '120', '--dim', '24', '--roots', '3', '--branching', '3', '--depth', '2', '--ortho-steps', '5', '--samples', '2001', '--seed', '1', '--out', w, '--quiet', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(w, 'world.json'), 'utf8'));
    assert.equal(Object.keys(meta.hierarchy).length, 12);
    r = cli(['fit', 'matryoshka-sae', '--input', join(w, 'train_x.npy'), '--atoms', '32', '--k', '4', '--epochs', '5', '--batch', '100', '--seed', '0', '--out', join(dir, 'm'), '--quiet', '--json']);
    assert.equal(r.code, 0, r.stderr);
    r = cli(['eval', '--model', join(dir, 'm'), '--world', w, '--saebench', join(dir, 'sb'), '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    for (const k of ['mcc_dec', 'uniqueness', 'precision', 'recall', 'f1', 'ev', 'l0', 'dead_fraction', 'shrinkage', 'absorption', 'absorption_full', 'sparse_probing_top1', 'sparse_probing_top2', 'sparse_probing_top5']) assert.equal(typeof e[k], 'number', k);
    assert.ok(e.ev > 0 && e.ev < 1 && e.mcc_dec > 0 && e.mcc_dec <= 1);
    const core = JSON.parse(readFileSync(join(dir, 'sb', 'core.json'), 'utf8'));
    assert.equal(core.eval_result_metrics.reconstruction_quality.explained_variance, e.ev);
    const ab = JSON.parse(readFileSync(join(dir, 'sb', 'absorption.json'), 'utf8'));
    assert.equal(ab.eval_result_metrics.mean.mean_absorption_fraction_score, e.absorption);
    assert.equal(ab.eval_result_metrics.mean.mean_full_absorption_score, e.absorption_full);
    const sp = JSON.parse(readFileSync(join(dir, 'sb', 'sparse_probing.json'), 'utf8'));
    assert.deepEqual(sp.eval_config.k_values, [1, 2, 5]);
    assert.equal(sp.eval_result_metrics.sae.sae_top_2_test_accuracy, e.sparse_probing_top2);
    for (const k of [1, 2, 5]) assert.equal(typeof sp.eval_result_metrics.llm[`llm_top_${k}_test_accuracy`], 'number', `llm_top_${k}`);
    assert.equal(typeof sp.eval_result_details[0].sae_top_5_test_accuracy, 'number');
    // compare: a model with itself matches perfectly; a wrong-width world is refused
    cpSync(join(dir, 'm'), join(dir, 'm2'), { recursive: true });
    r = cli(['compare', join(dir, 'm'), join(dir, 'm2'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.ok(Math.abs(c.mean_cos - 1) < 1e-5 && c.frac_above_0_9 === 1 && c.frac_above_0_7 === 1);
    assert.deepEqual(c.unmatched_a, []);
    for (const m of c.matches) assert.equal(m.a, m.b);
    r = cli(['eval', '--model', join(dir, 'm'), '--input', join(w, 'val_x.npy'), '--truth', join(w, 'train_z.npy'), '--true-dictionary', join(w, 'mixing.npy'), '--quiet']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /1001 rows/);
    r = cli(['world', 'synth-sae-bench', '--latents', '20', '--roots', '3', '--out', join(dir, 'bad'), '--quiet']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /hierarchy of 3 roots/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repro synth-sae-bench (tiny settings): one line per method, report with the reference columns and the F1-vs-EV scatter, resumable', async () => {
  const { runSynthSAEBenchRepro } = await import('../src/experiments/synth-sae-bench.js');
  const dir = mkdtempSync(join(tmpdir(), 'ssb-repro-'));
  try {
    const settings = { world: tiny, trainRows: 1500, evalRows: 600, atoms: 32, k: 4, steps: 40, batch: 128 };
    const o = { out: dir, preset: 'quick' as const, methods: ['topk-sae', 'matryoshka-sae'], settings };
    const r = await runSynthSAEBenchRepro(o);
    assert.equal(r.summary.lines.length, 2);
    for (const l of r.summary.lines) { assert.ok(l && l.error === undefined, JSON.stringify(l)); assert.ok(l!.metrics!.f1 >= 0 && l!.metrics!.f1 <= 1); }
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(md, /ref F1/);
    assert.match(md, /matryoshka-sae/);
    assert.ok(existsSync(join(dir, 'f1_vs_ev.svg')));
    const again = await runSynthSAEBenchRepro(o);
    assert.equal(again.summary.ran, 0);
    assert.equal(again.summary.skipped, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synth-sae-bench cell: checkpoints in its folder while it trains; a cell stopped midway resumes there and ends with the metrics of an unbroken run', async () => {
  const { runSsbCell, SSB_PRESETS } = await import('../src/experiments/synth-sae-bench.js');
  const settings = { ...SSB_PRESETS.quick.settings, world: tiny, trainRows: 1500, evalRows: 600, atoms: 32, k: 4, steps: 400, batch: 64 };
  const dir = mkdtempSync(join(tmpdir(), 'ssb-ck-'));
  try {
    const whole = await runSsbCell({ seed: 2 }, 'topk-sae', settings);
    const notes: string[] = [];
    const run = { priorSeconds: 0, checkpointDir: join(dir, 'ck'), checkpointSeconds: 1e-6, note: (m: string) => notes.push(m) };
    const stop = new AbortController();
    const poll = setInterval(() => { if (existsSync(join(dir, 'ck', 'checkpoint.safetensors'))) stop.abort(); }, 1);
    await assert.rejects(runSsbCell({ seed: 2 }, 'topk-sae', settings, new Map(), stop.signal, run));
    clearInterval(poll);
    assert.ok(existsSync(join(dir, 'ck', 'checkpoint.safetensors')), 'a checkpoint was written before the stop');
    assert.ok(notes.some((n) => /building the world/.test(n)), notes.join('\n'));
    const resumed = await runSsbCell({ seed: 2 }, 'topk-sae', settings, new Map(), undefined, run);
    assert.ok(notes.some((n) => /resumed from its checkpoint at step \d+ of 400/.test(n)), notes.join('\n'));
    for (const m of ['f1', 'mcc_dec', 'ev', 'l0']) assert.equal(resumed[m], whole[m], m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synth-sae-bench cells tune ReLU and JumpReLU to L0 = k with the L0 controller (controlL0), the others are untouched; controlL0 false keeps the fixed coefficients', async () => {
  const { runSsbCell, SSB_PRESETS, ssbControllerGain, SSB_REFERENCE_STEPS } = await import('../src/experiments/synth-sae-bench.js');
  assert.equal(SSB_REFERENCE_STEPS, 195312);
  assert.ok(Math.abs(ssbControllerGain(12000) - 3e-4 * 195312 / 12000) < 1e-15);
  assert.equal(ssbControllerGain(400), 0.05);
  const settings = { ...SSB_PRESETS.quick.settings, world: tiny, trainRows: 1500, evalRows: 600, atoms: 32, k: 4, steps: 600, batch: 64 };
  assert.equal(settings.controlL0, true);
  const cache = new Map();
  const got: Record<string, Record<string, number>> = {};
  for (const m of ['relu-sae', 'jumprelu-sae', 'topk-sae']) got[m] = await runSsbCell({ seed: 1 }, m, settings, cache);
  const fixed = await runSsbCell({ seed: 1 }, 'jumprelu-sae', { ...settings, controlL0: false }, cache);
  assert.equal(got['topk-sae'].sparsity_multiplier, undefined);
  assert.equal(fixed.sparsity_multiplier, undefined);
  for (const m of ['relu-sae', 'jumprelu-sae']) {
    assert.ok(got[m].sparsity_multiplier > 0 && got[m].sparsity_multiplier !== 1, `${m}: multiplier ${got[m].sparsity_multiplier}`);
  }
  // the controlled JumpReLU is nearer L0 = k than the fixed one
  assert.ok(Math.abs(got['jumprelu-sae'].l0 - 4) < Math.abs(fixed.l0 - 4), `controlled L0 ${got['jumprelu-sae'].l0}, fixed ${fixed.l0}`);
  // the reference's tanh penalty is the presets' JumpReLU protocol; 'step' trains another SAE
  assert.equal(settings.jumpreluLoss, 'tanh');
  const step = await runSsbCell({ seed: 1 }, 'jumprelu-sae', { ...settings, jumpreluLoss: 'step' }, cache);
  assert.notEqual(step.f1, got['jumprelu-sae'].f1);
  const stepSsb = await runSsbCell({ seed: 1 }, 'jumprelu-sae', { ...settings, jumpreluLoss: 'step-ssb' }, cache);
  assert.ok(stepSsb.f1 !== step.f1 && stepSsb.f1 !== got['jumprelu-sae'].f1);
  assert.ok(stepSsb.sparsity_multiplier > 0 && stepSsb.sparsity_multiplier !== 1);
});

test('synth-sae-bench JumpReLU: the reference\'s constants (SAELens scale, inputs of mean norm √d) carried into unit-mean-squared-norm inputs', async () => {
  const { ssbJumpReluConfig } = await import('../src/experiments/synth-sae-bench.js');
  const c = ssbJumpReluConfig(768);
  assert.equal(c.sparsityLoss, 'tanh');
  // loss_ref = d·sqErr + 0.2·Σ tanh(4·(√d z)·w): divided by d, l0 = 0.2 / d and the scale 4√d
  assert.ok(Math.abs(c.l0! - 0.2 / 768) < 1e-18 && Math.abs(c.tanhScale! - 4 * Math.sqrt(768)) < 1e-12);
  assert.ok(Math.abs(c.thresholdInit! * Math.sqrt(768) - 0.5) < 1e-12 && Math.abs(c.bandwidth! * Math.sqrt(768) - 2) < 1e-12);
  // since the reference's commit d39cc57: the L0 count (a number, not scaled by √d) with bandwidth 1,
  // threshold 1 and coefficient 1: loss_ref = d·sqErr + 1·count, so l0 = 1 / d, threshold and bandwidth 1 / √d
  const s = ssbJumpReluConfig(768, 'step-ssb');
  assert.equal(s.sparsityLoss, 'step');
  assert.equal(s.tanhScale, undefined);
  assert.ok(Math.abs(s.l0! * 768 - 1) < 1e-12);
  assert.ok(Math.abs(s.thresholdInit! * Math.sqrt(768) - 1) < 1e-12 && Math.abs(s.bandwidth! * Math.sqrt(768) - 1) < 1e-12);
});

test('synth-sae-bench world as SAELens builds it: trees on the first features breadth-first, children compensated to fire at their base rate, children scaled by their parent', () => {
  const cfg = { ...tiny, corrScale: 0 };
  const w = new SynthSAEBenchWorld(cfg, 4);
  // roots 0..2, their children 3..11 (3 each, in order), grandchildren 12..38
  assert.deepEqual([0, 1, 2].map((r) => w.children[r]), [[3, 4, 5], [6, 7, 8], [9, 10, 11]]);
  assert.deepEqual(w.children[3], [12, 13, 14]);
  assert.equal(w.parent[38], 11);
  assert.equal(w.parent[39], -1);
  const n = 40000;
  const { A } = w.sample(n, new Rng(6));
  const G = cfg.features;
  const rate = (f: number) => { let on = 0; for (let t = 0; t < n; t++) if (A.data[t * G + f] > 0) on++; return on / n; };
  // compensated: a child's marginal rate is about its base probability (SAELens: "approximately")
  for (const f of [3, 7, 11, 12, 20, 38]) {
    const r = rate(f), p = w.p[f];
    assert.ok(Math.abs(r - p) < 0.25 * p + 0.01, `feature ${f}: fires ${r.toFixed(4)}, base p ${p.toFixed(4)}`);
  }
  // without compensation the same children fire far less
  const plain = new SynthSAEBenchWorld({ ...cfg, compensate: false }, 4).sample(n, new Rng(6)).A;
  let on = 0;
  for (let t = 0; t < n; t++) if (plain.data[t * G + 12] > 0) on++;
  assert.ok(on / n < 0.5 * w.p[12], `uncompensated grandchild 12 fires ${on / n} vs base ${w.p[12]}`);
  // scaled: given both fire, a child's activation follows its parent's (independent draws otherwise)
  const corr = (M: typeof A, c: number, par: number) => {
    const xs: number[] = [], ys: number[] = [];
    for (let t = 0; t < n; t++) if (M.data[t * G + c] > 0) { xs.push(M.data[t * G + par]); ys.push(M.data[t * G + c]); }
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < xs.length; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; syy += (ys[i] - my) ** 2; }
    return sxy / Math.sqrt(sxx * syy);
  };
  const unscaled = new SynthSAEBenchWorld({ ...cfg, scaleChildren: false }, 4).sample(n, new Rng(6)).A;
  const parentWithSpread = [0, 1, 2].find((r) => w.magStd[r] > 0.3)!;
  const child = w.children[parentWithSpread][0];
  assert.ok(corr(A, child, parentWithSpread) > 0.3, `scaled: corr ${corr(A, child, parentWithSpread)}`);
  assert.ok(Math.abs(corr(unscaled, child, parentWithSpread)) < 0.1, `unscaled: corr ${corr(unscaled, child, parentWithSpread)}`);
});
