// fit's convergence report and its refusals (issue 14 §2–3), and eval --model in the original space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { saveModel, inputSpaceDecoder } from '../src/io/model.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { createSAE } from '../src/dictionary/index.js';
import { fitWhitening } from '../src/preprocess/whiten.js';
import { matchedCosine } from './helpers.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 300000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'cli-fit-checks-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** k-sparse rows of `latents` unit atoms in `dim` dims, each dimension then scaled by `scales` (anisotropic). */
function world(seed: number, latents: number, dim: number, k: number, n: number, scales?: number[]): { X: Matrix; A: Matrix } {
  const rng = new Rng(seed);
  const A = new Matrix(latents, dim);
  rng.fork('A').fillNormal(A.data);
  for (let a = 0; a < latents; a++) {
    if (scales) for (let j = 0; j < dim; j++) A.data[a * dim + j] *= scales[j];
    let s = 0;
    for (let j = 0; j < dim; j++) s += A.data[a * dim + j] ** 2;
    for (let j = 0; j < dim; j++) A.data[a * dim + j] /= Math.sqrt(s);
  }
  const X = new Matrix(n, dim);
  const zr = rng.fork('z');
  for (let i = 0; i < n; i++) for (const a of zr.choice(latents, k)) {
    const m = zr.uniform();
    for (let j = 0; j < dim; j++) X.data[i * dim + j] += m * A.data[a * dim + j];
  }
  return { X, A };
}

const small = join(dir, 'x.npy');
writeNpy(small, world(0, 12, 6, 2, 1500).X);

