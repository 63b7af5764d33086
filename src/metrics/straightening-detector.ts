import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { bceWithLogits, mlp, sigmoid, type Sequential } from '../nn/index.js';
import { Adam } from '../optim/adam.js';
import { auc } from './auc.js';
import { bestF1Threshold, binaryScores, linspace, thresholdPredictions } from './classification.js';

/**
 * ReStraV's detector (docs/probing.md §1–3; reference `train.py`) on the 21 straightening features:
 *
 *  1. balance the classes by subsampling the larger one (without replacement), then shuffle;
 *  2. z-score every feature with the mean and population std (+1e-8) of the whole balanced set
 *     (as the reference: the test half leaks into the scaling; `zscore: 'train'` uses the train
 *     half only);
 *  3. stratified split, half of each class to the test set (the larger half when odd);
 *  4. MLP 21 → 64 → ReLU → 32 → ReLU → 1 (PyTorch's default initialisation), BCE with logits,
 *     Adam lr 1e-3, batch 32, reshuffled every epoch, 10 epochs;
 *  5. τ* = the threshold among 81 values in [0.1, 0.9] with the best training-set F1 (the first
 *     strict improvement over F1 = 0, τ = 0.5);
 *  6. test accuracy, precision, recall and F1 at τ*, ROC AUC of the probabilities.
 * Label 1 = real (natural), 0 = fake (generated), as in the reference. Random draws come from
 * `seed` (the reference's NumPy seed 42 / random_state 42 streams cannot be replayed here).
 */

export interface StraighteningDetectorOptions {
  /** hidden widths (default [64, 32]) */
  hidden?: number[];
  epochs?: number;
  batch?: number;
  lr?: number;
  /** fraction of each class in the test set (default 0.5) */
  testFraction?: number;
  /** z-score with the statistics of the whole balanced set ('all', the reference) or of the train half */
  zscore?: 'all' | 'train';
  seed?: Seed;
  signal?: AbortSignal;
}

export interface StraighteningDetector {
  /** the trained MLP (logits) */
  net: Sequential;
  /** z-score statistics (per feature) */
  mean: Float64Array;
  std: Float64Array;
  /** τ*, and the training-set F1 at τ* */
  threshold: number;
  trainF1: number;
  /** P(real) of each row of `features` (z-scored with `mean`/`std`) */
  predict(features: Matrix): Float64Array;
}

export interface StraighteningDetectorResult extends StraighteningDetector {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  auroc: number;
  /** rows of the input in the train / test halves (after balancing) */
  trainIndex: Int32Array;
  testIndex: Int32Array;
  /** P(real) on the test rows, in testIndex order */
  testProbabilities: Float64Array;
  /** per-epoch mean training loss */
  losses: number[];
}

