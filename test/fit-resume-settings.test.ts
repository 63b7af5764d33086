// `fit --resume` refuses a checkpoint written with other settings (issue #13 item 6): exit 2
// naming every field that differs, with the checkpoint's value and this run's, and the fix;
// the same settings resume. The library check (trainSAE) covers checkpoints written before the
// settings were recorded (identity + config only). The CLI runs from source on the js backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { writeNpy } from '../src/io/npy.js';
import { createSAE } from '../src/dictionary/index.js';
import { checkpointPath, loadCheckpoint, saveCheckpoint, settingsDifferences } from '../src/dictionary/checkpoint.js';
import { trainSAE } from '../src/dictionary/trainer.js';

useBackend('js');
const ENV = { ...process.env, SPARSECODE_BACKEND: 'js' };
const dir = mkdtempSync(join(tmpdir(), 'fit-resume-settings-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function world(n: number, seed = 0): Matrix {
  const rng = new Rng(seed);
  const A = new Matrix(12, 6);
  rng.fillNormal(A.data);
  const X = new Matrix(n, 6);
  for (let i = 0; i < n; i++) for (const a of rng.choice(12, 2)) { const m = rng.uniform(); for (let j = 0; j < 6; j++) X.data[i * 6 + j] += m * A.data[a * 6 + j]; }
  return X;
}
const X = world(800);
const input = join(dir, 'x.npy');
writeNpy(input, X);
// the same shape, one value changed
const other = join(dir, 'x2.npy');
{
  const Y = X.clone();
  Y.data[799 * 6 + 5] += 1;
  writeNpy(other, Y);
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: ENV, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start fit, wait until `until()` holds (polling), then SIGTERM it; resolves with its exit code. */
async function interrupted(args: string[], until: () => boolean): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args, '--quiet'], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const t0 = Date.now();
  while (!until()) {
    if (child.exitCode !== null) assert.fail(`fit ended (code ${child.exitCode}) before it was interrupted: ${stderr}`);
    if (Date.now() - t0 > 60000) assert.fail('timed out waiting for the checkpoint');
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGTERM');
  return exited;
}

test('fit --resume with other settings exits 2 naming every field that differs; the same settings resume', async () => {
  const out = join(dir, 'sae');
  const ck = checkpointPath(out);
  const base = ['fit', 'topk-sae', '--input', input, '--atoms', '12', '--k', '2', '--steps', '200000', '--batch', '32', '--seed', '3', '--out', out, '--checkpoint-every', '100'];
  assert.equal(await interrupted(base, () => existsSync(ck)), 130, 'an interrupted fit exits 130');
  const s0 = loadCheckpoint(out)!.step;
  assert.ok(s0 >= 100);

  /** base with options replaced (value) or removed (null) */
  const withOpts = (o: Record<string, string | null>): string[] => {
    const args: string[] = [];
    for (let i = 0; i < base.length; i++) {
      if (Object.hasOwn(o, base[i])) i++;
      else args.push(base[i]);
    }
    for (const [k, v] of Object.entries(o)) if (v !== null) args.push(k, v);
    return args;
  };
  const refused = (o: Record<string, string | null>) => {
    const r = cli([...withOpts(o), '--resume']);
    assert.equal(r.code, 2, `exit 2 expected: ${r.stderr}`);
    return r.stderr;
  };
  // one field: named with both values and the fix
  let msg = refused({ '--lr': '0.003' });
  assert.match(msg, /lr: written for lr = 0\.001, this run has lr = 0\.003/);
  assert.match(msg, /1 differs/);
  assert.ok(msg.includes(`delete ${ck}`), msg);
  // many fields at once (the model, the budget, the seed, the whitening, the data file): every one is named
  msg = refused({ '--k': '3', '--batch': '64', '--atoms': '16', '--seed': '4', '--steps': null, '--epochs': '3', '--whiten': 'pca', '--input': other });
  for (const f of [
    'k: written for k = 2, this run has k = 3', 'batch: written for batch = 32, this run has batch = 64', 'atoms: written for atoms = 12, this run has atoms = 16',
    'seed: written for seed = 3, this run has seed = 4', 'steps: written for steps = 200000, this run has steps = null', 'epochs: written for epochs = 10, this run has epochs = 3',
    'whiten: written for whiten = null, this run has whiten = "pca"',
  ]) assert.ok(msg.includes(f), `${f} in\n${msg}`);
  assert.match(msg, /data: written for data = "\[800 x 6\] rows [0-9a-f]+", this run has data = "\[800 x 6\] rows [0-9a-f]+" \(another data file/);
  assert.match(msg, /\(\d+ differ\)/);
  // a refusal leaves the checkpoint as it was
  assert.equal(loadCheckpoint(out)!.step, s0);

  // the same settings resume: the next checkpoint is the first multiple of 100 after s0 (a fresh
  // start would write step 100 first), and the seconds recorded carry on from the checkpoint's
  const secs0 = Number(loadCheckpoint(out)!.state.seconds);
  const next = (Math.floor(s0 / 100) + 1) * 100;
  const code = await interrupted([...base, '--resume'], () => {
    try {
      return loadCheckpoint(out)!.step >= next;
    } catch {
      return false; // a read racing the rename
    }
  });
  assert.equal(code, 130);
  const c1 = loadCheckpoint(out)!;
  assert.ok(c1.step >= next, `resumed past ${s0}: step ${c1.step}`);
  assert.ok(Number(c1.state.seconds) > secs0, 'the resumed run counts the seconds before the checkpoint');
});

test('trainSAE: a checkpoint written before settings were recorded (identity + config) still resumes, and is still refused on a changed setting', async () => {
  const ckDir = join(dir, 'lib');
  const cfg = { atoms: 12, k: 2, steps: 60, batch: 40, lr: 2e-3 };
  const whole = createSAE('topk', cfg);
  await trainSAE(whole, X, { seed: 2 });
  const first = createSAE('topk', cfg);
  await trainSAE(first, X, { seed: 2, checkpointDir: ckDir, checkpointEvery: 30, finalCheckpoint: false });
  const ck = loadCheckpoint(ckDir)!;
  assert.equal(ck.step, 30);
  // the new format refuses other settings (naming both) and an Rng seed by its state
  await assert.rejects(trainSAE(createSAE('topk', { ...cfg, lr: 1e-3 }), X, { seed: 2, checkpointDir: ckDir, resume: true }),
    (e: any) => e.code === 'E_ARG' && /lr: written for lr = 0\.002, this run has lr = 0\.001/.test(e.message) && e.details.differences.length === 1);
  await assert.rejects(trainSAE(createSAE('topk', cfg), X, { seed: new Rng(2), checkpointDir: ckDir, resume: true }), (e: any) => e.code === 'E_ARG' && /seed: written for seed = 2, this run has seed = "rng:/.test(e.message));
  await assert.rejects(trainSAE(createSAE('topk', cfg), world(800, 1), { seed: 2, checkpointDir: ckDir, resume: true }), (e: any) => e.code === 'E_ARG' && /data: written for data/.test(e.message));
  // rewrite it as the old trainer wrote it: identity (8 fields) and the config, no settings
  const s = ck.state.settings as Record<string, unknown>;
  const { settings: _drop, ...rest } = ck.state;
  const identity = { kind: s.kind, atoms: s.atoms, k: s.k, dim: s.dim, samples: s.samples, batch: s.batch, totalSteps: s.totalSteps, order: s.order };
  saveCheckpoint(ckDir, { step: ck.step, state: { ...rest, identity }, tensors: ck.tensors });
  assert.equal(loadCheckpoint(ckDir)!.state.settings, undefined);
  await assert.rejects(trainSAE(createSAE('topk', { ...cfg, lr: 1e-3 }), X, { seed: 2, checkpointDir: ckDir, resume: true }), (e: any) => e.code === 'E_ARG' && /lr: written for lr = 0\.002/.test(e.message));
  await assert.rejects(trainSAE(createSAE('topk', { ...cfg, batch: 50 }), X, { seed: 2, checkpointDir: ckDir, resume: true }), (e: any) => e.code === 'E_ARG' && /batch: written for batch = 40, this run has batch = 50/.test(e.message));
  const resumed = createSAE('topk', cfg);
  const r = await trainSAE(resumed, X, { seed: 2, checkpointDir: ckDir, resume: true });
  assert.equal(r.resumedFrom, 30);
  assert.deepEqual([...resumed.Wdec.data], [...whole.Wdec.data], 'the resumed run ends where the uninterrupted one does');
});

test('settingsDifferences: every differing key, unrecorded keys skipped, keys the run lacks differ', () => {
  assert.deepEqual(settingsDifferences({ a: 1, b: 'x', c: [1, 2] }, { a: 1, b: 'y', c: [1, 2], d: 5 }), [{ key: 'b', checkpoint: 'x', run: 'y' }]);
  assert.deepEqual(settingsDifferences({ a: 1, e: null }, { a: 2 }), [{ key: 'a', checkpoint: 1, run: 2 }, { key: 'e', checkpoint: null, run: undefined }]);
});
