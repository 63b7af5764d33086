import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../src/io/safetensors.js';
import { readNpz, writeNpz } from '../src/io/npz.js';
import { saveModel } from '../src/io/model.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { assertThrowsCode } from './helpers.js';

/**
 * Never a silently wrong load: each way a file can disagree with its layout is refused with the
 * reason (the tensor, its shape and the shape expected; the missing threshold; the unsupported
 * normalisation or architecture).
 */
const FX = join(import.meta.dirname, 'fixtures', 'formats');
const tmp = mkdtempSync(join(tmpdir(), 'sc-refuse-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A copy of a fixture folder, with its cfg (JSON) and tensors edited. */
function variant(src: string, o: { cfg?: (c: any) => void; cfgFile?: string; weights?: string; tensors?: (t: Record<string, TensorInput>) => void } = {}): string {
  const dir = join(tmp, `v${n++}`);
  cpSync(join(FX, src), dir, { recursive: true });
  if (o.cfg) {
    const p = join(dir, o.cfgFile ?? 'cfg.json');
    const c = JSON.parse(readFileSync(p, 'utf8'));
    o.cfg(c);
    writeFileSync(p, JSON.stringify(c));
  }
  if (o.tensors) {
    const p = join(dir, o.weights ?? 'sae_weights.safetensors');
    const t: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(readSafetensors(p).tensors)) t[k] = { shape: v.shape, data: v.data as Float32Array };
    o.tensors(t);
    writeSafetensors(p, t);
  }
  return dir;
}

const transpose = (t: TensorInput): TensorInput => ({ shape: [t.shape[1], t.shape[0]], data: new Matrix(t.shape[0], t.shape[1], t.data as Float32Array).transpose().data });

test('SAELens: a transposed W_enc is refused, naming the tensor, its shape and the expected one', () => {
  const d = variant('saelens_v6_standard', { tensors: (t) => { t.W_enc = transpose(t.W_enc); } });
  assertThrowsCode(() => loadModel(d), 'E_SHAPE', /tensor W_enc has shape \[10, 6\]; a SAELens standard SAE stores it as \[d_in, d_sae\] = \[6, 10\] \(it looks transposed/);
  const e = variant('saelens_v6_standard', { tensors: (t) => { t.b_dec = { shape: [1, 6], data: t.b_dec.data }; } });
  assertThrowsCode(() => loadModel(e), 'E_SHAPE', /b_dec has shape \[1, 6\].*\[d_in\] = \[6\]/);
});

test('SAELens: a JumpReLU (or BatchTopK) without thresholds is refused, not loaded as a ReLU', () => {
  const d = variant('saelens_v6_jumprelu', { tensors: (t) => { delete t.threshold; } });
  assertThrowsCode(() => loadModel(d), 'E_FORMAT', /needs thresholds.*would be a plain ReLU/);
  const b = variant('saelens_v6_batchtopk_training', { tensors: (t) => { delete t.topk_threshold; } });
  assertThrowsCode(() => loadModel(b), 'E_FORMAT', /topk_threshold/);
});

test('SAELens: tensors the architecture does not have are refused by name', () => {
  const d = variant('saelens_v6_standard', { tensors: (t) => { t.b_gate = { shape: [10], data: new Float32Array(10) }; } });
  assertThrowsCode(() => loadModel(d), 'E_FORMAT', /tensor b_gate is not part of a SAELens standard SAE/);
  const f = variant('saelens_v6_standard', { tensors: (t) => { t.scaling_factor = { shape: [10], data: new Float32Array(10).fill(2) }; } });
  assertThrowsCode(() => loadModel(f), 'E_FORMAT', /scaling_factor is not all ones but finetuning_scaling_factor is false/);
  const ones = variant('saelens_v6_standard', { tensors: (t) => { t.scaling_factor = { shape: [10], data: new Float32Array(10).fill(1) }; } });
  assert.ok(loadModel(ones).layout.notes.some((s) => /ones dropped/.test(s)));
});

test('SAELens: normalisations sparsecode cannot apply are refused with the fix; a given scale is folded', () => {
  const noScaler = variant('saelens_v6_expected_average');
  rmSync(join(noScaler, 'activation_scaler.json'));
  assertThrowsCode(() => loadModel(noScaler), 'E_FORMAT', /expected_average_only_in" needs the activation-norm scaling factor.*activationScale/);
  const s = JSON.parse(readFileSync(join(FX, 'saelens_v6_expected_average/activation_scaler.json'), 'utf8')).scaling_factor;
  const ok = loadModel(noScaler, { activationScale: s });
  const ref = loadModel(join(FX, 'saelens_v6_expected_average'));
  assert.deepEqual(ok.weights.W_enc!.data, ref.weights.W_enc!.data);
  for (const norm of ['layer_norm', 'constant_norm_rescale', 'weird']) {
    const d = variant('saelens_v6_standard', { cfg: (c) => { c.normalize_activations = norm; } });
    assertThrowsCode(() => loadModel(d), 'E_FORMAT', new RegExp(`normalize_activations "${norm}"`));
  }
  const pre = variant('saelens_pre_v6_relu', { cfg: (c) => { c.normalize_activations = true; } });
  assertThrowsCode(() => loadModel(pre), 'E_FORMAT', /expected_average_only_in/);
});

test('SAELens: unsupported architectures, activations and configs are refused', () => {
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { c.architecture = 'gated'; } })), 'E_FORMAT', /gated SAEs/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { c.architecture = 'skip_transcoder'; } })), 'E_FORMAT', /transcoder/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { delete c.architecture; } })), 'E_FORMAT', /needs "architecture"/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_topk_rescale', { cfg: (c) => { delete c.k; } })), 'E_FORMAT', /topk SAE without k/);
  assertThrowsCode(() => loadModel(variant('saelens_pre_v6_topk', { cfg: (c) => { c.activation_fn_str = 'tanh-relu'; } })), 'E_FORMAT', /activation_fn "tanh-relu" is not supported/);
  assertThrowsCode(() => loadModel(variant('saelens_pre_v6_topk', { cfg: (c) => { c.activation_fn_kwargs = {}; } })), 'E_FORMAT', /without activation_fn_kwargs.k/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { c.dtype = 'int8'; } })), 'E_FORMAT', /dtype "int8"/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { c.metadata.sae_lens_version = 'banana'; } })), 'E_FORMAT', /not a version number/);
  assertThrowsCode(() => loadModel(variant('saelens_v6_standard', { cfg: (c) => { c.d_in = 7; } })), 'E_SHAPE', /W_dec has shape \[10, 6\].*\[10, 7\]/);
  const bad = variant('saelens_v6_standard');
  writeFileSync(join(bad, 'cfg.json'), '{"d_in": 6,');
  assertThrowsCode(() => loadModel(bad), 'E_FORMAT', /not valid JSON/);
});

