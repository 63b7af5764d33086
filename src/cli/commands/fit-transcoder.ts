import { existsSync, unlinkSync } from 'node:fs';
import { fail } from '../../core/errors.js';
import { checkpointPath, jointRows, TopKTranscoder, type TranscoderConfig } from '../../dictionary/index.js';
import { trainSAE } from '../../dictionary/trainer.js';
import { saveModel, type ModelSpec } from '../../io/model.js';
import type { Context } from '../command.js';
import { readMatrixArg } from '../inputs.js';
import { trainerBudget, trainerProgressBar } from './fit-budget.js';

/**
 * `fit topk-transcoder --input X.npy --target Y.npy --atoms N --k K [--skip]`: a TopK transcoder
 * (dictionary/sae/transcoder.ts) trained by the SAE trainer on joint rows [x | y] (in memory),
 * written as a SAELens-style transcoder folder (io/model.ts); the summary's FVU is the target's.
 */
export async function fitTranscoder(ctx: Context, epochs: number | 'auto' | undefined, auto: boolean): Promise<void> {
  const o = ctx.opts;
  if (o.target === undefined) fail('E_USAGE', 'fit topk-transcoder needs --target Y.npy (the rows the transcoder reconstructs from --input X.npy)');
  if (o.k === undefined) fail('E_USAGE', 'fit topk-transcoder needs --k K (active latents per row)');
  for (const opt of ['whiten', 'widths', 'l1', 'stream', 'world']) if (o[opt] !== undefined && o[opt] !== false) fail('E_USAGE', `--${opt} does not apply to topk-transcoder`);
  const X = readMatrixArg(o.input, o.tensor, '--input', 'X');
  const Y = readMatrixArg(o.target, o.tensor, '--target', 'Y');
  if (X.rows !== Y.rows) fail('E_SHAPE', `--target ${o.target} has ${Y.rows} rows and --input ${o.input} has ${X.rows} rows; a transcoder needs one target row per input row, in the same order`);
  if (X.rows < 2) fail('E_SHAPE', `${o.input} has ${X.rows} row(s); fit needs at least 2 samples`);
  const J = jointRows(X, Y, { input: o.input, target: o.target });
  const cfg: TranscoderConfig = { atoms: o.atoms, k: o.k, inputDim: X.cols, skip: !!o.skip, ...trainerBudget(o, epochs, auto) };
  const tc = new TopKTranscoder(cfg);
  ctx.note(`fit topk-transcoder: X [${X.rows} x ${X.cols}] from ${o.input} -> Y [${Y.rows} x ${Y.cols}] from ${o.target}${o.skip ? ', skip connection' : ''}`);
  const out: string = o.out;
  const progress = trainerProgressBar(ctx, 'fit topk-transcoder', auto);
  const t0 = performance.now();
  const res = await trainSAE(tc, J, {
    seed: o.seed, signal: ctx.signal, checkpointDir: out, checkpointEvery: o['checkpoint-every'] ?? 0, resume: !!o.resume,
    finalCheckpoint: false, watchConvergence: true,
    onProgress: progress.onProgress,
  });
  progress.finish();
  if (res.resumedFrom !== null) ctx.note(`fit: resumed from step ${res.resumedFrom}`);
  // the target's FVU on (up to) 16384 evenly spaced rows
  const m = Math.min(X.rows, 16384);
  const rows = Int32Array.from({ length: m }, (_, i) => Math.floor((i * X.rows) / m));
  const Xe = X.takeRows(rows), Ye = Y.takeRows(rows);
  const score = tc.heldOutScore(jointRows(Xe, Ye));
  if (!o['allow-diverged'] && !(score.fvu <= 1)) {
    fail('E_DIVERGED', `fit topk-transcoder diverged: FVU of the target ${score.fvu.toPrecision(4)} (above 1: worse than predicting the mean); no model was written. Lower the learning rate${o.lr !== undefined ? ` (--lr ${o.lr})` : ''}, or pass --allow-diverged to keep the model anyway`);
  }
  const evalStats = { fvu: score.fvu, l0: score.l0, evalRows: m, target: o.target };
  const w = tc.getWeights();
  const spec: ModelSpec = {
    kind: 'topk-transcoder', k: o.k,
    weights: { W_enc: w.W_enc, b_enc: w.b_enc, W_dec: w.W_dec, b_dec: w.b_dec, ...(w.W_skip ? { W_skip: w.W_skip } : {}) },
    training: { ...res, seed: o.seed, config: tc.config, skip: !!o.skip, inputDim: X.cols, eval: evalStats, seconds: (performance.now() - t0) / 1000, method: 'topk-transcoder' },
  };
  saveModel(out, spec);
  if (existsSync(checkpointPath(out))) unlinkSync(checkpointPath(out));
  const result = {
    method: 'topk-transcoder', atoms: o.atoms, dim: X.cols, d_out: Y.cols, skip: !!o.skip, samples: X.rows, steps: res.steps,
    trainLoss: res.loss, trainL0: res.l0, deadFraction: res.deadFraction, converged: res.converged ?? null, budget: auto ? 'auto' : 'fixed',
    ...(res.heldOutFvu !== undefined ? { [auto ? 'heldOutFvu' : 'watchedFvu']: res.heldOutFvu } : {}),
    fvu: score.fvu, l0: score.l0, seconds: (performance.now() - t0) / 1000, out, streamed: false,
  };
  if (o.json) ctx.print(JSON.stringify(result));
  else {
    ctx.print(`fit topk-transcoder: ${o.atoms} atoms, [${X.rows} x ${X.cols}] -> [${Y.rows} x ${Y.cols}]${o.skip ? ' with skip connection' : ''}, ${res.steps} steps in ${result.seconds.toFixed(1)} s`);
    ctx.print(`  FVU of the target ${score.fvu.toFixed(4)}, L0 ${score.l0.toFixed(2)}, dead ${(100 * res.deadFraction).toFixed(1)}%`);
    if (res.converged === false) ctx.print(`  NOT converged: ${res.convergence?.note ?? ''}`);
    ctx.print(`  model written to ${out}`);
  }
}
