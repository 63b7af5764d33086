import { existsSync, unlinkSync } from 'node:fs';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import { checkpointPath, createSAE, type SAEConfig, type SAEKind, type SparseAutoencoder, type TrainProgress } from '../../dictionary/index.js';
import { learnDictionaryFista } from '../../dictionary/dl-fista.js';
import { onlineDictionaryLearning } from '../../dictionary/online-dl.js';
import { type ModelKind, type ModelSpec, type ModelWhitening, saveModel } from '../../io/model.js';
import { type LoadedModel, loadModel } from '../../dictionary/model-runtime.js';
import { fitWhitening, type Whitening } from '../../preprocess/whiten.js';
import type { Command, Context } from '../command.js';
import { openRowsArg, readMatrixArg, TENSOR_OPTION } from '../inputs.js';
import type { RowSource } from '../../io/rows.js';
import { defaultSampleRows, readRowsAt, sampleRows, transformedRows } from '../../dictionary/stream.js';
import { trainSAE } from '../../dictionary/trainer.js';
import { DEFAULT_L0, DEFAULT_L1 } from '../../dictionary/sae/config.js';
import { Rng } from '../../core/rng.js';
import type { Progress } from '../progress.js';

const SAE_METHODS: Record<string, SAEKind> = {
  'relu-sae': 'relu',
  'topk-sae': 'topk',
  'batchtopk-sae': 'batchtopk',
  'jumprelu-sae': 'jumprelu',
  'mp-sae': 'mp',
};
const METHODS = [...Object.keys(SAE_METHODS), 'dl-fista', 'online-dl'] as const;

/** Fraction of variance unexplained of R against X (float64), on at most `cap` evenly spaced rows. */
function fvu(X: Matrix, R: Matrix): number {
  const { rows: n, cols: d } = X;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X.data[i * d + j] / n;
  let sse = 0, tv = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const x = X.data[i * d + j];
      sse += (x - R.data[i * d + j]) ** 2;
      tv += (x - mean[j]) ** 2;
    }
  }
  return tv > 0 ? sse / tv : NaN;
}

function evalRows(n: number, cap = 16384): Int32Array {
  const m = Math.min(n, cap);
  const idx = new Int32Array(m);
  for (let i = 0; i < m; i++) idx[i] = Math.floor((i * n) / m);
  return idx;
}

