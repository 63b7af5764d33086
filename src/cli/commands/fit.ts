import { existsSync, statSync, unlinkSync } from 'node:fs';
import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import { checkpointPath, checkpointStep, createSAE, type SAEConfig, type SparseAutoencoder } from '../../dictionary/index.js';
import { learnDictionaryFista } from '../../dictionary/dl-fista.js';
import { onlineDictionaryLearning } from '../../dictionary/online-dl.js';
import { DEFAULT_INFERENCE, type ModelKind, type ModelSpec, type ModelWhitening, saveModel } from '../../io/model.js';
import { type LoadedModel, loadModel, makeModel } from '../../dictionary/model-runtime.js';
import { fitWhitening, type Whitening } from '../../preprocess/whiten.js';
import type { Command, Context } from '../command.js';
import { GLOBAL_OPTIONS } from '../args.js';
import { openRowsArg, readMatrixArg, TENSOR_OPTION } from '../inputs.js';
import type { RowSource } from '../../io/rows.js';
import { defaultSampleRows, fingerprintRows, readRowsAt, sampleRows, transformedRows } from '../../dictionary/stream.js';
import { trainSAE } from '../../dictionary/trainer.js';
import { trainerBudget, trainerProgressBar } from './fit-budget.js';
import { webgpuFitPlan } from './fit-webgpu.js';
import { fitTopKWebGpu } from '../../dictionary/sae/webgpu-fit.js';
import type { TopKSAE } from '../../dictionary/sae/topk.js';
import { DEFAULT_L0, DEFAULT_L1, SAE_METHOD_KINDS, saeKindOf } from '../../dictionary/sae/config.js';
import { parseWidths } from '../../dictionary/sae/widths-arg.js';
import { fitTranscoder } from './fit-transcoder.js';
import { openWorldArg } from './fit-world.js';
import { Rng } from '../../core/rng.js';
import type { Progress } from '../progress.js';
import { checkOutDir, shellQuote } from '../out-path.js';
import { isSparsecodeError } from '../../core/errors.js';
import {
  ConvergenceMonitor, dictionaryStopRule, fvuOf, heldOutSplit, OUTER_DEFAULTS, ONLINE_DEFAULTS, resolveConvergence,
} from '../../dictionary/convergence.js';

const METHODS = [...Object.keys(SAE_METHOD_KINDS), 'dl-fista', 'online-dl', 'topk-transcoder'] as const;

/** Options every method takes (the global ones, --help --quiet --backend, too). */
const COMMON = ['input', 'tensor', 'atoms', 'seed', 'out', 'json', 'whiten', 'whiten-eps', 'steps', 'max-steps', 'epochs', 'allow-diverged', 'checkpoint-every', 'resume', 'memory-budget', 'val'];
const WORLD_OPTS = ['world', 'preset', 'world-seed', 'samples'];
const SAE_OPTS = ['batch', 'lr', 'stream', ...WORLD_OPTS];
/** The options each method takes besides COMMON; any other is refused the same way for every method. */
export const METHOD_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  'relu-sae': ['l1', 'target-l0', 'target-l0-start', 'target-l0-gain', 'sparsity-warmup', ...SAE_OPTS],
  'topk-sae': ['k', ...SAE_OPTS],
  'batchtopk-sae': ['k', ...SAE_OPTS],
  'jumprelu-sae': ['l1', 'target-l0', 'target-l0-start', 'target-l0-gain', 'sparsity-warmup', 'sparsity-loss', 'tanh-scale', 'threshold-init', 'bandwidth', ...SAE_OPTS],
  'mp-sae': ['k', ...SAE_OPTS],
  'matryoshka-sae': ['k', 'widths', ...SAE_OPTS],
  'dl-fista': ['l1', 'nonneg', 'coder', 'fista-iters', 'extrapolate'],
  'online-dl': ['l1', 'nonneg', 'coder', 'fista-iters', 'batch', 'stream', ...WORLD_OPTS],
  'topk-transcoder': ['k', 'target', 'skip', 'batch', 'lr'],
};
/** Options of COMMON a method does not take after all (refused like any other). */
const NOT_TAKEN: Readonly<Record<string, readonly string[]>> = {
  'topk-transcoder': ['whiten', 'whiten-eps', 'val'],
};
/** The options a method takes: COMMON and its own, less those it does not take. */
function ownOptions(method: string): string[] {
  const not = new Set(NOT_TAKEN[method] ?? []);
  return [...METHOD_OPTIONS[method], ...COMMON].filter((k) => !not.has(k));
}

/** Default DL-FISTA settings of the CLI: exact codes and over-relaxed MOD (docs/dictionary-learning.md). */
export const DL_FISTA_CLI_DEFAULTS = { coder: 'lasso-cd' as const, extrapolate: 1 };
/** Target seconds per block of rows in DL-FISTA's coding step (Ctrl-C is noticed between blocks). */
const BLOCK_SECONDS = 0.25;

const GLOBAL_NAMES = new Set(GLOBAL_OPTIONS.map((g) => g.name));

/** Parse --epochs: 'auto' or a positive integer. */
function parseEpochs(v: unknown): number | 'auto' | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail('E_USAGE', `--epochs must be a positive integer or auto, got ${JSON.stringify(v)}`);
  return n;
}

/** Whether every column of X holds one value only (no variance at all: all zeros, or every row the same). */
function constantColumns(X: Matrix): boolean {
  const { rows: n, cols: d, data } = X;
  for (let j = 0; j < d; j++) {
    const v = data[j];
    for (let i = 1; i < n; i++) if (data[i * d + j] !== v) return false;
  }
  return true;
}