test('Gemma Scope: a missing threshold, a transposed w_enc and extra tensors are refused', () => {
  const src = join(FX, 'gemma_scope_npz/layer_3/width_16k/average_l0_5/params.npz');
  const arrays = readNpz(src).arrays;
  const write = (edit: (a: Record<string, any>) => void) => {
    const a: Record<string, any> = { ...arrays };
    edit(a);
    const p = join(tmp, `g${n++}`, 'params.npz');
    cpSync(src, p);
    writeNpz(p, a);
    return p;
  };
  assertThrowsCode(() => loadModel(write((a) => { delete a.threshold; })), 'E_FORMAT', /threshold is missing; Gemma Scope SAEs are JumpReLU/);
  assertThrowsCode(() => loadModel(write((a) => { a.w_enc = { shape: [10, 6], data: new Matrix(6, 10, Float32Array.from(a.w_enc.data)).transpose().data }; })), 'E_SHAPE', /w_enc has shape \[10, 6\].*transposed/);
  assertThrowsCode(() => loadModel(write((a) => { a.w_skip = { shape: [6, 6], data: new Float32Array(36) }; })), 'E_FORMAT', /w_skip is not part of a Gemma Scope JumpReLU SAE/);
  const emb = join(tmp, 'embedding', 'params.npz');
  cpSync(src, emb);
  assertThrowsCode(() => loadModel(emb), 'E_FORMAT', /embedding SAE/);
});

