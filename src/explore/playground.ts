// The explorer playground's computation (runs in a browser Web Worker: no DOM, no Node
// built-ins). It follows the Stop-Probing protocol (src/experiments/stop-probing/,
// runStopProbingCell) on a small world, with the library's own functions, and reports as it
// trains.
import { Matrix } from '../core/matrix.js';
import { superpositionWorld, defaultDim, type CompositionalSplit, type World } from '../worlds/superposition.js';
import { fista } from '../inference/fista.js';
import { mcc } from '../metrics/mcc.js';
import { dictionaryRecovery } from '../metrics/dictionary.js';
import { ridgeProbe } from '../metrics/ridge-probe.js';
import { createSAE } from '../dictionary/sae/index.js';
import { learnDictionaryFista } from '../dictionary/dl-fista.js';
import { FULL_SETTINGS, type StopProbingSettings } from '../experiments/stop-probing/settings.js';
import { paperSAEConfig } from '../experiments/stop-probing/training.js';
import { fitTopKWebGpu } from '../dictionary/sae/webgpu-fit.js';
import type { TopKSAE } from '../dictionary/sae/topk.js';
import type { WebGpuContext } from '../backend/webgpu/context.js';

export const PLAYGROUND_METHODS = ['probe', 'oracle', 'topk-sae', 'dl-fista'] as const;
export type PlaygroundMethod = (typeof PLAYGROUND_METHODS)[number];

export const METHOD_NAMES: Record<PlaygroundMethod, string> = {
  probe: 'Linear probe',
  oracle: 'FISTA oracle',
  'topk-sae': 'TopK SAE',
  'dl-fista': 'DL-FISTA',
};

/** The paper's hyperparameters (FULL_SETTINGS of the protocol), with shorter training as sliders set. */
export type PlaygroundSettings = StopProbingSettings;

export const PLAYGROUND_SETTINGS: PlaygroundSettings = { ...FULL_SETTINGS, dlMaxOuter: 300 };

export interface PlaygroundParams {
  /** n latents */
  latents: number;
  /** m observed dimensions */
  dim: number;
  /** k active latents per sample */
  active: number;
  /** N in-distribution samples (half train, half validation) */
  samples: number;
  seed: number;
  settings: PlaygroundSettings;
  methods: PlaygroundMethod[];
}

export interface MethodMetrics {
  mcc_id: number;
  mcc_ood: number;
  dict_mean_cos?: number;
  dict_frac_090?: number;
}

export type PlaygroundEvent =
  | { type: 'world'; latents: number; dim: number; active: number; sizes: Record<string, number>; A: Float32Array }
  | { type: 'start'; method: PlaygroundMethod }
  | { type: 'progress'; method: PlaygroundMethod; step: number; total: number; loss: number; mcc_id?: number; atoms?: Float32Array }
  | { type: 'result'; method: PlaygroundMethod; metrics: MethodMetrics; atoms?: Float32Array; seconds: number }
  | { type: 'done'; seconds: number }
  | { type: 'error'; message: string };

/** Why the sliders' combination cannot make a compositional world, or null. */
export function paramsProblem(p: { latents: number; dim: number; active: number; samples: number }): string | null {
  const nOod = Math.floor(p.latents / 2);
  const idPool = p.latents - nOod - 1;
  if (p.active - 1 > idPool) return `k = ${p.active} is too large for n = ${p.latents}: the compositional split needs k − 1 ≤ ${idPool}; raise n to at least ${2 * p.active}`;
  if (p.dim < 1) return 'm must be at least 1';
  if (p.samples < 8) return 'N must be at least 8';
  return null;
}

export { defaultDim };

function codeMetrics(world: World<CompositionalSplit>, id: Matrix, ood: Matrix): MethodMetrics {
  return { mcc_id: mcc(id, world.Z.val).mcc, mcc_ood: mcc(ood, world.Z.ood, { ood: true }).mcc };
}

function subtractRow(X: Matrix, b: Float32Array): Matrix {
  const out = X.clone();
  const d = X.cols;
  for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) out.data[i * d + j] -= b[j];
  return out;
}

