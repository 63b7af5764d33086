// The explorer's LeJEPA playground (runs in a browser Web Worker: no DOM, no Node built-ins): a
// 2-D world (latents z, two OU views, a spiral / banana / sinusoid mixing) and the paper's MLP
// encoder trained live with LeJEPA (λ·SIGReg + (1 − λ)·alignment), with the library's own
// world, objective, trainer and metrics (src/experiments/lejepa.ts runs the same cell). Every
// `every` steps it reports the loss, R²(h → z) on held-out samples and the embedding of a fixed
// set of display points, rotated onto z by the best orthogonal map (the representation is only
// identifiable up to one), so the page can show the spiral unwarp.
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { svd } from '../linalg/svd.js';
import { mlp } from '../nn/index.js';
import { OuWorld, sampleLatents, latentGrid, type LatentLaw } from '../worlds/ou-views.js';
import { ViewObjective } from '../objectives/views.js';
import { ViewTrainer, constantCosineSchedule, embed } from '../objectives/train.js';
import { linearIdentifiabilityR2 } from '../metrics/identifiability.js';

export const LEJEPA_PLAYGROUND_MIXINGS = ['spiral', 'banana', 'sinusoid'] as const;
export type LejepaPlaygroundMixing = (typeof LEJEPA_PLAYGROUND_MIXINGS)[number];

export interface LejepaPlaygroundParams {
  mixing: LejepaPlaygroundMixing;
  /** weight of SIGReg in λ·SIGReg + (1 − λ)·alignment */
  lambda: number;
  /** OU correlation of the views with the anchor */
  rho: number;
  /** generalised-normal shape of the latents (2 = Gaussian) */
  alpha: number;
  steps: number;
  /** MLP width and hidden layers (the paper: 256 and 4) */
  width: number;
  layers: number;
  /** SIGReg directions per step */
  directions: number;
  /** anchors per step */
  batch: number;
  lr: number;
  seed: number;
  /** report every this many steps */
  every: number;
  /** display points */
  points: number;
}

export const LEJEPA_PLAYGROUND_DEFAULTS: LejepaPlaygroundParams = {
  mixing: 'spiral', lambda: 1e-3, rho: 0.95, alpha: 2, steps: 3000, width: 64, layers: 4, directions: 64, batch: 256, lr: 3e-3, seed: 0, every: 50, points: 1200,
};

export type LejepaPlaygroundEvent =
  | { type: 'world'; z: Float32Array; x: Float32Array; r2_xz: number }
  | { type: 'progress'; step: number; total: number; lr: number; loss: number; align: number; sigreg: number; r2_hz: number; r2_hz_grid: number; h: Float32Array }
  | { type: 'done'; seconds: number; r2_hz: number; r2_hz_grid: number }
  | { type: 'error'; message: string };

/** Why the parameters cannot run, or null (the library would also refuse them, with its own message). */
export function lejepaPlaygroundProblem(p: LejepaPlaygroundParams): string | null {
  if (!(p.lambda >= 0 && p.lambda <= 1)) return 'λ must be in [0, 1]';
  if (!(p.rho > -1 && p.rho < 1)) return 'ρ must be in (−1, 1)';
  if (!(p.alpha > 0)) return 'α must be > 0';
  if (!(p.steps >= 1)) return 'at least one step';
  return null;
}

/** `h` rotated onto `z` by the orthogonal Q minimising ‖h·Q − z‖ (Procrustes), both [n × 2]. */
export function alignToLatents(h: Matrix, z: Matrix): Float32Array {
  const d = h.cols;
  const M = new Float64Array(d * d); // hᵀz
  for (let i = 0; i < h.rows; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) M[a * d + b] += h.data[i * d + a] * z.data[i * d + b];
  const { U, Vt } = svd(M, d, d);
  const Q = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += U[a * d + k] * Vt[k * d + b];
    Q[a * d + b] = s;
  }
  const out = new Float32Array(h.rows * d);
  for (let i = 0; i < h.rows; i++) for (let b = 0; b < d; b++) {
    let s = 0;
    for (let a = 0; a < d; a++) s += h.data[i * d + a] * Q[a * d + b];
    out[i * d + b] = s;
  }
  return out;
}

/** Train live and report through `emit`; `shouldStop` is polled between steps. */
export async function runLejepaPlayground(p: LejepaPlaygroundParams, emit: (e: LejepaPlaygroundEvent) => void, shouldStop: () => boolean = () => false): Promise<void> {
  const t0 = performance.now();
  const law: LatentLaw = p.alpha === 2 ? { kind: 'gaussian' } : { kind: 'gennorm', alpha: p.alpha };
  const world = new OuWorld({ latents: 2, mixing: p.mixing, law, rho: p.rho, seed: p.seed });
  const root = new Rng(p.seed);
  const zShow = sampleLatents(root.fork('display'), p.points, 2, law);
  const xShow = world.mixing.apply(zShow);
  const ev = world.evalSet(root.fork('eval'), 2000);
  const zGrid = latentGrid(40, 3);
  const xGrid = world.mixing.apply(zGrid);
  emit({ type: 'world', z: zShow.data.slice(), x: xShow.data.slice(), r2_xz: linearIdentifiabilityR2(ev.x, ev.z).r2 });
  const net = mlp({ sizes: [2, ...Array.from({ length: p.layers }, () => p.width), 2], activation: 'gelu', rng: root.fork('encoder') });
  const encoder = { forward: (x: Matrix, train?: boolean) => net.forward(x, train), backward: (dy: Matrix) => net.backward(dy, false), params: () => net.params(), zeroGrad: () => net.zeroGrad() };
  const trainer = new ViewTrainer({
    encoder, world, objective: new ViewObjective({ kind: 'sigreg', lambda: p.lambda, numDirections: p.directions }),
    batch: p.batch, lr: p.lr, seed: root.fork('train'),
  });
  const score = () => ({ r2_hz: linearIdentifiabilityR2(embed(encoder, ev.x), ev.z).r2, r2_hz_grid: linearIdentifiabilityR2(embed(encoder, xGrid), zGrid).r2 });
  let last = { r2_hz: NaN, r2_hz_grid: NaN };
  const schedule = constantCosineSchedule(p.steps, p.lr);
  for (let t = 0; t <= p.steps; t++) {
    if (shouldStop()) return;
    const rate = schedule(t);
    const v = trainer.step(rate);
    if (t % p.every === 0 || t === p.steps) {
      last = score();
      const h = embed(encoder, xShow);
      emit({ type: 'progress', step: t, total: p.steps, lr: rate, loss: v.value, align: v.parts.align, sigreg: v.parts.sigreg, ...last, h: alignToLatents(h, zShow) });
      // let the worker receive messages (a stop) between reports
      await new Promise<void>((r) => setTimeout(r, 0));
    }
  }
  emit({ type: 'done', seconds: (performance.now() - t0) / 1000, ...last });
}
