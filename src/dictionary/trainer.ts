import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { type Rng, type Seed, toRng } from '../core/rng.js';
import { assertFinite, checkAborted } from '../core/validate.js';
import { Adam } from '../optim/adam.js';
import { learningRate, type LrSchedule, validateSchedule } from '../optim/schedule.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Trainable } from './trainable.js';
import { geometricMedian, meanSquaredRowNorm, projectRadial } from './sae/init.js';
import { columnMeans } from '../linalg/rows.js';
import type { RowSource } from '../io/rows.js';
import { defaultSampleRows, isRowSource, RowStream, sampleRows, type StreamPosition } from './stream.js';
import { ConvergenceMonitor, fvuOf, heldOutSplit, resolveConvergence, type ConvergenceState } from './convergence.js';

/** What `onProgress` receives (at most every `progressIntervalMs`, and after the last step). */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  mse: number;
  /** mse / total variance of the (scaled) data: fraction of variance unexplained */
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
  mse: number;
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
 * step), dead-latent tracking (AuxK for TopK kinds, resampling for ReLU when enabled),
 * progress, checkpoints and resume, divergence detection.
 *
 * Inputs are multiplied by `inputScale = 1 / sqrt(mean ||x||^2)` while training (unit mean
 * squared norm) when `scaleInputs`; afterwards the scale is folded into the weights (b_enc,
 * b_dec and thresholds divided by it; codes come out in raw units and decoder rows stay
 * unit-norm), so the trained model takes raw activations.
 *
 * Out of core: `data` may be a RowSource (`openRows(path)`, a file larger than memory). Then
 * - batches come from the chunked shuffle of `batches()` (io/rows.ts: runs of `chunkRows`
 *   contiguous rows in a seeded random order, rows shuffled within a buffer of `bufferChunks`
 *   chunks), as one endless stream cut into `batch`-row pieces (a batch may straddle two epochs,
 *   as in memory); the order depends only on the seed and the sizes, so it can be replayed;
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
  const streaming = isRowSource(data);
  if (!streaming && !(data instanceof Matrix)) fail('E_ARG', 'fit: X must be a Matrix [samples x dim] or a RowSource (io/rows.ts openRows)');
  const X = streaming ? null : (data as Matrix);
  const src = streaming ? (data as RowSource) : null;
  const n = data.rows, d = data.cols;
  if (n < 1 || d < 1) fail('E_SHAPE', `fit: X is [${n} x ${d}]; need at least one sample and one column`);
  if (X) assertFinite('X', X);
  const cfg = sae.config;
  const signal = opts.signal;
  checkAborted(signal);
  const rng = toRng(opts.seed as Seed | Rng | undefined);
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
  /** the learning rate at 0-based step t: the fixed schedule, or warm-up, constant and the decay conv fixes */
  const lrAt = (t: number) => (conv ? cfg.lr * conv.lrFactor(t, schedule.warmupSteps ?? 0) : learningRate(schedule, t));
  /** the step the run ends at (moves in auto mode once the rule fires) */
  const endStep = () => (conv ? conv.end() : total);
  if (opts.checkpointEvery !== undefined && (!Number.isInteger(opts.checkpointEvery) || opts.checkpointEvery < 0)) {
    fail('E_ARG', `checkpointEvery must be a non-negative integer, got ${opts.checkpointEvery}`);
  }
  if (opts.checkpointEvery && !opts.checkpointDir) fail('E_ARG', 'checkpointEvery needs checkpointDir (where to write the checkpoints)');
  if (opts.resume && !opts.checkpointDir) fail('E_ARG', 'resume needs checkpointDir (where the checkpoint is)');
  const so = opts.stream ?? {};
  for (const [key, v] of Object.entries(so)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) fail('E_ARG', `stream.${key} must be a positive integer, got ${v}`);
  }
  const deadAfter = cfg.deadAfter ?? Math.min(10_000_000, n);

  // ---- initialisation -----------------------------------------------------------------------
  // The statistics that look at the data (input scale, b_dec, total variance for FVU) come from
  // S: all of X in memory; for a RowSource, a seeded sample of at most stream.sampleRows rows
  // (all rows when the source is that small, so both paths then start identically).
  const sampleCap = src ? (so.sampleRows ?? defaultSampleRows(n, d)) : n;
  const S = src ? sampleRows(src, Math.min(n, sampleCap), rng.fork('sample')) : X!;
  const ms = meanSquaredRowNorm(S);
  let scale = cfg.scaleInputs && ms > 0 ? 1 / Math.sqrt(ms) : 1;
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
  // total variance of the scaled data, for FVU
  let totalVar = 0;
  {
    const ns = S.rows;
    const mu = columnMeans(S);
    for (let i = 0; i < ns; i++) for (let j = tStart; j < tEnd; j++) totalVar += (S.data[i * d + j] - mu[j]) ** 2;
    totalVar = (totalVar / ns) * scale * scale;
  }
  const sampleSize = S.rows;

  // the batch order: per-epoch permutations in memory; the chunked shuffle of io/rows.ts batches() for sources
  const order = src ? (src.iid ? 'sequential' : `chunked:${so.chunkRows ?? 'auto'}x${so.bufferChunks ?? 'auto'}`) : 'permutation';
  const identity = { kind: sae.kind, atoms: cfg.atoms, k: cfg.k, dim: d, samples: n, batch, totalSteps: conv ? `auto:${JSON.stringify(conv.o)}` : total, order };
  let step = 0;
  let resumedFrom: number | null = null;
  let resumedSeconds = 0;
  const started = performance.now();
  if (opts.resume && opts.checkpointDir) {
    const ck = loadCheckpoint(opts.checkpointDir);
    if (ck) {
      const id = ck.state.identity as Record<string, unknown> | undefined;
      for (const [key, v] of Object.entries(identity)) {
        const was = key === 'order' ? (id?.order ?? 'permutation') : id?.[key];
        if (!id || was !== v) {
          const hint = key === 'order' ? ' (in-memory runs use per-epoch permutations, streamed runs a chunked shuffle: resume the way the run started, e.g. with or without fit --stream)' : '';
          fail('E_ARG', `the checkpoint in ${opts.checkpointDir} was written for ${key} = ${was}, this run has ${key} = ${v}${hint}; use the original settings or a fresh output folder`);
        }
      }
      for (let q = 0; q < params.length; q++) {
        const p = params[q];
        for (const [name, buf] of [[p.name, p.param], [`adam_m.${p.name}`, adam.m[q]], [`adam_v.${p.name}`, adam.v[q]]] as const) {
          const t = ck.tensors[name];
          if (!t || t.data.length !== buf.length) fail('E_FORMAT', `${opts.checkpointDir}: checkpoint tensor ${name} is missing or has the wrong size`);
          buf.set(t.data);
        }
      }
      const lf = ck.tensors.last_fired;
      if (!lf || lf.data.length !== sae.lastFired.length) fail('E_FORMAT', `${opts.checkpointDir}: checkpoint tensor last_fired is missing or has the wrong size`);
      sae.lastFired.set(lf.data);
      adam.t = Number(ck.state.adamT);
      sae.samplesSeen = Number(ck.state.samplesSeen);
      scale = Number(ck.state.inputScale);
      sae.setExtraState((ck.state.extra ?? {}) as Record<string, number>);
      if (watch && ck.state.convergence) watch.restore(ck.state.convergence as ConvergenceState);
      else if (conv) conv.restore(ck.state.convergence as ConvergenceState);
      step = ck.step;
      resumedFrom = step;
      const secs = Number(ck.state.seconds);
      resumedSeconds = Number.isFinite(secs) && secs > 0 ? secs : 0;
    }
  }

  const writeCheckpoint = (s: number) => {
    if (!opts.checkpointDir) return;
    const tensors: Checkpoint['tensors'] = {};
    params.forEach((p, q) => {
      tensors[p.name] = { shape: [p.param.length], data: p.param };
      tensors[`adam_m.${p.name}`] = { shape: [p.param.length], data: adam.m[q] };
      tensors[`adam_v.${p.name}`] = { shape: [p.param.length], data: adam.v[q] };
    });
    tensors.last_fired = { shape: [sae.lastFired.length], data: sae.lastFired };
    saveCheckpoint(opts.checkpointDir, {
      step: s,
      state: {
        identity, adamT: adam.t, samplesSeen: sae.samplesSeen, inputScale: scale, extra: sae.extraState(), config: cfg,
        seconds: resumedSeconds + (performance.now() - started) / 1000,
        // where the next batch starts in the (replayable) batch stream
        position: RowStream.positionOf(s * batch, n, batch),
        ...(watch ? { convergence: watch.state() } : {}),
      },
      tensors,
    });
  };

  // ---- the loop -----------------------------------------------------------------------------
  if ('deadAfter' in sae) sae.deadAfter = deadAfter;
  const xb = new Matrix(batch, d);
  const orderRng = rng.fork('order');
  const stream = src?.iid
    ? new SequentialStream(src, step * batch)
    : src
    ? new RowStream(src, { batch, seed: rng.fork('stream').int(2 ** 30), chunkRows: so.chunkRows, bufferChunks: so.bufferChunks, startRow: step * batch })
    : null;
  let permEpoch = -1;
  let perm: Int32Array = new Int32Array(0);
  const deadBuf = new Uint8Array(cfg.atoms);
  const resample = sae.resampleDead;
  const t0 = performance.now();
  let lastReport = -Infinity, lastYield = performance.now();
  const interval = opts.progressIntervalMs ?? 250;
  const startStep = step;
  let last = { loss: NaN, mse: NaN, l0: NaN, aux: 0 };
  const decoderIdx = params.findIndex((p) => p.name === 'W_dec');
  const grads = params.map((p) => p.grad);
  // the held-out slice in the training space (the scale is fixed from here on)
  const heldOutScaled = heldOut ? heldOut.clone() : null;
  if (heldOutScaled) for (let i = 0; i < heldOutScaled.data.length; i++) heldOutScaled.data[i] *= scale;
  const measureHeldOut = (): { fvu: number; l0: number } => {
    sae.training = false;
    try {
      if (sae.heldOutScore) return sae.heldOutScore(heldOutScaled!);
      const Z = sae.encode(heldOutScaled!);
      let nnz = 0;
      for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nnz++;
      return { fvu: fvuOf(heldOutScaled!, sae.decode(Z)), l0: nnz / Z.rows };
    } finally {
      sae.training = true;
    }
  };
  sae.training = true;
  try {
    for (; step < endStep(); step++) {
      if (signal?.aborted) {
        writeCheckpoint(step);
        checkAborted(signal);
      }
      // gather the batch (stream position step*batch .. + batch over per-epoch permutations)
      if (stream) stream.next(xb.data, batch, scale);
      else for (let r = 0; r < batch; r++) {
        const pos = step * batch + r;
        const epoch = Math.floor(pos / nTrain);
        if (epoch !== permEpoch) {
          perm = orderRng.fork(epoch).permutation(nTrain);
          permEpoch = epoch;
        }
        const p = perm[pos - epoch * nTrain];
        const at = (trainRows ? trainRows[p] : p) * d;
        const o = r * d;
        const xd = X!.data;
        for (let j = 0; j < d; j++) xb.data[o + j] = xd[at + j] * scale;
      }
      const stats = sae.forwardBackward(xb);
      if (!Number.isFinite(stats.loss)) {
        fail('E_DIVERGED', `training diverged at step ${step + 1} (loss ${stats.loss}); lower the learning rate (lr ${cfg.lr})${opts.checkpointDir ? `; the last good checkpoint in ${opts.checkpointDir} is kept` : ''}`, { step: step + 1 });
      }
      last = stats;
      if (cfg.normalizeDecoder && decoderIdx >= 0) projectRadial(sae.Wdec.data, sae.gWdec.data, cfg.atoms, sae.Wdec.cols);
      adam.step(grads, lrAt(step));
      if (cfg.normalizeDecoder) sae.normalizeDecoder();
      sae.afterStep();
      if (resample && cfg.resampleEvery > 0 && (step + 1) % cfg.resampleEvery === 0 && step + 1 < endStep()) {
        if (sae.deadMask(deadAfter, deadBuf) > 0) {
          const rows = resample.call(sae, xb, deadBuf, rng.fork(`resample-${step}`));
          for (let q = 0; q < params.length; q++) {
            const p = params[q];
            if (p.name === 'W_encT' || p.name === 'W_dec') adam.resetRows(q, rows, d);
            else if (p.name === 'b_enc') adam.resetRows(q, rows, 1);
          }
        }
      }
      const done = step + 1;
      if (watch && watch.due(done)) {
        const h = measureHeldOut();
        if (!Number.isFinite(h.fvu)) {
          fail('E_DIVERGED', `training diverged at step ${done} (held-out FVU ${h.fvu}); lower the learning rate (lr ${cfg.lr})${opts.checkpointDir ? `; the last good checkpoint in ${opts.checkpointDir} is kept` : ''}`, { step: done });
        }
        watch.record(done, h.fvu, h.l0);
      }
      const end = endStep();
      if (opts.checkpointDir && opts.checkpointEvery && done % opts.checkpointEvery === 0 && done < end) writeCheckpoint(done);
      const now = performance.now();
      if (opts.onProgress && (now - lastReport >= interval || done === end)) {
        lastReport = now;
        const secs = (now - t0) / 1000;
        const sps = secs > 0 ? ((done - startStep) * batch) / secs : 0;
        opts.onProgress({
          step: done,
          totalSteps: end,
          epoch: Math.floor((done * batch) / nTrain),
          loss: stats.loss,
          mse: stats.mse,
          fvu: totalVar > 0 ? stats.mse / totalVar : NaN,
          l0: stats.l0,
          deadFraction: sae.deadMask(deadAfter, deadBuf) / cfg.atoms,
          samplesPerSec: sps,
          etaSeconds: sps > 0 ? ((end - done) * batch) / sps : 0,
          lr: lrAt(step),
          ...(watch ? { heldOutFvu: watch.last } : {}),
        });
      }
      if (now - lastYield > 50) {
        lastYield = now;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  } finally {
    sae.training = false;
    stream?.close();
  }
  for (const p of params) assertFiniteParam(p.name, p.param);
  const ran = endStep();
  if (opts.checkpointDir && ran > startStep && opts.finalCheckpoint !== false) writeCheckpoint(ran);
  sae.foldScale(scale);
  const secs = (performance.now() - t0) / 1000;
  const dead = sae.deadMask(deadAfter, deadBuf) / cfg.atoms;
  const result: FitResult = {
    steps: ran,
    loss: last.loss,
    mse: last.mse,
    fvu: totalVar > 0 ? last.mse / totalVar : NaN,
    l0: last.l0,
    deadFraction: dead,
    seconds: secs,
    samplesPerSec: secs > 0 ? ((ran - startStep) * batch) / secs : 0,
    inputScale: scale,
    resumedFrom,
    resumedSeconds,
  };
  if (src) result.stream = { sampleRows: sampleSize, position: RowStream.positionOf(ran * batch, n, batch), chunkRows: so.chunkRows ?? null, bufferChunks: so.bufferChunks ?? null };
  if (watch) {
    // auto: the rule's verdict; a watched fixed budget: the verdict where the decay began
    const judgedAt = conv ? (conv.decayStart ?? ran) : Math.max(1, total - (schedule.decaySteps ?? 0));
    // (a watched run shorter than the rule's minSteps is too short to call converged)
    const tooShort = !conv && judgedAt < watch.o.minSteps;
    const ok = conv ? conv.converged : !tooShort && watch.judge(judgedAt);
    result.converged = ok;
    result.heldOutFvu = watch.last;
    const note = ok ? null : `${tooShort ? `${judgedAt} steps before the learning-rate decay, fewer than the ${watch.o.minSteps} the rule needs; ` : ''}${watch.rateNote(judgedAt, conv ? 'held-out FVU' : 'FVU on training rows')}`;
    result.convergence = {
      mode: conv ? 'auto' : 'watched', heldOutRows: heldOut!.rows, convergedAt: conv ? conv.convergedAt : null, judgedAt,
      note, steps: [...watch.steps], fvu: [...watch.fvu], l0: [...watch.l0],
    };
  }
  sae.trainingStats = { steps: ran, loss: result.loss, mse: result.mse, fvu: result.fvu, l0: result.l0, deadFraction: dead, inputScale: scale };
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
class SequentialStream {
  constructor(private readonly src: RowSource, private pos: number) {}

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
