import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import { checkAborted } from '../../core/validate.js';
import { loadCheckpoint } from '../../dictionary/checkpoint.js';
import type { DictionaryProgress } from '../../dictionary/dl-fista.js';
import type { TrainProgress } from '../../dictionary/trainer.js';
import { superpositionWorld, type CompositionalSplit, type World } from '../../worlds/superposition.js';
import { fista } from '../../inference/fista.js';
import { mcc } from '../../metrics/mcc.js';
import { dictionaryRecovery } from '../../metrics/dictionary.js';
import { ridgeProbe, logisticProbe } from '../../metrics/probes.js';
import { bestUnitAuc } from '../../metrics/auc.js';
import type { CellRun } from '../runner.js';
import { clock } from '../report.js';
import { configSlug, stopProbingCheckpointFolder } from './checkpoints.js';
import { methodKind, type StopProbingConfig } from './methods.js';
import type { StopProbingSettings } from './settings.js';
import { fitStopProbingSAE, learnStopProbingDictionary, paperSAEConfig, type SaeKindName, type TrainedSAE } from './training.js';

/** One Stop-Probing cell: a method on one config × seed, and the paper's metrics of its codes. */

/* ---------------------------------------------------------------------------------------- */
/* Metrics                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/**
 * The paper's code metrics: ID on the validation split, OOD on the OOD split.
 * mcc_id: MCC against the active true latents (noise padding); mcc_ood: the OOD rule (active
 * latents only, as many code columns of largest variance); acc_id / acc_ood: unregularised
 * logistic regression of y = [z₀ > 0.5] trained on the ID codes; auc_ood: the unit with the
 * best ID AUC, scored on OOD.
 */
export function codeMetrics(world: World<CompositionalSplit>, codesId: Matrix, codesOod: Matrix): Record<string, number> {
  const out: Record<string, number> = {};
  out.mcc_id = mcc(codesId, world.Z.val).mcc;
  out.mcc_ood = mcc(codesOod, world.Z.ood, { ood: true }).mcc;
  const lr = logisticProbe(codesId, world.y.val, codesOod, world.y.ood);
  out.acc_id = lr.trainAccuracy;
  out.acc_ood = lr.accuracy;
  out.auc_ood = bestUnitAuc(codesId, world.y.val, codesOod, world.y.ood).aucOod;
  return out;
}

function dictMetrics(learned: Matrix, truth: Matrix): Record<string, number> {
  const r = dictionaryRecovery(learned, truth);
  return { dict_mean_cos: r.meanCos, dict_frac_090: r.frac090 };
}

/** Subtract a bias vector from every row (a copy). */
function subtractRow(X: Matrix, b: Float32Array): Matrix {
  const out = X.clone();
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) out.data[i * d + j] -= b[j];
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

function getWorld(config: StopProbingConfig, cache: Map<string, unknown>): World<CompositionalSplit> {
  let w = cache.get('world') as World<CompositionalSplit> | undefined;
  if (!w) {
    w = superpositionWorld({ latents: config.latents, active: config.active, samples: config.samples, dim: config.dim, seed: config.seed, split: 'compositional' });
    cache.set('world', w);
  }
  return w;
}

/** Options of one cell beyond its config and settings (all optional). */
export interface StopProbingCellOptions {
  /**
   * folder for the checkpoints of the cells that learn (runStopProbing: DIR/checkpoints).
   * DL-FISTA checkpoints to `<dir>/<config>/dl-fista/`, each SAE kind to `<dir>/<config>/sae-<kind>/`
   * (one folder for an SAE and FISTA on its decoder, which share the trained SAE); a cell
   * resumes from its folder when it holds a checkpoint. Nothing is written without it.
   */
  checkpointDir?: string;
  /** DL-FISTA: seconds between checkpoints [60] */
  dlCheckpointSeconds?: number;
  /** SAEs: seconds between checkpoints [60] */
  saeCheckpointSeconds?: number;
  /** SAEs: epochs between checkpoints instead of seconds (a fixed step interval) */
  saeCheckpointEpochs?: number;
  /**
   * notes for the user: a cell that resumed from a checkpoint, and inside the cells that learn
   * a progress line every `progressSeconds` (DL-FISTA's outer step and relative change, an
   * SAE's epoch, FVU and ETA)
   */
  onNote?: (message: string) => void;
  /** seconds between progress notes from inside a cell [60] */
  progressSeconds?: number;
}

