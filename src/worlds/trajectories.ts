import { fail } from '../core/errors.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Synthetic embedding trajectories for ReStraV (docs/probing.md §1–3): "natural" videos are smooth,
 * low-curvature paths in a high-dimensional embedding space; "generated" videos are drawn from
 * the same path law and then perturbed the way generators break temporal coherence.
 *
 * Natural path of one video (frames t = 0 … T−1, s_t = t/(T−1) plus a mild smooth speed change):
 *
 *   z(s) = c + L·s·u₀ + Σ_{k=1..3} b_k·(cos(ω_k s + φ_k) − cos φ_k)·u_k + ε_t
 *
 * with c ~ N(0, I) (the scene), u_k random unit directions, L ~ U(1, 3) (how far the clip moves),
 * ω_k ~ U(0.5, 2.5) rad over the clip, b_k ~ L·U(0.05, 0.25) (gentle bends), and sensor noise
 * ε_t ~ N(0, σ²I) with σ√D = η·ℓ, η ~ U(0.05, 0.3), ℓ = L/(T−1) the mean step. Curvature of
 * these paths: roughly 10°–40° per frame.
 *
 * Perturbations (each generated video gets one; `strength` scales every magnitude):
 *  - `jitter`: extra per-frame noise, ‖noise‖ ≈ η_j·ℓ with η_j ~ strength·U(0.3, 1): frames
 *    wobble around the path.
 *  - `resample`: one segment of 4–8 frames is re-sampled from the path at another speed
 *    (×U(1.8, 3) or ×U(0.25, 0.5)); after it the video snaps back to the original timeline,
 *    so the segment ends with a jump forward or back along the path. Mostly changes the step
 *    distances, less the angles: the hard case for curvature alone.
 *  - `flicker`: temporal flicker: every other frame is displaced by a·w (a fixed random
 *    direction w, a ~ strength·U(0.2, 0.8)·ℓ), a zigzag.
 * `mixed` draws the perturbation of each generated video uniformly from the three.
 *
 * Returns flat row-major float32 arrays [videos × T × D] for each class, and the perturbation
 * of each generated video.
 */

export const TRAJECTORY_PERTURBATIONS = ['jitter', 'resample', 'flicker'] as const;
export type TrajectoryPerturbation = (typeof TRAJECTORY_PERTURBATIONS)[number];

export interface TrajectoryWorldOptions {
  /** videos per class */
  videos: number;
  /** frames per video (default 24, as ReStraV's clips) */
  frames?: number;
  /** embedding dimension (default 384, DINOv2 ViT-S/14's width) */
  dim?: number;
  /** the perturbation of the generated class (default 'mixed') */
  perturbation?: TrajectoryPerturbation | 'mixed';
  /** scale of every perturbation magnitude (default 1) */
  strength?: number;
  seed?: Seed;
}

export interface TrajectoryWorld {
  /** natural trajectories, [videos × frames × dim] row-major */
  natural: Float32Array;
  /** generated (perturbed) trajectories, [videos × frames × dim] row-major */
  generated: Float32Array;
  /** index into TRAJECTORY_PERTURBATIONS of each generated video's perturbation */
  kinds: Int8Array;
  videos: number;
  frames: number;
  dim: number;
}

/** A random unit vector of length `dim` (float64). */
function unitVector(rng: Rng, dim: number): Float64Array {
  const u = new Float64Array(dim);
  let ss = 0;
  for (let j = 0; j < dim; j++) {
    u[j] = rng.normal();
    ss += u[j] * u[j];
  }
  const inv = 1 / Math.sqrt(ss);
  for (let j = 0; j < dim; j++) u[j] *= inv;
  return u;
}

/** The law of one natural path: everything needed to evaluate z(s) at any time s. */
interface PathLaw {
  c: Float64Array;
  dirs: Float64Array[];
  L: number;
  omega: number[];
  phi: number[];
  b: number[];
  /** per-frame noise std per coordinate */
  sigma: number;
  /** smooth speed change: s_t = u + warp·sin(π u) */
  warp: number;
}

function drawPath(rng: Rng, frames: number, dim: number): PathLaw {
  const c = new Float64Array(dim);
  for (let j = 0; j < dim; j++) c[j] = rng.normal();
  const dirs = [0, 1, 2, 3].map(() => unitVector(rng, dim));
  const L = rng.uniformIn(1, 3);
  const omega = [0, 1, 2].map(() => rng.uniformIn(0.5, 2.5));
  const phi = [0, 1, 2].map(() => rng.uniformIn(0, 2 * Math.PI));
  const b = [0, 1, 2].map(() => L * rng.uniformIn(0.05, 0.25));
  const step = L / (frames - 1);
  const eta = rng.uniformIn(0.05, 0.3);
  return { c, dirs, L, omega, phi, b, sigma: (eta * step) / Math.sqrt(dim), warp: rng.uniformIn(-0.05, 0.05) };
}

