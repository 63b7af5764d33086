import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { type Rng, type Seed, toRng } from '../../core/rng.js';
import { assertFinite, checkAborted } from '../../core/validate.js';
import { learningRate, type LrSchedule, validateSchedule } from '../../optim/schedule.js';
import { columnMeans } from '../../linalg/rows.js';
import type { WebGpuContext } from '../../backend/webgpu/context.js';
import { GpuTopKTrainer } from '../../backend/webgpu/topk-sae.js';
import { geometricMedian, meanSquaredRowNorm } from './init.js';
import type { TopKSAE } from './topk.js';
import type { TrainProgress } from '../trainer.js';
import { DeadLatentStats } from '../dead-latents.js';

export interface WebGpuFitOptions {
  context: WebGpuContext;
  seed?: Seed | Rng;
  signal?: AbortSignal;
  /** called at most every progressIntervalMs (and after the last step), with the SAE's weights copied back from the GPU first */
  onProgress?: (p: TrainProgress) => void;
  progressIntervalMs?: number;
  /** read the losses back every this many steps [64] */
  lossEvery?: number;
}

export interface WebGpuFitResult {
  steps: number;
  /** sqErr + the AuxK term, of the last step */
  loss: number;
  /** the last step's mean squared error per entry (scaled space) */
  mse: number;
  /** the last step's squared error per row, mean of ‖x̂ − x‖² (= dim · mse) */
  sqErr: number;
  /** fraction of latents that have not fired within deadAfter samples */
  deadFraction: number;
  fvu: number;
  seconds: number;
  samplesPerSec: number;
  inputScale: number;
}

/**
 * Train a TopK SAE on the GPU (`backend/webgpu/topk-sae.ts`), as `trainSAE` trains it in
 * memory with a fixed budget: the same initialisation (seeded forks 'init', 'bdec', 'order'),
 * input scale, b_dec initialisation, per-epoch batch permutations and learning-rate schedule, so
 * the run follows the js run up to float32 rounding. The step is forward, sparse backward,
 * radial projection, Adam, decoder renormalisation, all on the device; only the batch's row
 * numbers go up and the loss comes back (every `lossEvery` steps). Not supported here (clear
 * errors): epochs 'auto', streaming and checkpoints — use `fit` for those. AuxK runs on the GPU
 * with the trainer's dead-latent window (deadAfter, default min(10⁷, rows)).
 */