test('fit (defaults: --epochs auto) says converged in the summary and --json; a short fixed budget says not converged and what to pass', () => {
  const r = cli(['fit', 'topk-sae', '--input', small, '--atoms', '12', '--k', '2', '--seed', '0', '--out', join(dir, 'auto'), '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.converged, true);
  assert.equal(j.budget, 'auto');
  assert.ok(j.steps >= 1000 && j.steps < 50000, `${j.steps} steps`);
  assert.ok(j.heldOutFvu > 0 && j.heldOutFvu < 0.2 && j.fvu < 0.2, r.stdout);
  const cfg = loadModel(join(dir, 'auto')).training!;
  assert.equal((cfg.convergence as { mode: string }).mode, 'auto');
  const f = cli(['fit', 'topk-sae', '--input', small, '--atoms', '12', '--k', '2', '--epochs', '3', '--seed', '0', '--out', join(dir, 'short')]);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /NOT converged: 5 steps before the learning-rate decay, fewer than the 1000 the rule needs; the FVU on training rows was still falling by \d+\.\d %/);
  assert.match(f.stdout, /use --epochs auto \(the default\), or --steps \d+/);
  const fj = cli(['fit', 'topk-sae', '--input', small, '--atoms', '12', '--k', '2', '--epochs', '3', '--seed', '0', '--out', join(dir, 'short2'), '--json', '--quiet']);
  assert.equal(JSON.parse(fj.stdout).converged, false);
  assert.match(JSON.parse(fj.stdout).convergenceNote, /fewer than the 1000/);
  // bad values
  assert.equal(cli(['fit', 'topk-sae', '--input', small, '--atoms', '12', '--k', '2', '--epochs', 'soon', '--seed', '0', '--out', join(dir, 'x')]).code, 2);
  assert.equal(cli(['fit', 'topk-sae', '--input', small, '--atoms', '12', '--k', '2', '--epochs', '3', '--max-steps', '10', '--seed', '0', '--out', join(dir, 'x')]).code, 2);
});

test('fit dl-fista and online-dl stop by the held-out rule by default and report converged', () => {
  for (const method of ['dl-fista', 'online-dl']) {
    const r = cli(['fit', method, '--input', small, '--atoms', '12', '--l1', '0.05', '--seed', '0', '--out', join(dir, method), '--json', '--quiet', '--max-steps', method === 'dl-fista' ? '200' : '600']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(typeof j.converged, 'boolean', method);
    assert.ok(j.heldOutFvu < 0.05, `${method}: held-out FVU ${j.heldOutFvu}`);
    // the model's own encoder is a converged solve, stored apart from the training iterations
    const m = loadModel(join(dir, method));
    assert.deepEqual([m.inference!.iters, m.inference!.tol], [10000, 1e-6]);
    // both code with lasso-cd by default (no FISTA iterations to record)
    assert.equal(m.training!.coder, 'lasso-cd');
    assert.equal(m.training!.fistaIters, undefined);
  }
});

test('fit refuses degenerate input with exit 3 and treats a diverged fit as a failure (exit 1, no model) unless --allow-diverged', () => {
  const oneD = join(dir, 'oned.npy');
  // a 1-D .npy written by hand ('shape': (256,))
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (256,), }";
  const padded = header.padEnd(128 - 10 - 1, ' ') + '\n';
  const buf = Buffer.alloc(128 + 256 * 4);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1; buf[7] = 0; buf.writeUInt16LE(padded.length, 8);
  buf.write(padded, 10, 'latin1');
  for (let i = 0; i < 256; i++) buf.writeFloatLE(Math.sin(i), 128 + 4 * i);
  writeFileSync(oneD, buf);
  const zeros = join(dir, 'zeros.npy');
  writeNpy(zeros, new Matrix(300, 6));
  const constant = join(dir, 'const.npy');
  const C = new Matrix(300, 6);
  for (let i = 0; i < 300; i++) C.data.set([1, 2, 3, 4, 5, 6], i * 6);
  writeNpy(constant, C);
  const base = ['--atoms', '12', '--k', '2', '--seed', '0', '--quiet'];
  const one = cli(['fit', 'topk-sae', '--input', oneD, ...base, '--out', join(dir, 'd1')]);
  assert.equal(one.code, 3);
  assert.match(one.stderr, /1-D array of 256 values/);
  const z = cli(['fit', 'topk-sae', '--input', zeros, ...base, '--out', join(dir, 'd2')]);
  assert.equal(z.code, 3);
  assert.match(z.stderr, /no variance: every value is 0/);
  const c = cli(['fit', 'relu-sae', '--input', constant, '--atoms', '12', '--seed', '0', '--quiet', '--out', join(dir, 'd3')]);
  assert.equal(c.code, 3);
  assert.match(c.stderr, /no variance: every row is the same/);
  const d = cli(['fit', 'topk-sae', '--input', small, ...base, '--lr', '10', '--epochs', '3', '--out', join(dir, 'd4')]);
  assert.equal(d.code, 1, d.stderr);
  assert.match(d.stderr, /diverged: FVU .*above 1/);
  assert.ok(!existsSync(join(dir, 'd4', 'cfg.json')), 'no model was written');
  const kept = cli(['fit', 'topk-sae', '--input', small, ...base, '--lr', '10', '--epochs', '3', '--out', join(dir, 'd5'), '--allow-diverged']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.ok(existsSync(join(dir, 'd5', 'cfg.json')));
});

test('eval --model scores a whitened model in the original space (W_dec·W_inv), not its whitened W_dec', async () => {
  const scales = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.1];
  const { X, A } = world(3, 12, 8, 2, 6000, scales);
  const wh = fitWhitening(X, { method: 'pca' });
  const sae = createSAE('topk', { atoms: 12, k: 2, steps: 3000, batch: 256, lr: 3e-3 });
  await sae.fit(wh.apply(X), { seed: 1 });
  const out = join(dir, 'white');
  saveModel(out, {
    kind: 'topk', k: 2, weights: sae.getWeights(),
    whitening: { method: 'pca', mean: wh.mean, W: wh.transformMatrix(), W_inv: wh.inverseMatrix(), json: wh.toJSON() },
  });
  const m = loadModel(out);
  const original = matchedCosine(inputSpaceDecoder(m), A);
  const whitened = matchedCosine(m.weights.W_dec, A);
  assert.ok(original > 0.9 && whitened < original - 0.2, `original-space |cos| ${original}, whitened W_dec ${whitened}`);
  const pa = join(dir, 'A.npy'), px = join(dir, 'xw.npy');
  writeNpy(pa, A);
  writeNpy(px, X);
  const r = cli(['eval', '--model', out, '--input', px, '--true-dictionary', pa, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(Math.abs(j.dict_mean_cos - original) < 1e-6, `${j.dict_mean_cos} vs ${original}`);
  assert.ok(j.fve > 0.5 && j.whitened === true, r.stdout);
  // the raw W_dec read from the file is the whitened-space one
  const Wdec = readSafetensors(join(out, 'sae_weights.safetensors')).tensors.W_dec;
  const pd = join(dir, 'wdec.npy');
  writeNpy(pd, new Matrix(12, 8, Float32Array.from(Wdec.data)));
  const raw = JSON.parse(cli(['eval', '--dictionary', pd, '--true-dictionary', pa, '--json']).stdout);
  assert.ok(Math.abs(raw.dict_mean_cos - whitened) < 1e-6);
  assert.equal(cli(['eval', '--model', out, '--codes', px, '--json']).code, 2);
  assert.equal(cli(['eval', '--input', px, '--json']).code, 2);
});