/** DL-FISTA progress as a note at most every `everyMs`: outer step, relative change of D, L0, time per step. */
function dlProgressNotes(config: StopProbingConfig, settings: StopProbingSettings, note: (m: string) => void, everyMs: number): (p: DictionaryProgress) => void {
  let last = performance.now();
  let lastStep = -1;
  return (p) => {
    const now = performance.now();
    if (lastStep < 0) lastStep = p.step - 1;
    if (now - last < everyMs) return;
    const perStep = (now - last) / 1000 / Math.max(1, p.step - lastStep);
    note(`dl-fista n=${config.latents} seed=${config.seed}: outer step ${p.step}/${p.total} (stops when ‖ΔD‖/‖D‖ < ${settings.dlTol}: now ${p.relChange.toExponential(2)}), L0 ${p.l0.toFixed(1)}, ${perStep.toFixed(1)} s/step, at most ${clock(perStep * (p.total - p.step))} left`);
    last = now;
    lastStep = p.step;
  };
}

/** What a cell needs besides its config and settings, resolved from its options and the runner's context. */
interface CellContext {
  /** the cell's checkpoint folder, or undefined */
  folder?: string;
  note?: (message: string) => void;
  options: StopProbingCellOptions;
  run?: CellRun;
}

async function getSAE(
  kind: SaeKindName, config: StopProbingConfig, world: World<CompositionalSplit>, settings: StopProbingSettings, cache: Map<string, unknown>,
  signal: AbortSignal | undefined, cx: CellContext,
): Promise<TrainedSAE> {
  const key = `sae:${kind}`;
  let t = cache.get(key) as TrainedSAE | undefined;
  if (!t) {
    const o = {
      atoms: config.latents,
      k: config.active,
      lr: settings.saeLr,
      batch: settings.saeBatch,
      epochs: settings.saeEpochs,
      gamma: settings.saeGamma,
      weightDecay: settings.saeWeightDecay,
      seed: `${config.seed}:sae:${kind}`,
      signal,
    };
    const Xt = world.X.train;
    let ck: { checkpointDir: string; checkpointEvery?: number; checkpointSeconds?: number } | undefined;
    if (cx.folder) {
      const dir = cx.folder;
      // the trainer checks the shapes and step counts; the hyperparameters are checked here
      const prev = loadCheckpoint(dir);
      if (prev) {
        const had = (prev.state.config ?? {}) as Record<string, unknown>;
        for (const [k, v] of Object.entries(paperSAEConfig(kind, Xt.cols, o))) {
          if (JSON.stringify(had[k]) !== JSON.stringify(v)) {
            fail('E_ARG', `the SAE checkpoint in ${dir} was trained with ${k} = ${JSON.stringify(had[k])}, this run has ${k} = ${JSON.stringify(v)}; delete ${dir} to train afresh`);
          }
        }
      }
      // by wall time, as DL-FISTA (a cell of seconds writes none in between: each is an fsync'd
      // file, and 100 per cell once cost a fifth of a small cell's time and serialised two
      // workers on the disk); saeCheckpointEpochs asks for a fixed step interval instead
      const epochs = cx.options.saeCheckpointEpochs;
      if (epochs !== undefined) {
        if (!Number.isInteger(epochs) || epochs < 1) fail('E_ARG', `saeCheckpointEpochs must be a positive integer, got ${epochs}`);
        const stepsPerEpoch = Math.ceil(Xt.rows / Math.min(settings.saeBatch, Xt.rows));
        ck = { checkpointDir: dir, checkpointEvery: epochs * stepsPerEpoch };
      } else {
        const seconds = cx.options.saeCheckpointSeconds ?? cx.run?.checkpointSeconds ?? 60;
        if (!(seconds > 0)) fail('E_ARG', `saeCheckpointSeconds must be a positive number, got ${seconds}`);
        ck = { checkpointDir: dir, checkpointSeconds: seconds };
      }
    }
    const every = (cx.options.progressSeconds ?? 60) * 1000;
    const note = cx.note;
    const where = `${kind} SAE n=${config.latents} seed=${config.seed}`;
    const onProgress = note
      ? (p: TrainProgress) => {
          if (p.step < p.totalSteps) note(`${where}: epoch ${p.epoch}/${settings.saeEpochs}, FVU ${p.fvu.toFixed(3)}, L0 ${p.l0.toFixed(1)}, ETA ${clock(p.etaSeconds)}`);
        }
      : undefined;
    t = await fitStopProbingSAE(kind, Xt, { ...o, ...ck, onProgress, progressIntervalMs: every });
    if (t.resumedFrom !== null) note?.(`${kind} SAE ${configSlug(config)}: resumed from its checkpoint at step ${t.resumedFrom} of ${t.steps}`);
    if (cx.run) cx.run.priorSeconds += t.resumedSeconds;
    cache.set(key, t);
  }
  return t;
}

