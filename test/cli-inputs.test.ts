import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpyMatrix, writeNpy } from '../src/io/npy.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { fista } from '../src/inference/index.js';
import { assertAllClose } from './helpers.js';

// Every command that takes an X.npy also takes X.safetensors (--tensor NAME or FILE:NAME) and
// gives the same result; encode streams its input in batches and appends its output.

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args, '--quiet'], {
    encoding: 'utf8',
    env: { ...process.env, SPARSECODE_BACKEND: 'js' },
    timeout: 120000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-inputs-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const p = (f: string) => join(dir, f);
const rng = new Rng(5);
const D = new Matrix(16, 8);
rng.fillNormal(D.data);
for (let j = 0; j < 16; j++) {
  const r = D.row(j);
  const s = Math.hypot(...r);
  for (let c = 0; c < 8; c++) r[c] /= s;
}
const X = new Matrix(45, 8);
rng.fillNormal(X.data);
const Y = new Matrix(45, 5);
rng.fillNormal(Y.data);
writeNpy(p('X.npy'), X);
writeNpy(p('D.npy'), D);
writeNpy(p('Y.npy'), Y);
// one file with several 2-D tensors (so a name is needed) and one with a single 2-D tensor
writeSafetensors(p('acts.safetensors'), { x: { shape: [45, 8], data: X.data }, y: { shape: [45, 5], data: Y.data }, d: { shape: [16, 8], data: Float64Array.from(D.data) } });
writeSafetensors(p('only.safetensors'), { x: { shape: [45, 8], data: X.data }, b: { shape: [8], data: new Float32Array(8) } });

const hidden = () => readdirSync(dir).filter((f) => f.startsWith('.'));

test('encode: .safetensors input (--tensor, FILE:NAME, or the only 2-D tensor) equals .npy; batches stream to the same codes', () => {
  const common = ['--method', 'fista', '--lambda', '0.05', '--iters', '150', '--tol', '0', '--json'];
  const a = cli(['encode', '--dictionary', p('D.npy'), '--input', p('X.npy'), '--out', p('Za.npy'), ...common]);
  assert.equal(a.code, 0, a.stderr);
  const b = cli(['encode', '--dictionary', p('acts.safetensors:d'), '--input', p('acts.safetensors'), '--tensor', 'x', '--out', p('Zb.npy'), '--batch', '7', ...common]);
  assert.equal(b.code, 0, b.stderr);
  const c = cli(['encode', '--dictionary', p('D.npy'), '--input', p('only.safetensors'), '--out', p('Zc.npy'), '--batch', '45', ...common]);
  assert.equal(c.code, 0, c.stderr);
  const ref = fista(X, D, { lambda: 0.05, iters: 150, tol: 0 });
  const Za = readNpyMatrix(p('Za.npy'));
  assert.deepEqual(Za.shape, [45, 16]);
  assertAllClose(Za.data, ref.Z.data, 0, 1e-6, 'npy input vs library');
  assertAllClose(readNpyMatrix(p('Zb.npy')).data, Za.data, 0, 1e-6, 'safetensors input in 7 batches');
  assert.deepEqual(Buffer.compare(readFileSync(p('Zc.npy')), readFileSync(p('Za.npy'))), 0, 'one batch: byte-identical file');
  const ja = JSON.parse(a.stdout), jb = JSON.parse(b.stdout);
  assert.equal(jb.samples, 45);
  assert.ok(Math.abs(ja.objective - jb.objective) <= 1e-6 * ja.objective, 'objective is the mean over all batches');
  assert.ok(Math.abs(ja.mean_l0 - jb.mean_l0) < 1e-9);
  assert.ok(Math.abs(ja.objective - ref.objective!) <= 1e-5 * ref.objective!);
  assert.deepEqual(hidden(), [], 'no temporary files left');
});

test('encode: bad input mid-stream leaves no output and no temporary file; tensor errors list the tensors', () => {
  const bad = X.clone();
  bad.set(40, 3, Infinity);
  writeNpy(p('Xbad.npy'), bad);
  const r = cli(['encode', '--dictionary', p('D.npy'), '--input', p('Xbad.npy'), '--lambda', '0.1', '--batch', '8', '--out', p('Zbad.npy')]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /X has a non-finite value \(Infinity\) at row 40, column 3/);
  assert.equal(existsSync(p('Zbad.npy')), false);
  assert.deepEqual(hidden(), []);
  const amb = cli(['encode', '--dictionary', p('D.npy'), '--input', p('acts.safetensors'), '--lambda', '0.1', '--out', p('Zx.npy')]);
  assert.equal(amb.code, 2);
  assert.match(amb.stderr, /--input: .*acts\.safetensors holds 3 2-D tensors; name the one to read with --tensor NAME.*x F32 \[45, 8\]/);
  const nope = cli(['encode', '--dictionary', p('D.npy'), '--input', p('acts.safetensors'), '--tensor', 'z', '--lambda', '0.1', '--out', p('Zx.npy')]);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /no tensor named "z"/);
  const zero = cli(['encode', '--dictionary', p('D.npy'), '--input', p('X.npy'), '--lambda', '0.1', '--batch', '0', '--out', p('Zx.npy')]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--batch must be >= 1/);
});

test('eval and align give the same numbers on .safetensors tensors as on .npy files', () => {
  const e1 = cli(['eval', '--codes', p('X.npy'), '--truth', p('Y.npy'), '--json']);
  const e2 = cli(['eval', '--codes', p('acts.safetensors:x'), '--truth', p('acts.safetensors'), '--tensor', 'y', '--json']);
  assert.equal(e1.code, 0, e1.stderr);
  assert.equal(e2.code, 0, e2.stderr);
  assert.deepEqual(JSON.parse(e2.stdout), JSON.parse(e1.stdout));
  assert.ok(JSON.parse(e1.stdout).mcc > 0);
  const a1 = cli(['align', '--a', p('X.npy'), '--b', p('Y.npy'), '--metric', 'linear-cka', '--json']);
  const a2 = cli(['align', '--a', p('only.safetensors'), '--b', p('acts.safetensors:y'), '--metric', 'linear-cka', '--json']);
  assert.equal(a1.code, 0, a1.stderr);
  assert.equal(a2.code, 0, a2.stderr);
  const v1 = JSON.parse(a1.stdout), v2 = JSON.parse(a2.stdout);
  assert.equal(v2.value, v1.value);
  assert.ok(v1.value > 0 && v1.value < 1);
});

test('fit reads a .safetensors tensor like the .npy file (same model)', () => {
  const args = ['--atoms', '6', '--l1', '0.05', '--steps', '5', '--seed', '0', '--json'];
  const f1 = cli(['fit', 'dl-fista', '--input', p('X.npy'), '--out', p('m1'), ...args]);
  const f2 = cli(['fit', 'dl-fista', '--input', p('acts.safetensors'), '--tensor', 'x', '--out', p('m2'), ...args]);
  assert.equal(f1.code, 0, f1.stderr);
  assert.equal(f2.code, 0, f2.stderr);
  assert.equal(JSON.parse(f2.stdout).fvu, JSON.parse(f1.stdout).fvu);
  assert.deepEqual(readFileSync(join(p('m2'), 'sae_weights.safetensors')), readFileSync(join(p('m1'), 'sae_weights.safetensors')));
});
