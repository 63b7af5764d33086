import { fail, SparsecodeError } from '../core/errors.js';
import { openNpy } from '../io/npy.js';
import { featuresFromGeometry, trajectoryGeometry, MIN_TRAJECTORY_FRAMES } from '../metrics/curvature.js';

/**
 * Embedding trajectories from a .npy file for `curvature` and `detect`: a 2-D array [T x D] is
 * one trajectory, a 3-D array [videos x T x D] holds one per video. The file is read one
 * trajectory at a time (float16/float64 and big-endian data become float32), so memory stays at
 * one trajectory whatever the number of videos (DINOv2 patch-token trajectories are ~10 MB each).
 */

export interface TrajectoryFileFeatures {
  /** [videos x 21] float64, row-major */
  features: Float64Array;
  videos: number;
  frames: number;
  dim: number;
  /** per video: the mean curvature angle in degrees (the theta_mean feature) */
  meanCurvature: Float64Array;
  /** the stored shape */
  shape: number[];
  /** with `geometry: true`: every trajectory's step distances d_t and angles θ_t (degrees) */
  distances?: Float64Array[];
  angles?: Float64Array[];
}

/** Open `path` as trajectories and return the shape it holds ([videos, T, D]); errors name `what`. */
function openTrajectories(path: string, what: string) {
  let r;
  try {
    r = openNpy(path, { flattenLeading: true });
  } catch (e) {
    if (e instanceof SparsecodeError) throw new SparsecodeError(e.code, `${what} ${e.message}`, e.details);
    throw e;
  }
  const sh = r.shape;
  if (sh.length !== 2 && sh.length !== 3) {
    r.close();
    fail('E_SHAPE', `${what} ${path}: shape (${sh.join(', ')}) is not a trajectory; expected [T x D] (one trajectory) or [videos x T x D]`);
  }
  const [videos, frames, dim] = sh.length === 2 ? [1, sh[0], sh[1]] : [sh[0], sh[1], sh[2]];
  if (videos === 0) {
    r.close();
    fail('E_SHAPE', `${what} ${path}: holds no trajectories (shape (${sh.join(', ')}))`);
  }
  if (dim === 0) {
    r.close();
    fail('E_SHAPE', `${what} ${path}: frames have 0 dimensions (shape (${sh.join(', ')}))`);
  }
  if (frames < MIN_TRAJECTORY_FRAMES) {
    r.close();
    fail('E_SHAPE', `${what} ${path}: trajectories have ${frames} frames (shape (${sh.join(', ')})); the 21 straightening features need at least ${MIN_TRAJECTORY_FRAMES} frames (7 steps); use longer clips`);
  }
  return { r, videos, frames, dim, shape: sh };
}

/** Read the trajectories of `path` ([T x D] or [videos x T x D]) and compute the 21 features of each. */
export function trajectoryFileFeatures(
  path: string, opts: { what?: string; geometry?: boolean; onProgress?: (done: number, total: number) => void } = {},
): TrajectoryFileFeatures {
  const what = opts.what ?? '--input';
  const { r, videos, frames, dim, shape } = openTrajectories(path, what);
  try {
    const features = new Float64Array(videos * 21);
    const meanCurvature = new Float64Array(videos);
    const distances: Float64Array[] = [];
    const angles: Float64Array[] = [];
    const buf = new Float32Array(frames * dim);
    for (let v = 0; v < videos; v++) {
      r.readRows(v * frames, frames, buf);
      const name = shape.length === 2 ? `${what} ${path} (one trajectory)` : `${what} ${path}: trajectory ${v}`;
      const g = trajectoryGeometry({ data: buf, frames, dim }, { name, minFrames: MIN_TRAJECTORY_FRAMES });
      const f = featuresFromGeometry(g, name);
      features.set(f, v * 21);
      meanCurvature[v] = f[17];
      if (opts.geometry) {
        distances.push(g.distances);
        angles.push(g.angles);
      }
      opts.onProgress?.(v + 1, videos);
    }
    return { features, videos, frames, dim, meanCurvature, shape, ...(opts.geometry ? { distances, angles } : {}) };
  } finally {
    r.close();
  }
}
