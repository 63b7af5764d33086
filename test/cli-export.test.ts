import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { readNpyMatrix } from '../src/io/npy.js';
import { matrixRows } from '../src/io/rows.js';
import { saveModel } from '../src/io/model.js';
import { inspectPath } from '../src/io/inspect.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { exportSaelens } from '../src/dictionary/model-export.js';
import { readNeuronpediaView, writeNeuronpediaExport } from '../src/explore/neuronpedia.js';
import { detectDirKind } from '../src/explore/server.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const FX = join(import.meta.dirname, 'fixtures', 'formats');
const X = readNpyMatrix(join(FX, 'X.npy'));
const tmp = mkdtempSync(join(tmpdir(), 'sc-export-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FEATURE_KEYS = ['feature_index', 'neuron_alignment_indices', 'neuron_alignment_values', 'neuron_alignment_l1', 'correlated_neurons_indices', 'correlated_neurons_l1', 'correlated_neurons_pearson', 'correlated_features_indices', 'correlated_features_l1', 'correlated_features_pearson', 'neg_str', 'neg_values', 'pos_str', 'pos_values', 'frac_nonzero', 'freq_hist_data_bar_values', 'freq_hist_data_bar_heights', 'logits_hist_data_bar_heights', 'logits_hist_data_bar_values', 'n_prompts_total', 'n_tokens_in_prompt', 'dataset', 'decoder_weights_dist', 'activations'].sort();

test('Neuronpedia export: SAEDashboard batch fields, densities, top activations, histograms and decoder-cosine neighbours agree with the codes', () => {
  const model = loadModel(join(FX, 'gemma_scope_2/resid_post_all/layer_3_width_16k_l0_small/params.safetensors'));
  const out = join(tmp, 'np');
  const labels = Array.from({ length: X.rows }, (_, i) => `img${i}`);
  const r = writeNeuronpediaExport(model, matrixRows(X, 'X.npy'), out, { labels, topActs: 4, quantiles: 3, perQuantile: 2, featuresPerBatch: 4, seed: 7 });
  const Z = model.encode(X);
  const A = model.atoms, n = X.rows;
  const counts = Array.from({ length: A }, (_, a) => { let c = 0; for (let i = 0; i < n; i++) if (Z.data[i * A + a] !== 0) c++; return c; });
  assert.equal(r.alive + r.dead, A);
  assert.equal(r.dead, counts.filter((c) => c === 0).length);
  assert.equal(r.batches, Math.ceil(r.alive / 4));
  const skipped = JSON.parse(readFileSync(join(out, 'skipped_indexes.json'), 'utf8'));
  assert.deepEqual(skipped.skipped_indexes, counts.flatMap((c, a) => (c === 0 ? [a] : [])));
  const seen = new Set<number>();
  for (let b = 0; b < r.batches; b++) {
    const batch = JSON.parse(readFileSync(join(out, `batch-${b}.json`), 'utf8'));
    assert.deepEqual(Object.keys(batch).sort(), ['features', 'layer', 'model_id', 'sae_set']);
    for (const f of batch.features) {
      assert.deepEqual(Object.keys(f).sort(), FEATURE_KEYS);
      const a = f.feature_index;
      seen.add(a);
      const col = Array.from({ length: n }, (_, i) => Z.data[i * A + a]);
      assert.ok(Math.abs(f.frac_nonzero - counts[a] / n) < 1e-5);
      assert.equal(f.freq_hist_data_bar_heights.reduce((s: number, v: number) => s + v, 0), counts[a]);
      assert.equal(f.n_prompts_total, n);
      const top = f.activations.filter((e: any) => e.bin_min === -1);
      const sorted = col.map((v, i) => ({ v, i })).filter((e) => e.v !== 0).sort((p, q) => q.v - p.v || p.i - q.i).slice(0, 4);
      assert.deepEqual(top.map((e: any) => e.tokens[0]), sorted.map((e) => `img${e.i} (#${e.i})`));
      assertAllClose(top.map((e: any) => e.values[0]), sorted.map((e) => e.v), 0, 1e-5);
      for (const e of f.activations) {
        assert.deepEqual(Object.keys(e).sort(), ['bin_contains', 'bin_max', 'bin_min', 'qualifying_token_index', 'tokens', 'values']);
        const i = Number(/#(\d+)\)$/.exec(e.tokens[0])![1]);
        assert.ok(Math.abs(e.values[0] - col[i]) < 1e-5, 'each example shows its sample\'s activation');
        if (e.bin_min !== -1) assert.ok(col[i] >= e.bin_min - 1e-5 && col[i] <= e.bin_max + 1e-5, 'interval examples lie in their interval');
      }
      const fracs = new Map<number, number>();
      for (const e of f.activations) if (e.bin_min !== -1) fracs.set(e.bin_min, e.bin_contains);
      assert.ok([...fracs.values()].reduce((s, v) => s + v, 0) <= 1 + 1e-4);
    }
  }
  assert.equal(seen.size, r.alive);
  // nearest features by decoder cosine, against a brute-force computation
  const W = model.weights.W_dec, d = W.cols;
  const cos = (p: number, q: number) => {
    let s = 0, np = 0, nq = 0;
    for (let j = 0; j < d; j++) { s += W.data[p * d + j] * W.data[q * d + j]; np += W.data[p * d + j] ** 2; nq += W.data[q * d + j] ** 2; }
    return s / Math.sqrt(np * nq);
  };
  const rows = readFileSync(join(out, 'features.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, A);
  for (const row of rows) {
    const a = Number(row.index);
    const want = Array.from({ length: A }, (_, q) => q).filter((q) => q !== a).sort((p, q) => cos(a, q) - cos(a, p)).slice(0, 9);
    assert.deepEqual(row.topkCosSimIndices, want);
    assertAllClose(row.topkCosSimValues, want.map((q) => cos(a, q)), 0, 1e-5);
    assert.equal(row.vector.length, d);
  }
  // the explorer reads the same files
  assert.equal(detectDirKind(out), 'model');
  const view = readNeuronpediaView(out);
  assert.equal(view.summary.atoms, A);
  for (let a = 0; a < A; a++) assert.ok(Math.abs(view.features[a].frequency! - counts[a] / n) < 1e-5);
  const live = counts.findIndex((c) => c > 0);
  const det = view.detail(live);
  assert.equal(det.top[0].sample, Number(/#(\d+)\)$/.exec(JSON.parse(readFileSync(join(out, 'batch-0.json'), 'utf8')).features[0].activations[0].tokens[0])![1]));
  assert.equal(det.neighbours.length, 9);
  assert.ok(det.histogram && det.histogram.counts.reduce((s, v) => s + v, 0) === counts[live]);
  assertThrowsCode(() => writeNeuronpediaExport(model, matrixRows(X, 'X'), join(tmp, 'np2'), { labels: ['a'] }), 'E_SHAPE', /one label per row/);
});

test('export saelens folds a whitening into the weights; SAELens-only readers get the same codes', () => {
  const rng = new Rng(11);
  const d = 6, A = 10;
  const W_dec = new Matrix(A, d);
  rng.fillNormal(W_dec.data);
  const W_enc = W_dec.transpose();
  const Wh = new Matrix(d, d), Wi = new Matrix(d, d);
  for (let i = 0; i < d; i++) { Wh.data[i * d + i] = 0.5 + i * 0.2; Wi.data[i * d + i] = 1 / (0.5 + i * 0.2); }
  const dir = join(tmp, 'white');
  saveModel(dir, { kind: 'relu', weights: { W_enc, b_enc: new Float32Array(A).fill(-0.1), W_dec, b_dec: new Float32Array(d).fill(0.2) }, whitening: { method: 'pca', mean: new Float32Array(d).fill(0.3), W: Wh, W_inv: Wi } });
  const cfg = JSON.parse(readFileSync(join(dir, 'cfg.json'), 'utf8'));
  assert.equal(cfg.architecture, 'sparsecode_whitened', 'a whitened folder is not passed off as a plain SAELens SAE');
  const m = loadModel(dir);
  const out = join(tmp, 'white-v6');
  exportSaelens(m, out, { data: X });
  const c2 = JSON.parse(readFileSync(join(out, 'cfg.json'), 'utf8'));
  assert.equal(c2.architecture, 'standard');
  delete c2.sparsecode;
  writeFileSync(join(out, 'cfg.json'), JSON.stringify(c2));
  const plain = loadModel(out);
  assert.equal(plain.layout.name, 'saelens-v6');
  assertAllClose(plain.encode(X).data, m.encode(X).data, 1e-4, 1e-5);
  assertAllClose(plain.decode(plain.encode(X)).data, m.decode(m.encode(X)).data, 1e-4, 1e-4);
  // what SAELens cannot run the same way is refused
  const mp = join(tmp, 'mp');
  saveModel(mp, { kind: 'mp', k: 2, weights: { W_enc, b_enc: new Float32Array(A), W_dec, b_dec: new Float32Array(d) } });
  assertThrowsCode(() => exportSaelens(loadModel(mp), join(tmp, 'mp-v6')), 'E_ARG', /matching-pursuit/);
  const dl = join(tmp, 'dl');
  saveModel(dl, { kind: 'dl-fista', weights: { W_dec }, inference: { lambda: 0.1, nonneg: true, iters: 50 } });
  assertThrowsCode(() => exportSaelens(loadModel(dl), join(tmp, 'dl-v6')), 'E_ARG', /FISTA/);
});

test('inspect: layout, tensors and config of a model; refusals reported; plain files listed from headers', () => {
  const r = inspectPath(join(FX, 'sparsify/layers.3'));
  assert.equal(r.kind, 'model');
  assert.equal(r.layout!.name, 'sparsify');
  assert.deepEqual(r.model, { kind: 'topk', d_in: 6, d_sae: 10, k: 3, apply_b_dec_to_input: true, threshold: false, whitened: false, sparsity: false });
  assert.deepEqual(r.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape}]`), ['encoder.weight BF16 [10,6]', 'encoder.bias BF16 [10]', 'W_dec BF16 [10,6]', 'b_dec BF16 [6]']);
  assert.equal((r.config as any).k, 3);
  const x = inspectPath(join(FX, 'X.npy'));
  assert.deepEqual(x.tensors[0].shape, [16, 6]);
  const folder = inspectPath(join(FX, 'dl_topk'));
  assert.equal(folder.kind, 'folder');
  assert.match(folder.refused!.message, /never unpickles/);
});

test('CLI: inspect --json, export neuronpedia with --labels, export saelens, usage errors', () => {
  let r = cli(['inspect', join(FX, 'llama_scope/Llama3_1-8B-Base-L3R-8x'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.layout.name, 'llama-scope');
  assert.equal(j.model.kind, 'jumprelu');
  const labels = join(tmp, 'labels.json');
  writeFileSync(labels, JSON.stringify(Array.from({ length: X.rows }, (_, i) => (i % 2 ? 'cat' : 'dog'))));
  const out = join(tmp, 'cli-np');
  r = cli(['export', 'neuronpedia', '--model', join(FX, 'saelens_v6_jumprelu'), '--data', join(FX, 'X.npy'), '--labels', labels, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.features, 10);
  assert.ok(existsSync(join(out, 'batch-0.json')) && existsSync(join(out, 'run_settings.json')));
  assert.match(readFileSync(join(out, 'batch-0.json'), 'utf8'), /"(cat|dog) \(#\d+\)"/);
  const v6 = join(tmp, 'cli-v6');
  r = cli(['export', 'saelens', '--model', join(FX, 'gemma_scope_npz_compressed'), '--data', join(FX, 'X.npy'), '--out', v6]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /SAELens v6, sparsity.safetensors from 16 samples/);
  assert.ok(existsSync(join(v6, 'sparsity.safetensors')));
  r = cli(['export', 'neuronpedia', '--model', join(FX, 'saelens_v6_jumprelu'), '--out', join(tmp, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs --data/);
  r = cli(['export', 'tensorboard', '--model', 'm', '--out', 'o']);
  assert.equal(r.code, 2);
});
