import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { inputSpaceDecoder } from '../../io/model.js';
import { loadModel } from '../../dictionary/model-runtime.js';
import { deadLatents, dictionaryRecovery, fve, l0, mcc, mse } from '../../metrics/index.js';
import type { Command } from '../command.js';
import { readMatrixArg, TENSOR_OPTION } from '../inputs.js';
import { evalGroundTruth } from './eval-gt.js';

/** The ground-truth SAE metrics (SynthSAEBench) eval prints, in order. */
const GT_FIELDS = ['mcc_dec', 'uniqueness', 'precision', 'recall', 'f1', 'ev', 'l0', 'dead_fraction', 'shrinkage', 'absorption', 'sparse_probing_top1'];

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score recovered codes (and dictionaries) against the ground truth: MCC, dictionary recovery, L0',
  usage: 'eval (--codes Z.npy | --model DIR [--input X.npy [--target Y.npy]]) [--truth ZTRUE.npy] [--dictionary D.npy] [--true-dictionary A.npy] [--ood] [--json]\n       eval --model DIR (--world W [--split val] | --input X.npy --truth A.npy --true-dictionary D.npy) [--saebench DIR] [--json]',
  description: [
    'MCC: mean |Pearson r| between code columns and true latent columns after a one-to-one (Hungarian)',
    'matching. Latents that never vary are left out and the narrower side is padded with noise columns',
    '(--pad none averages over the matched pairs only). --ood applies the OOD rule: keep the latents',
    'active in this set and the same number of code columns of largest variance.',
    'Dictionaries are [atoms x dim] (rows are atoms): Hungarian matching on |cosine|, mean matched cosine',
    'and the fraction of matched atoms above 0.9.',
    '--model DIR scores a model directory (sparsecode fit, SAELens layouts) in the space of the raw',
    'activations: its dictionary is W_dec mapped back through the inverse whitening when the model was',
    'trained on whitened inputs (W_dec itself lives in the whitened space and must not be compared with',
    'directions in the data space); with --input X the model encodes X into the codes scored against',
    '--truth, and the reconstruction is scored too (mse, fve = 1 - SSE / centred SST, original space).',
    'With --model and the full ground truth (--world W, a `world synth-sae-bench` folder, or --input,',
    '--truth and --true-dictionary): also the SynthSAEBench ground-truth metrics (docs/synth-sae-bench.md):',
    'mcc_dec (Hungarian on |cos| of decoder rows vs true features), uniqueness, per-latent precision /',
    'recall / f1 against the best-matching true feature, ev (the correct explained variance), shrinkage,',
    'absorption (on the world hierarchy) and sparse_probing_top1; --saebench DIR also writes SAEBench-style',
    'core.json, absorption.json and sparse_probing.json.',
    'A transcoder (fit topk-transcoder) with --input X --target Y: its output ŷ (skip term included) is',
    'scored against Y: mse, fve = 1 - SSE / centred SST and fvu = 1 - fve.',
  ].join('\n'),
  options: [
    { name: 'codes', type: 'string', help: 'recovered codes [samples x atoms] (.npy)', metavar: 'Z.npy' },
    { name: 'model', type: 'string', help: 'a model directory: its dictionary (original space) and, with --input, its codes', metavar: 'DIR' },
    { name: 'input', type: 'string', help: 'with --model: activations [samples x dim] the model encodes', metavar: 'X.npy' },
    { name: 'world', type: 'string', help: 'with --model: a `world synth-sae-bench` folder (activations, truth, dictionary, hierarchy)', metavar: 'W' },
    { name: 'split', type: 'string', help: 'with --world: which split', choices: ['train', 'val'] },
    { name: 'saebench', type: 'string', help: 'with --model: also write SAEBench-style core/absorption/sparse_probing JSON here', metavar: 'DIR' },
    { name: 'target', type: 'string', help: 'with a transcoder --model and --input X: the rows it should output [samples x d_out]; scored as mse, fve, fvu', metavar: 'Y.npy' },
    { name: 'truth', type: 'string', help: 'true latents [samples x latents] (.npy), same samples in the same order', metavar: 'ZTRUE.npy' },
    { name: 'dictionary', type: 'string', help: 'learned dictionary [atoms x dim] (.npy)', metavar: 'D.npy' },
    { name: 'true-dictionary', type: 'string', help: 'true dictionary / mixing [latents x dim] (.npy)', metavar: 'A.npy' },
    { name: 'ood', type: 'boolean', help: 'OOD rule for MCC (active latents only, highest-variance code columns)' },
    { name: 'pad', type: 'string', help: 'how MCC treats unequal widths', default: 'noise', choices: ['noise', 'none'] },
    { name: 'seed', type: 'int', help: 'seed of the MCC padding noise', default: 42 },
    { name: 'tol', type: 'number', help: 'a code counts as active when |z| > tol (L0, dead latents)', default: 0 },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
    TENSOR_OPTION,
  ],
  isolate: true,
  examples: [
    'sparsecode eval --codes codes_val.npy --truth worlds/n100/val_z.npy --json',
    'sparsecode eval --codes codes_ood.npy --truth worlds/n100/ood_z.npy --ood --dictionary D.npy --true-dictionary worlds/n100/mixing.npy',
    'sparsecode eval --model sae/ --input worlds/n100/val_x.npy --truth worlds/n100/val_z.npy --true-dictionary worlds/n100/mixing.npy --json',
    'sparsecode eval --model sae/ --world worlds/ssb --saebench results/ --json',
    'sparsecode eval --model tc/ --input mlp_in.npy --target mlp_out.npy --json',
  ],
  async run(ctx) {
    const o = ctx.opts;
    for (const k of ['world', 'split', 'saebench']) if (o[k] !== undefined && o.model === undefined) fail('E_USAGE', `--${k} applies with --model only`);
    if (o.model !== undefined && o.world !== undefined) {
      const r = evalGroundTruth(o);
      if (o.json) ctx.print(JSON.stringify(r));
      else {
        ctx.print(`${r.samples} samples, ${r.latents} latents, ${r.true_features} true features (${o.model})`);
        for (const k of GT_FIELDS) ctx.print(`  ${k.padEnd(22)}${typeof r[k] === 'number' ? (r[k] as number).toFixed(4) : String(r[k])}`);
      }
      return;
    }
    if (o.model !== undefined && o.codes !== undefined) fail('E_USAGE', 'give --codes or --model DIR (with --input X to encode), not both');
    if (o.model !== undefined && o.dictionary !== undefined) fail('E_USAGE', 'give --dictionary or --model DIR (whose dictionary is scored), not both');
    if (o.input !== undefined && o.model === undefined) fail('E_USAGE', '--input needs --model DIR (the model that encodes it)');
    const haveDict = o.dictionary !== undefined || o.model !== undefined;
    if (o['true-dictionary'] !== undefined && !haveDict) fail('E_USAGE', 'dictionary recovery needs --dictionary D.npy or --model DIR beside --true-dictionary');
    if (o.dictionary !== undefined && o['true-dictionary'] === undefined) fail('E_USAGE', 'dictionary recovery needs both --dictionary and --true-dictionary');
    const model = o.model !== undefined ? loadModel(o.model) : null;
    const transcoder = model?.kind === 'topk-transcoder';
    if (o.target !== undefined && !(transcoder && o.input !== undefined)) fail('E_USAGE', '--target Y.npy applies to a transcoder --model with --input X.npy (the transcoder maps X to Y)');
    if (transcoder && o.input !== undefined && o.target === undefined) fail('E_USAGE', `${o.model} is a transcoder: give --target Y.npy beside --input X.npy (its output is scored against Y)`);
    let codes: Matrix | null = null;
    const out: Record<string, number | string | boolean> = {};
    if (o.codes !== undefined) codes = readMatrixArg(o.codes, o.tensor, '--codes');
    else if (model && o.input !== undefined) {
      const X = readMatrixArg(o.input, o.tensor, '--input');
      if (X.cols !== model.dim) fail('E_SHAPE', `shape mismatch: --input ${o.input} has ${X.cols} columns, the model takes d_in = ${model.dim}`);
      codes = model.encode(X);
      if (transcoder) {
        // the transcoder's output against the target rows
        const Y = readMatrixArg(o.target, o.tensor, '--target');
        if (Y.rows !== X.rows) fail('E_SHAPE', `--target ${o.target} has ${Y.rows} rows and --input ${o.input} has ${X.rows} rows; both must hold the same samples in the same order`);
        if (Y.cols !== model.dOut) fail('E_SHAPE', `shape mismatch: --target ${o.target} has ${Y.cols} columns, the transcoder outputs d_out = ${model.dOut}`);
        const Yhat = model.predict!(X);
        out.mse = mse(Y, Yhat);
        out.fve = fve(Y, Yhat);
        out.fvu = 1 - (out.fve as number);
        out.target = o.target;
      } else {
        const Xhat = model.decode(codes);
        out.mse = mse(X, Xhat);
        out.fve = fve(X, Xhat);
      }
      out.whitened = !!model.whitening;
    }
    if (o.truth !== undefined && !codes) fail('E_USAGE', '--truth needs codes: --codes Z.npy, or --model DIR --input X.npy');
    if (!codes && o['true-dictionary'] === undefined) fail('E_USAGE', 'nothing to score: give --codes (or --model DIR --input X) with --truth, and/or a dictionary with --true-dictionary');
    if (codes) {
      out.samples = codes.rows;
      out.code_cols = codes.cols;
      out.l0 = l0(codes, o.tol);
      out.dead_fraction = deadLatents(codes, o.tol);
    }
    if (codes && o.truth !== undefined) {
      const truth = readMatrixArg(o.truth, o.tensor, '--truth');
      if (codes.rows !== truth.rows) {
        fail('E_SHAPE', `shape mismatch: the codes (${o.codes ?? `--model ${o.model} --input ${o.input}`}) have ${codes.rows} rows, --truth ${o.truth} has ${truth.rows} rows; both must hold the same samples in the same order`);
      }
      const m = mcc(codes, truth, { ood: !!o.ood, pad: o.pad, seed: o.seed });
      Object.assign(out, {
        mcc: m.mcc,
        mcc_pairs: m.pairs,
        mcc_latents_used: m.latentsUsed.length,
        mcc_rule: o.ood ? 'ood' : 'id',
        truth_cols: truth.cols,
        true_l0: l0(truth, o.tol),
      });
    }
    if (o['true-dictionary'] !== undefined) {
      // a model's dictionary in the space of the raw activations (un-whitened)
      const D = model ? inputSpaceDecoder(model) : readMatrixArg(o.dictionary, o.tensor, '--dictionary');
      const A = readMatrixArg(o['true-dictionary'], o.tensor, '--true-dictionary');
      if (D.cols !== A.cols) fail('E_SHAPE', `shape mismatch: the dictionary has ${D.cols} columns, --true-dictionary ${o['true-dictionary']} has ${A.cols}; both are [atoms x dim] in the same space`);
      const r = dictionaryRecovery(D, A);
      out.dict_mean_cos = r.meanCos;
      out.dict_frac_090 = r.frac090;
      out.dict_pairs = r.cosines.length;
      if (model) out.dict_space = model.whitening ? 'original (un-whitened W_dec)' : 'original';
    }
    // the ground-truth SAE metrics, when the full ground truth is given
    let gt: Record<string, unknown> | null = null;
    if (model && o.input !== undefined && o.truth !== undefined && o['true-dictionary'] !== undefined) {
      gt = evalGroundTruth(o);
      for (const [k, v] of Object.entries(gt)) if (!(k in out) && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')) out[k] = v;
    }
    if (o.json) {
      ctx.print(JSON.stringify(gt ? { ...gt, ...out } : out));
      return;
    }
    const fmt = (v: number | string | boolean) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v));
    const rows: [string, string][] = [];
    if (out.mcc !== undefined) rows.push([`MCC (${out.mcc_rule}, ${out.mcc_pairs} pairs)`, fmt(out.mcc)]);
    if (out.l0 !== undefined) rows.push([out.true_l0 !== undefined ? 'L0 codes / truth' : 'L0 codes', out.true_l0 !== undefined ? `${fmt(out.l0)} / ${fmt(out.true_l0)}` : fmt(out.l0)]);
    if (out.dead_fraction !== undefined) rows.push(['dead code columns', `${(100 * (out.dead_fraction as number)).toFixed(1)}%`]);
    if (out.fve !== undefined) rows.push([transcoder ? `target fve / fvu / mse (${o.target})` : 'reconstruction fve / mse (original space)', transcoder ? `${fmt(out.fve)} / ${fmt(out.fvu)} / ${fmt(out.mse)}` : `${fmt(out.fve)} / ${fmt(out.mse)}`]);
    if (out.dict_mean_cos !== undefined) {
      rows.push([`dictionary mean |cos| (${out.dict_pairs} pairs)`, fmt(out.dict_mean_cos)]);
      rows.push(['dictionary atoms with |cos| > 0.9', `${(100 * (out.dict_frac_090 as number)).toFixed(1)}%`]);
    }
    const w = Math.max(...rows.map((r) => r[0].length)) + 2;
    if (codes) ctx.print(`${codes.rows} samples, ${codes.cols} code columns${out.truth_cols !== undefined ? `, ${out.truth_cols} true latents` : ''}`);
    for (const [k, v] of rows) ctx.print(`  ${k.padEnd(w)}${v}`);
    if (gt) for (const k of GT_FIELDS) if (!['l0', 'dead_fraction'].includes(k)) ctx.print(`  ${k.padEnd(w)}${typeof gt[k] === 'number' ? (gt[k] as number).toFixed(4) : String(gt[k])}`);
  },
};