test('sparsify: groupmax, transcoders, skip connections and a transposed W_dec are refused', () => {
  const p = 'sparsify/layers.3';
  assertThrowsCode(() => loadModel(variant(p, { cfg: (c) => { c.activation = 'groupmax'; } })), 'E_FORMAT', /groupmax/);
  assertThrowsCode(() => loadModel(variant(p, { cfg: (c) => { c.transcode = true; } })), 'E_FORMAT', /transcoder/);
  assertThrowsCode(() => loadModel(variant(p, { cfg: (c) => { c.skip_connection = true; } })), 'E_FORMAT', /W_skip/);
  assertThrowsCode(() => loadModel(variant(p, { weights: 'sae.safetensors', tensors: (t) => { t.W_dec = transpose(t.W_dec); } })), 'E_SHAPE', /W_dec has shape \[6, 10\]; a sparsify SAE.*\[10, 6\] \(it looks transposed/);
  assertThrowsCode(() => loadModel(variant(p, { weights: 'sae.safetensors', tensors: (t) => { t.W_skip = { shape: [6, 6], data: new Float32Array(36) }; } })), 'E_FORMAT', /W_skip is not part of a sparsify SAE/);
  assertThrowsCode(() => loadModel(variant(p, { cfg: (c) => { c.k = 11; } })), 'E_FORMAT', /k = 11 is larger than the 10 latents/);
});

test('Llama Scope: transcoders, missing thresholds and missing dataset norms are refused', () => {
  const p = 'llama_scope/Llama3_1-8B-Base-L3R-8x';
  const hp = { cfgFile: 'hyperparams.json' };
  assertThrowsCode(() => loadModel(variant(p, { ...hp, cfg: (c) => { c.hook_point_out = 'blocks.3.hook_mlp_out'; } })), 'E_FORMAT', /a transcoder/);
  assertThrowsCode(() => loadModel(variant(p, { ...hp, cfg: (c) => { delete c.jump_relu_threshold; } })), 'E_FORMAT', /needs jump_relu_threshold/);
  assertThrowsCode(() => loadModel(variant(p, { ...hp, cfg: (c) => { c.dataset_average_activation_norm = {}; } })), 'E_FORMAT', /dataset_average_activation_norm.in/);
  assertThrowsCode(() => loadModel(variant(p, { ...hp, cfg: (c) => { c.norm_activation = 'token-wise'; } })), 'E_FORMAT', /token-wise/);
});

test('pickles are never read: ae.pt is refused with the converter to run', () => {
  assertThrowsCode(() => loadModel(join(FX, 'dl_topk/ae.pt')), 'E_FORMAT', /never unpickles.*convert_dictionary_learning\.py/);
  assertThrowsCode(() => loadModel(join(FX, 'dl_topk')), 'E_FORMAT', /never unpickles/);
  assertThrowsCode(() => loadModel(join(tmp, 'nope')), 'E_IO', /does not exist/);
});

test('a sparsecode batchtopk model with per-latent thresholds is refused (it is a JumpReLU)', () => {
  const W = new Matrix(4, 3);
  W.data.set([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.6, 0.8, 0]);
  const dir = join(tmp, 'btk');
  saveModel(dir, { kind: 'batchtopk', k: 2, weights: { W_enc: W.transpose(), b_enc: new Float32Array(4), W_dec: W, b_dec: new Float32Array(3), threshold: Float32Array.from([0.1, 0.2, 0.1, 0.1]) } });
  assertThrowsCode(() => loadModel(dir), 'E_FORMAT', /one inference threshold.*threshold\[1\]/);
});
