// kill -9 in the middle of `fit`, `encode` and `world`: no half-written output, and a killed
// `fit --checkpoint-every N` resumes from its last checkpoint and ends bit-exactly where an
// uninterrupted run with the same seed ends. The CLI runs from source in child processes (as in
// cli.test.ts), on the js backend (single-threaded, so the runs are reproducible bit for bit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { CHECKPOINT_FILE, loadCheckpoint } from '../src/dictionary/checkpoint.js';

const ENV = { SPARSECODE_BACKEND: 'js' };
/** what an interrupted atomic write may leave: a hidden temporary `.<name>.<pid>.<stamp>.tmp` */
const TEMP = /^\..+\.\d+\.[0-9a-z]+\.tmp$/;

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Poll every 5 ms until `pred` holds; fail after `timeoutMs` or when the child exits first. */
async function waitFor(pred: () => boolean, child: ChildProcess, what: string, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (child.exitCode !== null || child.signalCode !== null) assert.fail(`the process ended before ${what}`);
    if (Date.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function kill9(p: ReturnType<typeof start>): Promise<void> {
  p.child.kill('SIGKILL');
  const r = await p.done;
  assert.equal(r.signal, 'SIGKILL', `the process ended on its own (code ${r.code}) before it was killed: ${r.stderr}`);
}

const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
/** The files in dir that are not temporaries of an interrupted atomic write (and those that are). */
function visible(dir: string): { files: string[]; temps: string[] } {
  const all = list(dir);
  const temps = all.filter((f) => TEMP.test(f));
  return { files: all.filter((f) => !TEMP.test(f)), temps };
}

test('fit topk-sae killed with SIGKILL resumes from its last checkpoint and ends bit-exactly like an uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-kill-'));
  try {
    const rng = new Rng(7);
    const X = new Matrix(2048, 48);
    rng.fillNormal(X.data);
    writeNpy(join(dir, 'X.npy'), X);
    const every = 20, steps = 240;
    const args = (out: string) => ['fit', 'topk-sae', '--input', join(dir, 'X.npy'), '--atoms', '192', '--k', '8', '--batch', '256', '--steps', String(steps), '--seed', '3', '--out', out, '--checkpoint-every', String(every), '--json'];
    const killedDir = join(dir, 'killed'), fullDir = join(dir, 'full');

    // the reference run and the run to be killed, side by side
    const full = start(args(fullDir));
    const victim = start(args(killedDir));
    let seen = 0;
    await waitFor(() => {
      if (!existsSync(join(killedDir, CHECKPOINT_FILE))) return false;
      seen = loadCheckpoint(killedDir)!.step; // replaced atomically: always a whole file
      return seen >= 2 * every;
    }, victim.child, `a checkpoint at step >= ${2 * every}`);
    await kill9(victim);

    // mid-training: a checkpoint, no model yet, nothing half-written under an output name
    const after = visible(killedDir);
    assert.deepEqual(after.files, [CHECKPOINT_FILE], `after the kill: ${list(killedDir).join(', ')}`);
    const ck = loadCheckpoint(killedDir)!;
    assert.ok(ck.step >= seen && ck.step % every === 0 && ck.step < steps, `checkpoint step ${ck.step} (seen ${seen}, every ${every})`);
    // the newest complete checkpoint is on disk: a write that was cut off can only have been
    // the one at ck.step + every (its temporary), so at most one interval of steps is lost
    for (const t of after.temps) assert.match(t, /^\.checkpoint\.safetensors\./);

    const resumed = start([...args(killedDir), '--resume']);
    const r = await resumed.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`resumed from step ${ck.step}\\b`));
    const out = JSON.parse(r.stdout);
    assert.equal(out.steps, steps);
    const f = await full.done;
    assert.equal(f.code, 0, f.stderr);

    // cfg.json records the step it resumed from; the checkpoint is gone once the model is written
    const cfg = JSON.parse(readFileSync(join(killedDir, 'cfg.json'), 'utf8'));
    assert.equal(cfg.sparsecode.training.resumedFrom, ck.step);
    assert.equal(JSON.parse(readFileSync(join(fullDir, 'cfg.json'), 'utf8')).sparsecode.training.resumedFrom, null);
    const fin = visible(killedDir);
    assert.ok(!fin.files.includes(CHECKPOINT_FILE), 'the checkpoint is removed after a finished run');
    assert.deepEqual(fin.files.sort(), visible(fullDir).files.sort());
    for (const t of fin.temps) assert.match(t, /^\.checkpoint\.safetensors\./, `stray temporary ${t}`);
    loadModel(killedDir); // parses and validates

    // bit-exact: every tensor of the resumed model equals the uninterrupted run's
    const a = readSafetensors(join(killedDir, 'sae_weights.safetensors'));
    const b = readSafetensors(join(fullDir, 'sae_weights.safetensors'));
    assert.deepEqual(Object.keys(a.tensors).sort(), Object.keys(b.tensors).sort());
    for (const name of Object.keys(a.tensors)) {
      const u = a.tensors[name].data, v = b.tensors[name].data;
      assert.equal(u.length, v.length, name);
      let diff = 0;
      for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) diff++;
      assert.equal(diff, 0, `${name}: ${diff} of ${u.length} values differ between the resumed and the uninterrupted run`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode killed with SIGKILL while streaming its output leaves the previous output file untouched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-kill-'));
  try {
    const rng = new Rng(1);
    const D = new Matrix(64, 32);
    rng.fillNormal(D.data);
    const X = new Matrix(60000, 32);
    rng.fillNormal(X.data);
    writeNpy(join(dir, 'D.npy'), D);
    writeNpy(join(dir, 'X.npy'), X);
    const outDir = join(dir, 'codes');
    const outPath = join(outDir, 'Z.npy');
    const previous = new Matrix(3, 2);
    previous.data.set([1, 2, 3, 4, 5, 6]);
    writeNpy(outPath, previous);
    const before = readFileSync(outPath);
    const p = start(['encode', '--dictionary', join(dir, 'D.npy'), '--input', join(dir, 'X.npy'), '--out', outPath, '--method', 'fista', '--lambda', '0.1', '--iters', '400', '--tol', '0', '--batch', '512', '--quiet']);
    // the streaming writer's temporary appears first, then grows batch by batch
    await waitFor(() => list(outDir).some((f) => TEMP.test(f)), p.child, 'the temporary output file');
    await waitFor(() => {
      const t = list(outDir).find((f) => TEMP.test(f));
      return t !== undefined && readFileSync(join(outDir, t)).length > 200_000;
    }, p.child, 'some codes to be written');
    await kill9(p);
    assert.deepEqual(readFileSync(outPath), before, 'Z.npy changed although encode never finished');
    const { files, temps } = visible(outDir);
    assert.deepEqual(files, ['Z.npy']);
    for (const t of temps) assert.match(t, /^\.Z\.npy\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('world killed with SIGKILL while writing leaves only whole .npy files and no world.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-kill-'));
  try {
    const out = join(dir, 'w');
    const p = start(['world', 'superposition', '--latents', '100', '--active', '5', '--samples', '600000', '--seed', '1', '--out', out, '--quiet']);
    await waitFor(() => list(out).length > 0, p.child, 'the first file of the world', 60000);
    await kill9(p);
    const { files, temps } = visible(out);
    assert.ok(!files.includes('world.json'), `world.json is written last, after every array: ${files.join(', ')}`);
    for (const f of files) {
      assert.match(f, /\.npy$/, `unexpected file ${f}`);
      const a = readNpy(join(out, f)); // a complete, parseable array
      assert.ok(a.shape.length >= 1 && a.data.length === a.shape.reduce((s, v) => s * v, 1), f);
    }
    for (const t of temps) assert.match(t, /\.npy\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
