import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed, toRng } from '../core/rng.js';
import { assertFinite, checkAborted } from '../core/validate.js';
import { Adam } from '../optim/adam.js';
import { learningRate, type LrSchedule, validateSchedule } from '../optim/schedule.js';
import { type Checkpoint, checkSettings, loadCheckpoint, saveCheckpoint, type Setting, type Settings } from './checkpoint.js';
import { L0Controller, type L0ControllerState, sparsityWarmUp } from './sparsity-schedule.js';
import { DeadLatentStats } from './dead-latents.js';
import type { LatentActivity, StepStats, Trainable, TrainableParam } from './trainable.js';
import type { ResolvedSAEConfig } from './sae/config.js';
import { geometricMedian, meanSquaredRowNorm, projectRadial } from './sae/init.js';
import { columnMeans } from '../linalg/rows.js';
import type { RowSource } from '../io/rows.js';
import { type BatchRows, defaultSampleRows, fingerprintRows, isRowSource, PermutedRows, RowStream, sampleRows, type StreamPosition } from './stream.js';
import { ConvergenceMonitor, fvuOf, heldOutSplit, resolveConvergence, type ConvergenceState } from './convergence.js';

/** What `onProgress` receives (at most every `progressIntervalMs`, and after the last step). */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  /** mean squared error per entry, mean over the batch's rows and columns of (x̂ − x)² (scaled space) */
  mse: number;
  /** squared reconstruction error per row, mean over rows of ‖x̂ − x‖² (= dim · mse; scaled space) */
  sqErr: number;
  /** sqErr / total variance of the (scaled) data: fraction of variance unexplained */
  fvu: number;
  /** mean active latents per row */
  l0: number;
  /** fraction of latents that have not fired within `deadAfter` samples */
  deadFraction: number;
  samplesPerSec: number;
  etaSeconds: number;
  lr: number;
  /** epochs 'auto': the latest held-out FVU (NaN before the first measurement) */
  heldOutFvu?: number;
}

export interface FitOptions {
  seed?: Seed | Rng;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** folder for checkpoints (`checkpoint.safetensors`) */
  checkpointDir?: string;
  /** write a checkpoint every this many steps (needs checkpointDir) [0 = only on cancel] */
  checkpointEvery?: number;
  /**
   * write a checkpoint when this many seconds of training have passed since the last one (needs
   * checkpointDir); with `checkpointEvery` too, whichever comes first. Prefer it for short runs:
   * a checkpoint is an fsync'd file, and a run of seconds needs none in between
   */
  checkpointSeconds?: number;
  /** continue from the checkpoint in checkpointDir when there is one */
  resume?: boolean;
  /**
   * write a checkpoint of the final state when training ends (with checkpointDir) [true]; false
   * keeps the last periodic checkpoint when the caller may judge the result a failure
   */
  finalCheckpoint?: boolean;
  /** minimum time between progress reports [250] */
  progressIntervalMs?: number;
  /** training from a RowSource (files larger than memory): sizes of the shuffle and the statistics sample */
  stream?: StreamFitOptions;
  /**
   * a fixed budget (epochs N or steps T): also watch the FVU on a sample of training rows every
   * convergence.evalEvery steps and judge, where the learning-rate decay begins, whether it had
   * stopped improving (FitResult.converged, convergence.note) [false]. With epochs 'auto' the
   * held-out slice is always watched.
   */
  watchConvergence?: boolean;
  /**
   * further settings a checkpoint records and a resume must match, beside those the trainer
   * records itself (the model, the data's shape and fingerprint, the seed, the batch, the budget,
   * every hyperparameter): e.g. the CLI's whitening; a `data` entry replaces the trainer's
   * fingerprint of the rows it trains on (the CLI fingerprints the file before whitening)
   */
  settings?: Settings;
}

/** How `trainSAE` reads a RowSource. */
export interface StreamFitOptions {
  /** rows per chunk of the chunked shuffle [about 4 MiB of float32 rows] */
  chunkRows?: number;
  /** chunks held in the shuffle buffer [16] */
  bufferChunks?: number;
  /** rows of the seeded sample for the input scale, b_dec and the FVU's total variance [all rows up to ~64 MiB, >= 1024] */
  sampleRows?: number;
}

