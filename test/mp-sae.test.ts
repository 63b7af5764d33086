/**
 * The matching-pursuit SAE's fast paths: the Gram matrix by symmetric row blocks (against a
 * float64 D Dᵀ, on every loaded backend), and the pursuit through Gram updates against the
 * pursuit that recomputes every correlation, at a width with several Gram blocks.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { availableBackends, getBackend, loadBackends, useBackend } from '../src/backend/index.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE } from '../src/dictionary/index.js';
import { MatchingPursuitSAE, symmetricGram } from '../src/dictionary/sae/mp.js';

await loadBackends({ quiet: true });

test('symmetricGram: D Dᵀ by row blocks equals the float64 product and is exactly symmetric, on every backend', () => {
  const A = 1100, d = 24; // three blocks of 512, the last one partial
  const D = new Matrix(A, d);
  new Rng(3).fillNormal(D.data);
  for (const name of availableBackends()) {
    useBackend(name);
    const G = new Matrix(A, A);
    G.data.fill(Number.NaN);
    symmetricGram(D, G);
    let worst = 0;
    for (let i = 0; i < A; i++) {
      for (let j = 0; j < A; j++) {
        let s = 0;
        for (let q = 0; q < d; q++) s += D.data[i * d + q] * D.data[j * d + q];
        worst = Math.max(worst, Math.abs(G.data[i * A + j] - s) / (1 + Math.abs(s)));
        if (j < i) assert.equal(G.data[i * A + j], G.data[j * A + i], `${name}: G[${i},${j}] is not G[${j},${i}]`);
      }
    }
    assert.ok(worst < 1e-5, `${name}: worst relative error ${worst}`);
  }
  useBackend('js');
});

test('MP SAE at 600 atoms: the pursuit through the Gram matrix gives the codes of the step-by-step pursuit', () => {
  const d = 16, A = 600, k = 5;
  for (const name of availableBackends()) {
    useBackend(name);
    const rng = new Rng(11);
    const sae = createSAE('mp', { atoms: A, k });
    sae.initParams(d, rng.fork('init'));
    const X = new Matrix(200, d);
    rng.fork('x').fillNormal(X.data);
    // 200 rows: A < (k - 1) * rows, the Gram path; one row at a time: the step path
    const all = sae.encode(X);
    let nnz = 0;
    for (let i = 0; i < X.rows; i++) {
      const one = sae.encode(X.takeRows([i]));
      for (let a = 0; a < A; a++) {
        const u = one.data[a], v = all.data[i * A + a];
        if (v !== 0) nnz++;
        assert.ok(Math.abs(u - v) < 1e-4 * (1 + Math.abs(u)), `${name}: row ${i} atom ${a}: ${u} vs ${v}`);
      }
    }
    assert.ok(nnz > X.rows * 3, `${name}: the codes are not trivially empty (${nnz} nonzeros)`);
  }
  useBackend('js');
});

test('MP SAE: the native pursuit and reverse-pass kernels give the JavaScript loops\' codes and gradients to the bit', (t) => {
  const nb = getBackend('native');
  if (!nb?.mpPursueGram || !nb.mpBackward) return t.skip('the native backend (with its MP kernels) is not built');
  useBackend('native');
  const d = 24, A = 700, k = 6, rows = 300;
  const rng = new Rng(12);
  const X = new Matrix(rows, d);
  rng.fork('x').fillNormal(X.data);
  // zero rows (b_dec starts at 0): no correlation is positive, the pursuit stops at once (padding)
  for (let i = 0; i < rows; i += 7) X.data.fill(0, i * d, (i + 1) * d);
  const run = (withKernels: boolean) => {
    const sae = createSAE('mp', { atoms: A, k }) as MatchingPursuitSAE;
    sae.nativeKernels = withKernels;
    sae.initParams(d, new Rng(13));
    const stats = sae.forwardBackward(X);
    const grads = Object.fromEntries(sae.paramList().map((p) => [p.name, Float32Array.from(p.grad)]));
    return { stats, grads, codes: sae.encode(X) };
  };
  const js = run(false), native = run(true);
  assert.deepEqual(native.stats, js.stats);
  assert.deepEqual(native.codes.data, js.codes.data);
  let empty = 0;
  for (let i = 0; i < rows; i++) if (js.codes.data.subarray(i * A, (i + 1) * A).every((v) => v === 0)) empty++;
  assert.ok(empty > 0 && empty < rows, `rows that stop at once are covered (${empty} of ${rows})`);
  for (const name of Object.keys(js.grads)) assert.deepEqual(native.grads[name], js.grads[name], `gradient of ${name}`);
  useBackend('js');
});

test('bench sae-paths prints one JSON row per variant with its speedup over the path it replaces', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'bench', 'sae-paths', '--json', '--no-peers', '--dim', '16', '--atoms', '256', '--k', '4', '--batch', '128', '--relu-l0', '8', '--repeats', '1', '--budget', '0.05'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const variants = rows.map((x) => x.variant);
  for (const v of ['MP step: JavaScript loops', 'Gram: full product', 'Gram: symmetric blocks', 'ReLU step: dense', 'ReLU step: active latents', 'JumpReLU step: dense', 'JumpReLU step: active latents and band']) assert.ok(variants.includes(v), `${v} in ${variants}`);
  for (const row of rows) {
    assert.equal(row.bench, 'sae-paths');
    assert.ok(row.seconds > 0 && row.speedup > 0, JSON.stringify(row));
  }
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'bench', 'sae-paths', '--relu-l0', '0'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--relu-l0 must be at least 1/);
  const relu = rows.find((x) => x.variant === 'ReLU step: active latents');
  assert.ok(relu.l0 > 2 && relu.l0 < 20, `the ReLU step runs at about the asked L0 (8): ${relu.l0}`);
});
