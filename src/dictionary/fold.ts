import { matmul } from '../backend/index.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { ModelWeights } from '../io/model.js';

/**
 * Explicit, exact re-parameterisations of an SAE's weights (SAELens layout: W_enc [d_in x d_sae],
 * b_enc [d_sae], W_dec [d_sae x d_in], b_dec [d_in], threshold [d_sae]) that leave its function
 * unchanged. Each returns new arrays; the input is not modified.
 *
 * With pre = (x − b_dec)·W_enc + b_enc, codes z = act(pre), reconstruction x̂ = z·W_dec + b_dec:
 *
 * - `foldActivationScale(w, s)`: the model was trained on s·x and reconstructs s·x; afterwards it
 *   takes x itself: W_enc·s, W_dec/s, b_dec/s (b_enc and the threshold are unchanged, and so are
 *   the codes). SAELens' `fold_activation_norm_scaling_factor`.
 * - `foldDecoderNorm(w)`: unit-norm decoder rows; with n_a = ‖W_dec[a]‖: W_dec[a]/n_a,
 *   W_enc[:,a]·n_a, b_enc[a]·n_a, threshold[a]·n_a; codes become z_a·n_a and x̂ is unchanged.
 *   SAELens' `fold_W_dec_norm` (JumpReLU variant). Rows with n_a = 0 (dead latents) are left as
 *   they are (their codes do not reach x̂), instead of dividing by zero. It changes which latents
 *   a TopK encoder selects unless the norms are equal: `foldDecoderNorm` refuses TopK-style
 *   models only through the runtime, which knows the kind.
 * - `foldDecoderNormIntoGate(w)`: a model whose activation acts on pre_a·n_a (SAELens TopK with
 *   `rescale_acts_by_decoder_norm`, Llama Scope's `sparsity_include_decoder_norm`) becomes a plain
 *   one: the same scaling as `foldDecoderNorm` but the threshold is kept (the gate already sees
 *   pre·n). Dead rows (n_a = 0) get a zero encoder column and bias (pre·0 = 0 exactly).
 * - `foldInputBias(w)`: an encoder that does not subtract b_dec (SAELens
 *   `apply_b_dec_to_input: false`) as one that does: b_enc + b_dec·W_enc.
 * - `foldFeatureScale(w, s)`: codes multiplied by s_a before decoding (SAELens' legacy
 *   `finetuning_scaling_factor`): W_dec[a]·s_a.
 * - `foldWhitening(w, mean, W, W_inv)`: a model of whitened inputs u = (x − mean)·W with
 *   x = u·W_inv + mean, as a model of x: W_enc' = W·W_enc, W_dec' = W_dec·W_inv,
 *   b_dec' = b_dec·W_inv + mean (b_enc unchanged). Exact when W·W_inv = I (checked).
 */

function copy(w: ModelWeights): ModelWeights {
  const out: ModelWeights = { W_dec: w.W_dec.clone() };
  if (w.W_enc) out.W_enc = w.W_enc.clone();
  if (w.b_enc) out.b_enc = w.b_enc.slice();
  if (w.b_dec) out.b_dec = w.b_dec.slice();
  if (w.threshold) out.threshold = w.threshold.slice();
  return out;
}

function needEncoder(w: ModelWeights, where: string): { W_enc: Matrix; b_enc: Float32Array } {
  if (!w.W_enc || !w.b_enc) fail('E_ARG', `${where}: the model has no encoder (W_enc, b_enc); only SAEs can be folded`);
  return { W_enc: w.W_enc, b_enc: w.b_enc };
}

function checkScale(s: number, name: string, where: string): void {
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) fail('E_ARG', `${where}: ${name} must be a finite positive number, got ${s}`);
}

/** Decoder row norms ‖W_dec[a]‖ (float64). */
export function decoderNorms(W_dec: Matrix): Float64Array {
  const A = W_dec.rows, d = W_dec.cols, D = W_dec.data;
  const n = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += D[a * d + j] * D[a * d + j];
    n[a] = Math.sqrt(s);
  }
  return n;
}

/** Whether every decoder row with a non-zero norm has norm 1 within `tol` (zero rows are dead latents). */
export function hasUnitDecoder(W_dec: Matrix, tol = 1e-4): boolean {
  for (const v of decoderNorms(W_dec)) if (v !== 0 && Math.abs(v - 1) > tol) return false;
  return true;
}

