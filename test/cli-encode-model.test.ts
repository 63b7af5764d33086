import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE } from '../src/dictionary/index.js';
import { fista, omp } from '../src/inference/index.js';
import { saveModel } from '../src/io/model.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { modelDictionary } from '../src/dictionary/model-dictionary.js';
import { readNpyMatrix, writeNpy } from '../src/io/npy.js';
import { fitWhitening } from '../src/preprocess/whiten.js';
import { assertAllClose } from './helpers.js';

useBackend('js');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'cli-encode-model-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// sparse non-negative mixtures of 12 atoms in 6 dims around a non-zero centre (so b_dec matters)
const rng = new Rng(3);
const A = new Matrix(12, 6);
rng.fillNormal(A.data);
const X = new Matrix(600, 6);
for (let i = 0; i < X.rows; i++) {
  for (let j = 0; j < 6; j++) X.data[i * 6 + j] = 2 + 0.5 * j;
  for (const a of rng.choice(12, 2)) {
    const m = rng.uniform();
    for (let j = 0; j < 6; j++) X.data[i * 6 + j] += m * A.data[a * 6 + j];
  }
}
const xPath = join(dir, 'x.npy');
writeNpy(xPath, X);

const sae = createSAE('topk', { atoms: 12, k: 2, epochs: 3, batch: 100 });
const plainDir = join(dir, 'topk');
const whiteDir = join(dir, 'topk-white');
const ready = (async () => {
  await sae.fit(X, { seed: 1 });
  saveModel(plainDir, { kind: 'topk', weights: sae.getWeights(), k: 2 });
  const wh = fitWhitening(X, { method: 'pca' });
  const sw = createSAE('topk', { atoms: 12, k: 2, epochs: 3, batch: 100 });
  await sw.fit(wh.apply(X), { seed: 2 });
  saveModel(whiteDir, {
    kind: 'topk', weights: sw.getWeights(), k: 2,
    whitening: { method: 'pca', mean: wh.mean, W: wh.transformMatrix(), W_inv: wh.inverseMatrix(), json: wh.toJSON() },
  });
})();

