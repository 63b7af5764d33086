import type { Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import type { ResolvedSAEConfig } from './sae/config.js';

/** One trainable parameter buffer with its gradient (same length) and whether weight decay applies. */
export interface TrainableParam {
  name: string;
  param: Float32Array;
  grad: Float32Array;
  decay: boolean;
}

/** Loss parts of one training step (per-batch means in the scaled training space). */
export interface StepStats {
  loss: number;
  /** (1/n) Σ_i ‖x̂_i − x_i‖²: the squared reconstruction error per row (dim × the per-entry mse) */
  sqErr: number;
  /** mean active latents per row */
  l0: number;
  /** auxiliary (AuxK) loss, 0 when unused */
  aux: number;
}

/**
 * What a training step gets and gives about dead latents. The statistics (when each latent last
 * fired) belong to the trainer (`dead-latents.ts`); a step only reads the mask and reports.
 */
export interface LatentActivity {
  /** in: 1 for each latent dead before this batch (not fired within the trainer's window) */
  dead: Uint8Array;
  /** out (overwritten): 1 for each latent that fired in this batch */
  fired: Uint8Array;
}

/**
 * What the SAE trainer (`trainer.ts`) needs of a model: the model owns its parameters and its
 * forward/backward; the trainer owns the loop, the optimiser, the schedule and checkpoints.
 * `SparseAutoencoder` implements it; the trainer never imports a model class, so the model can
 * call the trainer (its `fit`) without an import cycle.
 */
export interface Trainable {
  readonly kind: string;
  readonly config: ResolvedSAEConfig;
  /** allocate and initialise parameters for inputs of width dim */
  initParams(dim: number, rng: Rng): void;
  /** the parameter buffers, in a fixed order (the optimiser's and the checkpoint's) */
  paramList(): TrainableParam[];
  /**
   * forward and backward on one batch: fills every param's grad, marks the latents that fired in
   * activity.fired, gives the auxiliary dead-latent loss (AuxK) activity.dead; returns the loss parts
   */
  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats;
  /** after each optimiser step (e.g. clamp thresholds) */
  afterStep(): void;
  /** codes for a batch in the training space (held-out FVU checks) */
  encode(X: Matrix): Matrix;
  /** reconstructions from codes in the training space */
  decode(Z: Matrix): Matrix;
  /** renormalise decoder rows to unit norm */
  normalizeDecoder(): void;
  /** divide the training-space input scale out of the parameters, at the end of training */
  foldScale(c: number): void;
  /** state beyond the parameters that a checkpoint must keep */
  extraState(): Record<string, number>;
  setExtraState(s: Record<string, number>): void;
  /** [dim] decoder bias (initialised by the trainer from the data) */
  bdec: Float32Array;
  /** [atoms x dim] decoder and its gradient (the trainer projects the gradient radially) */
  Wdec: Matrix;
  gWdec: Matrix;
  /** true while the trainer runs (training-only statistics are updated only then) */
  training: boolean;
  /**
   * the factor the model's sparsity coefficient (ReLU's l1, JumpReLU's l0) is multiplied by in
   * the next step: the trainer sets it from the coefficient warm-up and the L0 controller
   * (sparsity-schedule.ts); 1 outside training
   */
  sparsityScale?: number;
  trainingStats: Record<string, number>;
  /**
   * the columns of a training row the model reconstructs, when not all of them (transcoders train
   * on joint rows [x | y] and reconstruct y): b_dec is initialised from these columns and the
   * FVU's variance is theirs [all columns]
   */
  readonly targetColumns?: { start: number; end: number };
  /** models whose reconstruction is not decode(encode(rows)) (transcoders) score held-out rows themselves: FVU and mean L0 */
  heldOutScore?(rows: Matrix): { fvu: number; l0: number };
  /** models that resample dead latents (ReLU SAEs) return the latents they re-initialised (the trainer counts them as just fired) */
  resampleDead?(xb: Matrix, dead: Uint8Array, rng: Rng): number[];
}
