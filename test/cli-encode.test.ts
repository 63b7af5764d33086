import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpyMatrix, writeNpy } from '../src/io/npy.js';
import { fista, lassoCD, lassoObjectives, meanL0, omp } from '../src/inference/index.js';
import { matmul } from '../src/backend/index.js';
import { assertAllClose } from './helpers.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, SPARSECODE_BACKEND: 'js' },
    timeout: 120000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-encode-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const rng = new Rng(11);
const D = new Matrix(24, 12);
rng.fillNormal(D.data);
for (let j = 0; j < 24; j++) {
  const r = D.row(j);
  const s = Math.sqrt(r.reduce((t, v) => t + v * v, 0));
  for (let c = 0; c < 12; c++) r[c] /= s;
}
const X = new Matrix(30, 12);
rng.fillNormal(X.data);
const dPath = join(dir, 'D.npy');
const xPath = join(dir, 'X.npy');
writeNpy(dPath, D);
writeNpy(xPath, X);

test('encode --method fista writes the codes the library computes and prints a summary line', () => {
  const out = join(dir, 'Z.npy');
  const r = cli(['encode', '--dictionary', dPath, '--input', xPath, '--method', 'fista', '--lambda', '0.1', '--iters', '200', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^fista: 30 samples x 24 atoms, objective [\d.]+, mean L0 [\d.]+, \d+ iterations( \(converged\))?, [\d.]+ s -> /);
  const Z = readNpyMatrix(out);
  const ref = fista(X, D, { lambda: 0.1, iters: 200 });
  assertAllClose(Z.data, ref.Z.data, 0, 1e-6, 'codes');
  const obj = Number(/objective ([\d.]+)/.exec(r.stdout)![1]);
  assert.ok(Math.abs(obj - ref.objective!) <= 1e-4 * ref.objective!);
  // no temporary files left behind
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
});

test('encode without --method runs lasso-cd to convergence (the library result; objective no worse than FISTA)', () => {
  // sparse data (3 active atoms per row), where sparse coding is meant to be used
  const S = new Matrix(30, 24);
  const r3 = new Rng(11);
  for (let i = 0; i < 30; i++) for (const j of r3.choice(24, 3)) S.data[i * 24 + j] = 0.5 + r3.uniform();
  const Xs = matmul(S, D);
  const xsPath = join(dir, 'Xs.npy');
  writeNpy(xsPath, Xs);
  const out = join(dir, 'Zcd.npy');
  const r = cli(['encode', '--dictionary', dPath, '--input', xsPath, '--lambda', '0.1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'lasso-cd');
  assert.equal(j.converged, true);
  const ref = lassoCD(Xs, D, { lambda: 0.1 });
  assertAllClose(readNpyMatrix(out).data, ref.Z.data, 0, 1e-6, 'codes');
  const f = fista(Xs, D, { lambda: 0.1, iters: 100 });
  assert.ok(j.objective <= f.objective! * (1 + 1e-6), `lasso-cd objective ${j.objective} vs fista ${f.objective}`);
});

test('encode --json reports objective, mean L0, iterations; omp and nonneg variants', () => {
  const out = join(dir, 'Zo.npy');
  const r = cli(['encode', '--dictionary', dPath, '--input', xPath, '--method', 'omp', '--k', '3', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'omp');
  assert.equal(j.samples, 30);
  assert.equal(j.atoms, 24);
  assert.equal(j.mean_l0, 3);
  assert.equal(j.iterations, 3);
  const Z = readNpyMatrix(out);
  assertAllClose(Z.data, omp(X, D, { k: 3 }).Z.data, 0, 1e-6, 'omp codes');
  const per = lassoObjectives(X, D, Z, 0);
  assert.ok(Math.abs(j.objective - per.reduce((s, v) => s + v, 0) / 30) < 1e-6);

  const outN = join(dir, 'Zn.npy');
  const n = cli(['encode', '--dictionary', dPath, '--input', xPath, '--method', 'lasso-cd', '--lambda', '0.2', '--nonneg', '--out', outN, '--json']);
  assert.equal(n.code, 0, n.stderr);
  const jn = JSON.parse(n.stdout);
  const Zn = readNpyMatrix(outN);
  assert.ok(Zn.data.every((v) => v >= 0));
  assert.equal(jn.converged, true);
  assert.ok(Math.abs(jn.mean_l0 - meanL0(Zn)) < 1e-12);
});

test('encode: usage and input errors exit 2 and 3 with messages naming the fix', () => {
  const out = join(dir, 'bad.npy');
  const noLambda = cli(['encode', '--dictionary', dPath, '--input', xPath, '--out', out]);
  assert.equal(noLambda.code, 2);
  assert.match(noLambda.stderr, /--method lasso-cd needs --lambda/);
  const mp = cli(['encode', '--dictionary', dPath, '--input', xPath, '--method', 'mp', '--out', out]);
  assert.equal(mp.code, 2);
  assert.match(mp.stderr, /--method mp needs --k/);
  const noDict = cli(['encode', '--input', xPath, '--lambda', '0.1', '--out', out]);
  assert.equal(noDict.code, 2);
  assert.match(noDict.stderr, /--dictionary/);
  const bigK = cli(['encode', '--dictionary', dPath, '--input', xPath, '--method', 'omp', '--k', '99', '--out', out]);
  assert.equal(bigK.code, 2);
  assert.match(bigK.stderr, /k must be an integer in \[1, 24\]/);
  const negLambda = cli(['encode', '--dictionary', dPath, '--input', xPath, '--lambda', '-1', '--out', out]);
  assert.equal(negLambda.code, 2);
  assert.match(negLambda.stderr, /lambda/);
  // width mismatch
  const wide = join(dir, 'X16.npy');
  writeNpy(wide, new Matrix(4, 16));
  const mis = cli(['encode', '--dictionary', dPath, '--input', wide, '--lambda', '0.1', '--out', out]);
  assert.equal(mis.code, 3);
  assert.match(mis.stderr, /shape mismatch: X has 16 columns, dictionary has 12/);
  // NaN in the data
  const nan = X.clone();
  nan.set(4, 7, NaN);
  const nanPath = join(dir, 'Xnan.npy');
  writeNpy(nanPath, nan);
  const bad = cli(['encode', '--dictionary', dPath, '--input', nanPath, '--lambda', '0.1', '--out', out]);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /X has a non-finite value \(NaN\) at row 4, column 7/);
  const missing = cli(['encode', '--dictionary', join(dir, 'nope.npy'), '--input', xPath, '--lambda', '0.1', '--out', out]);
  assert.equal(missing.code, 3);
  assert.equal(existsSync(out), false);
});