/**
 * Run one method on one config × seed and return its metrics. `cache` holds what the methods
 * of one group share (the world, a trained SAE). The cells that learn checkpoint and resume
 * in `run.checkpointDir` (the sweep runner's folder for the cell) or, called alone, in their
 * folder under `options.checkpointDir`; `run` also receives the seconds a resumed checkpoint
 * had recorded, and its `note` the progress notes (unless `options.onNote` is given).
 */
export async function runStopProbingCell(
  config: StopProbingConfig, method: string, settings: StopProbingSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
  options: StopProbingCellOptions = {}, run?: CellRun,
): Promise<Record<string, number>> {
  const kind = methodKind(method);
  const cx: CellContext = {
    folder: run?.checkpointDir ?? (options.checkpointDir ? stopProbingCheckpointFolder(options.checkpointDir, config, method) ?? undefined : undefined),
    note: options.onNote ?? run?.note,
    options,
    run,
  };
  checkAborted(signal);
  const world = getWorld(config, cache);
  const { X, Z, A } = world;
  const fistaOpts = { lambda: settings.fistaLambda, iters: settings.fistaIters, tol: 0, nonneg: true, objective: false };

  if (kind.learner === 'probe') {
    // trained on the train half (float64 inside); ID codes are its predictions on val
    const p = ridgeProbe(X.train, Z.train, { alphas: settings.probeAlphas });
    return { ...codeMetrics(world, p.predict(X.val), p.predict(X.ood)), probe_alpha: p.alpha };
  }
  if (kind.learner === 'oracle') {
    const id = fista(X.val, A, fistaOpts).Z;
    const ood = fista(X.ood, A, fistaOpts).Z;
    return codeMetrics(world, id, ood);
  }
  if (kind.learner === 'dl-fista') {
    // the dictionary is learned on the validation split; OOD codes use that dictionary
    const r = await learnStopProbingDictionary(X.val, {
      atoms: config.latents,
      lambda: settings.dlLambda,
      fistaIters: settings.dlFistaIters,
      maxOuter: settings.dlMaxOuter,
      tol: settings.dlTol,
      deadAtoms: settings.dlDeadAtoms,
      seed: `${config.seed}:dl-fista`,
      signal,
      checkpoint: cx.folder ? { dir: cx.folder, everySeconds: options.dlCheckpointSeconds ?? run?.checkpointSeconds ?? 60 } : undefined,
      onProgress: cx.note ? dlProgressNotes(config, settings, cx.note, (options.progressSeconds ?? 60) * 1000) : undefined,
    });
    if (r.resumedFrom !== null) cx.note?.(`dl-fista ${configSlug(config)}: resumed from its checkpoint at outer step ${r.resumedFrom}`);
    if (run) run.priorSeconds += r.resumedSeconds;
    checkAborted(signal);
    // (with dlDeadAtoms 'zero' the dictionary may hold zero atoms: their codes stay 0)
    const ood = fista(X.ood, r.D, { lambda: settings.dlLambda, iters: settings.dlOodIters, tol: 1e-6, nonneg: true, objective: false, allowZeroAtoms: settings.dlDeadAtoms === 'zero' }).Z;
    return { ...codeMetrics(world, r.Z, ood), ...dictMetrics(r.D, A), dl_outer: r.iterations };
  }
  const sae = await getSAE(kind.kind, config, world, settings, cache, signal, cx);
  checkAborted(signal);
  const dict = dictMetrics(sae.decoder, A);
  if (!kind.fistaOn) return { ...codeMetrics(world, sae.encode(X.val), sae.encode(X.ood)), ...dict };
  // FISTA on the frozen decoder, inputs centred by the decoder bias (as the reference code)
  const id = fista(subtractRow(X.val, sae.decoderBias), sae.decoder, fistaOpts).Z;
  const ood = fista(subtractRow(X.ood, sae.decoderBias), sae.decoder, fistaOpts).Z;
  return { ...codeMetrics(world, id, ood), ...dict };
}

/* ---------------------------------------------------------------------------------------- */
/* The whole protocol                                                                        */
/* ---------------------------------------------------------------------------------------- */