test('encode --model uses the model\'s own encoder: codes equal loadModel(dir).encode(X), batches included', async () => {
  await ready;
  for (const [m, batch] of [[plainDir, '64'], [whiteDir, '1000']] as const) {
    const out = join(dir, 'Zm.npy');
    const r = cli(['encode', '--model', m, '--input', xPath, '--out', out, '--batch', batch, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.method, 'model:topk');
    assert.equal(j.atoms, 12);
    const model = loadModel(m);
    const ref = model.encode(X);
    const Z = readNpyMatrix(out);
    assertAllClose(Z.data, ref.data, 1e-6, 1e-6, `codes of ${m}`);
    assert.ok(j.mean_l0 <= 2 && j.mean_l0 > 1);
    // reported FVU = ||X - decode(Z)||^2 / total variance, in the raw space
    const R = model.decode(ref);
    let sse = 0, tv = 0;
    for (let c = 0; c < 6; c++) {
      let mu = 0;
      for (let i = 0; i < X.rows; i++) mu += X.data[i * 6 + c] / X.rows;
      for (let i = 0; i < X.rows; i++) tv += (X.data[i * 6 + c] - mu) ** 2;
    }
    for (let i = 0; i < X.data.length; i++) sse += (X.data[i] - R.data[i]) ** 2;
    assert.ok(Math.abs(j.fvu - sse / tv) <= 1e-5 * (sse / tv) + 1e-9, `fvu ${j.fvu} vs ${sse / tv}`);
    assert.ok(j.fvu > 0 && j.fvu < 0.9, `fvu ${j.fvu}`);
  }
});

test('encode --model --method fista infers codes on W_dec for x - b_dec (whitened first when the model is)', async () => {
  await ready;
  // plain model: fista(X - b_dec, W_dec)
  const model = loadModel(plainDir);
  const Xc = X.clone();
  for (let i = 0; i < X.rows; i++) for (let j = 0; j < 6; j++) Xc.data[i * 6 + j] -= model.weights.b_dec![j];
  const out = join(dir, 'Zf.npy');
  const r = cli(['encode', '--model', plainDir, '--method', 'fista', '--lambda', '0.05', '--iters', '60', '--tol', '0', '--input', xPath, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const ref = fista(Xc, model.weights.W_dec, { lambda: 0.05, iters: 60, tol: 0 });
  assertAllClose(readNpyMatrix(out).data, ref.Z.data, 1e-5, 1e-5, 'fista codes on W_dec');
  const j = JSON.parse(r.stdout);
  assert.ok(Math.abs(j.objective - ref.objective!) <= 1e-4 * ref.objective!);
  // the codes reconstruct through the model's decoder
  assert.ok(j.fvu > 0 && j.fvu < 0.9, `fvu ${j.fvu}`);

  // whitened model: fista((X - mean) W - b_dec, W_dec), checked against an explicit float64 transform
  const mw = loadModel(whiteDir);
  const wh = mw.whitening!;
  const U = new Matrix(X.rows, 6);
  for (let i = 0; i < X.rows; i++) {
    for (let c = 0; c < 6; c++) {
      let s = 0;
      for (let q = 0; q < 6; q++) s += (X.data[i * 6 + q] - wh.mean[q]) * wh.W.data[q * 6 + c];
      U.data[i * 6 + c] = s - mw.weights.b_dec![c];
    }
  }
  assertAllClose(modelDictionary(mw).prepare(X).data, U.data, 1e-5, 1e-5, 'prepare');
  const outW = join(dir, 'Zw.npy');
  const rw = cli(['encode', '--model', whiteDir, '--method', 'omp', '--k', '2', '--input', xPath, '--out', outW]);
  assert.equal(rw.code, 0, rw.stderr);
  assert.match(rw.stdout, /^omp: 600 samples x 12 atoms, objective [\d.e-]+, FVU [\d.e-]+, mean L0/);
  assertAllClose(readNpyMatrix(outW).data, omp(U, mw.weights.W_dec, { k: 2 }).Z.data, 1e-4, 1e-4, 'omp codes on whitened W_dec');
});

test('encode --model: usage errors', async () => {
  await ready;
  const out = join(dir, 'bad.npy');
  let r = cli(['encode', '--model', plainDir, '--input', xPath, '--out', out, '--lambda', '0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--lambda does not apply to the model's own encoder; add --method/);
  r = cli(['encode', '--model', plainDir, '--dictionary', xPath, '--input', xPath, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not both/);
  r = cli(['encode', '--model', join(dir, 'nope'), '--input', xPath, '--out', out]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /nope does not exist/);
  const wide = join(dir, 'x9.npy');
  writeNpy(wide, new Matrix(5, 9));
  r = cli(['encode', '--model', plainDir, '--input', wide, '--out', out]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /X has 9 columns, the model expects d_in = 6/);
});

test('a SAELens directory written elsewhere (torch, no sparsecode block) loads, encodes and evaluates', () => {
  const fx = 'test/fixtures/interop';
  const m = join(fx, 'saelens_relu');
  const cfg = JSON.parse(readFileSync(join(m, 'cfg.json'), 'utf8'));
  assert.equal(cfg.sparsecode, undefined);
  const model = loadModel(m);
  assert.equal(model.kind, 'relu');
  assert.equal(model.dim, 8);
  assert.equal(model.atoms, 6);
  const Xf = readNpyMatrix(join(fx, 'X.npy'));
  const Zt = readNpyMatrix(join(fx, 'Z.npy'));
  // the planted codes come back (b_enc = -1e-4 shifts the support by that much)
  const Z = model.encode(Xf);
  for (let i = 0; i < Z.data.length; i++) {
    const want = Zt.data[i] > 0 ? Zt.data[i] - 1e-4 : 0;
    assert.ok(Math.abs(Z.data[i] - want) < 1e-5, `code ${i}: ${Z.data[i]} vs ${want}`);
  }
  const out = join(dir, 'Zs.npy');
  const r = cli(['encode', '--model', m, '--input', join(fx, 'X.npy'), '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.method, 'model:relu');
  assert.equal(j.mean_l0, 2);
  assert.ok(j.fvu < 1e-6, `fvu ${j.fvu}`);
  const e = cli(['eval', '--codes', out, '--truth', join(fx, 'Z.npy'), '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(ev.mcc > 0.9999, `mcc ${ev.mcc}`);
  assert.equal(ev.l0, 2);
  // and its decoder as a dictionary: OMP with k = 2 on x - b_dec finds the planted support
  const outO = join(dir, 'Zo.npy');
  const o = cli(['encode', '--model', m, '--method', 'omp', '--k', '2', '--input', join(fx, 'X.npy'), '--out', outO]);
  assert.equal(o.code, 0, o.stderr);
  assertAllClose(readNpyMatrix(outO).data, Zt.data, 1e-4, 1e-4, 'omp on a SAELens decoder');
});