/** Train and evaluate the detector on features [n × f] (rows) with labels 1 = real, 0 = fake. */
export function trainStraighteningDetector(features: Matrix, labels: ArrayLike<number>, opts: StraighteningDetectorOptions = {}): StraighteningDetectorResult {
  const n = features.rows, f = features.cols;
  if (labels.length !== n) fail('E_SHAPE', `detector: ${labels.length} labels for ${n} feature rows; give one label per trajectory`);
  for (let i = 0; i < n * f; i++) {
    if (!Number.isFinite(features.data[i])) fail('E_NONFINITE', `detector: feature ${i % f} of row ${Math.floor(i / f)} is ${features.data[i]}`);
  }
  const hidden = opts.hidden ?? [64, 32];
  const epochs = opts.epochs ?? 10;
  const batch = opts.batch ?? 32;
  const lr = opts.lr ?? 1e-3;
  const testFraction = opts.testFraction ?? 0.5;
  if (!Number.isInteger(epochs) || epochs < 1) fail('E_ARG', `detector: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batch) || batch < 1) fail('E_ARG', `detector: batch must be a positive integer, got ${batch}`);
  if (!(testFraction > 0 && testFraction < 1)) fail('E_ARG', `detector: testFraction must be in (0, 1), got ${testFraction}`);
  const real: number[] = [], fake: number[] = [];
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1) real.push(i);
    else if (labels[i] === 0) fake.push(i);
    else fail('E_ARG', `detector: label ${i} is ${labels[i]}; use 1 for real and 0 for generated`);
  }
  const nBal = Math.min(real.length, fake.length);
  if (nBal < 4) fail('E_ARG', `detector: ${real.length} real and ${fake.length} generated trajectories; each class needs at least 4 (half of them for testing)`);
  const rng = new Rng(opts.seed ?? 42);
  const balRng = rng.fork('balance');
  const pick = (idx: number[]) => Array.from(balRng.choice(idx.length, nBal), (k) => idx[k]);
  const selReal = pick(real), selFake = pick(fake);
  // stratified split: a random share of each class to the test set
  const splitRng = rng.fork('split');
  const nTestPer = Math.min(nBal - 1, Math.max(1, Math.ceil(nBal * testFraction)));
  const testIdx: number[] = [], trainIdx: number[] = [];
  for (const sel of [selReal, selFake]) {
    const p = splitRng.permutation(nBal);
    for (let k = 0; k < nBal; k++) (k < nTestPer ? testIdx : trainIdx).push(sel[p[k]]);
  }
  splitRng.shuffle(testIdx);
  splitRng.shuffle(trainIdx);
  // z-score statistics (float64, population std)
  const statRows = opts.zscore === 'train' ? trainIdx : [...selReal, ...selFake];
  const mean = new Float64Array(f), std = new Float64Array(f);
  for (const i of statRows) for (let j = 0; j < f; j++) mean[j] += features.data[i * f + j];
  for (let j = 0; j < f; j++) mean[j] /= statRows.length;
  for (const i of statRows) for (let j = 0; j < f; j++) std[j] += (features.data[i * f + j] - mean[j]) ** 2;
  for (let j = 0; j < f; j++) std[j] = Math.sqrt(std[j] / statRows.length) + 1e-8;
  const scaled = (rows: ArrayLike<number>, src: Matrix = features): Matrix => {
    const m = new Matrix(rows.length, f);
    for (let r = 0; r < rows.length; r++) for (let j = 0; j < f; j++) m.data[r * f + j] = (src.data[rows[r] * f + j] - mean[j]) / std[j];
    return m;
  };
  const Xtr = scaled(trainIdx), Xte = scaled(testIdx);
  const ytr = new Float32Array(trainIdx.map((i) => labels[i]));
  const net = mlp({ sizes: [f, ...hidden, 1], activation: 'relu', rng: rng.fork('init') });
  const losses = trainBinaryMlp(net, Xtr, ytr, { epochs, batch, lr, rng: rng.fork('batches'), signal: opts.signal });
  const probs = (X: Matrix): Float64Array => {
    const out = new Float64Array(X.rows);
    const step = 4096;
    for (let s = 0; s < X.rows; s += step) {
      const y = net.forward(X.rowSlice(s, Math.min(X.rows, s + step)), false);
      for (let r = 0; r < y.rows; r++) out[s + r] = sigmoid(y.data[r]);
    }
    return out;
  };
  const pTrain = probs(Xtr);
  const tau = bestF1Threshold(pTrain, ytr, linspace(0.1, 0.9, 81));
  const pTest = probs(Xte);
  const yte = testIdx.map((i) => labels[i]);
  const s = binaryScores(yte, thresholdPredictions(pTest, tau.threshold));
  return {
    net, mean, std, threshold: tau.threshold, trainF1: tau.f1,
    predict: (X: Matrix) => {
      if (X.cols !== f) fail('E_SHAPE', `detector: features have ${X.cols} columns, the detector was trained on ${f}`);
      return probs(scaled(Int32Array.from({ length: X.rows }, (_, i) => i), X));
    },
    accuracy: s.accuracy, precision: s.precision, recall: s.recall, f1: s.f1, auroc: auc(pTest, yte),
    trainIndex: Int32Array.from(trainIdx), testIndex: Int32Array.from(testIdx), testProbabilities: pTest, losses,
  };
}

/**
 * Minibatch training of a logit network by BCE with logits and Adam (PyTorch defaults,
 * β = (0.9, 0.999), eps 1e-8), the reference's loop: each epoch visits the rows in a fresh
 * random order (`orders[epoch]` when given, else drawn from `rng`) in batches of `batch`
 * (the last one shorter). Returns the mean training loss of each epoch.
 */
export function trainBinaryMlp(
  net: Sequential, X: Matrix, y: ArrayLike<number>,
  o: { epochs: number; batch: number; lr: number; rng?: Rng; orders?: ArrayLike<number>[]; signal?: AbortSignal },
): number[] {
  const n = X.rows;
  if (y.length !== n) fail('E_SHAPE', `trainBinaryMlp: ${y.length} targets for ${n} rows`);
  const params = net.params();
  const adam = new Adam(params.map((p) => p.param));
  const grads = params.map((p) => p.grad);
  const rng = o.rng ?? new Rng(0);
  const losses: number[] = [];
  for (let ep = 0; ep < o.epochs; ep++) {
    checkAborted(o.signal);
    const order = o.orders ? o.orders[ep] : rng.permutation(n);
    if (!order || order.length !== n) fail('E_ARG', `trainBinaryMlp: the order of epoch ${ep} must list the ${n} rows`);
    let total = 0;
    for (let b = 0; b < n; b += o.batch) {
      const m = Math.min(n, b + o.batch) - b;
      const rows = Array.from({ length: m }, (_, r) => order[b + r]);
      const xb = X.takeRows(rows);
      const yb = new Matrix(m, 1);
      for (let r = 0; r < m; r++) yb.data[r] = y[rows[r]];
      net.zeroGrad();
      const loss = bceWithLogits(net.forward(xb, true), yb);
      net.backward(loss.grad, false);
      adam.step(grads, o.lr);
      total += loss.value * m;
    }
    losses.push(total / n);
  }
  return losses;
}
