import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE, trainSAE } from '../src/dictionary/index.js';
import { dictionaryRecovery } from '../src/metrics/dictionary.js';
import { readNpy } from '../src/io/npy.js';
import { SynthSAEBenchWorld, SYNTH_SAE_BENCH_PRESETS } from '../src/worlds/synth-sae-bench.js';
import { synthWorldSource } from '../src/worlds/world-source.js';

useBackend('js');

/** A tiny SynthSAEBench world: 64 features in d = 24, two hierarchies of depth 1. */
const CFG = { ...SYNTH_SAE_BENCH_PRESETS.small, features: 64, dim: 24, roots: 2, branching: 3, depth: 1, corrRank: 4, orthoSteps: 5 };
const world = new SynthSAEBenchWorld(CFG, 4);
const N = 6000;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a world source: random access equals the same rows of a longer read; held-out rows lie past the training range', () => {
  const src = synthWorldSource(world, { rows: N, seed: 4 });
  const long = src.readRows(98, 10), short = src.readRows(100, 5);
  assert.deepEqual(Array.from(short), Array.from(long.subarray(2 * 24, 7 * 24)));
  const bigger = synthWorldSource(world, { rows: N + 10, seed: 4 });
  assert.deepEqual(Array.from(src.heldOut(3).data), Array.from(bigger.readRows(N, 3)), 'held-out rows are rows N, N+1, ... of the stream');
  assert.notDeepEqual(Array.from(src.heldOut(1).data), Array.from(src.readRows(0, 1)));
  assert.deepEqual(Array.from(synthWorldSource(world, { rows: N, seed: 4 }).readRows(7, 2)), Array.from(src.readRows(7, 2)), 'reproducible from the seed');
  assert.notDeepEqual(Array.from(synthWorldSource(world, { rows: N, seed: 5 }).readRows(7, 2)), Array.from(src.readRows(7, 2)));
  assert.throws(() => src.readRows(N - 1, 2), (e: any) => e.code === 'E_ARG');
});

test('training from a world is deterministic and recovers the features as well as training on the same rows from a file', async () => {
  const src = synthWorldSource(world, { rows: N, seed: 4 });
  const cfg = { atoms: 64, k: 4, steps: 900, batch: 200, lr: 3e-3 };
  const a = createSAE('topk', cfg), b = createSAE('topk', cfg);
  await trainSAE(a, src, { seed: 1 });
  await trainSAE(b, src, { seed: 1 });
  assert.deepEqual(Array.from(a.Wdec.data), Array.from(b.Wdec.data), 'same seed, same model');
  const X = new Matrix(N, CFG.dim, src.readRows(0, N).slice());
  const c = createSAE('topk', cfg);
  await trainSAE(c, X, { seed: 1 });
  const streamed = dictionaryRecovery(a.getWeights().W_dec, world.D).meanCos;
  const inMemory = dictionaryRecovery(c.getWeights().W_dec, world.D).meanCos;
  assert.ok(streamed > 0.6 && inMemory > 0.6, `recovery: streamed ${streamed}, in memory ${inMemory}`);
  assert.ok(Math.abs(streamed - inMemory) < 0.05, `streamed ${streamed} vs in memory ${inMemory}`);
});

test("epochs 'auto' from a world measures convergence on held-out rows drawn from the world", async () => {
  const src = synthWorldSource(world, { rows: N, seed: 4 });
  let asked = 0;
  const heldOut = src.heldOut.bind(src);
  const spy = { ...src, heldOut: (h: number) => (asked = h, heldOut(h)) };
  const sae = createSAE('topk', { atoms: 32, k: 3, batch: 200, epochs: 'auto', convergence: { minSteps: 60, maxSteps: 120, evalEvery: 20, heldOutRows: 300 } });
  const r = await trainSAE(sae, spy, { seed: 2 });
  assert.equal(asked, 300);
  assert.equal(r.convergence?.heldOutRows, 300);
  assert.ok(Number.isFinite(r.heldOutFvu) && r.heldOutFvu! < 1);
});

test('fit --world DIR --samples N trains from the folder\'s world without writing rows; eval --world scores it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fit-world-'));
  try {
    const w = cli(['world', 'synth-sae-bench', '--latents', '64', '--dim', '24', '--roots', '2', '--branching', '3', '--depth', '1', '--ortho-steps', '5', '--samples', '1000', '--seed', '4', '--out', join(dir, 'w')]);
    assert.equal(w.code, 0, w.stderr);
    const out = join(dir, 'sae');
    const r = cli(['fit', 'topk-sae', '--world', join(dir, 'w'), '--samples', '4000', '--atoms', '64', '--k', '4', '--steps', '300', '--batch', '200', '--lr', '3e-3', '--seed', '0', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(s.streamed, true);
    assert.equal(s.world.seed, 4);
    assert.equal(s.world.samples, 4000);
    assert.equal(JSON.parse(readFileSync(join(out, 'cfg.json'), 'utf8')).sparsecode.training.world.samples, 4000);
    // the world rebuilt from world.json is the folder's: the same dictionary
    const D = readNpy(join(dir, 'w', 'mixing.npy'));
    assert.deepEqual(Array.from(D.data as Float32Array), Array.from(world.D.data));
    const e = cli(['eval', '--model', out, '--world', join(dir, 'w'), '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(JSON.parse(e.stdout).mcc_dec > 0.5);
    const noSamples = cli(['fit', 'topk-sae', '--world', 'synth-sae-bench', '--atoms', '8', '--k', '2', '--out', join(dir, 'x')]);
    assert.equal(noSamples.code, 2);
    assert.match(noSamples.stderr, /--samples/);
    const both = cli(['fit', 'topk-sae', '--world', 'synth-sae-bench', '--input', 'x.npy', '--samples', '10', '--atoms', '8', '--k', '2', '--out', join(dir, 'x')]);
    assert.equal(both.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