export interface FitResult {
  steps: number;
  loss: number;
  /** the last batch's mean squared error per entry (scaled space) */
  mse: number;
  /** the last batch's squared error per row (= dim · mse; scaled space) */
  sqErr: number;
  fvu: number;
  l0: number;
  deadFraction: number;
  seconds: number;
  samplesPerSec: number;
  /** the factor the inputs were multiplied by during training (folded into the weights) */
  inputScale: number;
  /** step the run resumed from, or null */
  resumedFrom: number | null;
  /**
   * seconds of training the checkpoint resumed from had recorded (the earlier processes' time up
   * to their last checkpoint); 0 when the run started afresh or the checkpoint predates the field
   */
  resumedSeconds: number;
  /**
   * ReLU / JumpReLU with targetL0: the L0 controller at the end (sparsity-schedule.ts): its target,
   * its smoothed L0, the multiplier, and the coefficient (l1 or l0) it ends at: base × multiplier
   */
  l0Controller?: { target: number; smoothedL0: number; multiplier: number; coefficient: number };
  /** streaming runs: rows of the statistics sample, and the stream position after the last step */
  stream?: { sampleRows: number; position: StreamPosition; chunkRows: number | null; bufferChunks: number | null };
  /**
   * epochs 'auto' only: whether the held-out FVU rule stopped the run (false: maxSteps did), the
   * last held-out FVU, and the history (dictionary/convergence.ts)
   */
  converged?: boolean;
  heldOutFvu?: number;
  convergence?: {
    /** 'auto': epochs 'auto' on a held-out slice; 'watched': a fixed budget watched on training rows */
    mode: 'auto' | 'watched';
    heldOutRows: number;
    /** auto: the step the rule fired at (null: maxSteps ended the run) */
    convergedAt: number | null;
    /** the step the verdict refers to (auto: where the decay began; watched: where the fixed schedule's decay began) */
    judgedAt: number;
    /** unconverged: how fast the FVU (and L0) was still moving */
    note: string | null;
    steps: number[];
    fvu: number[];
    l0: number[];
  };
}

/**
 * The SAE training loop: shuffled mini-batches (one seeded permutation per epoch, so a resumed
 * run sees exactly the batches the uninterrupted one would), Adam/AdamW with linear warm-up and
 * decay, unit-norm decoder rows (radial gradient projected out, rows renormalised after each
 * step), dead-latent statistics (kept here, `dead-latents.ts`: the model gets the mask of dead
 * latents for AuxK and reports the latents that fired; resampling for ReLU when enabled),
 * progress, checkpoints and resume (refused when the settings differ), divergence detection.
 *
 * Inputs are multiplied by `inputScale = 1 / sqrt(mean ||x||^2)` while training (unit mean
 * squared norm) when `scaleInputs`; afterwards the scale is folded into the weights (b_enc,
 * b_dec and thresholds divided by it; codes come out in raw units and decoder rows stay
 * unit-norm), so the trained model takes raw activations.
 *
 * Every batch comes from one row source (`BatchRows`, stream.ts): in memory, a fresh seeded
 * permutation of the rows each epoch (`PermutedRows`); out of core, when `data` is a RowSource
 * (`openRows(path)`, a file larger than memory), the chunked shuffle of `batches()` (`RowStream`:
 * runs of `chunkRows` contiguous rows in a seeded random order, rows shuffled within a buffer of
 * `bufferChunks` chunks). Either is one endless stream cut into `batch`-row pieces (a batch may
 * straddle two epochs) whose order depends only on the seed and the sizes, so it can be replayed.
 * For a RowSource,
 * - the input scale, the b_dec initialisation and the total variance (FVU) come from a seeded
 *   sample of `stream.sampleRows` rows (default: all rows up to about 64 MiB of float32, at
 *   least 1024), read with positioned reads; with a source no larger than that, the sample is
 *   every row and the initialisation equals the in-memory one;
 * - checkpoints record the stream position (epoch, batch, row offset of the next batch; it is
 *   step·batch rows into the stream), and a resumed run reopens the stream there (replaying,
 *   i.e. re-reading, at most the current epoch's earlier batches);
 * - memory: the model, Adam state, one batch and its workspace, the shuffle buffer
 *   ((bufferChunks·chunkRows + 2·batch)·dim·4 bytes) and the sample; nothing scales with rows.
 * The result of a streamed run differs from an in-memory run with the same seed only through
 * the batch order (and the sample, for sources larger than it): statistically equivalent.
 */
export async function trainSAE(sae: Trainable, data: Matrix | RowSource, opts: FitOptions = {}): Promise<FitResult> {
  const input = checkData(data);
  checkFitOptions(opts);
  checkAborted(opts.signal);
  const rng = toRng(opts.seed as Seed | Rng | undefined);
  const plan = planRun(sae.config, input, opts, rng);
  const run = initialise(sae, input, plan, opts, rng);
  if (opts.resume && opts.checkpointDir) restore(run, opts.checkpointDir);
  await runSteps(run);
  return finish(run);
}

