import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { saveModel } from '../src/io/model.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'cli-tc-'));
const xPath = join(dir, 'x.npy'), yPath = join(dir, 'y.npy'), yShort = join(dir, 'y_short.npy');
const n = 1500, dIn = 6, dOut = 4, G = 12;
const rng = new Rng(0);
const X = new Matrix(n, dIn), Y = new Matrix(n, dOut);
{
  const Din = new Matrix(G, dIn), Dout = new Matrix(G, dOut);
  rng.fillNormal(Din.data);
  rng.fillNormal(Dout.data);
  for (let i = 0; i < n; i++) for (const g of rng.choice(G, 2)) {
    const m = 0.5 + rng.uniform();
    for (let j = 0; j < dIn; j++) X.data[i * dIn + j] += m * Din.data[g * dIn + j];
    for (let o = 0; o < dOut; o++) Y.data[i * dOut + o] += m * Dout.data[g * dOut + o] + 0.2 * X.data[i * dIn + o];
  }
  writeNpy(xPath, X);
  writeNpy(yPath, Y);
  writeNpy(yShort, Y.rowSlice(0, n - 7));
}
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('fit topk-transcoder --skip writes a transcoder folder that loads, encodes and evals against --target', () => {
  const out = join(dir, 'tc');
  const r = cli(['fit', 'topk-transcoder', '--input', xPath, '--target', yPath, '--atoms', '16', '--k', '2', '--skip', '--steps', '800', '--batch', '128', '--lr', '3e-3', '--seed', '0', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(s.method, 'topk-transcoder');
  assert.equal(s.d_out, dOut);
  assert.ok(s.fvu < 0.3, `target FVU ${s.fvu}`);
  // the layout: SAELens transcoder tensor names and shapes, sparsify's cfg fields
  const cfg = JSON.parse(readFileSync(join(out, 'cfg.json'), 'utf8'));
  assert.equal(cfg.architecture, 'sparsecode_topk_transcoder');
  assert.equal(cfg.d_in, dIn);
  assert.equal(cfg.d_out, dOut);
  assert.equal(cfg.k, 2);
  assert.equal(cfg.skip_connection, true);
  assert.equal(cfg.apply_b_dec_to_input, false);
  const t = readSafetensors(join(out, 'sae_weights.safetensors'));
  assert.deepEqual(Object.keys(t.tensors).sort(), ['W_dec', 'W_enc', 'W_skip', 'b_dec', 'b_enc']);
  assert.deepEqual(t.tensors.W_enc.shape, [dIn, 16]);
  assert.deepEqual(t.tensors.W_dec.shape, [16, dOut]);
  assert.deepEqual(t.tensors.W_skip.shape, [dOut, dIn]);
  // loaded: the output equals z·W_dec + b_dec + x·W_skipᵀ computed here
  const m = loadModel(out);
  assert.equal(m.kind, 'topk-transcoder');
  assert.equal(m.dOut, dOut);
  const Xs = X.rowSlice(0, 20), Z = m.encode(Xs), P = m.predict!(Xs);
  for (let i = 0; i < 20; i++) {
    let nnz = 0;
    for (let a = 0; a < 16; a++) if (Z.data[i * 16 + a] !== 0) nnz++;
    assert.ok(nnz <= 2);
    for (let o = 0; o < dOut; o++) {
      let v = m.weights.b_dec![o];
      for (let a = 0; a < 16; a++) v += Z.data[i * 16 + a] * m.weights.W_dec.data[a * dOut + o];
      for (let j = 0; j < dIn; j++) v += m.weights.W_skip!.data[o * dIn + j] * Xs.data[i * dIn + j];
      assert.ok(Math.abs(v - P.data[i * dOut + o]) < 1e-4, `row ${i} out ${o}: ${v} vs ${P.data[i * dOut + o]}`);
    }
  }
  // saved again, read again: identical weights
  saveModel(join(dir, 'tc2'), m);
  const m2 = loadModel(join(dir, 'tc2'));
  assert.deepEqual(m2.weights.W_skip!.data, m.weights.W_skip!.data);
  // encode writes the codes; eval scores the output against the target
  const codes = join(dir, 'z.npy');
  const e = cli(['encode', '--model', out, '--input', xPath, '--out', codes, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(readNpy(codes).shape, [n, 16]);
  const v = cli(['eval', '--model', out, '--input', xPath, '--target', yPath, '--json']);
  assert.equal(v.code, 0, v.stderr);
  const ev = JSON.parse(v.stdout.trim());
  assert.ok(Math.abs(ev.fvu - s.fvu) < 1e-3, `eval fvu ${ev.fvu} vs fit ${s.fvu}`);
  assert.ok(Math.abs(ev.fve + ev.fvu - 1) < 1e-9);
  // eval without --target is refused
  const nt = cli(['eval', '--model', out, '--input', xPath]);
  assert.equal(nt.code, 2, nt.stderr);
  assert.match(nt.stderr, /--target/);
});

test('fit topk-transcoder and eval refuse a target with other rows than the input, naming both counts', () => {
  const r = cli(['fit', 'topk-transcoder', '--input', xPath, '--target', yShort, '--atoms', '8', '--k', '2', '--steps', '10', '--out', join(dir, 'bad')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`${n - 7} rows`));
  assert.match(r.stderr, new RegExp(`${n} rows`));
  const noTarget = cli(['fit', 'topk-transcoder', '--input', xPath, '--atoms', '8', '--k', '2', '--out', join(dir, 'bad2')]);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /--target/);
  const wrong = cli(['fit', 'topk-sae', '--input', xPath, '--target', yPath, '--atoms', '8', '--k', '2', '--out', join(dir, 'bad3')]);
  assert.equal(wrong.code, 2);
});
