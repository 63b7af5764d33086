import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';

/**
 * Trajectory geometry of an embedding sequence z_0 … z_{T−1} (one row per frame), as in
 * ReStraV ("AI-Generated Video Detection via Perceptual Straightening", docs/probing.md §1–3;
 * reference `dinov2_features.py`, `compute_temporal_geometry` / `features_from_Z`):
 *
 *   Δ_t = z_{t+1} − z_t                       t = 0 … T−2   (T−1 steps)
 *   d_t = ‖Δ_t‖₂                               step distances
 *   θ_t = degrees(arccos(clamp(⟨Δ_t, Δ_{t+1}⟩ / (‖Δ_t‖ ‖Δ_{t+1}‖), −1, 1)))   t = 0 … T−3   (T−2 angles)
 *
 * θ_t is the curvature at frame t+1: the turn between the step into it and the step out of it
 * (0° = straight on, 180° = straight back). The 21 features, in the paper's order:
 *
 *   d_0 … d_6, θ_0 … θ_5, mean/min/max/var of all d, mean/min/max/var of all θ
 *
 * with the population variance (PyTorch `var(unbiased=False)`). So a trajectory needs at least
 * 8 frames (7 steps). Everything is accumulated in float64.
 *
 * Deliberate difference from the reference: PyTorch's cosine_similarity divides by
 * max(‖Δ‖, 1e-8), so a repeated frame (a zero step) silently gives a 90° angle; here a zero-length
 * step is an error naming the trajectory and the frames, because its angle is undefined.
 */

/** The 21 feature names, in the order of `straighteningFeatures`. */
export const STRAIGHTENING_FEATURE_NAMES: readonly string[] = [
  ...Array.from({ length: 7 }, (_, i) => `d${i}`),
  ...Array.from({ length: 6 }, (_, i) => `theta${i}`),
  'd_mean', 'd_min', 'd_max', 'd_var',
  'theta_mean', 'theta_min', 'theta_max', 'theta_var',
];

/** Index of `theta_mean` (the mean curvature in degrees) among the 21 features. */
export const THETA_MEAN_INDEX = 17;

/** The fewest frames a trajectory may have (7 steps: d_0 … d_6 enter the features one by one). */
export const MIN_TRAJECTORY_FRAMES = 8;

/** A trajectory: a Matrix [T × D], an array of T frames, or flat row-major data with its shape. */
export type TrajectoryInput = Matrix | ArrayLike<ArrayLike<number>> | { data: ArrayLike<number>; frames: number; dim: number };

export interface TrajectoryGeometry {
  /** d_t, T − 1 step lengths */
  distances: Float64Array;
  /** θ_t in degrees, T − 2 curvature angles (θ_t sits at frame t + 1) */
  angles: Float64Array;
}

export interface GeometryOptions {
  /** how errors name the trajectory (default "trajectory") */
  name?: string;
  /** fewest frames accepted (default 3, the fewest with an angle; the features need 8) */
  minFrames?: number;
}

/** Flat row-major view of a trajectory input. */
function flatten(traj: TrajectoryInput, name: string): { data: ArrayLike<number>; frames: number; dim: number } {
  if (traj instanceof Matrix) return { data: traj.data, frames: traj.rows, dim: traj.cols };
  if (traj && typeof traj === 'object' && 'frames' in traj && 'dim' in traj && 'data' in traj) {
    const t = traj as { data: ArrayLike<number>; frames: number; dim: number };
    if (!Number.isInteger(t.frames) || !Number.isInteger(t.dim) || t.frames < 0 || t.dim < 1) {
      fail('E_SHAPE', `${name}: frames (${t.frames}) and dim (${t.dim}) must be non-negative integers, dim at least 1`);
    }
    if (t.data.length !== t.frames * t.dim) fail('E_SHAPE', `${name}: ${t.data.length} values do not make ${t.frames} frames of ${t.dim} dimensions`);
    return t;
  }
  const rows = traj as ArrayLike<ArrayLike<number>>;
  const frames = rows.length;
  if (frames === 0) return { data: new Float64Array(0), frames: 0, dim: 1 };
  const dim = rows[0]?.length;
  if (!Number.isInteger(dim) || dim < 1) fail('E_SHAPE', `${name}: frame 0 is not a non-empty array of numbers`);
  const data = new Float64Array(frames * dim);
  for (let t = 0; t < frames; t++) {
    const r = rows[t];
    if (!r || r.length !== dim) fail('E_SHAPE', `${name}: frame ${t} has ${r?.length} dimensions, frame 0 has ${dim}; every frame must have the same length`);
    for (let j = 0; j < dim; j++) data[t * dim + j] = r[j];
  }
  return { data, frames, dim };
}

/**
 * Step distances and curvature angles (degrees) of one trajectory. Errors (naming the
 * trajectory and the frame, frames counted from 0): E_SHAPE for fewer than `minFrames` frames,
 * E_NONFINITE for NaN/Inf, E_ARG for a zero-length step (two identical consecutive frames).
 */