function evalRows(n: number, cap = 16384): Int32Array {
  const m = Math.min(n, cap);
  const idx = new Int32Array(m);
  for (let i = 0; i < m; i++) idx[i] = Math.floor((i * n) / m);
  return idx;
}

export const fitCommand: Command = {
  name: 'fit',
  summary: 'learn a dictionary from activations: SAEs (ReLU, TopK, BatchTopK, JumpReLU, Matryoshka, matching pursuit), TopK transcoders, or classical sparse coding',
  usage: 'fit <method> --input X.npy|--world W --atoms N [--k K] [--l1 C] [--epochs auto|E | --steps T] [--max-steps T] [--batch B] [--lr LR] [--coder lasso-cd|fista] [--extrapolate W] [--whiten pca|zca] [--val V.npy] [--target Y.npy [--skip]] --seed S --out DIR [--checkpoint-every N] [--resume] [--stream] [--memory-budget MB] [--allow-diverged]',
  description: [
    'Trains on X [samples x dim] (.npy or a .safetensors tensor, see --tensor) and writes a model directory DIR',
    '(a SAELens v6 folder: cfg.json + sae_weights.safetensors, W_enc [dim x atoms], b_enc, W_dec',
    '[atoms x dim], b_dec, threshold for JumpReLU/BatchTopK; classical learners store W_dec only;',
    'SAELens >= 6 loads the ReLU, TopK, JumpReLU and BatchTopK ones, see docs/interop.md).',
    'Inputs are scaled to unit mean squared norm while training and the scale is folded into the',
    'saved weights, so the model takes raw activations. With --whiten the model is trained on',
    'PCA/ZCA-whitened inputs; the whitening is stored in DIR and the reported errors are measured',
    'in the original space. Every method checkpoints to DIR every --checkpoint-every steps (outer steps for',
    'dl-fista) and on Ctrl-C (exit 130; the message gives the command to resume); --resume continues from',
    'that checkpoint with the same data and settings, ending where an uninterrupted run ends; it refuses (exit 2,',
    'naming every field that differs) a checkpoint written with other settings (--lr, --k, --atoms, --batch, the',
    'budget, --seed, the input file, --whiten, ...): pass the same settings, or delete DIR/checkpoint.safetensors.',
    'Each method takes only its own options; the others are refused (sparsecode fit <method> --help lists them).',
    'dl-fista by default codes with lasso-cd (exact lasso codes by working-set coordinate descent) and',
    "over-relaxed MOD (--extrapolate 1): 2-3x faster per outer step than the paper's --coder fista",
    '--extrapolate 0 at 50k rows x 1024 dims, and about half the outer steps (docs/dictionary-learning.md).',
    'With --val V.npy the held-out FVU (up to 16384 evenly spaced rows of V) is reported beside the',
    'training FVU.',
    'Files larger than --memory-budget MB (default 2048), or any file with --stream, are not read into',
    'memory: SAEs and online-dl stream row batches from disk in a chunked shuffle (runs of ~4 MiB of',
    'contiguous rows in a seeded random order, shuffled within a 16-chunk buffer), and the input scale,',
    'b_dec and (with --whiten) the whitening are estimated on a seeded sample of rows (all rows up to',
    '~64 MiB; the whitening on at least 4·dim rows). Peak memory is then the model, one batch, the',
    'shuffle buffer (~64 MiB) and the sample, whatever the file size. dl-fista is full-batch and needs',
    'the data in memory. A streamed run resumes only as a streamed run (same --stream/--memory-budget choice).',
    '',
    'How long: by default (--epochs auto) training runs until converged: a held-out slice of the rows',
    '(min(4096, 10%), excluded from training in memory) is reconstructed every 50 steps (every 5 outer',
    'steps for dl-fista), and the run stops once its FVU and mean L0 moved by less than 1 % over the last',
    '20 % of the steps (at least 1000 steps; at most --max-steps: 50000 for SAEs, 20000 for online-dl, 1000',
    'outer steps for dl-fista); SAEs then decay the learning rate over a further quarter of the steps run.',
    'The summary and --json say "converged": true or false; an unconverged run says how fast the FVU was',
    'still moving and what to pass. --epochs N or --steps T train a fixed budget (watched on training rows',
    'and judged the same way where the learning-rate decay begins).',
    'topk-transcoder (--target Y.npy [--skip]): encodes X and reconstructs Y (one row of Y per row of X;',
    'other row counts are refused naming both), optionally with a linear skip connection W_skip·x, as',
    'sparsify transcoders; trained in memory like the SAEs, written as a SAELens-style transcoder folder',
    '(W_enc, b_enc, W_dec [atoms x d_out], b_dec [d_out], W_skip [d_out x d_in]; docs/transcoders.md).',
    'Refused (exit 3): a 1-D array, data without variance (all zeros, every row the same). A fit whose',
    'final FVU is above 1 or whose latents are all dead has diverged (exit 1; no model is written, an',
    'existing checkpoint in DIR is kept) unless --allow-diverged.',
  ].join('\n'),
  positionals: [{ name: 'method', help: 'what to train', required: true, choices: METHODS }],
  options: [
    { name: 'input', type: 'string', help: 'activations X [samples x dim] (.npy, or .safetensors with --tensor); or --world', metavar: 'X.npy' },
    { name: 'world', type: 'string', help: 'instead of --input: draw the rows from a world, synth-sae-bench (with --preset, --world-seed) or a `world synth-sae-bench` folder; needs --samples', metavar: 'synth-sae-bench|DIR' },
    { name: 'preset', type: 'string', help: 'with --world synth-sae-bench: the world [small]', choices: ['small', '16k'] },
    { name: 'world-seed', type: 'int', help: 'with --world synth-sae-bench: the world\'s seed (the dictionary, hierarchy and row stream) [0]', metavar: 'S' },
    { name: 'samples', type: 'int', help: 'with --world: rows drawn from the world (one epoch)', metavar: 'N' },
    TENSOR_OPTION,
    { name: 'atoms', type: 'int', help: 'dictionary size (latents)', required: true, metavar: 'N' },
    { name: 'k', type: 'int', help: 'active latents per sample (topk, batchtopk, matryoshka, mp)', metavar: 'K' },
    { name: 'target', type: 'string', help: 'topk-transcoder: the rows to reconstruct [samples x d_out] (.npy), one per --input row', metavar: 'Y.npy' },
    { name: 'skip', type: 'boolean', help: 'topk-transcoder: add a linear skip connection W_skip·x to the output' },
    { name: 'widths', type: 'string', help: 'matryoshka-sae: nested prefix widths, strictly increasing, ending at --atoms [atoms/16,/8,/4,/2,atoms]', metavar: 'M1,M2,...' },
    { name: 'l1', type: 'number', help: `sparsity weight: L1 for relu-sae [${DEFAULT_L1}], L0 for jumprelu-sae [${DEFAULT_L0}], lambda for dl-fista/online-dl [0.1]`, metavar: 'C' },
    { name: 'target-l0', type: 'number', help: 'relu-sae, jumprelu-sae: tune the --l1 weight while training so that the mean L0 reaches L (the SynthSAEBench L0 controller: the weight is multiplied by a factor in [0.01, 100] that moves at most 0.03 % per step, so give it thousands of steps)', metavar: 'L' },
    { name: 'target-l0-start', type: 'int', help: 'with --target-l0: the step from which the controller may move the weight [0]', metavar: 'T' },
    { name: 'target-l0-gain', type: 'number', help: 'with --target-l0: the most the weight moves per step, relative [3e-4, made for ~2·10⁵ steps]; for a run of T steps about 60 / T gives the controller the same authority (0.02 for 3000)', metavar: 'G' },
    { name: 'sparsity-warmup', type: 'int', help: 'relu-sae, jumprelu-sae: raise the --l1 weight linearly from 0 over the first T steps (SAELens l1_warm_up_steps) [0]', metavar: 'T' },
    { name: 'sparsity-loss', type: 'string', help: 'jumprelu-sae: the L0 penalty, step (count the active latents) or tanh (SAELens\'s smooth count, sum of tanh(S · z · |W_dec row|), as the SynthSAEBench runs train) [step]', metavar: 'step|tanh' },
    { name: 'tanh-scale', type: 'number', help: 'jumprelu-sae with --sparsity-loss tanh: the scale S inside the tanh, in the unit-mean-squared-norm input space [4]', metavar: 'S' },
    { name: 'threshold-init', type: 'number', help: 'jumprelu-sae: every latent\'s initial threshold, in the unit-mean-squared-norm input space [0.05] (SAELens\'s jumprelu_init_threshold divided by √d)', metavar: 'T' },
    { name: 'bandwidth', type: 'number', help: 'jumprelu-sae: the straight-through kernel\'s width: pre-activations within B/2 of a threshold teach it [0.05] (SAELens\'s jumprelu_bandwidth divided by √d)', metavar: 'B' },
    { name: 'epochs', type: 'string', help: 'passes over the data (SAEs, online-dl), or auto: until the held-out FVU stops improving [auto]', metavar: 'auto|E' },
    { name: 'steps', type: 'int', help: 'a fixed number of optimiser steps (SAEs, online-dl) or outer iterations (dl-fista) instead of auto', metavar: 'T' },
    { name: 'max-steps', type: 'int', help: 'with --epochs auto: the most steps [SAEs 50000, online-dl 20000, dl-fista 1000 outer]', metavar: 'T' },
    { name: 'allow-diverged', type: 'boolean', help: 'write the model even when the fit diverged (final FVU > 1 or every latent dead)' },
    { name: 'batch', type: 'int', help: 'samples per step [SAEs 1024, online-dl 256]', metavar: 'B' },
    { name: 'lr', type: 'number', help: 'Adam learning rate (SAEs) [1e-3]', metavar: 'LR' },
    { name: 'whiten', type: 'string', help: 'train on whitened inputs', choices: ['pca', 'zca'] },
    { name: 'whiten-eps', type: 'number', help: 'whitening eigenvalue shrinkage, relative to the mean eigenvalue [1e-5]', metavar: 'EPS' },
    { name: 'nonneg', type: 'boolean', help: 'non-negative codes (dl-fista, online-dl)' },
    { name: 'coder', type: 'string', help: 'dl-fista, online-dl: how the codes are refreshed each step: lasso-cd (exact codes by coordinate descent) or fista (--fista-iters warm-started iterations, the paper\'s DL-FISTA) [lasso-cd]', choices: ['lasso-cd', 'fista'] },
    { name: 'fista-iters', type: 'int', help: 'with --coder fista: FISTA iterations per training step [100]; the saved model encodes with a converged solve', metavar: 'I' },
    { name: 'extrapolate', type: 'number', help: 'dl-fista: over-relaxed MOD, D <- D_mod + W(D_mod - D_old), W in [0, 1]; 0 is plain MOD [1]', metavar: 'W' },
    { name: 'seed', type: 'int', help: 'random seed', default: 0, metavar: 'S' },
    { name: 'out', type: 'string', help: 'model directory to write', required: true, metavar: 'DIR' },
    { name: 'checkpoint-every', type: 'int', help: 'write DIR/checkpoint.safetensors every N steps (outer steps for dl-fista); Ctrl-C writes one too', metavar: 'N' },
    { name: 'resume', type: 'boolean', help: "continue from DIR's checkpoint (same data and settings)" },
    { name: 'val', type: 'string', help: 'held-out rows [samples x dim]: their FVU under the fitted model is reported beside the training FVU (--json: val_fvu)', metavar: 'V.npy' },
    { name: 'stream', type: 'boolean', help: 'stream row batches from disk even when the file fits the memory budget (SAEs, online-dl)' },
    { name: 'memory-budget', type: 'int', help: 'files whose float32 matrix is larger than this are streamed from disk', default: 2048, metavar: 'MB' },
    { name: 'json', type: 'boolean', help: 'print the summary as one JSON object' },
  ],
  examples: [
    'sparsecode fit topk-sae --input acts.npy --atoms 4096 --k 32 --seed 0 --out sae/',
    'sparsecode fit topk-sae --input acts.npy --atoms 4096 --k 32 --epochs 5 --seed 0 --out sae/',
    'sparsecode fit relu-sae --input acts.npy --atoms 1024 --l1 0.05 --whiten pca --seed 1 --out relu/',
    'sparsecode fit jumprelu-sae --input acts.npy --atoms 4096 --target-l0 25 --steps 20000 --seed 0 --out jr/',
    'sparsecode fit dl-fista --input X.npy --atoms 100 --l1 0.1 --nonneg --steps 200 --seed 0 --out dl/',
    'sparsecode fit dl-fista --input X.npy --val V.npy --atoms 1024 --l1 0.1 --seed 0 --out dl/ --checkpoint-every 10',
    'sparsecode fit dl-fista --input X.npy --atoms 1024 --l1 0.1 --seed 0 --out dl/ --checkpoint-every 10 --resume',
    'sparsecode fit dl-fista --input X.npy --atoms 100 --coder fista --fista-iters 100 --extrapolate 0 --seed 0 --out dl-paper/',
    'sparsecode fit topk-sae --input acts.npy --atoms 4096 --k 32 --seed 0 --out sae/ --checkpoint-every 500 --resume',
    'sparsecode fit topk-transcoder --input mlp_in.npy --target mlp_out.npy --atoms 4096 --k 32 --skip --seed 0 --out tc/',
    'sparsecode fit topk-sae --input acts_64GB.npy --atoms 16384 --k 32 --epochs 1 --seed 0 --out sae/ --checkpoint-every 1000',
  ],
  helpView(positionals) {
    const method = positionals[0];
    if (!method || !Object.hasOwn(METHOD_OPTIONS, method)) return undefined;
    const own = new Set(ownOptions(method));
    return {
      usage: `fit ${method} ${fitCommand.usage.replace(/^fit <method> /, '')}`,
      summary: `${fitCommand.summary} (here: ${method}; its options only)`,
      description: fitCommand.description,
      positionals: [],
      options: fitCommand.options.filter((o) => own.has(o.name)),
      examples: fitCommand.examples.filter((e) => e.startsWith(`sparsecode fit ${method} `)),
    };
  },
  async run(ctx: Context) {
    const o = ctx.opts;
    const method = ctx.positionals[0];
    if (!method) fail('E_USAGE', `fit needs a method: one of ${METHODS.join(', ')}`);
    if (!(METHODS as readonly string[]).includes(method)) fail('E_USAGE', `unknown method "${method}"; choose one of ${METHODS.join(', ')}`);
    if (ctx.positionals.length > 1) fail('E_USAGE', `fit takes one method, got ${ctx.positionals.join(' ')}`);
    const saeKind = saeKindOf(method);
    // options the method does not take: refused the same way for every method, before any reading
    const own = new Set(ownOptions(method));
    const alien = Object.keys(o).filter((k) => o[k] !== undefined && !own.has(k) && !GLOBAL_NAMES.has(k));
    if (alien.length) {
      fail('E_USAGE', `${method} does not take ${alien.map((k) => `--${k}`).join(', ')}; its options are ${ownOptions(method).map((k) => `--${k}`).join(' ')}`);
    }
    // the values, before the input is read
    if (o.atoms < 1) fail('E_USAGE', `--atoms must be >= 1, got ${o.atoms}`);
    if (o.k !== undefined && (o.k < 1 || o.k > o.atoms)) fail('E_USAGE', `--k must be between 1 and --atoms (${o.atoms}), got ${o.k}`);
    if ((saeKind === 'topk' || saeKind === 'batchtopk' || saeKind === 'mp' || saeKind === 'matryoshka') && o.k === undefined) fail('E_USAGE', `${method} needs --k K (active latents per sample, e.g. 32)`);
    if (o.batch !== undefined && o.batch < 1) fail('E_USAGE', `--batch must be >= 1, got ${o.batch}`);
    if (o.lr !== undefined && !(o.lr > 0)) fail('E_USAGE', `--lr must be > 0, got ${o.lr}`);
    if (o.l1 !== undefined && !(o.l1 >= 0)) fail('E_USAGE', `--l1 must be >= 0, got ${o.l1}`);
    if (o.steps !== undefined && o.steps < 1) fail('E_USAGE', `--steps must be >= 1, got ${o.steps}`);
    if (o['fista-iters'] !== undefined && o['fista-iters'] < 1) fail('E_USAGE', `--fista-iters must be >= 1, got ${o['fista-iters']}`);
    if (o['whiten-eps'] !== undefined && !(o['whiten-eps'] > 0)) fail('E_USAGE', `--whiten-eps must be > 0, got ${o['whiten-eps']}`);
    if (o.extrapolate !== undefined && !(o.extrapolate >= 0 && o.extrapolate <= 1)) fail('E_USAGE', `--extrapolate must be in [0, 1] (0: plain MOD; larger values diverge), got ${o.extrapolate}`);
    const coder: 'fista' | 'lasso-cd' = o.coder ?? (method === 'dl-fista' ? DL_FISTA_CLI_DEFAULTS.coder : 'lasso-cd');
    if (o['fista-iters'] !== undefined && coder !== 'fista') fail('E_USAGE', `--fista-iters sets the iterations of --coder fista; ${method} codes with ${coder}${o.coder ? '' : ' by default'}: add --coder fista, or leave --fista-iters out`);
    if (o.widths !== undefined && saeKind) parseWidths(o.widths, saeKind);
    const epochs = parseEpochs(o.epochs);
    if (epochs !== undefined && o.steps !== undefined) fail('E_USAGE', 'give --epochs or --steps, not both');
    const auto = o.steps === undefined && (epochs === undefined || epochs === 'auto');
    if (o['max-steps'] !== undefined && !auto) fail('E_USAGE', '--max-steps applies to --epochs auto (the default), not to a fixed --epochs N or --steps T');
    if (o['max-steps'] !== undefined && o['max-steps'] < 1) fail('E_USAGE', `--max-steps must be >= 1, got ${o['max-steps']}`);
    if (o['checkpoint-every'] !== undefined && o['checkpoint-every'] < 1) fail('E_USAGE', `--checkpoint-every must be >= 1, got ${o['checkpoint-every']}`);
    if (o['whiten-eps'] !== undefined && !o.whiten) fail('E_USAGE', '--whiten-eps needs --whiten pca|zca');
    const out: string = o.out;
    if (o['memory-budget'] !== undefined && o['memory-budget'] < 1) fail('E_USAGE', `--memory-budget must be >= 1 (MB), got ${o['memory-budget']}`);
    if (o.world !== undefined && o.input !== undefined) fail('E_USAGE', 'give --input X.npy or --world, not both');
    if (o.world === undefined && o.input === undefined) fail('E_USAGE', 'missing required option --input X.npy (or --world synth-sae-bench|DIR --samples N)');
    if (o.world === undefined) for (const k of ['preset', 'world-seed', 'samples']) if (o[k] !== undefined) fail('E_USAGE', `--${k} applies with --world`);
    if (o.world !== undefined && method === 'dl-fista') fail('E_USAGE', 'dl-fista is a full-batch method and needs X in memory; train an SAE or online-dl from a world, or write the rows with `sparsecode world synth-sae-bench` first');
    const creates = checkOutDir(out, '--out', 'fit');
    if (o.val !== undefined) openRowsArg(o.val, o.tensor, '--val', 'V').close();
    if (creates) ctx.note(creates);
    if (o.resume && !existsSync(checkpointPath(out))) ctx.note(`fit: no checkpoint in ${out}; starting from scratch`);
    if (method === 'topk-transcoder') return fitTranscoder(ctx, epochs, auto);
    const ckPath = checkpointPath(out);
    const ckBefore = existsSync(ckPath) ? statSync(ckPath).mtimeMs : null;

    const fromWorld = o.world !== undefined ? openWorldArg(o) : null;
    const src: RowSource = fromWorld ? fromWorld.source : openRowsArg(o.input, o.tensor, '--input', 'X');
    const inputLabel: string = fromWorld ? src.name : o.input;
    try {
      const n = src.rows, dim = src.cols;
      if (src.ndim === 1) fail('E_SHAPE', `${o.input} holds a 1-D array of ${n} values; fit needs a 2-D array [samples x dim] (save it as x.reshape(-1, dim), or x.reshape(-1, 1) if every sample really is one number)`);
      if (n < 2) fail('E_SHAPE', `${o.input} has ${n} row(s); fit needs at least 2 samples`);
      let valSrc: RowSource | null = null;
      if (o.val !== undefined) {
        valSrc = openRowsArg(o.val, o.tensor, '--val', 'V');
        const vr = valSrc.rows, vc = valSrc.cols;
        valSrc.close();
        if (vc !== dim || valSrc.ndim === 1) fail('E_SHAPE', `--val ${o.val} is [${vr} x ${vc}]; it must have the columns of --input (${dim}): held-out rows of the same activations`);
      }
      const bytes = n * dim * 4;
      const streaming = !!fromWorld || !!o.stream || bytes > o['memory-budget'] * 2 ** 20;
      if (streaming && method === 'dl-fista') {
        fail('E_USAGE', `dl-fista is a full-batch method and needs X in memory (${(bytes / 2 ** 20).toFixed(0)} MiB${o.stream ? '' : `, over --memory-budget ${o['memory-budget']} MB`}); use online-dl or an SAE for files larger than memory, or raise --memory-budget`);
      }
      let X: Matrix | null = null;
      if (!streaming) X = readMatrixArg(o.input, o.tensor, '--input');
      ctx.note(`fit ${method}: X [${n} x ${dim}] from ${inputLabel}${fromWorld ? ', drawn from the world batch by batch (nothing stored)' : streaming ? `, streamed from disk (${(bytes / 2 ** 20).toFixed(0)} MiB as float32)` : ''}`);
      // the rows the errors are measured on (original space); data without variance is refused
      const rows = evalRows(n);
      const Xe = X ? X.takeRows(rows) : readRowsAt(src, rows);
      if (constantColumns(Xe)) {
        let zero = true;
        for (let i = 0; i < Xe.data.length && zero; i++) if (Xe.data[i] !== 0) zero = false;
        fail('E_DATA', `${o.input} has no variance: ${zero ? 'every value is 0' : 'every row is the same'}${rows.length < n ? ` (on ${rows.length} evenly spaced rows)` : ''}; there is nothing to learn. Check that the right array was saved`);
      }
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
        if (o['target-l0'] !== undefined) cfg.targetL0 = o['target-l0'];
        if (o['target-l0-start'] !== undefined) cfg.targetL0Start = o['target-l0-start'];
        if (o['target-l0-gain'] !== undefined) cfg.targetL0Gain = o['target-l0-gain'];
        if (o['sparsity-warmup'] !== undefined) cfg.sparsityWarmupSteps = o['sparsity-warmup'];
        if (o['sparsity-loss'] !== undefined) {
          if (o['sparsity-loss'] !== 'step' && o['sparsity-loss'] !== 'tanh') fail('E_USAGE', `--sparsity-loss must be step or tanh, got "${o['sparsity-loss']}"`);
          cfg.sparsityLoss = o['sparsity-loss'];
        }
        if (o['tanh-scale'] !== undefined) {
          if (cfg.sparsityLoss !== 'tanh') fail('E_USAGE', '--tanh-scale is the scale of the tanh penalty: give it with --sparsity-loss tanh');
          cfg.tanhScale = o['tanh-scale'];
        }
        for (const [flag, key] of [['threshold-init', 'thresholdInit'], ['bandwidth', 'bandwidth']] as const) {
          const v = o[flag];
          if (v === undefined) continue;
          if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail('E_USAGE', `--${flag} must be a positive number, got ${v}; e.g. --${flag} 0.05`);
          cfg[key] = v;
        }
        Object.assign(cfg, trainerBudget(o, epochs, auto));
        if (o.widths !== undefined) cfg.matryoshkaWidths = parseWidths(o.widths, saeKind);
        const sae = createSAE(saeKind, cfg);
        const progress = trainerProgressBar(ctx, `fit ${method}`, auto);
        const gpu = webgpuFitPlan(o, saeKind, streaming, auto);
        if (gpu.note) ctx.note(gpu.note);
        if (gpu.context && Xt instanceof Matrix) {
          ctx.note(`fit ${method}: training on the GPU (${gpu.context.adapterDescription}${gpu.context.isFallback ? ', a software adapter: slow, for checking' : ''})`);
          const r = await fitTopKWebGpu(sae as TopKSAE, Xt, { context: gpu.context, seed: o.seed, signal: ctx.signal, onProgress: progress.onProgress });
          progress.finish();
          const w = sae.getWeights();
          const where = { backend: 'webgpu', adapter: gpu.context.adapterDescription };
          spec = { kind: 'topk', k: sae.config.k, weights: w, training: { ...r, ...where, seed: o.seed, config: sae.config } };
          trained = sae;
          summary = { steps: r.steps, trainLoss: r.loss, trainL0: null, deadFraction: r.deadFraction, converged: null, budget: 'fixed', ...where };
        } else {
          const res = await trainSAE(sae, Xt, {
            seed: o.seed,
            signal: ctx.signal,
            checkpointDir: out,
            checkpointEvery: o['checkpoint-every'] ?? 0,
            resume: !!o.resume,
            // a resume must match these too (beside the trainer's own): the input file before whitening, the whitening
            settings: { data: fingerprintRows(src), whiten: o.whiten ?? null, 'whiten-eps': o['whiten-eps'] ?? null },
            finalCheckpoint: false,
            watchConvergence: true,
            onProgress: progress.onProgress,
          });
          progress.finish();
          if (res.resumedFrom !== null) ctx.note(`fit: resumed from step ${res.resumedFrom}`);
          const w = sae.getWeights();
          // a Matryoshka SAE infers as BatchTopK (one threshold): saved as JumpReLU, as SAELens does
          spec = { kind: saeKind === 'matryoshka' ? 'jumprelu' : saeKind, weights: w, training: { ...res, seed: o.seed, config: sae.config, ...(saeKind === 'matryoshka' ? { architecture: 'matryoshka_batchtopk' } : {}) } };
          if (saeKind === 'topk' || saeKind === 'batchtopk' || saeKind === 'mp') spec.k = sae.config.k;
          trained = sae;
          summary = { steps: res.steps, trainLoss: res.loss, trainL0: res.l0, deadFraction: res.deadFraction, converged: res.converged ?? null, budget: auto ? 'auto' : 'fixed' };
          if (res.heldOutFvu !== undefined) summary[auto ? 'heldOutFvu' : 'watchedFvu'] = res.heldOutFvu;
          if (res.convergence?.note) summary.convergenceNote = res.convergence.note;
          if (res.l0Controller) summary.l0Controller = res.l0Controller;
        }
      } else {
        const lambda = o.l1 ?? 0.1;
        const nonneg = !!o.nonneg;
        const fistaIters = o['fista-iters'] ?? 100;
        const onProgress = (p: { step: number; total: number; loss: number; l0: number }) => {
          bar ??= ctx.progress(`fit ${method}`, p.total, 'steps');
          bar.update(p.step, { loss: p.loss, L0: p.l0 });
        };
        let D: Matrix;
        // epochs auto: a held-out slice (excluded from training in memory) and the stop rule
        const defaults = method === 'dl-fista' ? OUTER_DEFAULTS : ONLINE_DEFAULTS;
        const maxSteps = o['max-steps'];
        const conv = new ConvergenceMonitor(resolveConvergence(maxSteps !== undefined ? { maxSteps, minSteps: Math.min(defaults.minSteps, maxSteps) } : undefined, n, defaults), undefined, { decays: false });
        let Xtrain: Matrix | RowSource = Xt;
        let Xh: Matrix | null = null;
        if (auto) {
          const hrng = new Rng(o.seed).fork('held-out');
          if (Xt instanceof Matrix) {
            const split = heldOutSplit(n, conv.o.heldOutRows, hrng);
            Xtrain = Xt.takeRows(split.train);
            Xh = Xt.takeRows(split.heldOut);
          } else Xh = sampleRows(Xt, conv.o.heldOutRows, hrng);
        }
        const stop = Xh ? dictionaryStopRule(Xh, conv, { coder, lambda, nonneg, fistaIters }) : undefined;
        // checkpoints in DIR: every --checkpoint-every steps and on Ctrl-C (none by time); the
        // model is saved by this command, which then deletes the checkpoint
        const checkpoint = { dir: out, everySteps: o['checkpoint-every'] ?? 0, everySeconds: 1e12, resume: !!o.resume, final: false, ...(stop ? { extra: stop.extra } : {}) };
        if (method === 'dl-fista') {
          if (epochs !== undefined && epochs !== 'auto') fail('E_USAGE', 'dl-fista is a full-batch method: --epochs N does not apply (use --steps T for a fixed number of outer iterations)');
          const extrapolate = o.extrapolate ?? DL_FISTA_CLI_DEFAULTS.extrapolate;
          ctx.note(`fit dl-fista: codes by ${coder === 'fista' ? `FISTA (${fistaIters} iterations per outer step)` : 'lasso-cd (exact)'}, ${extrapolate > 0 ? `over-relaxed MOD (--extrapolate ${extrapolate})` : 'plain MOD'}`);
          const r = await learnDictionaryFista(Xtrain as Matrix, {
            atoms: o.atoms, lambda, coder, fistaIters, extrapolate, maxOuter: auto ? conv.o.maxSteps : o.steps, nonneg, seed: o.seed, onProgress, stop, signal: ctx.signal,
            chunkSeconds: BLOCK_SECONDS, checkpoint,
          });
          if (r.resumedFrom !== null) ctx.note(`fit: resumed from outer step ${r.resumedFrom}`);
          D = r.D;
          const converged = r.stoppedBy !== 'maxOuter';
          summary = { steps: r.iterations, converged, stoppedBy: r.stoppedBy, budget: auto ? 'auto' : 'fixed', coder, extrapolate };
          if (Xh) summary.heldOutFvu = conv.last;
          if (!converged) {
            summary.convergenceNote = auto && conv.steps.length
              ? conv.rateNote(r.iterations)
              : `‖ΔD‖/‖D‖ was still above its tolerance (1e-5) after ${r.iterations} outer steps`;
          }
        } else {
          const r = await onlineDictionaryLearning(Xtrain, {
            atoms: o.atoms, lambda, nonneg, coder, fistaIters, seed: o.seed, onProgress, stop, signal: ctx.signal, checkpoint,
            ...(o.batch !== undefined ? { batch: o.batch } : {}),
            ...(auto ? { steps: conv.o.maxSteps } : o.steps !== undefined ? { steps: o.steps } : { epochs: epochs as number }),
          });
          if (r.resumedFrom !== null) ctx.note(`fit: resumed from step ${r.resumedFrom}`);
          D = r.D;
          summary = { steps: r.steps, converged: auto ? r.stopped : null, budget: auto ? 'auto' : 'fixed', coder };
          if (Xh) summary.heldOutFvu = conv.last;
          if (auto && !r.stopped) summary.convergenceNote = conv.steps.length ? conv.rateNote(r.steps) : 'no held-out measurement was made';
        }
        spec = {
          kind: method as ModelKind, weights: { W_dec: D },
          // the model encodes with a converged solve; the training's per-step iterations are recorded apart
          inference: { ...DEFAULT_INFERENCE, lambda, nonneg },
          training: { ...summary, seed: o.seed, lambda, nonneg, ...(coder === 'fista' ? { fistaIters } : {}) },
        };
      }
      (bar as Progress | null)?.finish();

      // errors in the original space, on (up to) 16384 evenly spaced rows
      let whSpec: ModelWhitening | undefined;
      if (whitening) whSpec = { method: whitening.method, mean: whitening.mean, W: whitening.transformMatrix(), W_inv: whitening.inverseMatrix(), json: whitening.toJSON() };
      if (whSpec) spec.whitening = whSpec;
      let model: LoadedModel | null = null;
      const reconstruct = (M: Matrix): { Z: Matrix; R: Matrix } => {
        if (trained) {
          const Zt = trained.encode(whitening ? whitening.apply(M) : M);
          const R = trained.decode(Zt);
          return { Z: Zt, R: whitening ? whitening.invert(R) : R };
        }
        model ??= makeModel(out, {}, spec, { name: 'sparsecode', description: 'the model just fitted (not yet read back)', root: out, files: [], notes: [] });
        const Zm = model.encode(M);
        return { Z: Zm, R: model.decode(Zm) };
      };
      const { Z, R: recon } = reconstruct(Xe);
      let nnz = 0;
      const A = Z.cols;
      const fired = new Uint8Array(A);
      for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) {
        nnz++;
        fired[i % A] = 1;
      }
      let alive = 0;
      for (let a = 0; a < A; a++) alive += fired[a];
      const evalStats = { fvu: fvuOf(Xe, recon), l0: nnz / Math.max(1, Z.rows), evalRows: rows.length, deadFraction: 1 - alive / A };
      // divergence: worse than predicting the mean, or nothing fires at all
      if (!o['allow-diverged'] && (!(evalStats.fvu <= 1) || alive === 0)) {
        const ck = existsSync(checkpointPath(out));
        fail('E_DIVERGED', `fit ${method} diverged: ${!(evalStats.fvu <= 1) ? `FVU ${evalStats.fvu.toPrecision(4)} (above 1: worse than predicting the mean)` : ''}${!(evalStats.fvu <= 1) && alive === 0 ? ' and ' : ''}${alive === 0 ? `every latent is dead on ${rows.length} rows` : ''}; no model was written${ck ? `, the last checkpoint in ${out} is kept` : ''}. Lower the learning rate${o.lr !== undefined ? ` (--lr ${o.lr})` : ''} or the sparsity penalty, or pass --allow-diverged to keep the model anyway`);
      }
      // held-out rows (--val): the same measurement on (up to) 16384 evenly spaced rows of V
      let val: { fvu: number; rows: number; samples: number } | null = null;
      if (o.val !== undefined) {
        const vs = openRowsArg(o.val, o.tensor, '--val', 'V');
        try {
          const vrows = evalRows(vs.rows);
          const Xv = readRowsAt(vs, vrows);
          val = { fvu: fvuOf(Xv, reconstruct(Xv).R), rows: vrows.length, samples: vs.rows };
        } finally {
          vs.close();
        }
      }
      spec.training = { ...spec.training, eval: evalStats, ...(val ? { val } : {}), seconds: (performance.now() - t0) / 1000, method };
      if (fromWorld) spec.training = { ...spec.training, world: fromWorld.describe };
      saveModel(out, spec);
      if (existsSync(checkpointPath(out))) unlinkSync(checkpointPath(out));
      const result = { method, atoms: o.atoms, dim, samples: n, ...(fromWorld ? { world: fromWorld.describe } : {}), ...summary, fvu: evalStats.fvu, ...(val ? { val_fvu: val.fvu } : {}), l0: evalStats.l0, seconds: (performance.now() - t0) / 1000, out, whiten: o.whiten ?? null, streamed: streaming };
      if (o.json) ctx.print(JSON.stringify(result));
      else {
        ctx.print(`fit ${method}: ${o.atoms} atoms on [${n} x ${dim}]${fromWorld ? ` drawn from ${inputLabel}` : streaming ? ' (streamed)' : ''}, ${summary.steps} steps in ${result.seconds.toFixed(1)} s`);
        ctx.print(`  FVU ${evalStats.fvu.toFixed(4)} on training rows${val ? `, held-out FVU ${val.fvu.toFixed(4)} on ${val.rows} rows of ${o.val}` : ''} (original space${whitening ? `, trained ${o.whiten}-whitened` : ''}), L0 ${evalStats.l0.toFixed(2)}${saeKind ? `, dead ${(100 * (summary.deadFraction as number)).toFixed(1)}%` : ''}`);
        if (summary.converged === true) ctx.print(`  converged: ${auto ? 'held-out' : 'watched'} FVU stable over the last 20 % of the steps`);
        else if (summary.converged === false) {
          const hint = auto
            ? `train longer: --max-steps ${2 * (summary.steps as number)}`
            : method === 'dl-fista' ? `use --steps ${Math.max(2 * (summary.steps as number), 20)}, or the default --epochs auto` : `use --epochs auto (the default), or --steps ${Math.max(2 * (summary.steps as number), 1000)}`;
          ctx.print(`  NOT converged: ${summary.convergenceNote ?? ''}; ${hint}`);
        }
        ctx.print(`  model written to ${out}`);
      }
    } catch (e) {
      // Ctrl-C / SIGTERM: say what was kept and how to go on
      if (isSparsecodeError(e) && e.code === 'E_CANCELLED') {
        const now = existsSync(ckPath) ? statSync(ckPath).mtimeMs : null;
        const step = now !== null ? checkpointStep(out) : null;
        const args = [...(ctx.argv ?? ['fit', method, '--out', out].slice(1))];
        if (!args.includes('--resume')) args.push('--resume');
        const resume = `sparsecode fit ${args.map(shellQuote).join(' ')}`;
        if (now !== null && now !== ckBefore) fail('E_CANCELLED', `interrupted; a checkpoint was written to ${ckPath} (after step ${step}); no model was written. Resume with:\n  ${resume}`);
        if (now !== null && o.resume) fail('E_CANCELLED', `interrupted before another step finished; the checkpoint in ${ckPath} (step ${step}) is kept; no model was written. Resume with:\n  ${resume}`);
        fail('E_CANCELLED', `interrupted before the first step finished; nothing was written to ${out}`);
      }
      throw e;
    } finally {
      src.close();
    }
  },
};