const now = () => performance.now();

/** Where the playground runs: with `webgpu`, the TopK SAE trains on that GPU (fitTopKWebGpu). */
export interface PlaygroundRuntime {
  webgpu?: WebGpuContext | null;
}

/** Run the playground: world, then each method; `emit` receives every event (atoms are copies). */
export async function runPlayground(p: PlaygroundParams, emit: (e: PlaygroundEvent) => void, runtime: PlaygroundRuntime = {}): Promise<void> {
  const t0 = now();
  const s = p.settings;
  const world = superpositionWorld({ latents: p.latents, active: p.active, samples: p.samples, dim: p.dim, seed: p.seed, split: 'compositional' });
  const { X, Z, A } = world;
  emit({ type: 'world', latents: p.latents, dim: p.dim, active: p.active, sizes: { ...world.sizes }, A: A.data.slice() });
  const fistaOpts = { lambda: s.fistaLambda, iters: s.fistaIters, tol: 0, nonneg: true, objective: false };
  for (const method of p.methods) {
    const t = now();
    emit({ type: 'start', method });
    let metrics: MethodMetrics;
    let atoms: Float32Array | undefined;
    if (method === 'probe') {
      const pr = ridgeProbe(X.train, Z.train, { alphas: s.probeAlphas });
      metrics = codeMetrics(world, pr.predict(X.val), pr.predict(X.ood));
    } else if (method === 'oracle') {
      metrics = codeMetrics(world, fista(X.val, A, fistaOpts).Z, fista(X.ood, A, fistaOpts).Z);
    } else if (method === 'topk-sae') {
      const sae = createSAE('topk', paperSAEConfig('topk', X.train.cols, {
        atoms: p.latents, k: p.active, lr: s.saeLr, batch: s.saeBatch, epochs: s.saeEpochs, gamma: s.saeGamma, weightDecay: s.saeWeightDecay, seed: `${p.seed}:sae:topk`,
      }));
      const fitOpts = {
        seed: `${p.seed}:sae:topk`,
        progressIntervalMs: 50,
        onProgress: (pg: { step: number; totalSteps: number; sqErr: number }) => {
          const w = sae.getWeights();
          const live = mcc(sae.encode(X.val), Z.val).mcc;
          emit({ type: 'progress', method, step: pg.step, total: pg.totalSteps, loss: pg.sqErr, mcc_id: live, atoms: w.W_dec.data.slice() });
        },
      };
      if (runtime.webgpu) await fitTopKWebGpu(sae as TopKSAE, X.train, { ...fitOpts, context: runtime.webgpu, lossEvery: 16 });
      else await sae.fit(X.train, fitOpts);
      const w = sae.getWeights();
      const rec = dictionaryRecovery(w.W_dec, A);
      metrics = { ...codeMetrics(world, sae.encode(X.val), sae.encode(X.ood)), dict_mean_cos: rec.meanCos, dict_frac_090: rec.frac090 };
      atoms = w.W_dec.data.slice();
    } else {
      const r = await learnDictionaryFista(X.val, {
        atoms: p.latents, lambda: s.dlLambda, fistaIters: s.dlFistaIters, maxOuter: s.dlMaxOuter, tol: s.dlTol, nonneg: true, seed: `${p.seed}:dl-fista`,
        onProgress: (pg) => emit({ type: 'progress', method, step: pg.step, total: pg.total, loss: pg.loss }),
      });
      const ood = fista(X.ood, r.D, { lambda: s.dlLambda, iters: s.dlOodIters, tol: 1e-6, nonneg: true, objective: false }).Z;
      const rec = dictionaryRecovery(r.D, A);
      metrics = { ...codeMetrics(world, r.Z, ood), dict_mean_cos: rec.meanCos, dict_frac_090: rec.frac090 };
      atoms = r.D.data.slice();
    }
    emit({ type: 'result', method, metrics, atoms, seconds: (now() - t) / 1000 });
  }
  emit({ type: 'done', seconds: (now() - t0) / 1000 });
}
