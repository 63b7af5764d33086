import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { readSafetensors } from '../src/io/safetensors.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'cli-fit-'));
const input = join(dir, 'x.npy');
{
  const rng = new Rng(0);
  const A = new Matrix(12, 6);
  rng.fillNormal(A.data);
  const X = new Matrix(1500, 6);
  for (let i = 0; i < X.rows; i++) for (const a of rng.choice(12, 2)) { const m = rng.uniform(); for (let j = 0; j < 6; j++) X.data[i * 6 + j] += m * A.data[a * 6 + j]; }
  writeNpy(input, X);
}
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('fit topk-sae writes a SAELens-style model directory that loads and reports FVU/L0', () => {
  const out = join(dir, 'topk');
  const r = cli(['fit', 'topk-sae', '--input', input, '--atoms', '12', '--k', '2', '--epochs', '5', '--batch', '100', '--seed', '1', '--out', out, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'topk-sae');
  assert.ok(j.fvu > 0 && j.fvu < 1, `fvu ${j.fvu}`);
  assert.ok(j.l0 <= 2);
  const st = readSafetensors(join(out, 'sae_weights.safetensors'));
  assert.deepEqual(st.tensors.W_enc.shape, [6, 12]);
  assert.deepEqual(st.tensors.W_dec.shape, [12, 6]);
  assert.deepEqual(st.tensors.b_enc.shape, [12]);
  assert.deepEqual(st.tensors.b_dec.shape, [6]);
  const m = loadModel(out);
  assert.equal(m.cfg.architecture, 'topk');
  assert.equal(m.cfg.k, 2, 'SAELens v6: k at the top level of cfg.json');
  assert.equal(m.cfg.metadata.sae_lens_version, '6.0.0', 'SAELens v6: the schema version in metadata');
  assert.equal(m.cfg.sparsecode.kind, 'topk');
  assert.ok(!existsSync(join(out, 'checkpoint.safetensors')), 'checkpoint removed after a finished run');
});

test('fit with --whiten stores the whitening and reports original-space errors; classical learners store W_dec only', () => {
  const out = join(dir, 'relu');
  const r = cli(['fit', 'relu-sae', '--input', input, '--atoms', '12', '--l1', '0.05', '--epochs', '3', '--whiten', 'pca', '--seed', '0', '--out', out, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = loadModel(out);
  assert.equal(m.whitening?.method, 'pca');
  assert.ok(existsSync(join(out, 'whitening.json')));
  const fvu = JSON.parse(r.stdout).fvu;
  assert.ok(fvu > 0 && fvu < 1.5, `fvu ${fvu}`);
  const dl = join(dir, 'dl');
  const d = cli(['fit', 'dl-fista', '--input', input, '--atoms', '12', '--l1', '0.05', '--steps', '20', '--nonneg', '--seed', '0', '--out', dl, '--json', '--quiet']);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(Object.keys(readSafetensors(join(dl, 'sae_weights.safetensors')).tensors), ['W_dec']);
  assert.ok(JSON.parse(d.stdout).fvu < 0.5);
});

test('fit refuses bad usage with exit 2', () => {
  const base = ['--input', input, '--seed', '0', '--out', join(dir, 'bad')];
  let r = cli(['fit', 'topk-sae', '--atoms', '4', '--k', '5', ...base]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--k must be between 1 and --atoms \(4\), got 5/);
  r = cli(['fit', 'topk-sae', '--atoms', '4', '--k', '2', '--lr', '-1', ...base]);
  assert.equal(r.code, 2);
  r = cli(['fit', 'kmeans', '--atoms', '4', ...base]);
  assert.equal(r.code, 2);
  r = cli(['fit', 'dl-fista', '--atoms', '4', '--batch', '8', ...base]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /dl-fista does not take --batch; its options are /);
  r = cli(['fit', 'topk-sae', '--atoms', '4', '--k', '2', '--seed', '0', '--out', join(dir, 'bad'), '--input', join(dir, 'missing.npy')]);
  assert.equal(r.code, 3);
});

test('a killed fit resumes from its checkpoint with --resume', async () => {
  const out = join(dir, 'resume');
  const args = ['fit', 'topk-sae', '--input', input, '--atoms', '12', '--k', '2', '--steps', '30000', '--batch', '50', '--seed', '3', '--out', out, '--checkpoint-every', '2000'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args, '--quiet'], { env: { ...process.env, SPARSECODE_BACKEND: 'js' } });
  const ck = join(out, 'checkpoint.safetensors');
  const t0 = Date.now();
  while (!existsSync(ck) && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, 'interrupted runs exit 130');
  assert.ok(existsSync(ck));
  const r = cli([...args, '--resume', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const m = /resumed from step (\d+)/.exec(r.stderr);
  assert.ok(m && Number(m[1]) >= 2000 && Number(m[1]) < 30000, `stderr: ${r.stderr}`);
  assert.equal(JSON.parse(r.stdout).steps, 30000);
  assert.ok(existsSync(join(out, 'cfg.json')));
});