/** The training data: a Matrix in memory or a RowSource read in batches. */
interface TrainingData {
  X: Matrix | null;
  src: RowSource | null;
  n: number;
  d: number;
}

function checkData(data: Matrix | RowSource): TrainingData {
  const streaming = isRowSource(data);
  if (!streaming && !(data instanceof Matrix)) fail('E_ARG', 'fit: X must be a Matrix [samples x dim] or a RowSource (io/rows.ts openRows)');
  const X = streaming ? null : (data as Matrix);
  const n = data.rows, d = data.cols;
  if (n < 1 || d < 1) fail('E_SHAPE', `fit: X is [${n} x ${d}]; need at least one sample and one column`);
  if (X) assertFinite('X', X);
  return { X, src: streaming ? (data as RowSource) : null, n, d };
}

function checkFitOptions(opts: FitOptions): void {
  if (opts.checkpointEvery !== undefined && (!Number.isInteger(opts.checkpointEvery) || opts.checkpointEvery < 0)) {
    fail('E_ARG', `checkpointEvery must be a non-negative integer, got ${opts.checkpointEvery}`);
  }
  if (opts.checkpointEvery && !opts.checkpointDir) fail('E_ARG', 'checkpointEvery needs checkpointDir (where to write the checkpoints)');
  if (opts.checkpointSeconds !== undefined && !(opts.checkpointSeconds > 0)) fail('E_ARG', `checkpointSeconds must be a positive number of seconds, got ${opts.checkpointSeconds}`);
  if (opts.checkpointSeconds !== undefined && !opts.checkpointDir) fail('E_ARG', 'checkpointSeconds needs checkpointDir (where to write the checkpoints)');
  if (opts.resume && !opts.checkpointDir) fail('E_ARG', 'resume needs checkpointDir (where the checkpoint is)');
  for (const [key, v] of Object.entries(opts.stream ?? {})) {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) fail('E_ARG', `stream.${key} must be a positive integer, got ${v}`);
  }
}

/** How long and on what a run trains: the budget, the schedule, the held-out slice, the batch order. */
interface RunPlan {
  /** epochs 'auto': the held-out stopping rule (null for a fixed budget) */
  conv: ConvergenceMonitor | null;
  /** the monitor that measures held-out (or watched training-row) FVU: conv, or a watch of a fixed budget, or null */
  watch: ConvergenceMonitor | null;
  heldOut: Matrix | null;
  /** in memory with a held-out slice: the training rows */
  trainRows: Int32Array | null;
  nTrain: number;
  batch: number;
  /** the fixed budget (auto: maxSteps) */
  total: number;
  schedule: LrSchedule;
  deadAfter: number;
}

function planRun(cfg: ResolvedSAEConfig, input: TrainingData, opts: FitOptions, rng: Rng): RunPlan {
  const { X, src, n } = input;
  // epochs 'auto': a held-out slice (excluded from training in memory; a seeded sample of a
  // RowSource) and the stopping rule of dictionary/convergence.ts
  const auto = cfg.steps === undefined && cfg.epochs === 'auto';
  if (auto && n < 2) fail('E_SHAPE', `fit: epochs 'auto' holds out rows to measure convergence; X has ${n} row(s); give a fixed number of steps`);
  const convOpts = auto || opts.watchConvergence ? resolveConvergence(cfg.convergence, n) : null;
  const conv = auto ? new ConvergenceMonitor(convOpts!) : null;
  let trainRows: Int32Array | null = null;
  let heldOut: Matrix | null = null;
  if (conv) {
    if (X) {
      const split = heldOutSplit(n, conv.o.heldOutRows, rng.fork('held-out'));
      trainRows = split.train;
      heldOut = X.takeRows(split.heldOut);
    } else heldOut = src!.heldOut ? src!.heldOut(conv.o.heldOutRows) : sampleRows(src!, conv.o.heldOutRows, rng.fork('held-out'));
  }
  const nTrain = trainRows ? trainRows.length : n;
  const batch = Math.min(cfg.batch, nTrain);
  const stepsPerEpoch = Math.ceil(nTrain / batch);
  const total = conv ? conv.o.maxSteps : (cfg.steps ?? (cfg.epochs as number) * stepsPerEpoch);
  const schedule: LrSchedule = {
    lr: cfg.lr,
    totalSteps: total,
    warmupSteps: cfg.warmupSteps ?? Math.min(1000, Math.floor(0.05 * (conv ? conv.o.minSteps : total))),
    decaySteps: conv ? 0 : (cfg.decaySteps ?? Math.floor(0.2 * total)),
  };
  validateSchedule(schedule);
  // a fixed budget watched on training rows (judged where the decay begins)
  const watch = conv ?? (convOpts ? new ConvergenceMonitor({ ...convOpts, evalEvery: Math.max(1, Math.min(convOpts.evalEvery, Math.floor(total / 25))) }, total) : null);
  if (!conv && watch) {
    const h = Math.min(n, convOpts!.heldOutRows);
    heldOut = X ? (h < n ? X.takeRows(heldOutSplit(n, h, rng.fork('watch')).heldOut) : X) : sampleRows(src!, h, rng.fork('watch'));
  }
  return { conv, watch, heldOut, trainRows, nTrain, batch, total, schedule, deadAfter: cfg.deadAfter ?? Math.min(10_000_000, n) };
}

