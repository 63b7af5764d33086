import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../src/io/npy.js';
import { Matrix } from '../src/core/matrix.js';
import { matmul } from '../src/backend/ops.js';
import { linearCKA, regression, rsa } from '../src/alignment/index.js';
import { randMatrix } from './helpers.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-align-'));
const A = randMatrix(60, 8, 1);
const B = matmul(A, randMatrix(8, 5, 2));
for (let i = 0; i < B.size; i++) B.data[i] += 0.5 * Math.sin(i);
const pa = join(dir, 'a.npy');
const pb = join(dir, 'b.npy');
const pc = join(dir, 'c.npy');
writeNpy(pa, A);
writeNpy(pb, B);
writeNpy(pc, new Matrix(59, 5, B.data.subarray(0, 59 * 5)));

test.after(() => rmSync(dir, { recursive: true, force: true }));

// The CLI may pick a faster backend than the in-process js one: float32 GEMMs differ in rounding, hence 1e-5.
test('align --json prints one JSON object whose value equals the library call', () => {
  const r = cli(['align', '--a', pa, '--b', pb, '--metric', 'linear-cka', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.metric, 'linear-cka');
  assert.equal(j.samples, 60);
  assert.equal(j.widthA, 8);
  assert.equal(j.widthB, 5);
  assert.ok(Math.abs(j.value - linearCKA(A, B).value) < 1e-5);

  const s = cli(['align', '--a', pa, '--b', pb, '--metric', 'rsa', '--rdm', 'euclidean', '--compare', 'pearson', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const js = JSON.parse(s.stdout);
  assert.equal(js.rdm, 'euclidean');
  assert.equal(js.compare, 'pearson');
  assert.ok(Math.abs(js.value - rsa(A, B, { rdm: 'euclidean', compare: 'pearson' }).value) < 1e-5);

  const g = cli(['align', '--a', pa, '--b', pb, '--metric', 'regression', '--folds', '4', '--alpha', '0.5', '--seed', '3', '--json']);
  assert.equal(g.code, 0, g.stderr);
  const jg = JSON.parse(g.stdout);
  const ref = regression(A, B, { folds: 4, alpha: 0.5, seed: 3 });
  assert.ok(Math.abs(jg.value - ref.meanR) < 1e-5 && Math.abs(jg.r2 - ref.r2) < 1e-5);
  assert.equal(jg.folds, 4);
});

test('align without --json prints a readable summary for every metric', () => {
  for (const metric of ['debiased-cka', 'rbf-cka', 'semi-matching', 'soft-matching', 'procrustes']) {
    const r = cli(['align', '--a', pa, '--b', pb, '--metric', metric]);
    assert.equal(r.code, 0, `${metric}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^${metric}: -?\\d\\.\\d{6}`));
  }
});

test('align: mismatched sample counts exit 3; bad usage exits 2', () => {
  const r = cli(['align', '--a', pa, '--b', pc, '--metric', 'linear-cka']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /has 60 samples .* has 59/);
  const m = cli(['align', '--a', pa, '--b', pb, '--metric', 'cca']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--metric must be one of/);
  const f = cli(['align', '--a', pa, '--b', pb]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /missing required option --metric/);
  const missing = cli(['align', '--a', join(dir, 'nope.npy'), '--b', pb, '--metric', 'rsa']);
  assert.equal(missing.code, 3);
});

test('align: a data problem found while computing (a constant row for correlation RDMs) is bad input data: exit 3', () => {
  const C = A.clone();
  C.data.fill(2, 3 * A.cols, 4 * A.cols); // row 3 constant across its features
  const pk = join(dir, 'const-row.npy');
  writeNpy(pk, C);
  const r = cli(['align', '--a', pk, '--b', pb, '--metric', 'rsa']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /row 3 .*constant/);
});
