import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { sigmoid } from './activations.js';

/**
 * Losses with their gradients w.r.t. the input, mean reduction as PyTorch's default (checked
 * against torch.nn.functional in test/nn.test.ts). Sums in float64; the gradient goes into
 * `opts.grad` when given (allocated once per batch size by the caller), else a new matrix.
 */
export interface LossResult {
  value: number;
  grad: Matrix;
}

function out(where: string, g: Matrix | undefined, rows: number, cols: number): Matrix {
  if (g === undefined) return new Matrix(rows, cols);
  if (!(g instanceof Matrix) || g.rows !== rows || g.cols !== cols) fail('E_SHAPE', `${where}: the grad buffer must be a Matrix [${rows} x ${cols}]`);
  return g;
}

function same(where: string, a: Matrix, an: string, b: Matrix, bn: string): void {
  if (!(a instanceof Matrix) || !(b instanceof Matrix)) fail('E_ARG', `${where}: ${an} and ${bn} must be Matrix objects`);
  if (a.rows !== b.rows || a.cols !== b.cols) fail('E_SHAPE', `${where}: ${an} is [${a.rows} x ${a.cols}] but ${bn} is [${b.rows} x ${b.cols}]; they must match`);
}

/**
 * F.mse_loss: mean over all N = rows·cols elements of (pred − target)², grad 2(pred − target)/N.
 * `weights` (one per column) weights each column's squared error (the toy model's feature
 * importances): value Σ wⱼ(pred − target)²/N; all ones is PyTorch's.
 */
export function mseLoss(pred: Matrix, target: Matrix, opts: { grad?: Matrix; weights?: ArrayLike<number> } = {}): LossResult {
  same('mseLoss', pred, 'pred', target, 'target');
  const n = pred.rows, c = pred.cols, N = n * c;
  if (N === 0) fail('E_SHAPE', 'mseLoss: empty input');
  const w = opts.weights;
  if (w !== undefined && w.length !== c) fail('E_SHAPE', `mseLoss: ${w.length} weights for ${c} columns; give one weight per column`);
  const g = out('mseLoss', opts.grad, n, c);
  const p = pred.data, t = target.data, gd = g.data;
  const k = 2 / N;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    for (let j = 0; j < c; j++) {
      const e = p[o + j] - t[o + j];
      const wj = w ? w[j] : 1;
      s += wj * e * e;
      gd[o + j] = k * wj * e;
    }
  }
  return { value: s / N, grad: g };
}

/**
 * F.cross_entropy(logits, labels, label_smoothing = ε): with p = softmax(logits) per row
 * (max-shifted, sums in float64: any number of classes, logits of any size),
 *     loss_i = (1 − ε)·(−log p[y_i]) + (ε/C)·Σ_c (−log p_c),   value = mean_i loss_i,
 *     grad   = (p − (1 − ε)·onehot(y) − ε/C) / n.
 */
export function crossEntropy(logits: Matrix, labels: Int32Array | ArrayLike<number>, opts: { labelSmoothing?: number; grad?: Matrix } = {}): LossResult {
  if (!(logits instanceof Matrix)) fail('E_ARG', 'crossEntropy: logits must be a Matrix [batch x classes]');
  const n = logits.rows, C = logits.cols;
  if (n === 0 || C === 0) fail('E_SHAPE', `crossEntropy: logits are [${n} x ${C}]; need at least one row and one class`);
  if (!labels || labels.length !== n) fail('E_SHAPE', `crossEntropy: ${labels?.length} labels for ${n} rows; give one class index per row`);
  const eps = opts.labelSmoothing ?? 0;
  assertNumber('labelSmoothing', eps, 0, 1);
  const g = out('crossEntropy', opts.grad, n, C);
  const z = logits.data, gd = g.data;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= C) fail('E_ARG', `crossEntropy: label ${i} is ${y}; labels must be class indices in [0, ${C - 1}]`);
    const o = i * C;
    let mx = -Infinity;
    for (let j = 0; j < C; j++) if (z[o + j] > mx) mx = z[o + j];
    let se = 0, sz = 0;
    for (let j = 0; j < C; j++) {
      const e = Math.exp(z[o + j] - mx);
      gd[o + j] = e;
      se += e;
      sz += z[o + j];
    }
    const lse = mx + Math.log(se); // log Σ exp(z)
    // −log p_c = lse − z_c
    total += (1 - eps) * (lse - z[o + y]) + (eps / C) * (C * lse - sz);
    const inv = 1 / se;
    for (let j = 0; j < C; j++) gd[o + j] = (gd[o + j] * inv - eps / C) / n;
    gd[o + y] -= (1 - eps) / n;
  }
  return { value: total / n, grad: g };
}

/**
 * F.binary_cross_entropy_with_logits: mean over all elements of
 * max(x, 0) − x·t + log(1 + e^(−|x|)) (stable for any x), grad (sigmoid(x) − t)/N. Targets may be
 * soft (in [0, 1]).
 */
export function bceWithLogits(logits: Matrix, targets: Matrix, opts: { grad?: Matrix } = {}): LossResult {
  same('bceWithLogits', logits, 'logits', targets, 'targets');
  const N = logits.rows * logits.cols;
  if (N === 0) fail('E_SHAPE', 'bceWithLogits: empty input');
  const g = out('bceWithLogits', opts.grad, logits.rows, logits.cols);
  const x = logits.data, t = targets.data, gd = g.data;
  let s = 0;
  for (let i = 0; i < N; i++) {
    const v = x[i];
    s += Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v)));
    gd[i] = (sigmoid(v) - t[i]) / N;
  }
  return { value: s / N, grad: g };
}

/**
 * KL(N(μ, e^logvar) ‖ N(0, I)) of a diagonal Gaussian, summed over the latent columns and
 * averaged over the rows (the VAE convention; equals
 * torch.distributions.kl_divergence(Normal(μ, σ), Normal(0, 1)).sum(1).mean()):
 *     value = (1/n) Σ ½(μ² + e^logvar − 1 − logvar),  dμ = μ/n,  dlogvar = ½(e^logvar − 1)/n.
 */
export function gaussianKL(mu: Matrix, logvar: Matrix, opts: { gradMu?: Matrix; gradLogvar?: Matrix } = {}): { value: number; gradMu: Matrix; gradLogvar: Matrix } {
  same('gaussianKL', mu, 'mu', logvar, 'logvar');
  const n = mu.rows;
  if (n === 0) fail('E_SHAPE', 'gaussianKL: empty input');
  const gm = out('gaussianKL', opts.gradMu, n, mu.cols);
  const gl = out('gaussianKL', opts.gradLogvar, n, mu.cols);
  const m = mu.data, lv = logvar.data;
  let s = 0;
  for (let i = 0; i < m.length; i++) {
    const e = Math.exp(lv[i]);
    s += 0.5 * (m[i] * m[i] + e - 1 - lv[i]);
    gm.data[i] = m[i] / n;
    gl.data[i] = (0.5 * (e - 1)) / n;
  }
  return { value: s / n, gradMu: gm, gradLogvar: gl };
}