export async function fitTopKWebGpu(sae: TopKSAE, X: Matrix, opts: WebGpuFitOptions): Promise<WebGpuFitResult> {
  const cfg = sae.config;
  if (sae.kind !== 'topk') fail('E_ARG', `fitTopKWebGpu trains TopK SAEs, got ${sae.kind}`);
  if (cfg.steps === undefined && cfg.epochs === 'auto') fail('E_ARG', "the WebGPU TopK trainer needs a fixed budget (epochs N or steps T), not epochs 'auto'");
  const n = X.rows, d = X.cols;
  if (n < 1 || d < 1) fail('E_SHAPE', `fit: X is [${n} x ${d}]; need at least one sample and one column`);
  assertFinite('X', X);
  const signal = opts.signal;
  checkAborted(signal);
  const rng = toRng(opts.seed ?? cfg.seed);
  const batch = Math.min(cfg.batch, n);
  const stepsPerEpoch = Math.ceil(n / batch);
  const total = cfg.steps ?? (cfg.epochs as number) * stepsPerEpoch;
  const schedule: LrSchedule = {
    lr: cfg.lr, totalSteps: total,
    warmupSteps: cfg.warmupSteps ?? Math.min(1000, Math.floor(0.05 * total)),
    decaySteps: cfg.decaySteps ?? Math.floor(0.2 * total),
  };
  validateSchedule(schedule);
  // initialisation exactly as trainSAE (in memory)
  const ms = meanSquaredRowNorm(X);
  const scale = cfg.scaleInputs && ms > 0 ? 1 / Math.sqrt(ms) : 1;
  sae.initParams(d, rng.fork('init'));
  {
    const m = Math.min(n, 4096);
    const rows = m === n ? null : rng.fork('bdec').choice(n, m);
    const B = rows ? X.takeRows(rows) : X.clone();
    for (let i = 0; i < B.data.length; i++) B.data[i] *= scale;
    const b = cfg.bDecInit === 'geometric-median' ? geometricMedian(B) : cfg.bDecInit === 'mean' ? columnMeans(B) : new Float64Array(d);
    for (let j = 0; j < d; j++) sae.bdec[j] = b[j];
  }
  let totalVar = 0;
  {
    const mu = columnMeans(X);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) totalVar += (X.data[i * d + j] - mu[j]) ** 2;
    totalVar = (totalVar / n) * scale * scale;
  }
  const ctx = opts.context;
  const deadAfter = cfg.deadAfter ?? Math.min(10_000_000, n);
  const lossEvery = opts.lossEvery ?? 64;
  ctx.checkBytes(n * d * 4, `the training data [${n} x ${d}]`);
  const gpu = new GpuTopKTrainer(ctx, {
    dim: d, atoms: cfg.atoms, k: cfg.k, batch, beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay,
 normalizeDecoder: cfg.normalizeDecoder, lossEvery,
    auxkCoef: cfg.auxkCoef, ...(cfg.auxK !== undefined ? { auxK: cfg.auxK } : {}), deadAfter,
  }, { Wenc: sae.Wenc.data, benc: sae.benc, Wdec: sae.Wdec.data, bdec: sae.bdec });
  const Xg = ctx.tensor(X.data, [n, d], 'training data');
  const rowsT = ctx.empty([batch], 'i32', 'batch rows');
  const rowsH = new Int32Array(batch);
  const orderRng = rng.fork('order');
  let permEpoch = -1;
  let perm: Int32Array = new Int32Array(0);
  const t0 = performance.now();
  const interval = opts.progressIntervalMs ?? 250;
  let lastReport = -Infinity;
  let sqErr = NaN;
  // the dead-latent statistics as the trainer keeps them (dead-latents.ts), read back from the GPU's copy
  const dead = new DeadLatentStats(cfg.atoms, deadAfter);
  const copyBack = async () => {
    const p = await gpu.readParams();
    sae.Wenc.data.set(p.Wenc);
    sae.benc.set(p.benc);
    sae.Wdec.data.set(p.Wdec);
    sae.bdec.set(p.bdec);
    const lf = await gpu.readLastFired();
    if (lf) dead.lastFired.set(lf);
    dead.samplesSeen = gpu.samplesSeen;
  };
  let loss = NaN;
  try {
    for (let step = 0; step < total; step++) {
      checkAborted(signal);
      for (let r = 0; r < batch; r++) {
        const pos = step * batch + r;
        const epoch = Math.floor(pos / n);
        if (epoch !== permEpoch) {
          perm = orderRng.fork(epoch).permutation(n);
          permEpoch = epoch;
        }
        rowsH[r] = perm[pos - epoch * n];
      }
      rowsT.write(rowsH);
      gpu.gatherBatch(Xg, rowsT, 0, scale);
      gpu.step(learningRate(schedule, step));
      const done = step + 1;
      if (done % lossEvery === 0 || done === total) {
        const losses = await gpu.readLosses(), aux = await gpu.readAuxLosses();
        for (let s = 0; s < losses.length; s++) {
          const l = losses[s] + aux[s];
          if (!Number.isFinite(l)) fail('E_DIVERGED', `training diverged at step ${done - losses.length + s + 1} (loss ${l}); lower the learning rate (lr ${cfg.lr})`, { step: done - losses.length + s + 1 });
        }
        sqErr = losses[losses.length - 1];
        loss = sqErr + aux[aux.length - 1];
        const now = performance.now();
        if (opts.onProgress && (now - lastReport >= interval || done === total)) {
          lastReport = now;
          await copyBack();
          const secs = (now - t0) / 1000, sps = secs > 0 ? (done * batch) / secs : 0;
          opts.onProgress({
            step: done, totalSteps: total, epoch: Math.floor((done * batch) / n), loss, mse: sqErr / d, sqErr, fvu: totalVar > 0 ? sqErr / totalVar : NaN,
            l0: NaN, deadFraction: dead.deadFraction(new Uint8Array(cfg.atoms)), samplesPerSec: sps, etaSeconds: sps > 0 ? ((total - done) * batch) / sps : 0, lr: learningRate(schedule, step),
          });
        }
      }
    }
    await copyBack();
  } finally {
    gpu.destroy();
    Xg.destroy();
    rowsT.destroy();
  }
  for (const [name, p] of [['W_enc', sae.Wenc.data], ['b_enc', sae.benc], ['W_dec', sae.Wdec.data], ['b_dec', sae.bdec]] as const) {
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i])) fail('E_DIVERGED', `training diverged: parameter ${name} holds ${p[i]}; lower the learning rate`);
  }
  sae.foldScale(scale);
  const seconds = (performance.now() - t0) / 1000;
  const fvu = totalVar > 0 ? sqErr / totalVar : NaN;
  const deadFraction = dead.deadFraction(new Uint8Array(cfg.atoms));
  const mse = sqErr / d;
  sae.trainingStats = { steps: total, loss, mse, sqErr, fvu, deadFraction, inputScale: scale };
  return { steps: total, loss, mse, sqErr, fvu, deadFraction, seconds, samplesPerSec: seconds > 0 ? (total * batch) / seconds : 0, inputScale: scale };
}
