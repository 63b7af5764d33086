import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { createSAE, MatryoshkaSAE, type SparseAutoencoder } from '../src/dictionary/index.js';
import { gradcheck } from '../src/nn/gradcheck.js';
import { SparsecodeError } from '../src/core/errors.js';

useBackend('js');
const DIM = 5, ATOMS = 8, ROWS = 6;

function setup(widths: number[], k: number, seed: number): { sae: SparseAutoencoder; X: Matrix } {
  const rng = new Rng(seed);
  const sae = createSAE('matryoshka', { atoms: ATOMS, k, matryoshkaWidths: widths });
  sae.initParams(DIM, rng.fork('init'));
  for (const p of sae.paramList()) for (let i = 0; i < p.param.length; i++) p.param[i] = rng.normal() * (p.name.startsWith('b_') ? 0.3 : 0.6);
  const X = new Matrix(ROWS, DIM);
  rng.fork('x').fillNormal(X.data);
  return { sae, X };
}

/** Independent dense float64 forward: BatchTopK over the batch, then the sum of the prefix SSEs / n. */
function denseLoss(sae: SparseAutoencoder, X: Matrix, widths: number[], k: number): { loss: number; sqErr: number } {
  const W = sae.getWeights();
  const pre: number[] = [];
  for (let i = 0; i < ROWS; i++) for (let a = 0; a < ATOMS; a++) {
    let s = W.b_enc[a];
    for (let q = 0; q < DIM; q++) s += (X.get(i, q) - W.b_dec[q]) * W.W_enc.get(q, a);
    pre.push(s);
  }
  const sorted = pre.filter((v) => v > 0).sort((a, b) => b - a);
  const thr = sorted.length > ROWS * k ? sorted[ROWS * k - 1] : 0;
  let loss = 0, sqErr = 0;
  for (let i = 0; i < ROWS; i++) {
    for (const m of widths) {
      let sse = 0;
      for (let q = 0; q < DIM; q++) {
        let xh = W.b_dec[q];
        for (let a = 0; a < m; a++) { const z = pre[i * ATOMS + a]; if (z > 0 && z >= thr) xh += z * W.W_dec.get(a, q); }
        sse += (xh - X.get(i, q)) ** 2;
      }
      loss += sse;
      if (m === ATOMS) sqErr += sse;
    }
  }
  return { loss: loss / ROWS, sqErr: sqErr / ROWS };
}

test('Matryoshka SAE: the nested prefix loss equals a dense float64 computation', () => {
  for (const [widths, k] of [[[2, 5, 8], 2], [[8], 3], [[1, 2, 4, 8], 2]] as [number[], number][]) {
    const { sae, X } = setup(widths, k, 11);
    const st = sae.forwardBackward(X);
    const ref = denseLoss(sae, X, widths, k);
    assert.ok(Math.abs(st.loss - ref.loss) < 1e-4 * (1 + ref.loss), `loss ${st.loss} vs ${ref.loss}`);
    assert.ok(Math.abs(st.sqErr - ref.sqErr) < 1e-4 * (1 + ref.sqErr), `sqErr ${st.sqErr} vs ${ref.sqErr}`);
  }
});

test('Matryoshka SAE: hand-written sparse backward matches finite differences (gradcheck)', () => {
  for (const [widths, seed] of [[[2, 5, 8], 3], [[1, 3, 8], 5]] as [number[], number][]) {
    const { sae, X } = setup(widths, 2, seed);
    const r = gradcheck({ params: sae.paramList(), loss: () => sae.forwardBackward(X).loss, lossAndGrad: () => sae.forwardBackward(X).loss, h: 1e-3, atol: 3e-3, rtol: 3e-2 });
    assert.deepEqual(r.failures, []);
    assert.equal(r.checked, 2 * DIM * ATOMS + ATOMS + DIM);
  }
});

test('Matryoshka with one prefix (widths = [atoms]) is BatchTopK: same loss and gradients', () => {
  const { sae, X } = setup([ATOMS], 2, 7);
  const b = createSAE('batchtopk', { atoms: ATOMS, k: 2 });
  b.setWeights(sae.getWeights());
  sae.setWeights(sae.getWeights());
  const s1 = sae.forwardBackward(X), s2 = b.forwardBackward(X);
  assert.ok(Math.abs(s1.loss - s2.loss) < 1e-5);
  const g1 = sae.paramList(), g2 = b.paramList();
  for (let p = 0; p < g1.length; p++) for (let i = 0; i < g1[p].grad.length; i++) assert.ok(Math.abs(g1[p].grad[i] - g2[p].grad[i]) < 1e-5, `${g1[p].name}[${i}]`);
});

test('Matryoshka: prefix widths that do not nest are refused with a clear error', () => {
  const bad: [unknown, RegExp][] = [[[4, 2, 8], /do not nest/], [[2, 4], /must end at atoms/], [[0, 8], /positive integer/], [[], /non-empty/], [[3, 3, 8], /do not nest/]];
  for (const [w, re] of bad) {
    assert.throws(() => createSAE('matryoshka', { atoms: 8, k: 2, matryoshkaWidths: w as number[] }), (e: unknown) => e instanceof SparsecodeError && e.code === 'E_ARG' && re.test(e.message));
  }
  assert.throws(() => createSAE('topk', { atoms: 8, k: 2, matryoshkaWidths: [8] }), /matryoshka SAE/);
  assert.deepEqual((createSAE('matryoshka', { atoms: 64, k: 2 }) as MatryoshkaSAE).widths, [4, 8, 16, 32, 64]);
});

test('fit matryoshka-sae: trains, saves as JumpReLU with one broadcast threshold, loads and encodes as BatchTopK', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writeNpy } = await import('../src/io/npy.js');
  const { loadModel } = await import('../src/dictionary/model-runtime.js');
  const { kSparseTestWorld } = await import('./helpers.js');
  const dir = mkdtempSync(join(tmpdir(), 'matryoshka-'));
  try {
    const { X } = kSparseTestWorld(3, 32, 16, 2, 3000);
    writeNpy(join(dir, 'x.npy'), X);
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
    const out = join(dir, 'm');
    const r = cli(['fit', 'matryoshka-sae', '--input', join(dir, 'x.npy'), '--atoms', '32', '--k', '2', '--widths', '4,8,16,32', '--epochs', '4', '--batch', '200', '--seed', '1', '--out', out, '--json', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.fvu > 0 && j.fvu < 0.9, `fvu ${j.fvu}`);
    const m = loadModel(out);
    assert.equal(m.kind, 'jumprelu');
    const t = m.weights.threshold!;
    assert.ok(t[0] > 0 && t.every((v) => v === t[0]), 'one threshold broadcast to every latent');
    const bad = cli(['fit', 'matryoshka-sae', '--input', join(dir, 'x.npy'), '--atoms', '32', '--k', '2', '--widths', '8,4,32', '--out', join(dir, 'bad'), '--quiet']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /do not nest/);
    const bad2 = cli(['fit', 'topk-sae', '--input', join(dir, 'x.npy'), '--atoms', '32', '--k', '2', '--widths', '8,32', '--out', join(dir, 'bad2'), '--quiet']);
    assert.match(bad2.stderr, /topk-sae does not take --widths/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