/** See the module comment. `outputScale` (default = inputScale) divides the reconstruction when input and output were scaled differently (then b_dec must not enter the encoder: fold the input bias first). */
export function foldActivationScale(w: ModelWeights, inputScale: number, outputScale = inputScale): ModelWeights {
  const where = 'foldActivationScale';
  checkScale(inputScale, 'the input scale', where);
  checkScale(outputScale, 'the output scale', where);
  const out = copy(w);
  if (out.W_enc) for (let i = 0; i < out.W_enc.data.length; i++) out.W_enc.data[i] *= inputScale;
  for (let i = 0; i < out.W_dec.data.length; i++) out.W_dec.data[i] /= outputScale;
  if (out.b_dec) for (let j = 0; j < out.b_dec.length; j++) out.b_dec[j] /= outputScale;
  return out;
}

function scaleLatents(w: ModelWeights, n: Float64Array, threshold: boolean, deadToZero: boolean): ModelWeights {
  const { W_enc } = needEncoder(w, 'foldDecoderNorm');
  const out = copy(w);
  const A = w.W_dec.rows, d = w.W_dec.cols;
  const E = out.W_enc!.data, D = out.W_dec.data, be = out.b_enc!, th = out.threshold;
  if (W_enc.rows !== d || W_enc.cols !== A) fail('E_SHAPE', `foldDecoderNorm: W_enc is [${W_enc.rows} x ${W_enc.cols}], expected [${d} x ${A}]`);
  for (let a = 0; a < A; a++) {
    const s = n[a];
    if (s === 0) {
      if (deadToZero) {
        for (let j = 0; j < d; j++) E[j * A + a] = 0;
        be[a] = 0;
      }
      continue;
    }
    for (let j = 0; j < d; j++) D[a * d + j] = D[a * d + j] / s;
    for (let j = 0; j < d; j++) E[j * A + a] = E[j * A + a] * s;
    be[a] *= s;
    if (threshold && th) th[a] *= s;
  }
  return out;
}

/** See the module comment. */
export function foldDecoderNorm(w: ModelWeights): ModelWeights {
  return scaleLatents(w, decoderNorms(w.W_dec), true, false);
}

/** See the module comment. */
export function foldDecoderNormIntoGate(w: ModelWeights): ModelWeights {
  return scaleLatents(w, decoderNorms(w.W_dec), false, true);
}

/** See the module comment. */
export function foldInputBias(w: ModelWeights): ModelWeights {
  const { W_enc, b_enc } = needEncoder(w, 'foldInputBias');
  if (!w.b_dec) return copy(w);
  const out = copy(w);
  const d = W_enc.rows, A = W_enc.cols, bd = w.b_dec, E = W_enc.data;
  const acc = new Float64Array(A);
  for (let j = 0; j < d; j++) {
    const v = bd[j];
    if (v === 0) continue;
    for (let a = 0; a < A; a++) acc[a] += v * E[j * A + a];
  }
  for (let a = 0; a < A; a++) out.b_enc![a] = b_enc[a] + acc[a];
  return out;
}

/** See the module comment. */
export function foldFeatureScale(w: ModelWeights, s: Float32Array): ModelWeights {
  const A = w.W_dec.rows, d = w.W_dec.cols;
  if (s.length !== A) fail('E_SHAPE', `foldFeatureScale: the scale has ${s.length} entries, the model has d_sae = ${A}`);
  const out = copy(w);
  for (let a = 0; a < A; a++) for (let j = 0; j < d; j++) out.W_dec.data[a * d + j] *= s[a];
  return out;
}

/** See the module comment. Refuses a whitening whose W·W_inv is not the identity (to 1e-3). */
export function foldWhitening(w: ModelWeights, mean: Float32Array, W: Matrix, Winv: Matrix): ModelWeights {
  const d = w.W_dec.cols;
  if (mean.length !== d || W.rows !== d || W.cols !== d || Winv.rows !== d || Winv.cols !== d) fail('E_SHAPE', `foldWhitening: the whitening must be mean [${d}], W and W_inv [${d} x ${d}]`);
  const P = matmul(W, Winv);
  let worst = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) worst = Math.max(worst, Math.abs(P.data[i * d + j] - (i === j ? 1 : 0)));
  }
  if (worst > 1e-3) fail('E_ARG', `foldWhitening: W·W_inv differs from the identity by ${worst.toExponential(2)}; the whitening is not invertible, so the model cannot be expressed on raw activations`);
  const out = copy(w);
  if (w.W_enc) out.W_enc = matmul(W, w.W_enc);
  out.W_dec = matmul(w.W_dec, Winv);
  const bd = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    let s = mean[j];
    if (w.b_dec) for (let t = 0; t < d; t++) s += w.b_dec[t] * Winv.data[t * d + j];
    bd[j] = s;
  }
  out.b_dec = bd;
  return out;
}
