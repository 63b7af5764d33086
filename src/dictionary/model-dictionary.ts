import { backend, matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { ModelSpec } from '../io/model.js';

/**
 * A model's decoder as a dictionary for sparse inference (FISTA, OMP, ... on `W_dec`).
 *
 * A model reconstructs in its input space: `u ≈ z·W_dec + b_dec`, where `u = x` for raw models
 * and `u = (x − mean)·W` for models trained on whitened inputs. So the codes of a raw row `x` on
 * the decoder are the codes of `prepare(x) = u − b_dec` on `D = W_dec`: the whitening is applied
 * first, then the decoder bias (the model's estimate of the data's centre) is subtracted.
 * Classical dictionaries (dl-fista, online-dl) have no b_dec. `model.decode(z)` maps such codes
 * back to raw activations (adds b_dec, inverts the whitening).
 */
export interface ModelDictionary {
  /** W_dec [atoms x d_in] (the model's own array, not a copy; do not modify) */
  D: Matrix;
  /** b_dec [d_in] in the model's input space, or null */
  offset: Float32Array | null;
  /** whether prepare() whitens */
  whitened: boolean;
  /** u − b_dec for raw rows X [n x d_in], u the model's input (whitened when the model is); a new matrix */
  prepare(X: Matrix): Matrix;
}

export function modelDictionary(model: Pick<ModelSpec, 'weights' | 'whitening'> & { dir: string }): ModelDictionary {
  const D = model.weights.W_dec;
  const dim = D.cols;
  const offset = model.weights.b_dec ?? null;
  const wh = model.whitening;
  return {
    D,
    offset,
    whitened: !!wh,
    prepare(X: Matrix): Matrix {
      if (!(X instanceof Matrix)) fail('E_ARG', 'modelDictionary.prepare: X must be a Matrix');
      if (X.cols !== dim) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the model ${model.dir} expects d_in = ${dim}`);
      const b = backend();
      let U = X.clone();
      if (wh) {
        b.addRowVector(U.data, U.rows, dim, wh.mean, -1);
        U = matmul(U, wh.W);
      }
      if (offset) b.addRowVector(U.data, U.rows, dim, offset, -1);
      return U;
    },
  };
}