export const fitCommand: Command = {
  name: 'fit',
  summary: 'learn a dictionary from activations: SAEs (ReLU, TopK, BatchTopK, JumpReLU, matching pursuit) or classical sparse coding',
  usage: 'fit <method> --input X.npy --atoms N [--k K] [--l1 C] [--epochs E | --steps T] [--batch B] [--lr LR] [--whiten pca|zca] --seed S --out DIR [--checkpoint-every N] [--resume] [--stream] [--memory-budget MB]',
  description: [
    'Trains on X [samples x dim] (.npy or a .safetensors tensor, see --tensor) and writes a model directory DIR',
    '(a SAELens v6 folder: cfg.json + sae_weights.safetensors, W_enc [dim x atoms], b_enc, W_dec',
    '[atoms x dim], b_dec, threshold for JumpReLU/BatchTopK; classical learners store W_dec only;',
    'SAELens >= 6 loads the ReLU, TopK, JumpReLU and BatchTopK ones, see docs/interop.md).',
    'Inputs are scaled to unit mean squared norm while training and the scale is folded into the',
    'saved weights, so the model takes raw activations. With --whiten the model is trained on',
    'PCA/ZCA-whitened inputs; the whitening is stored in DIR and the reported errors are measured',
    'in the original space. SAEs checkpoint to DIR every --checkpoint-every steps (and on Ctrl-C);',
    '--resume continues from that checkpoint with the same settings.',
    'Files larger than --memory-budget MB (default 2048), or any file with --stream, are not read into',
    'memory: SAEs and online-dl stream row batches from disk in a chunked shuffle (runs of ~4 MiB of',
    'contiguous rows in a seeded random order, shuffled within a 16-chunk buffer), and the input scale,',
    'b_dec and (with --whiten) the whitening are estimated on a seeded sample of rows (all rows up to',
    '~64 MiB; the whitening on at least 4·dim rows). Peak memory is then the model, one batch, the',
    'shuffle buffer (~64 MiB) and the sample, whatever the file size. dl-fista is full-batch and needs',
    'the data in memory. A streamed run resumes only as a streamed run (same --stream/--memory-budget choice).',
  ].join('\n'),
  positionals: [{ name: 'method', help: 'what to train', required: true, choices: METHODS }],
  options: [
    { name: 'input', type: 'string', help: 'activations X [samples x dim] (.npy, or .safetensors with --tensor)', required: true, metavar: 'X.npy' },
    TENSOR_OPTION,
    { name: 'atoms', type: 'int', help: 'dictionary size (latents)', required: true, metavar: 'N' },
    { name: 'k', type: 'int', help: 'active latents per sample (topk, batchtopk, mp)', metavar: 'K' },
    { name: 'l1', type: 'number', help: `sparsity weight: L1 for relu-sae [${DEFAULT_L1}], L0 for jumprelu-sae [${DEFAULT_L0}], lambda for dl-fista/online-dl [0.1]`, metavar: 'C' },
    { name: 'epochs', type: 'int', help: 'passes over the data (SAEs, online-dl) [10]', metavar: 'E' },
    { name: 'steps', type: 'int', help: 'optimiser steps (SAEs, online-dl); outer iterations for dl-fista [1000]', metavar: 'T' },
    { name: 'batch', type: 'int', help: 'samples per step [SAEs 1024, online-dl 256]', metavar: 'B' },
    { name: 'lr', type: 'number', help: 'Adam learning rate (SAEs) [1e-3]', metavar: 'LR' },
    { name: 'whiten', type: 'string', help: 'train on whitened inputs', choices: ['pca', 'zca'] },
    { name: 'whiten-eps', type: 'number', help: 'whitening eigenvalue shrinkage, relative to the mean eigenvalue [1e-5]', metavar: 'EPS' },
    { name: 'nonneg', type: 'boolean', help: 'non-negative codes (dl-fista, online-dl)' },
    { name: 'fista-iters', type: 'int', help: 'FISTA iterations per step (dl-fista, online-dl) [100]', metavar: 'I' },
    { name: 'seed', type: 'int', help: 'random seed', default: 0, metavar: 'S' },
    { name: 'out', type: 'string', help: 'model directory to write', required: true, metavar: 'DIR' },
    { name: 'checkpoint-every', type: 'int', help: 'SAEs: write DIR/checkpoint.safetensors every N steps', metavar: 'N' },
    { name: 'resume', type: 'boolean', help: "SAEs: continue from DIR's checkpoint" },
    { name: 'stream', type: 'boolean', help: 'stream row batches from disk even when the file fits the memory budget (SAEs, online-dl)' },
    { name: 'memory-budget', type: 'int', help: 'files whose float32 matrix is larger than this are streamed from disk', default: 2048, metavar: 'MB' },
    { name: 'json', type: 'boolean', help: 'print the summary as one JSON object' },
  ],
  examples: [
    'sparsecode fit topk-sae --input acts.npy --atoms 4096 --k 32 --epochs 5 --seed 0 --out sae/',
    'sparsecode fit relu-sae --input acts.npy --atoms 1024 --l1 0.05 --whiten pca --seed 1 --out relu/',
    'sparsecode fit dl-fista --input X.npy --atoms 100 --l1 0.1 --nonneg --steps 200 --seed 0 --out dl/',
    'sparsecode fit topk-sae --input acts.npy --atoms 4096 --k 32 --seed 0 --out sae/ --checkpoint-every 500 --resume',
    'sparsecode fit topk-sae --input acts_64GB.npy --atoms 16384 --k 32 --epochs 1 --seed 0 --out sae/ --checkpoint-every 1000',
  ],
  async run(ctx: Context) {
    const o = ctx.opts;
    const method = ctx.positionals[0];
    if (!method) fail('E_USAGE', `fit needs a method: one of ${METHODS.join(', ')}`);
    if (!(METHODS as readonly string[]).includes(method)) fail('E_USAGE', `unknown method "${method}"; choose one of ${METHODS.join(', ')}`);
    if (ctx.positionals.length > 1) fail('E_USAGE', `fit takes one method, got ${ctx.positionals.join(' ')}`);
    const saeKind = SAE_METHODS[method];
    if (!saeKind && (o.resume || o['checkpoint-every'] !== undefined)) fail('E_USAGE', `--resume and --checkpoint-every apply to SAEs, not to ${method}`);
    if (o.epochs !== undefined && o.steps !== undefined && method !== 'dl-fista') fail('E_USAGE', 'give --epochs or --steps, not both');
    if (o['checkpoint-every'] !== undefined && o['checkpoint-every'] < 1) fail('E_USAGE', `--checkpoint-every must be >= 1, got ${o['checkpoint-every']}`);
    if (o['whiten-eps'] !== undefined && !o.whiten) fail('E_USAGE', '--whiten-eps needs --whiten pca|zca');
    const out: string = o.out;
    if (o.resume && !existsSync(checkpointPath(out))) ctx.note(`fit: no checkpoint in ${out}; starting from scratch`);

    if (o['memory-budget'] !== undefined && o['memory-budget'] < 1) fail('E_USAGE', `--memory-budget must be >= 1 (MB), got ${o['memory-budget']}`);
    const src: RowSource = openRowsArg(o.input, o.tensor, '--input', 'X');
    try {
      const n = src.rows, dim = src.cols;
      const bytes = n * dim * 4;
      const streaming = !!o.stream || bytes > o['memory-budget'] * 2 ** 20;
      if (streaming && method === 'dl-fista') {
        fail('E_USAGE', `dl-fista is a full-batch method and needs X in memory (${(bytes / 2 ** 20).toFixed(0)} MiB${o.stream ? '' : `, over --memory-budget ${o['memory-budget']} MB`}); use online-dl or an SAE for files larger than memory, or raise --memory-budget`);
      }
      let X: Matrix | null = null;
      if (!streaming) X = readMatrixArg(o.input, o.tensor, '--input');
      ctx.note(`fit ${method}: X [${n} x ${dim}] from ${o.input}${streaming ? `, streamed from disk (${(bytes / 2 ** 20).toFixed(0)} MiB as float32)` : ''}`);
      let whitening: Whitening | null = null;
      let Xt: Matrix | RowSource = X ?? src;
      if (o.whiten) {
        const wopts = { method: o.whiten, ...(o['whiten-eps'] !== undefined ? { eps: o['whiten-eps'] } : {}) };
        if (X) {
          whitening = fitWhitening(X, wopts);
          Xt = whitening.apply(X);
        } else {
          // fitted on a seeded sample (at least 4·dim rows for a stable covariance), applied per read
          const S = sampleRows(src, Math.min(n, Math.max(defaultSampleRows(n, dim), 4 * dim)), new Rng(o.seed).fork('whiten-sample'));
          whitening = fitWhitening(S, wopts);
          Xt = transformedRows(src, whitening.mean, whitening.transformMatrix());
        }
      }
      let bar: Progress | null = null;
      const t0 = performance.now();
      let spec: ModelSpec;
      let summary: Record<string, unknown>;
      let trained: SparseAutoencoder | null = null;

      if (saeKind) {
        const cfg: SAEConfig = { atoms: o.atoms };
        if (o.k !== undefined) cfg.k = o.k;
        if (o.l1 !== undefined) {
          if (saeKind === 'relu') cfg.l1 = o.l1;
          else if (saeKind === 'jumprelu') cfg.l0 = o.l1;
          else fail('E_USAGE', `--l1 does not apply to ${method} (its sparsity is set by --k)`);
        }
        if (o.epochs !== undefined) cfg.epochs = o.epochs;
        if (o.steps !== undefined) cfg.steps = o.steps;
        if (o.batch !== undefined) cfg.batch = o.batch;
        if (o.lr !== undefined) cfg.lr = o.lr;
        const sae = createSAE(saeKind, cfg);
        const res = await trainSAE(sae, Xt, {
          seed: o.seed,
          signal: ctx.signal,
          checkpointDir: out,
          checkpointEvery: o['checkpoint-every'] ?? 0,
          resume: !!o.resume,
          onProgress: (p: TrainProgress) => {
            bar ??= ctx.progress(`fit ${method}`, p.totalSteps, 'steps');
            bar.update(p.step, { loss: p.loss, FVU: p.fvu, L0: p.l0, dead: `${(100 * p.deadFraction).toFixed(1)}%`, 'samples/s': Math.round(p.samplesPerSec) });
          },
        });
        if (res.resumedFrom !== null) ctx.note(`fit: resumed from step ${res.resumedFrom}`);
        const w = sae.getWeights();
        spec = { kind: saeKind, weights: w, training: { ...res, seed: o.seed, config: sae.config } };
        if (saeKind === 'topk' || saeKind === 'batchtopk' || saeKind === 'mp') spec.k = sae.config.k;
        trained = sae;
        summary = { steps: res.steps, trainLoss: res.loss, trainL0: res.l0, deadFraction: res.deadFraction };
      } else {
        const lambda = o.l1 ?? 0.1;
        const nonneg = !!o.nonneg;
        const fistaIters = o['fista-iters'] ?? 100;
        const onProgress = (p: { step: number; total: number; loss: number; l0: number }) => {
          bar ??= ctx.progress(`fit ${method}`, p.total, 'steps');
          bar.update(p.step, { loss: p.loss, L0: p.l0 });
        };
        let D: Matrix;
        if (method === 'dl-fista') {
          if (o.epochs !== undefined || o.batch !== undefined || o.lr !== undefined) fail('E_USAGE', 'dl-fista is a full-batch method: --epochs, --batch and --lr do not apply (use --steps for outer iterations)');
          const r = await learnDictionaryFista(Xt as Matrix, { atoms: o.atoms, lambda, fistaIters, maxOuter: o.steps ?? 1000, nonneg, seed: o.seed, onProgress, signal: ctx.signal });
          D = r.D;
          summary = { steps: r.iterations, converged: r.converged };
        } else {
          if (o.lr !== undefined) fail('E_USAGE', '--lr does not apply to online-dl (it uses closed-form block updates)');
          const r = await onlineDictionaryLearning(Xt, {
            atoms: o.atoms, lambda, nonneg, fistaIters, seed: o.seed, onProgress, signal: ctx.signal,
            ...(o.batch !== undefined ? { batch: o.batch } : {}),
            ...(o.steps !== undefined ? { steps: o.steps } : {}),
            ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
          });
          D = r.D;
          summary = { steps: r.steps };
        }
        spec = { kind: method as ModelKind, weights: { W_dec: D }, inference: { lambda, nonneg, iters: fistaIters }, training: { ...summary, seed: o.seed } };
      }
      (bar as Progress | null)?.finish();

      // errors in the original space, on (up to) 16384 evenly spaced rows
      const rows = evalRows(n);
      const Xe = X ? X.takeRows(rows) : readRowsAt(src, rows);
      let whSpec: ModelWhitening | undefined;
      if (whitening) whSpec = { method: whitening.method, mean: whitening.mean, W: whitening.transformMatrix(), W_inv: whitening.inverseMatrix(), json: whitening.toJSON() };
      if (whSpec) spec.whitening = whSpec;
      let model: LoadedModel | null = null;
      let recon: Matrix, Z: Matrix;
      if (trained) {
        Z = trained.encode(whitening ? whitening.apply(Xe) : Xe);
        const R = trained.decode(Z);
        recon = whitening ? whitening.invert(R) : R;
      } else {
        saveModel(out, spec);
        model = loadModel(out);
        Z = model.encode(Xe);
        recon = model.decode(Z);
      }
      let nnz = 0;
      for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nnz++;
      const evalStats = { fvu: fvu(Xe, recon), l0: nnz / Math.max(1, Z.rows), evalRows: rows.length };
      spec.training = { ...spec.training, eval: evalStats, seconds: (performance.now() - t0) / 1000, method };
      saveModel(out, spec);
      if (saeKind && existsSync(checkpointPath(out))) unlinkSync(checkpointPath(out));
      const result = { method, atoms: o.atoms, dim, samples: n, ...summary, fvu: evalStats.fvu, l0: evalStats.l0, seconds: (performance.now() - t0) / 1000, out, whiten: o.whiten ?? null, streamed: streaming };
      if (o.json) ctx.print(JSON.stringify(result));
      else {
        ctx.print(`fit ${method}: ${o.atoms} atoms on [${n} x ${dim}]${streaming ? ' (streamed)' : ''}, ${summary.steps} steps in ${result.seconds.toFixed(1)} s`);
        ctx.print(`  FVU ${evalStats.fvu.toFixed(4)} (original space${whitening ? `, trained ${o.whiten}-whitened` : ''}), L0 ${evalStats.l0.toFixed(2)}${saeKind ? `, dead ${(100 * (summary.deadFraction as number)).toFixed(1)}%` : ''}`);
        ctx.print(`  model written to ${out}`);
      }
    } finally {
      src.close();
    }
  },
};