/** Everything a run carries from the initialisation to the result. */
interface Run {
  sae: Trainable;
  input: TrainingData;
  plan: RunPlan;
  opts: FitOptions;
  rng: Rng;
  params: TrainableParam[];
  adam: Adam;
  dead: DeadLatentStats;
  /** the factor inputs are multiplied by while training */
  scale: number;
  /** total variance of the scaled data (FVU's denominator) */
  totalVar: number;
  /** rows of the statistics sample */
  sampleSize: number;
  /** what a checkpoint must have been written with to be resumed by this run */
  settings: Settings;
  step: number;
  resumedFrom: number | null;
  resumedSeconds: number;
  /** performance.now() when the run started (checkpoints add the seconds since) */
  started: number;
  /** performance.now() when the loop started, and the step it started at */
  t0: number;
  startStep: number;
  last: StepStats;
  /** the L0 controller of the sparsity coefficient (config.targetL0), or null */
  l0ctl: L0Controller | null;
}

/**
 * Parameters, optimiser and the data statistics: the input scale, b_dec and the total variance
 * (FVU) come from S, all of X in memory or, for a RowSource, a seeded sample of at most
 * stream.sampleRows rows (all rows when the source is that small, so both paths then start
 * identically).
 */
function initialise(sae: Trainable, input: TrainingData, plan: RunPlan, opts: FitOptions, rng: Rng): Run {
  const { X, src, n, d } = input;
  const cfg = sae.config;
  const so = opts.stream ?? {};
  const sampleCap = src ? (so.sampleRows ?? defaultSampleRows(n, d)) : n;
  const S = src ? sampleRows(src, Math.min(n, sampleCap), rng.fork('sample')) : X!;
  const ms = meanSquaredRowNorm(S);
  const scale = cfg.scaleInputs && ms > 0 ? 1 / Math.sqrt(ms) : 1;
  sae.initParams(d, rng.fork('init'));
  // the reconstructed columns (all of them, except for transcoders' joint rows [x | y])
  const tStart = sae.targetColumns?.start ?? 0, tEnd = sae.targetColumns?.end ?? d;
  {
    const ns = S.rows;
    const m = Math.min(ns, 4096);
    const rows = m === ns ? null : rng.fork('bdec').choice(ns, m);
    const B = rows ? S.takeRows(rows) : S.clone();
    for (let i = 0; i < B.data.length; i++) B.data[i] *= scale;
    const b = cfg.bDecInit === 'geometric-median' ? geometricMedian(B) : cfg.bDecInit === 'mean' ? columnMeans(B) : new Float64Array(d);
    for (let j = 0; j < tEnd - tStart; j++) sae.bdec[j] = b[tStart + j];
  }
  const params = sae.paramList();
  const adam = new Adam(params.map((p) => p.param), { beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay }, params.map((p) => p.decay));
  let totalVar = 0;
  {
    const ns = S.rows;
    const mu = columnMeans(S);
    for (let i = 0; i < ns; i++) for (let j = tStart; j < tEnd; j++) totalVar += (S.data[i * d + j] - mu[j]) ** 2;
    totalVar = (totalVar / ns) * scale * scale;
  }
  const now = performance.now();
  return {
    sae, input, plan, opts, rng, params, adam, dead: new DeadLatentStats(cfg.atoms, plan.deadAfter), scale, totalVar, sampleSize: S.rows,
    settings: runSettings(sae, input, plan, opts),
    step: 0, resumedFrom: null, resumedSeconds: 0, started: now, t0: now, startStep: 0, last: { loss: NaN, sqErr: NaN, l0: NaN, aux: 0 },
    l0ctl: cfg.targetL0 !== undefined ? new L0Controller({ target: cfg.targetL0, start: cfg.targetL0Start ?? 0, integralGain: cfg.targetL0Gain }) : null,
  };
}