/** The natural clock of frame t: s = u + warp·sin(πu), u = t/(T−1). */
function clock(p: PathLaw, t: number, frames: number): number {
  const u = t / (frames - 1);
  return u + p.warp * Math.sin(Math.PI * u);
}

/** Write z(s) (without noise) into out[off … off + dim). */
function pathAt(p: PathLaw, s: number, out: Float32Array | Float64Array, off: number): void {
  const dim = p.c.length;
  const w0 = p.L * s;
  const w = p.b.map((bk, k) => bk * (Math.cos(p.omega[k] * s + p.phi[k]) - Math.cos(p.phi[k])));
  for (let j = 0; j < dim; j++) {
    out[off + j] = p.c[j] + w0 * p.dirs[0][j] + w[0] * p.dirs[1][j] + w[1] * p.dirs[2][j] + w[2] * p.dirs[3][j];
  }
}

/** One video into `out` at offset `base`: the path at the given clock values, plus noise of std `sigma`. */
function renderVideo(p: PathLaw, times: number[], sigma: number, rng: Rng, out: Float32Array, base: number): void {
  const dim = p.c.length;
  const row = new Float64Array(dim);
  times.forEach((s, t) => {
    pathAt(p, s, row, 0);
    for (let j = 0; j < dim; j++) out[base + t * dim + j] = row[j] + sigma * rng.normal();
  });
}

export function trajectoryWorld(opts: TrajectoryWorldOptions): TrajectoryWorld {
  const videos = opts.videos;
  const frames = opts.frames ?? 24;
  const dim = opts.dim ?? 384;
  const strength = opts.strength ?? 1;
  const pert = opts.perturbation ?? 'mixed';
  assertInt('videos', videos, 1);
  assertInt('frames', frames, 12, 100000);
  assertInt('dim', dim, 2);
  assertNumber('strength', strength, 0);
  if (pert !== 'mixed' && !(TRAJECTORY_PERTURBATIONS as readonly string[]).includes(pert)) {
    fail('E_ARG', `trajectoryWorld: perturbation must be ${TRAJECTORY_PERTURBATIONS.join(', ')} or mixed, got ${String(pert)}`);
  }
  if (videos * frames * dim > 2 ** 31) fail('E_ARG', `trajectoryWorld: ${videos} x ${frames} x ${dim} values per class is too many; use fewer videos or dimensions`);
  const rng = new Rng(opts.seed ?? 0);
  const natural = new Float32Array(videos * frames * dim);
  const generated = new Float32Array(videos * frames * dim);
  const kinds = new Int8Array(videos);
  const per = frames * dim;
  const natRng = rng.fork('natural');
  const genRng = rng.fork('generated');
  for (let v = 0; v < videos; v++) {
    const p = drawPath(natRng, frames, dim);
    const times = Array.from({ length: frames }, (_, t) => clock(p, t, frames));
    renderVideo(p, times, p.sigma, natRng, natural, v * per);
  }
  for (let v = 0; v < videos; v++) {
    const p = drawPath(genRng, frames, dim);
    const kind = pert === 'mixed' ? genRng.int(3) : TRAJECTORY_PERTURBATIONS.indexOf(pert);
    kinds[v] = kind;
    const times = Array.from({ length: frames }, (_, t) => clock(p, t, frames));
    const step = p.L / (frames - 1);
    const base = v * per;
    if (TRAJECTORY_PERTURBATIONS[kind] === 'jitter') {
      const eta = strength * genRng.uniformIn(0.3, 1);
      const extra = (eta * step) / Math.sqrt(dim);
      renderVideo(p, times, Math.hypot(p.sigma, extra), genRng, generated, base);
    } else if (TRAJECTORY_PERTURBATIONS[kind] === 'resample') {
      const len = 4 + genRng.int(5); // 4..8 frames
      const t0 = 2 + genRng.int(frames - len - 3); // leaves at least one frame after the segment
      const fast = genRng.uniform() < 0.5;
      const rate = 1 + strength * ((fast ? genRng.uniformIn(1.8, 3) : genRng.uniformIn(0.25, 0.5)) - 1);
      const dt = 1 / (frames - 1);
      for (let i = 1; i < len; i++) times[t0 + i] = times[t0] + rate * i * dt;
      renderVideo(p, times, p.sigma, genRng, generated, base);
    } else {
      const w = unitVector(genRng, dim);
      const a = strength * genRng.uniformIn(0.2, 0.8) * step;
      renderVideo(p, times, p.sigma, genRng, generated, base);
      for (let t = 1; t < frames; t += 2) for (let j = 0; j < dim; j++) generated[base + t * dim + j] += a * w[j];
    }
  }
  return { natural, generated, kinds, videos, frames, dim };
}
