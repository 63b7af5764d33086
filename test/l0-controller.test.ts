/**
 * The sparsity coefficient's schedule (src/dictionary/sparsity-schedule.ts): the L0 controller
 * of the SynthSAEBench experiments against an independent NumPy-side implementation
 * (test/fixtures/l0-controller/gen.py), the coefficient warm-up, how the trainer applies both
 * each step (replayed exactly), that it tunes ReLU and JumpReLU SAEs to a target L0, that a
 * stopped run resumes to the unbroken run's weights, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../src/backend/index.js';
import { createSAE, resolveConfig, type SparseAutoencoder } from '../src/dictionary/index.js';
import { L0Controller, sparsityWarmUp } from '../src/dictionary/sparsity-schedule.js';
import type { Matrix } from '../src/core/matrix.js';
import { writeNpy } from '../src/io/npy.js';
import { kSparseTestWorld } from './helpers.js';

useBackend('js');

interface Case { name: string; target: number; opts: Record<string, number>; l0: number[]; expected: { multiplier: number; smoothed: number }[] }
const { cases } = JSON.parse(readFileSync(new URL('./fixtures/l0-controller/cases.json', import.meta.url), 'utf8')) as { cases: Case[] };

test('L0 controller: every multiplier and smoothed L0 equals the NumPy-side implementation (5 cases: start, deadband, both bounds, other smoothing)', () => {
  assert.equal(cases.length, 5);
  for (const c of cases) {
    const ctl = new L0Controller({ target: c.target, ...c.opts });
    c.l0.forEach((l, t) => {
      const m = ctl.update(l, t);
      const e = c.expected[t];
      assert.ok(Math.abs(m - e.multiplier) <= 1e-12 * Math.max(1, e.multiplier), `${c.name}, step ${t}: multiplier ${m} vs ${e.multiplier}`);
      assert.ok(Math.abs(ctl.smoothedL0 - e.smoothed) <= 1e-12 * Math.max(1, e.smoothed), `${c.name}, step ${t}: smoothed ${ctl.smoothedL0} vs ${e.smoothed}`);
    });
  }
  // the cases reach what they are named for
  const last = (i: number) => cases[i].expected[cases[i].expected.length - 1].multiplier;
  assert.equal(last(2), 50);
  assert.equal(last(3), 0.05);
  assert.ok(cases[1].expected.slice(0, 100).every((e) => e.multiplier === 1), 'no move before the start step');
});

test('L0 controller: state() / restore() continue exactly; bad options and a NaN L0 are refused', () => {
  const c = cases[0];
  const a = new L0Controller({ target: c.target });
  const b = new L0Controller({ target: c.target });
  c.l0.slice(0, 300).forEach((l, t) => { a.update(l, t); b.update(l, t); });
  const again = new L0Controller({ target: c.target });
  again.restore(JSON.parse(JSON.stringify(b.state())));
  c.l0.slice(300).forEach((l, i) => assert.equal(again.update(l, 300 + i), a.update(l, 300 + i)));
  for (const bad of [{ target: 0 }, { target: -1 }, { target: NaN }, { target: 5, start: -1 }, { target: 5, smoothing: 1 }, { target: 5, integralGain: -1 }, { target: 5, minMultiplier: 0 }, { target: 5, minMultiplier: 2, maxMultiplier: 1 }]) {
    assert.throws(() => new L0Controller(bad as never), (e: any) => e.code === 'E_ARG', JSON.stringify(bad));
  }
  assert.throws(() => new L0Controller({ target: 5 }).update(NaN, 0), (e: any) => e.code === 'E_NONFINITE');
  assert.throws(() => new L0Controller({ target: 5 }).restore({ multiplier: 1 } as never), (e: any) => e.code === 'E_FORMAT');
});

test('coefficient warm-up: step t uses min(1, t / W) of the coefficient (SAELens l1_warm_up_steps)', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((t) => sparsityWarmUp(t, 4)), [0, 0.25, 0.5, 0.75, 1, 1, 1]);
  assert.equal(sparsityWarmUp(0, 0), 1);
});

/** Train with a recorder around forwardBackward: the sparsity scale each step used and the L0 it gave. */
async function recordedFit(kind: 'relu' | 'jumprelu', cfg: Record<string, number>, X: Matrix) {
  const sae = createSAE(kind, { atoms: 32, batch: 128, lr: 3e-3, ...cfg }) as SparseAutoencoder;
  const scales: number[] = [], l0s: number[] = [];
  const fb = sae.forwardBackward.bind(sae);
  sae.forwardBackward = (xb, activity) => {
    scales.push(sae.sparsityScale);
    const s = fb(xb, activity);
    l0s.push(s.l0);
    return s;
  };
  const res = await sae.fit(X, { seed: 3 });
  return { sae, res, scales, l0s };
}

