import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { readNpy, readNpyMatrix } from '../src/io/npy.js';
import { detectLayout, readModel } from '../src/io/sae-layouts.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { assertAllClose } from './helpers.js';

/**
 * Every layout sparsecode reads, against the NumPy computation of that layout's own encoder
 * (test/fixtures/formats/gen.py, which follows ../shared/ECOSYSTEM.md §4 and each tool's code).
 */
const FX = join(import.meta.dirname, 'fixtures', 'formats');
interface Case { name: string; path: string; layout: string; kind: string; codes: string; recon: string; notes: string; code_scale?: number[]; log_sparsity?: boolean }
const spec = JSON.parse(readFileSync(join(FX, 'cases.json'), 'utf8')) as { X: string; d_in: number; d_sae: number; cases: Case[] };
const X = readNpyMatrix(join(FX, spec.X));

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

test('fixtures cover every layout and the encoders ReLU, TopK, JumpReLU, BatchTopK-as-JumpReLU', () => {
  const layouts = new Set(spec.cases.map((c) => c.layout));
  for (const l of ['saelens-v6', 'saelens-pre-v6', 'gemma-scope-npz', 'gemma-scope-safetensors', 'sparsify', 'llama-scope']) assert.ok(layouts.has(l), l);
  const kinds = new Set(spec.cases.map((c) => c.kind));
  for (const k of ['relu', 'topk', 'jumprelu']) assert.ok(kinds.has(k), k);
  assert.ok(spec.cases.some((c) => /batchtopk/i.test(c.name)));
});

for (const c of spec.cases) {
  test(`${c.name}: read as ${c.layout}, encode equals NumPy's ${c.kind} encoder, decode its reconstruction`, () => {
    const path = join(FX, c.path);
    assert.equal(detectLayout(path).name, c.layout);
    const model = loadModel(path);
    assert.equal(model.layout.name, c.layout);
    assert.equal(model.kind, c.kind);
    assert.equal(model.dim, spec.d_in);
    assert.equal(model.atoms, spec.d_sae);
    const ref = readNpy(join(FX, c.codes));
    const want = Float64Array.from(ref.data);
    if (c.code_scale) for (let i = 0; i < want.length; i++) want[i] *= c.code_scale[i % spec.d_sae];
    const Z = model.encode(X);
    const tol = 1e-5 * Math.max(1, maxAbs(want));
    assertAllClose(Z.data, want, 1e-4, tol, `${c.name} codes`);
    // the same support exactly (the fixtures keep every pre-activation away from its threshold)
    for (let i = 0; i < want.length; i++) assert.equal(Z.data[i] !== 0, want[i] !== 0, `${c.name}: support differs at ${i}`);
    const rec = readNpy(join(FX, c.recon)).data;
    const R = model.decode(Z);
    assertAllClose(R.data, rec, 1e-4, 1e-4 * Math.max(1, maxAbs(rec)), `${c.name} reconstruction`);
    if (c.log_sparsity) {
      assert.ok(model.logSparsity, 'sparsity.safetensors is read');
      let nz = new Float64Array(spec.d_sae);
      for (let i = 0; i < Z.rows; i++) for (let a = 0; a < spec.d_sae; a++) if (Z.data[i * spec.d_sae + a] > 0) nz[a]++;
      nz = nz.map((v) => Math.log10(v / Z.rows + 1e-10));
      assertAllClose(model.logSparsity!, nz, 1e-5, 1e-5, 'log sparsity');
    }
  });
}

test('readModel reports the layout, the files read and what was mapped', () => {
  const r = readModel(join(FX, 'llama_scope/Llama3_1-8B-Base-L3R-8x'));
  assert.equal(r.layout.name, 'llama-scope');
  assert.ok(r.layout.files.some((f) => f.endsWith('final.safetensors')));
  assert.ok(r.spec.gateOnDecoderNorm);
  assert.ok(Math.abs(r.spec.inputScale! - Math.sqrt(6) / 2.25) < 1e-12);
  assert.ok(r.layout.notes.some((n) => /dataset-wise/.test(n)));
  const m = loadModel(join(FX, 'llama_scope/Llama3_1-8B-Base-L3R-8x'));
  assert.ok(m.layout.notes.some((n) => /folded/.test(n)));
  assert.equal(m.inputScale, undefined);
  const g = readModel(join(FX, 'gemma_scope_npz/layer_3/width_16k/average_l0_5'));
  assert.equal(g.layout.name, 'gemma-scope-npz');
  assert.equal(g.spec.applyBDecToInput, false);
});

test('loading with foldDecoderNorm gives unit decoder rows and the same reconstructions', () => {
  for (const name of ['saelens_v6_jumprelu', 'saelens_v6_standard', 'dl_batchtopk']) {
    const c = spec.cases.find((x) => x.name === name)!;
    const a = loadModel(join(FX, c.path));
    const b = loadModel(join(FX, c.path), { foldDecoderNorm: true });
    const D = b.weights.W_dec;
    for (let r = 0; r < D.rows; r++) {
      let s = 0;
      for (let j = 0; j < D.cols; j++) s += D.data[r * D.cols + j] ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `${name} row ${r}`);
    }
    const Ra = a.decode(a.encode(X)), Rb = b.decode(b.encode(X));
    assertAllClose(Rb.data, Ra.data, 1e-4, 1e-4, `${name} reconstruction after folding`);
  }
  const topk = spec.cases.find((x) => x.name === 'saelens_pre_v6_topk')!;
  assert.throws(() => loadModel(join(FX, topk.path), { foldDecoderNorm: true }), /changes which latents it picks/);
});

test('reconstructions are identical to the layout\'s own even where codes are rescaled (Llama Scope)', () => {
  const m = loadModel(join(FX, 'llama_scope/Llama3_1-8B-Base-L3R-8x'));
  const R = m.decode(m.encode(X));
  assertAllClose(R.data, readNpy(join(FX, 'llama_scope.recon.npy')).data, 1e-4, 1e-4);
  assert.ok(X instanceof Matrix);
});
