import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../src/io/npy.js';
import { superpositionWorld } from '../src/worlds/index.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Decode from a plain Uint8Array copy (independent of how the file was written). */
function load(path: string) {
  const b = readFileSync(path);
  return decodeNpy(new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), path);
}

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-world-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('world superposition writes world.json and float32 arrays equal to the library world', () => {
  const out = join(dir, 'w');
  const r = cli(['world', 'superposition', '--latents', '40', '--active', '4', '--samples', '301', '--seed', '3', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /train 150, val 151, ood 150/);
  const meta = JSON.parse(readFileSync(join(out, 'world.json'), 'utf8'));
  const w = superpositionWorld({ latents: 40, active: 4, samples: 301, seed: 3 });
  assert.equal(meta.dim, w.dim);
  assert.equal(meta.params.dim, w.dim);
  assert.equal(meta.params.seed, 3);
  assert.equal(meta.params.oodLatents, 20);
  assert.deepEqual(meta.sizes, { train: 150, val: 151, ood: 150 });
  const A = load(join(out, 'mixing.npy'));
  assert.deepEqual(A.shape, [40, w.dim]);
  assert.equal(A.dtype, 'float32');
  assert.deepEqual(A.data, w.A.data);
  for (const s of ['train', 'val', 'ood'] as const) {
    const x = load(join(out, `${s}_x.npy`));
    const z = load(join(out, `${s}_z.npy`));
    const y = load(join(out, `${s}_y.npy`));
    assert.deepEqual(x.shape, [w.sizes[s], w.dim]);
    assert.deepEqual(z.shape, [w.sizes[s], 40]);
    assert.deepEqual(y.shape, [w.sizes[s]]);
    assert.deepEqual(x.data, w.X[s].data);
    assert.deepEqual(z.data, w.Z[s].data);
    assert.deepEqual(y.data, w.y[s]);
  }
});

test('eval of the truth against itself: mcc 1, dictionary 1, L0 = k; X vs truth is worse', () => {
  const out = join(dir, 'w');
  if (!existsSync(join(out, 'world.json'))) cli(['world', 'superposition', '--latents', '40', '--active', '4', '--samples', '301', '--seed', '3', '--out', out]);
  const r = cli(['eval', '--codes', join(out, 'val_z.npy'), '--truth', join(out, 'val_z.npy'),
    '--dictionary', join(out, 'mixing.npy'), '--true-dictionary', join(out, 'mixing.npy'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(Math.abs(j.mcc - 1) < 1e-9, `mcc ${j.mcc}`);
  assert.equal(j.dict_mean_cos, 1);
  assert.equal(j.dict_frac_090, 1);
  assert.equal(j.l0, 4);
  assert.equal(j.dead_fraction, 0);
  const ood = cli(['eval', '--codes', join(out, 'ood_x.npy'), '--truth', join(out, 'ood_z.npy'), '--ood', '--json']);
  assert.equal(ood.code, 0, ood.stderr);
  const o = JSON.parse(ood.stdout);
  assert.equal(o.mcc_rule, 'ood');
  assert.equal(o.mcc_latents_used, 21); // z0 and the 20 OOD latents
  assert.ok(o.mcc < 0.9 && o.mcc > 0, `${o.mcc}`);
  const table = cli(['eval', '--codes', join(out, 'val_z.npy'), '--truth', join(out, 'val_z.npy')]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /MCC \(id, 40 pairs\)\s+1\.0000/);
});

test('eval errors: different row counts exit 3; half a dictionary pair exits 2', () => {
  const out = join(dir, 'w');
  const r = cli(['eval', '--codes', join(out, 'train_z.npy'), '--truth', join(out, 'val_z.npy')]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /150 rows.*151/);
  const d = cli(['eval', '--codes', join(out, 'val_z.npy'), '--truth', join(out, 'val_z.npy'), '--dictionary', join(out, 'mixing.npy')]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /both --dictionary and --true-dictionary/);
  const missing = cli(['eval', '--codes', join(dir, 'nope.npy'), '--truth', join(out, 'val_z.npy')]);
  assert.equal(missing.code, 3);
});

test('world iid and usage errors', () => {
  const out = join(dir, 'iid');
  const r = cli(['world', 'iid', '--latents', '30', '--p', '0.1', '--samples', '100', '--dim', '12', '--noise', '0.01', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.dim, 12);
  assert.deepEqual(j.sizes, { train: 50, val: 50 });
  assert.ok(existsSync(join(out, 'val_x.npy')) && !existsSync(join(out, 'ood_x.npy')));
  const bad = cli(['world', 'superposition', '--latents', '30', '--samples', '100', '--out', out]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--active/);
  const kind = cli(['world', 'toy', '--latents', '30', '--active', '3', '--samples', '100', '--out', out]);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /superposition or iid/);
  const pool = cli(['world', 'superposition', '--latents', '10', '--active', '7', '--samples', '100', '--out', out]);
  assert.equal(pool.code, 2);
  assert.match(pool.stderr, /ID pool/);
});
