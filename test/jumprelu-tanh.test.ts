/**
 * The JumpReLU SAE's tanh sparsity penalty (SAELens's jumprelu_sparsity_loss_mode="tanh"): one
 * step's loss and every gradient (thresholds included, through the straight-through estimator)
 * equal an independent float64 PyTorch computation (test/fixtures/jumprelu-tanh/gen.py), on the
 * dense and the sparse step, on every backend; bad settings are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, loadBackends, useBackend } from '../src/backend/index.js';
import type { BackendName } from '../src/backend/types.js';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { createSAE, JumpReluSAE } from '../src/dictionary/index.js';
import { writeNpy } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { assertAllClose } from './helpers.js';

await loadBackends({ quiet: true });

interface Case {
  n: number; d: number; atoms: number; l0: number; tanhScale: number; bandwidth: number;
  x: number[]; loss: number; sqErr: number; penalty: number; l0_count: number; band_entries: number;
  grad: Record<string, number[]>;
  [param: string]: unknown;
}

const cases: Case[] = JSON.parse(readFileSync(new URL('./fixtures/jumprelu-tanh/cases.json', import.meta.url), 'utf8'));

function load(c: Case): { sae: JumpReluSAE; X: Matrix } {
  const sae = createSAE('jumprelu', { atoms: c.atoms, l0: c.l0, bandwidth: c.bandwidth, sparsityLoss: 'tanh', tanhScale: c.tanhScale, normalizeDecoder: false }) as JumpReluSAE;
  sae.initParams(c.d, new Rng(0));
  for (const p of sae.paramList()) p.param.set(c[p.name] as number[]);
  return { sae, X: new Matrix(c.n, c.d, Float32Array.from(c.x)) };
}

test('JumpReLU tanh penalty: loss and every gradient equal PyTorch autograd (dense and sparse steps, every backend)', () => {
  for (const name of availableBackends() as BackendName[]) {
    useBackend(name);
    cases.forEach((c, q) => {
      for (const path of ['dense', 'sparse'] as const) {
        const { sae, X } = load(c);
        sae.stepPath = path;
        const r = sae.forwardBackward(X);
        assert.equal(sae.lastPath, path);
        const where = `${name}, case ${q}, ${path}`;
        assert.ok(Math.abs(r.loss - c.loss) <= 1e-5 * Math.abs(c.loss), `${where}: loss ${r.loss} vs ${c.loss}`);
        assert.ok(Math.abs(r.sqErr - c.sqErr) <= 1e-5 * Math.abs(c.sqErr), `${where}: sqErr`);
        assert.ok(Math.abs(r.l0 - c.l0_count) < 1e-9, `${where}: L0 ${r.l0} vs ${c.l0_count}`);
        for (const p of sae.paramList()) {
          const ref = c.grad[p.name];
          let scale = 0;
          for (const v of ref) scale = Math.max(scale, Math.abs(v));
          assertAllClose(p.grad, ref, 2e-5 * Math.max(1, scale), 1e-4, `${where}: d loss / d ${p.name}`);
        }
        assert.ok(sae.gLogTheta.some((v) => v !== 0), `${where}: the band reaches some thresholds`);
      }
    });
  }
  useBackend('js');
});

test('JumpReLU tanh penalty: a tiny run trains to the controller\'s L0 target; step mode is unchanged by the option', async () => {
  useBackend('js');
  const rng = new Rng(5);
  const X = new Matrix(1500, 16);
  rng.fillNormal(X.data);
  for (let i = 0; i < X.data.length; i++) X.data[i] = Math.max(0, X.data[i]);
  const base = { atoms: 64, steps: 1200, batch: 128, lr: 3e-3, thresholdInit: 0.02 };
  const tanh = createSAE('jumprelu', { ...base, sparsityLoss: 'tanh', l0: 0.05, targetL0: 6, targetL0Gain: 0.03 }) as JumpReluSAE;
  const fit = await tanh.fit(X, { seed: 1 });
  assert.ok(Math.abs(fit.l0Controller!.smoothedL0 - 6) < 1, `smoothed L0 ${fit.l0Controller!.smoothedL0}`);
  // 'step' written out equals the default
  const a = createSAE('jumprelu', { ...base, steps: 50 }) as JumpReluSAE, b = createSAE('jumprelu', { ...base, steps: 50, sparsityLoss: 'step', tanhScale: 7 }) as JumpReluSAE;
  await a.fit(X, { seed: 2 });
  await b.fit(X, { seed: 2 });
  assert.deepEqual(Array.from(a.getWeights().W_dec.data), Array.from(b.getWeights().W_dec.data));
});

test('JumpReLU tanh penalty: bad settings are refused naming the field', () => {
  assert.throws(() => createSAE('topk', { atoms: 8, k: 2, sparsityLoss: 'tanh' }), /sparsityLoss applies to a jumprelu SAE/);
  assert.throws(() => createSAE('relu', { atoms: 8, tanhScale: 2 }), /tanhScale applies to a jumprelu SAE/);
  assert.throws(() => createSAE('jumprelu', { atoms: 8, sparsityLoss: 'l1' as 'tanh' }), /sparsityLoss must be 'step' or 'tanh', got "l1"/);
  assert.throws(() => createSAE('jumprelu', { atoms: 8, sparsityLoss: 'tanh', tanhScale: 0 }), /tanhScale/);
});

test('CLI: fit jumprelu-sae --sparsity-loss tanh --tanh-scale, --threshold-init, --bandwidth train; bad values and other methods are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jr-tanh-cli-'));
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  try {
    const X = new Matrix(600, 8);
    new Rng(9).fillNormal(X.data);
    const input = join(dir, 'x.npy');
    writeNpy(input, X);
    const ok = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '16', '--steps', '30', '--batch', '64', '--sparsity-loss', 'tanh', '--tanh-scale', '2', '--out', join(dir, 'jr'), '--json', '--quiet']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(JSON.parse(ok.stdout).l0 >= 0);
    const bad = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '16', '--steps', '5', '--sparsity-loss', 'l1', '--out', join(dir, 'jr2'), '--quiet']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--sparsity-loss must be step or tanh, got "l1"/);
    const noTanh = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '16', '--steps', '5', '--tanh-scale', '2', '--out', join(dir, 'jr3'), '--quiet']);
    assert.equal(noTanh.status, 2);
    assert.match(noTanh.stderr, /--tanh-scale .* with --sparsity-loss tanh/);
    const other = cli(['fit', 'topk-sae', '--input', input, '--atoms', '16', '--k', '2', '--sparsity-loss', 'tanh', '--out', join(dir, 'tk'), '--quiet']);
    assert.equal(other.status, 2);
    assert.match(other.stderr, /sparsity-loss/);
    // --threshold-init sets every latent's starting threshold (saved in raw input units: the two
    // runs share the input scale, so after one small Adam step their thresholds keep the ratio 2)
    const thresholds = (t0: string) => {
      const out = join(dir, `th-${t0}`);
      const r = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '16', '--steps', '1', '--lr', '1e-6', '--threshold-init', t0, '--bandwidth', '0.1', '--out', out, '--quiet']);
      assert.equal(r.status, 0, r.stderr);
      return readSafetensors(join(out, 'sae_weights.safetensors')).tensors.threshold.data as Float32Array;
    };
    const a = thresholds('0.2'), b = thresholds('0.4');
    assert.equal(a.length, 16);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(b[i] / a[i] - 2) < 1e-4, `latent ${i}: ${a[i]} vs ${b[i]}`);
    for (const [flag, v] of [['--threshold-init', '0'], ['--bandwidth', '-1']]) {
      const r = cli(['fit', 'jumprelu-sae', '--input', input, '--atoms', '16', '--steps', '5', flag, v, '--out', join(dir, 'bad'), '--quiet']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${flag} must be a positive number`));
    }
    const notJr = cli(['fit', 'relu-sae', '--input', input, '--atoms', '16', '--bandwidth', '0.1', '--out', join(dir, 'relu'), '--quiet']);
    assert.equal(notJr.status, 2);
    assert.match(notJr.stderr, /bandwidth/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