export function trajectoryGeometry(traj: TrajectoryInput, opts: GeometryOptions = {}): TrajectoryGeometry {
  const name = opts.name ?? 'trajectory';
  const minFrames = Math.max(3, opts.minFrames ?? 3);
  const { data, frames: T, dim: D } = flatten(traj, name);
  if (T < minFrames) {
    fail('E_SHAPE', `${name} has ${T} frames; at least ${minFrames} are needed${minFrames >= MIN_TRAJECTORY_FRAMES ? ' (the 21 straightening features use the first 7 steps d_0…d_6)' : ''}; use longer clips`);
  }
  for (let i = 0; i < T * D; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) fail('E_NONFINITE', `${name}: frame ${Math.floor(i / D)}, dimension ${i % D} is ${v}; embeddings must be finite`);
  }
  const distances = new Float64Array(T - 1);
  const angles = new Float64Array(T - 2);
  // current and next step vectors, float64
  let prev = new Float64Array(D);
  let cur = new Float64Array(D);
  let prevNorm = 0;
  for (let t = 0; t < T - 1; t++) {
    const a = t * D;
    const b = a + D;
    let ss = 0;
    for (let j = 0; j < D; j++) {
      const v = data[b + j] - data[a + j];
      cur[j] = v;
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    if (!(norm > 0)) {
      const at = [t, t + 1].filter((f) => f >= 1 && f <= T - 2);
      fail('E_ARG', `${name}: frames ${t} and ${t + 1} are identical (step ${t} has zero length), so the curvature angle at frame${at.length > 1 ? 's' : ''} ${at.join(' and ')} is undefined; drop repeated frames (e.g. padding by repeat_last) or use distinct frames`);
    }
    distances[t] = norm;
    if (t > 0) {
      let dot = 0;
      for (let j = 0; j < D; j++) dot += prev[j] * cur[j];
      // divide one norm at a time so tiny steps do not underflow
      let c = dot / prevNorm / norm;
      if (c > 1) c = 1;
      else if (c < -1) c = -1;
      angles[t - 1] = (Math.acos(c) * 180) / Math.PI;
    }
    [prev, cur] = [cur, prev];
    prevNorm = norm;
  }
  return { distances, angles };
}

/** mean, min, max and population variance (two-pass) of a float64 array. */
function moments(x: Float64Array): [number, number, number, number] {
  const n = x.length;
  let s = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    s += x[i];
    if (x[i] < mn) mn = x[i];
    if (x[i] > mx) mx = x[i];
  }
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) ** 2;
  return [mean, mn, mx, ss / n];
}

/** The 21 features (STRAIGHTENING_FEATURE_NAMES order) from a trajectory's geometry. */
export function featuresFromGeometry(g: TrajectoryGeometry, name = 'trajectory'): Float64Array {
  if (g.distances.length < 7 || g.angles.length < 6) {
    fail('E_SHAPE', `${name} has ${g.distances.length} steps; the straightening features need at least 7 (${MIN_TRAJECTORY_FRAMES} frames)`);
  }
  const f = new Float64Array(21);
  for (let i = 0; i < 7; i++) f[i] = g.distances[i];
  for (let i = 0; i < 6; i++) f[7 + i] = g.angles[i];
  f.set(moments(g.distances), 13);
  f.set(moments(g.angles), 17);
  return f;
}

/**
 * ReStraV's 21 features of one trajectory [T × D] (T ≥ 8): d_0…d_6, θ_0…θ_5 (degrees),
 * mean/min/max/population variance of all d, then of all θ. Float64.
 */
export function straighteningFeatures(traj: TrajectoryInput, opts: { name?: string } = {}): Float64Array {
  const name = opts.name ?? 'trajectory';
  return featuresFromGeometry(trajectoryGeometry(traj, { name, minFrames: MIN_TRAJECTORY_FRAMES }), name);
}

/** Mean curvature angle (degrees) of one trajectory (T ≥ 3). */
export function meanCurvature(traj: TrajectoryInput, opts: { name?: string } = {}): number {
  const { angles } = trajectoryGeometry(traj, opts);
  let s = 0;
  for (let i = 0; i < angles.length; i++) s += angles[i];
  return s / angles.length;
}

/**
 * Features of a batch of trajectories stored flat, row-major [videos × T × D]: a float64
 * [videos × 21] array (row-major). Errors name the trajectory as `${label} ${i}` (from 0).
 */
export function batchStraighteningFeatures(data: ArrayLike<number>, videos: number, frames: number, dim: number, opts: { label?: string } = {}): Float64Array {
  const label = opts.label ?? 'trajectory';
  if (data.length !== videos * frames * dim) fail('E_SHAPE', `${label}s: ${data.length} values do not make ${videos} trajectories of ${frames} frames x ${dim} dimensions`);
  const out = new Float64Array(videos * 21);
  const per = frames * dim;
  for (let v = 0; v < videos; v++) {
    const slice = ArrayBuffer.isView(data) ? (data as unknown as Float32Array).subarray(v * per, (v + 1) * per) : Array.prototype.slice.call(data, v * per, (v + 1) * per);
    out.set(straighteningFeatures({ data: slice, frames, dim }, { name: `${label} ${v}` }), v * 21);
  }
  return out;
}