/** The SAE configuration fields a resumed run must share with its checkpoint (all but the seed, recorded apart). */
const CONFIG_SETTINGS = [
  'lr', 'epochs', 'steps', 'warmupSteps', 'decaySteps', 'weightDecay', 'beta1', 'beta2', 'l1', 'l1DecoderNorm', 'l0', 'thresholdInit',
  'bandwidth', 'normalizeDecoder', 'bDecInit', 'scaleInputs', 'deadAfter', 'auxK', 'auxkCoef', 'resampleEvery', 'thresholdBeta',
  'matryoshkaWidths', 'convergence', 'targetL0', 'targetL0Start', 'targetL0Gain', 'sparsityWarmupSteps', 'sparsityLoss', 'tanhScale',
] as const;

function configSettings(cfg: Partial<ResolvedSAEConfig>): Settings {
  const out: Settings = {};
  for (const key of CONFIG_SETTINGS) {
    const v = cfg[key];
    out[key] = v === undefined ? null : key === 'convergence' ? JSON.stringify(v) : (v as Setting);
  }
  return out;
}

/** The seed as recorded: its value, or for an Rng a fingerprint of its state (fork does not advance it). */
function seedSetting(seed: FitOptions['seed']): Setting {
  if (seed instanceof Rng) return `rng:${seed.fork('checkpoint-identity').nextU32().toString(16)}`;
  return seed ?? 0;
}

/**
 * What a checkpoint records and a resume must match: the model (kind, atoms, k), the data (shape,
 * a fingerprint of its rows), the seed, the batch, the budget and the batch order, every
 * training hyperparameter, and the caller's own settings (the CLI's whitening, ...).
 */
function runSettings(sae: Trainable, input: TrainingData, plan: RunPlan, opts: FitOptions): Settings {
  const cfg = sae.config, so = opts.stream ?? {};
  return {
    kind: sae.kind, atoms: cfg.atoms, k: cfg.k, dim: input.d, samples: input.n, batch: plan.batch,
    totalSteps: plan.conv ? `auto:${JSON.stringify(plan.conv.o)}` : plan.total,
    order: input.src ? (input.src.iid ? 'sequential' : `chunked:${so.chunkRows ?? 'auto'}x${so.bufferChunks ?? 'auto'}`) : 'permutation',
    seed: seedSetting(opts.seed),
    data: fingerprintRows(input.X ?? input.src!),
    ...configSettings(cfg),
    ...opts.settings,
  };
}

/** The settings a checkpoint recorded; for one written before `settings` (identity + config), those two. */
function recordedSettings(state: Record<string, unknown>): Record<string, unknown> {
  if (state.settings && typeof state.settings === 'object') return state.settings as Record<string, unknown>;
  const identity = (state.identity ?? {}) as Record<string, unknown>;
  const config = (state.config ?? null) as Partial<ResolvedSAEConfig> | null;
  return { order: 'permutation', ...identity, ...(config ? configSettings(config) : {}) };
}

const RESUME_HINTS: Record<string, string> = {
  order: '(in-memory runs use per-epoch permutations, streamed runs a chunked shuffle: resume the way the run started, e.g. with or without fit --stream)',
  data: '(another data file, or the file changed)',
};

/** Continue from the checkpoint in dir, if there is one, after checking it was written with this run's settings. */
function restore(run: Run, dir: string): void {
  const ck = loadCheckpoint(dir);
  if (!ck) return;
  const { sae, params, adam, plan } = run;
  checkSettings(recordedSettings(ck.state), run.settings, { dir, where: 'fit --resume', hints: RESUME_HINTS });
  for (let q = 0; q < params.length; q++) {
    const p = params[q];
    for (const [name, buf] of [[p.name, p.param], [`adam_m.${p.name}`, adam.m[q]], [`adam_v.${p.name}`, adam.v[q]]] as const) {
      const t = ck.tensors[name];
      if (!t || t.data.length !== buf.length) fail('E_FORMAT', `${dir}: checkpoint tensor ${name} is missing or has the wrong size`);
      buf.set(t.data);
    }
  }
  const lf = ck.tensors.last_fired;
  if (!lf || lf.data.length !== run.dead.lastFired.length) fail('E_FORMAT', `${dir}: checkpoint tensor last_fired is missing or has the wrong size`);
  run.dead.lastFired.set(lf.data);
  run.dead.samplesSeen = Number(ck.state.samplesSeen);
  adam.t = Number(ck.state.adamT);
  run.scale = Number(ck.state.inputScale);
  sae.setExtraState((ck.state.extra ?? {}) as Record<string, number>);
  if (run.l0ctl) run.l0ctl.restore(ck.state.l0Controller as L0ControllerState);
  if (plan.watch && ck.state.convergence) plan.watch.restore(ck.state.convergence as ConvergenceState);
  else if (plan.conv) plan.conv.restore(ck.state.convergence as ConvergenceState);
  run.step = ck.step;
  run.resumedFrom = ck.step;
  const secs = Number(ck.state.seconds);
  run.resumedSeconds = Number.isFinite(secs) && secs > 0 ? secs : 0;
}

