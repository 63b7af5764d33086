import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';

/**
 * Per-column affine maps: Z = (X - mean) / scale and back, X = Z * scale + mean.
 * `fitCenter` learns the mean only (scale 1); `fitScale` learns mean and the population
 * standard deviation (ddof = 0, like scikit-learn's StandardScaler); a column with zero
 * variance keeps scale 1, so it maps to zeros instead of NaN. Statistics in float64,
 * stored as float32.
 */
export interface ColumnTransformJSON {
  format: 'sparsecode.column-transform';
  version: 1;
  kind: 'center' | 'scale';
  mean: number[];
  scale: number[];
}

export class ColumnTransform {
  readonly kind: 'center' | 'scale';
  readonly mean: Float32Array;
  readonly scale: Float32Array;

  constructor(kind: 'center' | 'scale', mean: Float32Array, scale: Float32Array) {
    if (mean.length !== scale.length) fail('E_SHAPE', `column transform: mean has ${mean.length} entries, scale has ${scale.length}`);
    for (let j = 0; j < scale.length; j++) {
      if (!(scale[j] > 0) || !Number.isFinite(scale[j]) || !Number.isFinite(mean[j])) {
        fail('E_ARG', `column transform: column ${j} has mean ${mean[j]} and scale ${scale[j]}; scales must be finite and > 0`);
      }
    }
    this.kind = kind;
    this.mean = mean;
    this.scale = scale;
  }

  get dim(): number {
    return this.mean.length;
  }

  private check(name: string, X: Matrix, out?: Matrix): Matrix {
    if (X.cols !== this.dim) fail('E_SHAPE', `${this.kind} ${name}: X has ${X.cols} columns, the transform was fitted on ${this.dim}`);
    if (out && (out.rows !== X.rows || out.cols !== X.cols)) fail('E_SHAPE', `${this.kind} ${name}: out is [${out.rows} x ${out.cols}], needs [${X.rows} x ${X.cols}]`);
    return out ?? new Matrix(X.rows, X.cols);
  }

  /** (X - mean) / scale; `out` may be X itself. */
  apply(X: Matrix, out?: Matrix): Matrix {
    const o = this.check('apply', X, out);
    const d = this.dim;
    for (let i = 0; i < X.rows; i++) {
      const r = i * d;
      for (let j = 0; j < d; j++) o.data[r + j] = (X.data[r + j] - this.mean[j]) / this.scale[j];
    }
    return o;
  }

  /** Z * scale + mean; `out` may be Z itself. */
  invert(Z: Matrix, out?: Matrix): Matrix {
    const o = this.check('invert', Z, out);
    const d = this.dim;
    for (let i = 0; i < Z.rows; i++) {
      const r = i * d;
      for (let j = 0; j < d; j++) o.data[r + j] = Z.data[r + j] * this.scale[j] + this.mean[j];
    }
    return o;
  }

  toJSON(): ColumnTransformJSON {
    return { format: 'sparsecode.column-transform', version: 1, kind: this.kind, mean: Array.from(this.mean), scale: Array.from(this.scale) };
  }
}

function fitStats(X: Matrix, name: string, wantScale: boolean, center: boolean): { mean: Float32Array; scale: Float32Array } {
  if (X.rows === 0) fail('E_SHAPE', `${name}: X has no rows; at least one sample is needed`);
  assertFinite('X', X);
  const { rows, cols, data } = X;
  const mean = new Float64Array(cols);
  if (center) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += data[i * cols + j];
    for (let j = 0; j < cols; j++) mean[j] /= rows;
  }
  const scale = new Float32Array(cols).fill(1);
  if (wantScale) {
    const ss = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const v = data[i * cols + j] - mean[j];
        ss[j] += v * v;
      }
    }
    for (let j = 0; j < cols; j++) {
      const sd = Math.sqrt(ss[j] / rows);
      // zero (or float32-underflowing) spread: keep scale 1
      scale[j] = sd > 0 && Math.fround(sd) > 0 ? sd : 1;
    }
  }
  return { mean: Float32Array.from(mean), scale };
}

/** Learn column means: apply gives X - mean. */
export function fitCenter(X: Matrix): ColumnTransform {
  const { mean, scale } = fitStats(X, 'fitCenter', false, true);
  return new ColumnTransform('center', mean, scale);
}

/** Learn column means (unless center: false) and standard deviations: apply gives (X - mean) / std. */
export function fitScale(X: Matrix, opts: { center?: boolean } = {}): ColumnTransform {
  const { mean, scale } = fitStats(X, 'fitScale', true, opts.center ?? true);
  return new ColumnTransform('scale', mean, scale);
}

export function columnTransformFromJSON(obj: unknown): ColumnTransform {
  const o = obj as Partial<ColumnTransformJSON> | null;
  if (!o || typeof o !== 'object' || o.format !== 'sparsecode.column-transform') fail('E_FORMAT', 'column transform JSON: missing format "sparsecode.column-transform"');
  if (o.version !== 1) fail('E_FORMAT', `column transform JSON: unsupported version ${o.version} (1 is supported)`);
  if (o.kind !== 'center' && o.kind !== 'scale') fail('E_FORMAT', `column transform JSON: kind must be "center" or "scale", got ${JSON.stringify(o.kind)}`);
  if (!Array.isArray(o.mean) || !Array.isArray(o.scale) || o.mean.length !== o.scale.length) fail('E_FORMAT', 'column transform JSON: mean and scale must be arrays of equal length');
  for (const v of [...o.mean, ...o.scale]) if (typeof v !== 'number' || !Number.isFinite(v)) fail('E_FORMAT', 'column transform JSON: mean and scale must hold finite numbers');
  return new ColumnTransform(o.kind, Float32Array.from(o.mean), Float32Array.from(o.scale));
}