test('the trainer applies warm-up × controller multiplier each step, as replayed from the steps\' own L0; the model and result record it', async () => {
  const { X } = kSparseTestWorld(1);
  const Xs = X.rowSlice(0, 4000);
  for (const kind of ['relu', 'jumprelu'] as const) {
    const { sae, res, scales, l0s } = await recordedFit(kind, { steps: 120, targetL0: 2, targetL0Start: 30, targetL0Gain: 0.01, sparsityWarmupSteps: 40 }, Xs);
    const replay = new L0Controller({ target: 2, start: 30, integralGain: 0.01 });
    scales.forEach((s, t) => {
      assert.equal(s, sparsityWarmUp(t, 40) * replay.multiplier, `${kind} step ${t}`);
      replay.update(l0s[t], t);
    });
    assert.equal(scales[0], 0);
    assert.equal(sae.sparsityScale, 1, 'reset after training');
    assert.ok(res.l0Controller, 'FitResult.l0Controller');
    assert.equal(res.l0Controller.multiplier, replay.multiplier);
    const base = kind === 'relu' ? sae.config.l1 : sae.config.l0;
    assert.equal(res.l0Controller.coefficient, base * replay.multiplier);
    assert.equal(sae.trainingStats.sparsityMultiplier, replay.multiplier);
    assert.ok(replay.multiplier > 1, `${kind}: L0 above 2 early on raises the multiplier (${replay.multiplier})`);
  }
  // without a schedule every step uses exactly 1
  const plain = await recordedFit('relu', { steps: 20 }, Xs);
  assert.ok(plain.scales.every((s) => s === 1));
  assert.equal(plain.res.l0Controller, undefined);
});

test('targetL0 tunes a ReLU SAE (default l1 gives L0 ≈ 6) to 4 and a JumpReLU SAE (L0 ≈ 2.9) to 2 on a k = 3 world', async () => {
  const { X } = kSparseTestWorld(0);
  const got: Record<string, number> = {};
  for (const [kind, target] of [['relu', 4], ['jumprelu', 2]] as const) {
    const sae = createSAE(kind, { atoms: 64, batch: 256, epochs: 20, lr: 3e-3, targetL0: target, targetL0Gain: 0.03 });
    const res = await sae.fit(X, { seed: 0 });
    got[kind] = res.l0;
    assert.ok(Math.abs(res.l0 - target) < 0.5, `${kind}: train L0 ${res.l0} not within 0.5 of ${target}`);
    assert.ok(res.fvu < 0.15, `${kind}: FVU ${res.fvu}`);
  }
  console.log(`targetL0: relu ${got.relu.toFixed(2)} (target 4), jumprelu ${got.jumprelu.toFixed(2)} (target 2)`);
});