function writeCheckpoint(run: Run, s: number): void {
  const dir = run.opts.checkpointDir;
  if (!dir) return;
  const { params, adam, plan } = run;
  const tensors: Checkpoint['tensors'] = {};
  params.forEach((p, q) => {
    tensors[p.name] = { shape: [p.param.length], data: p.param };
    tensors[`adam_m.${p.name}`] = { shape: [p.param.length], data: adam.m[q] };
    tensors[`adam_v.${p.name}`] = { shape: [p.param.length], data: adam.v[q] };
  });
  tensors.last_fired = { shape: [run.dead.lastFired.length], data: run.dead.lastFired };
  saveCheckpoint(dir, {
    step: s,
    state: {
      settings: run.settings, adamT: adam.t, samplesSeen: run.dead.samplesSeen, inputScale: run.scale, extra: run.sae.extraState(), config: run.sae.config,
      seconds: run.resumedSeconds + (performance.now() - run.started) / 1000,
      // where the next batch starts in the (replayable) batch stream
      position: RowStream.positionOf(s * plan.batch, run.input.n, plan.batch),
      ...(plan.watch ? { convergence: plan.watch.state() } : {}),
      ...(run.l0ctl ? { l0Controller: run.l0ctl.state() } : {}),
    },
    tensors,
  });
}

/** The row source of the batches, opened at the run's step. */
function openBatches(run: Run): BatchRows {
  const { input, plan, rng } = run;
  const so = run.opts.stream ?? {};
  const startRow = run.step * plan.batch;
  return input.src?.iid
    ? new SequentialStream(input.src, startRow)
    : input.src
    ? new RowStream(input.src, { batch: plan.batch, seed: rng.fork('stream').int(2 ** 30), chunkRows: so.chunkRows, bufferChunks: so.bufferChunks, startRow })
    : new PermutedRows(input.X!, rng.fork('order'), plan.trainRows, startRow);
}

/** The learning rate at 0-based step t: the fixed schedule, or warm-up, constant and the decay conv fixes. */
function lrAt(run: Run, t: number): number {
  const { conv, schedule } = run.plan;
  return conv ? run.sae.config.lr * conv.lrFactor(t, schedule.warmupSteps ?? 0) : learningRate(schedule, t);
}

/** The step the run ends at (moves in auto mode once the rule fires). */
function endStep(run: Run): number {
  return run.plan.conv ? run.plan.conv.end() : run.plan.total;
}

/** FVU and mean L0 on the held-out slice (in the training space). */
function measureHeldOut(sae: Trainable, heldOutScaled: Matrix): { fvu: number; l0: number } {
  sae.training = false;
  try {
    if (sae.heldOutScore) return sae.heldOutScore(heldOutScaled);
    const Z = sae.encode(heldOutScaled);
    let nnz = 0;
    for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nnz++;
    return { fvu: fvuOf(heldOutScaled, sae.decode(Z)), l0: nnz / Z.rows };
  } finally {
    sae.training = true;
  }
}

function diverged(run: Run, step: number, what: string): never {
  const dir = run.opts.checkpointDir;
  fail('E_DIVERGED', `training diverged at step ${step} (${what}); lower the learning rate (lr ${run.sae.config.lr})${dir ? `; the last good checkpoint in ${dir} is kept` : ''}`, { step });
}

