import type { Matrix } from '../../core/matrix.js';
import type { SAEConfig } from '../../dictionary/sae/config.js';
import type { SparseAutoencoder } from '../../dictionary/sae/base.js';
import { createSAE } from '../../dictionary/sae/index.js';
import { learnDictionaryFista, type DictionaryProgress, type DlFistaCheckpointOptions } from '../../dictionary/dl-fista.js';
import type { TrainProgress } from '../../dictionary/trainer.js';

/**
 * The learned methods of the Stop-Probing protocol, configured as the paper (PAPERS sec. 1):
 * SAEs of width n with pre-encoder decoder-bias subtraction, unit-norm decoder rows, AdamW,
 * no learning-rate schedule, no input scaling, no auxiliary losses; DL-FISTA (FISTA + MOD).
 */

export type SaeKindName = 'relu' | 'topk' | 'jumprelu' | 'mp';

export interface StopProbingSAEOptions {
  /** width (= n latents) */
  atoms: number;
  /** true k: TopK's k and matching pursuit's number of steps */
  k: number;
  lr: number;
  batch: number;
  epochs: number;
  /**
   * γ of the paper's loss mean((x̂−x)²) + γ·R(z), the mean taken over rows and dims. sparsecode's
   * SAE losses sum the squared error over dims, so the coefficient passed on is γ·dim.
   */
  gamma: number;
  /** AdamW decoupled weight decay (PyTorch's AdamW default is 0.01) */
  weightDecay: number;
  seed: number | string;
  signal?: AbortSignal;
  /**
   * checkpoints of the training (the trainer's own mechanism): written to this folder every
   * `checkpointEvery` steps or `checkpointSeconds` seconds and at the end, and resumed from when the folder holds one
   */
  checkpointDir?: string;
  /** steps between checkpoints (with checkpointDir; 0 = only at the end and on cancel) */
  checkpointEvery?: number;
  /** seconds between checkpoints (with checkpointDir; with checkpointEvery, whichever comes first) */
  checkpointSeconds?: number;
  /** training progress, at most every progressIntervalMs (the trainer's default 250 ms) */
  onProgress?: (p: TrainProgress) => void;
  progressIntervalMs?: number;
}

export interface TrainedSAE {
  kind: SaeKindName;
  /** decoder [atoms x dim] */
  decoder: Matrix;
  /** decoder bias [dim] (subtracted from inputs before FISTA on the frozen decoder) */
  decoderBias: Float32Array;
  encode(X: Matrix): Matrix;
  model: SparseAutoencoder;
  /** the training step it resumed from (a checkpoint in checkpointDir), or null */
  resumedFrom: number | null;
  /** seconds of training recorded in that checkpoint (0 when none) */
  resumedSeconds: number;
  /** training steps in all */
  steps: number;
}

/** The SAE config the paper's settings translate to, for inputs of width `dim`. */
export function paperSAEConfig(kind: SaeKindName, dim: number, o: StopProbingSAEOptions): SAEConfig {
  const cfg: SAEConfig = {
    atoms: o.atoms,
    lr: o.lr,
    batch: o.batch,
    epochs: o.epochs,
    weightDecay: o.weightDecay,
    warmupSteps: 0,
    decaySteps: 0,
    normalizeDecoder: true,
    scaleInputs: false,
    bDecInit: 'zeros',
    resampleEvery: 0,
  };
  if (kind === 'relu') cfg.l1 = o.gamma * dim;
  if (kind === 'jumprelu') {
    cfg.l0 = o.gamma * dim;
    cfg.thresholdInit = 1e-3;
    cfg.bandwidth = 1e-3;
  }
  if (kind === 'topk') {
    cfg.k = o.k;
    cfg.auxkCoef = 0;
  }
  if (kind === 'mp') cfg.k = o.k;
  return cfg;
}

/** Train one SAE on X (the train split) with the paper's settings. */
export async function fitStopProbingSAE(kind: SaeKindName, X: Matrix, o: StopProbingSAEOptions): Promise<TrainedSAE> {
  const sae = createSAE(kind, paperSAEConfig(kind, X.cols, o));
  const ck = o.checkpointDir ? { checkpointDir: o.checkpointDir, checkpointEvery: o.checkpointEvery ?? 0, checkpointSeconds: o.checkpointSeconds, resume: true } : {};
  const r = await sae.fit(X, { seed: o.seed, signal: o.signal, ...ck, ...(o.onProgress ? { onProgress: o.onProgress, progressIntervalMs: o.progressIntervalMs } : {}) });
  const w = sae.getWeights();
  return { kind, decoder: w.W_dec, decoderBias: w.b_dec, encode: (Xn: Matrix) => sae.encode(Xn), model: sae, resumedFrom: r.resumedFrom, resumedSeconds: r.resumedSeconds, steps: r.steps };
}

export interface DictionaryRun {
  D: Matrix;
  Z: Matrix;
  iterations: number;
  converged: boolean;
  /** the outer step it resumed from (a checkpoint), or null */
  resumedFrom: number | null;
  /** seconds of work recorded in that checkpoint (0 when none) */
  resumedSeconds: number;
}

/**
 * DL-FISTA: random unit-norm D, then warm-started FISTA steps and MOD updates (non-negative codes).
 * `checkpoint`: learnDictionaryFista's checkpoint/resume (a folder; bit-exact resume).
 */
export async function learnStopProbingDictionary(
  X: Matrix,
  o: {
    atoms: number; lambda: number; fistaIters: number; maxOuter: number; tol: number; seed: number | string; signal?: AbortSignal; checkpoint?: DlFistaCheckpointOptions;
    /** unused atoms: re-drawn (default) or left at zero (the reference) */
    deadAtoms?: 'redraw' | 'zero';
    /** per outer step (costs one residual of the codes per step) */
    onProgress?: (p: DictionaryProgress) => void;
  },
): Promise<DictionaryRun> {
  const r = await learnDictionaryFista(X, {
    atoms: o.atoms,
    lambda: o.lambda,
    fistaIters: o.fistaIters,
    maxOuter: o.maxOuter,
    tol: o.tol,
    nonneg: true,
    deadAtoms: o.deadAtoms,
    seed: o.seed,
    signal: o.signal,
    checkpoint: o.checkpoint,
    onProgress: o.onProgress,
  });
  return { D: r.D, Z: r.Z, iterations: r.iterations, converged: r.converged, resumedFrom: r.resumedFrom, resumedSeconds: r.resumedSeconds };
}