test('a stopped run with the L0 controller resumes to the unbroken run\'s weights; other controller settings are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'l0ctl-ck-'));
  try {
    const { X } = kSparseTestWorld(2);
    const Xs = X.rowSlice(0, 3000);
    const cfg = { atoms: 24, batch: 100, steps: 60, lr: 3e-3, targetL0: 2, targetL0Gain: 0.02, sparsityWarmupSteps: 10 };
    const full = createSAE('jumprelu', cfg);
    const rFull = await full.fit(Xs, { seed: 9 });
    const ac = new AbortController();
    const first = createSAE('jumprelu', cfg);
    await assert.rejects(
      first.fit(Xs, { seed: 9, signal: ac.signal, checkpointDir: dir, checkpointEvery: 7, progressIntervalMs: 0, onProgress: (p) => { if (p.step === 25) ac.abort(); } }),
      (e: any) => e.code === 'E_CANCELLED',
    );
    await assert.rejects(createSAE('jumprelu', { ...cfg, targetL0: 3 }).fit(Xs, { seed: 9, checkpointDir: dir, resume: true }), (e: any) => e.code === 'E_ARG' && /targetL0/.test(e.message));
    const second = createSAE('jumprelu', cfg);
    const res = await second.fit(Xs, { seed: 9, checkpointDir: dir, resume: true });
    assert.equal(res.resumedFrom, 25);
    assert.deepEqual(res.l0Controller, rFull.l0Controller);
    assert.deepEqual(Array.from(second.getWeights().W_dec.data), Array.from(full.getWeights().W_dec.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('targetL0 and the warm-up are refused for the SAEs whose L0 is k, and bad values are named', () => {
  for (const kind of ['topk', 'batchtopk', 'mp', 'matryoshka'] as const) {
    assert.throws(() => resolveConfig(kind, { atoms: 8, k: 2, targetL0: 2 }), (e: any) => e.code === 'E_ARG' && /targetL0 applies to .*relu, jumprelu.*set by k/.test(e.message));
    assert.throws(() => resolveConfig(kind, { atoms: 8, k: 2, sparsityWarmupSteps: 5 }), (e: any) => e.code === 'E_ARG' && /sparsityWarmupSteps/.test(e.message));
  }
  assert.throws(() => resolveConfig('relu', { atoms: 8, targetL0: 0 }), (e: any) => e.code === 'E_ARG' && /targetL0/.test(e.message));
  assert.throws(() => resolveConfig('relu', { atoms: 8, targetL0: 9 }), (e: any) => e.code === 'E_ARG' && /targetL0 .*<= 8/.test(e.message));
  assert.throws(() => resolveConfig('relu', { atoms: 8, targetL0Start: 5 }), (e: any) => e.code === 'E_ARG' && /targetL0Start needs targetL0/.test(e.message));
  assert.throws(() => resolveConfig('jumprelu', { atoms: 8, targetL0: 2, targetL0Gain: 0 }), (e: any) => e.code === 'E_ARG' && /targetL0Gain/.test(e.message));
  assert.throws(() => resolveConfig('jumprelu', { atoms: 8, sparsityWarmupSteps: 1.5 }), (e: any) => e.code === 'E_ARG' && /sparsityWarmupSteps/.test(e.message));
});

test('CLI: fit relu-sae --target-l0 --target-l0-gain --sparsity-warmup reports l0Controller; fit topk-sae --target-l0 is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'l0ctl-cli-'));
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  try {
    const { X } = kSparseTestWorld(3);
    const input = join(dir, 'x.npy');
    writeNpy(input, X.rowSlice(0, 3000));
    const r = cli(['fit', 'relu-sae', '--input', input, '--atoms', '32', '--steps', '300', '--batch', '128', '--lr', '3e-3', '--target-l0', '3', '--target-l0-gain', '0.02', '--sparsity-warmup', '50', '--out', join(dir, 'relu'), '--json', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.l0Controller.target, 3);
    assert.ok(out.l0Controller.multiplier > 0 && out.l0Controller.multiplier !== 1, JSON.stringify(out.l0Controller));
    const bad = cli(['fit', 'topk-sae', '--input', input, '--atoms', '32', '--k', '3', '--target-l0', '3', '--out', join(dir, 'topk'), '--quiet']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /target-l0/);
    const zero = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '32', '--steps', '10', '--target-l0', '0', '--out', join(dir, 'jr'), '--quiet']);
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /targetL0 must be a finite number > 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