/** The loop: one batch per step from the row source, forward/backward, the optimiser, dead latents, held-out checks, checkpoints, progress. */
async function runSteps(run: Run): Promise<void> {
  const { sae, params, adam, plan, opts, dead } = run;
  const cfg = sae.config, d = run.input.d, batch = plan.batch, signal = opts.signal;
  const xb = new Matrix(batch, d);
  const activity: LatentActivity = { dead: new Uint8Array(cfg.atoms), fired: new Uint8Array(cfg.atoms) };
  const deadBuf = new Uint8Array(cfg.atoms);
  const resample = sae.resampleDead;
  const interval = opts.progressIntervalMs ?? 250;
  const decoderIdx = params.findIndex((p) => p.name === 'W_dec');
  const grads = params.map((p) => p.grad);
  // the held-out slice in the training space (the scale is fixed from here on)
  const heldOutScaled = plan.heldOut ? plan.heldOut.clone() : null;
  if (heldOutScaled) for (let i = 0; i < heldOutScaled.data.length; i++) heldOutScaled.data[i] *= run.scale;
  const rows = openBatches(run);
  run.t0 = performance.now();
  run.startStep = run.step;
  let lastReport = -Infinity, lastYield = performance.now(), lastSave = performance.now();
  const saveMs = opts.checkpointSeconds !== undefined ? opts.checkpointSeconds * 1000 : Infinity;
  sae.training = true;
  const l0ctl = run.l0ctl, coefWarmup = cfg.sparsityWarmupSteps;
  const scheduled = l0ctl !== null || coefWarmup > 0;
  try {
    for (; run.step < endStep(run); run.step++) {
      const step = run.step;
      if (signal?.aborted) {
        writeCheckpoint(run, step);
        checkAborted(signal);
      }
      rows.next(xb.data, batch, run.scale);
      dead.mask(activity.dead);
      if (scheduled) sae.sparsityScale = sparsityWarmUp(step, coefWarmup) * (l0ctl ? l0ctl.multiplier : 1);
      const stats = sae.forwardBackward(xb, activity);
      if (!Number.isFinite(stats.loss)) diverged(run, step + 1, `loss ${stats.loss}`);
      if (l0ctl) l0ctl.update(stats.l0, step);
      dead.record(activity.fired, batch);
      run.last = stats;
      if (cfg.normalizeDecoder && decoderIdx >= 0) projectRadial(sae.Wdec.data, sae.gWdec.data, cfg.atoms, sae.Wdec.cols);
      adam.step(grads, lrAt(run, step));
      if (cfg.normalizeDecoder) sae.normalizeDecoder();
      sae.afterStep();
      if (resample && cfg.resampleEvery > 0 && (step + 1) % cfg.resampleEvery === 0 && step + 1 < endStep(run)) {
        if (dead.mask(deadBuf) > 0) {
          const revived = resample.call(sae, xb, deadBuf, run.rng.fork(`resample-${step}`));
          dead.revive(revived);
          for (let q = 0; q < params.length; q++) {
            const p = params[q];
            if (p.name === 'W_encT' || p.name === 'W_dec') adam.resetRows(q, revived, d);
            else if (p.name === 'b_enc') adam.resetRows(q, revived, 1);
          }
        }
      }
      const done = step + 1;
      if (plan.watch && plan.watch.due(done)) {
        const h = measureHeldOut(sae, heldOutScaled!);
        if (!Number.isFinite(h.fvu)) diverged(run, done, `held-out FVU ${h.fvu}`);
        plan.watch.record(done, h.fvu, h.l0);
      }
      const end = endStep(run);
      const now = performance.now();
      if (opts.checkpointDir && done < end && ((opts.checkpointEvery && done % opts.checkpointEvery === 0) || now - lastSave >= saveMs)) {
        writeCheckpoint(run, done);
        lastSave = performance.now();
      }
      if (opts.onProgress && (now - lastReport >= interval || done === end)) {
        lastReport = now;
        const secs = (now - run.t0) / 1000;
        const sps = secs > 0 ? ((done - run.startStep) * batch) / secs : 0;
        opts.onProgress({
          step: done,
          totalSteps: end,
          epoch: Math.floor((done * batch) / plan.nTrain),
          loss: stats.loss,
          mse: stats.sqErr / d,
          sqErr: stats.sqErr,
          fvu: run.totalVar > 0 ? stats.sqErr / run.totalVar : NaN,
          l0: stats.l0,
          deadFraction: dead.deadFraction(deadBuf),
          samplesPerSec: sps,
          etaSeconds: sps > 0 ? ((end - done) * batch) / sps : 0,
          lr: lrAt(run, step),
          ...(plan.watch ? { heldOutFvu: plan.watch.last } : {}),
        });
      }
      if (now - lastYield > 50) {
        lastYield = now;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  } finally {
    sae.training = false;
    if (scheduled) sae.sparsityScale = 1;
    rows.close();
  }
}

/** After the loop: finite parameters, the final checkpoint, the scale folded into the weights, the result. */
function finish(run: Run): FitResult {
  const { sae, params, plan, opts, input } = run;
  const cfg = sae.config, batch = plan.batch;
  for (const p of params) assertFiniteParam(p.name, p.param);
  const ran = endStep(run);
  if (opts.checkpointDir && ran > run.startStep && opts.finalCheckpoint !== false) writeCheckpoint(run, ran);
  sae.foldScale(run.scale);
  const secs = (performance.now() - run.t0) / 1000;
  const deadFraction = run.dead.deadFraction(new Uint8Array(cfg.atoms));
  const last = run.last;
  const result: FitResult = {
    steps: ran,
    loss: last.loss,
    mse: last.sqErr / input.d,
    sqErr: last.sqErr,
    fvu: run.totalVar > 0 ? last.sqErr / run.totalVar : NaN,
    l0: last.l0,
    deadFraction,
    seconds: secs,
    samplesPerSec: secs > 0 ? ((ran - run.startStep) * batch) / secs : 0,
    inputScale: run.scale,
    resumedFrom: run.resumedFrom,
    resumedSeconds: run.resumedSeconds,
  };
  if (input.src) {
    const so = opts.stream ?? {};
    result.stream = { sampleRows: run.sampleSize, position: RowStream.positionOf(ran * batch, input.n, batch), chunkRows: so.chunkRows ?? null, bufferChunks: so.bufferChunks ?? null };
  }
  const { conv, watch } = plan;
  if (watch) {
    // auto: the rule's verdict; a watched fixed budget: the verdict where the decay began
    const judgedAt = conv ? (conv.decayStart ?? ran) : Math.max(1, plan.total - (plan.schedule.decaySteps ?? 0));
    // (a watched run shorter than the rule's minSteps is too short to call converged)
    const tooShort = !conv && judgedAt < watch.o.minSteps;
    const ok = conv ? conv.converged : !tooShort && watch.judge(judgedAt);
    result.converged = ok;
    result.heldOutFvu = watch.last;
    const note = ok ? null : `${tooShort ? `${judgedAt} steps before the learning-rate decay, fewer than the ${watch.o.minSteps} the rule needs; ` : ''}${watch.rateNote(judgedAt, conv ? 'held-out FVU' : 'FVU on training rows')}`;
    result.convergence = {
      mode: conv ? 'auto' : 'watched', heldOutRows: plan.heldOut!.rows, convergedAt: conv ? conv.convergedAt : null, judgedAt,
      note, steps: [...watch.steps], fvu: [...watch.fvu], l0: [...watch.l0],
    };
  }
  sae.trainingStats = { steps: ran, loss: result.loss, mse: result.mse, sqErr: result.sqErr, fvu: result.fvu, l0: result.l0, deadFraction, inputScale: run.scale };
  if (run.l0ctl) {
    const c = run.l0ctl, base = sae.kind === 'jumprelu' ? cfg.l0 : cfg.l1;
    result.l0Controller = { target: c.target, smoothedL0: c.smoothedL0, multiplier: c.multiplier, coefficient: base * c.multiplier };
    sae.trainingStats.sparsityMultiplier = c.multiplier;
  }
  return result;
}

function assertFiniteParam(name: string, p: Float32Array): void {
  for (let i = 0; i < p.length; i++) {
    if (!Number.isFinite(p[i])) fail('E_DIVERGED', `training diverged: parameter ${name} holds ${p[i]}; lower the learning rate`);
  }
}

/**
 * Batches from a source of independent draws (RowSource.iid, a world): rows in order, row
 * pos mod rows, so a resumed run at step t reads from row t·batch exactly as the uninterrupted one.
 */
class SequentialStream implements BatchRows {
  readonly cols: number;
  constructor(private readonly src: RowSource, private pos: number) {
    this.cols = src.cols;
  }

  next(out: Float32Array, count: number, scale = 1): void {
    const n = this.src.rows, d = this.src.cols;
    let filled = 0;
    while (filled < count) {
      const at = this.pos % n;
      const take = Math.min(count - filled, n - at);
      this.src.readRows(at, take, out.subarray(filled * d, (filled + take) * d));
      filled += take;
      this.pos += take;
    }
    if (scale !== 1) for (let i = 0; i < count * d; i++) out[i] *= scale;
  }

  close(): void {}
}
