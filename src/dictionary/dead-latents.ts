import { fail } from '../core/errors.js';
import type { LatentActivity } from './trainable.js';
/**
 * Dead-latent statistics, owned by the trainer (as sparsify's `num_tokens_since_fired`): when
 * each latent last fired, counted in training samples. Before a step the trainer takes the mask
 * of latents dead so far and passes it to the model (`LatentActivity.dead`); after the step it
 * records the latents the model reports as fired. Checkpoints keep `lastFired` (tensor
 * `last_fired`) and `samplesSeen`.
 */
export class DeadLatentStats {
  /** the training sample count at which each latent last fired (0: never since the start) */
  readonly lastFired: Float64Array;
  /** training samples seen so far */
  samplesSeen = 0;

  /**
   * @param atoms latents
   * @param deadAfter a latent is dead once it has not fired for this many samples
   */
  constructor(readonly atoms: number, readonly deadAfter: number) {
    this.lastFired = new Float64Array(atoms);
  }

  /** Writes 1 into `out` for each latent that has not fired within the last deadAfter samples; returns their count. */
  mask(out: Uint8Array): number {
    let dead = 0;
    const lf = this.lastFired, seen = this.samplesSeen, after = this.deadAfter;
    for (let a = 0; a < this.atoms; a++) {
      const isDead = seen - lf[a] >= after ? 1 : 0;
      out[a] = isDead;
      dead += isDead;
    }
    return dead;
  }

  /** The fraction of latents dead now. */
  deadFraction(scratch: Uint8Array): number {
    return this.mask(scratch) / this.atoms;
  }

  /** After a batch of `rows` samples: the latents with fired[a] = 1 last fired at its end. */
  record(fired: Uint8Array, rows: number): void {
    const stamp = this.samplesSeen + rows, lf = this.lastFired;
    for (let a = 0; a < this.atoms; a++) if (fired[a]) lf[a] = stamp;
    this.samplesSeen = stamp;
  }

  /** Latents re-initialised by resampling count as having just fired. */
  revive(latents: readonly number[]): void {
    for (const a of latents) this.lastFired[a] = this.samplesSeen;
  }
}

/**
 * The buffer a training step marks fired latents in: the trainer's `activity.fired` (checked to
 * hold one entry per latent), or `scratch` (grown to `atoms`) when the step runs without a trainer.
 */
export function firedBuffer(activity: LatentActivity | undefined, atoms: number, scratch: { buf: Uint8Array }): Uint8Array {
  if (activity) {
    if (activity.fired.length !== atoms || activity.dead.length !== atoms) {
      fail('E_SHAPE', `LatentActivity: dead and fired must hold one entry per latent (${atoms}), got ${activity.dead.length} and ${activity.fired.length}`);
    }
    return activity.fired;
  }
  if (scratch.buf.length !== atoms) scratch.buf = new Uint8Array(atoms);
  return scratch.buf;
}

/**
 * AuxK's latents (Gao et al.): dead before this batch and not fired in it, written to `out`;
 * returns how many.
 */
export function auxkDeadMask(activity: LatentActivity, fired: Uint8Array, out: Uint8Array): number {
  const was = activity.dead;
  let dead = 0;
  for (let a = 0; a < out.length; a++) {
    const v = was[a] && !fired[a] ? 1 : 0;
    out[a] = v;
    dead += v;
  }
  return dead;
}
