import { STEP_DEFAULTS } from '../../dictionary/convergence.js';
import type { SAEConfig, TrainProgress } from '../../dictionary/index.js';
import type { Context } from '../command.js';
import type { Progress } from '../progress.js';

/**
 * What `fit` and `fit topk-transcoder` share for a model the SAE trainer trains: the budget and
 * optimiser options (--steps | --epochs N | auto with --max-steps, --batch, --lr) as config
 * fields, and the progress bar of the trainer's progress reports.
 */
export function trainerBudget(o: Record<string, any>, epochs: number | 'auto' | undefined, auto: boolean): Pick<SAEConfig, 'steps' | 'epochs' | 'convergence' | 'batch' | 'lr'> {
  const cfg: Pick<SAEConfig, 'steps' | 'epochs' | 'convergence' | 'batch' | 'lr'> = {};
  if (o.steps !== undefined) cfg.steps = o.steps;
  else if (!auto) cfg.epochs = epochs as number;
  else {
    cfg.epochs = 'auto';
    if (o['max-steps'] !== undefined) cfg.convergence = { maxSteps: o['max-steps'], minSteps: Math.min(STEP_DEFAULTS.minSteps, o['max-steps']) };
  }
  if (o.batch !== undefined) cfg.batch = o.batch;
  if (o.lr !== undefined) cfg.lr = o.lr;
  return cfg;
}

/** The trainer's onProgress as a progress bar named `label` (loss, FVU, L0, dead, samples/s, the watched FVU); finish() ends it. */
export function trainerProgressBar(ctx: Context, label: string, auto: boolean): { onProgress: (p: TrainProgress) => void; finish: () => void } {
  let bar: Progress | null = null;
  const onProgress = (p: TrainProgress) => {
    bar ??= ctx.progress(label, p.totalSteps, 'steps');
    bar.setTotal(p.totalSteps);
    const fields: Record<string, string | number> = { loss: p.loss, FVU: p.fvu, L0: p.l0, dead: `${(100 * p.deadFraction).toFixed(1)}%`, 'samples/s': Math.round(p.samplesPerSec) };
    if (p.heldOutFvu !== undefined && Number.isFinite(p.heldOutFvu)) fields[auto ? 'held-out FVU' : 'watched FVU'] = p.heldOutFvu;
    bar.update(p.step, fields);
  };
  return { onProgress, finish: () => bar?.finish() };
}
