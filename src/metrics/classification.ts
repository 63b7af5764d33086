import { fail } from '../core/errors.js';
import { checkLabels } from './util.js';

/**
 * Binary classification scores with scikit-learn's conventions (label 1 = positive):
 * accuracy, precision, recall and F1 as `precision_recall_fscore_support(average='binary')`
 * with zero_division = 0 (a ratio with an empty denominator is 0), and the decision threshold
 * that maximises F1 on a grid, as ReStraV's `train.py` picks τ* on the training set.
 */

export interface BinaryScores {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** confusion counts */
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Accuracy, precision, recall and F1 of hard predictions (0/1) against labels (0/1). */
export function binaryScores(labels: ArrayLike<number>, predictions: ArrayLike<number>): BinaryScores {
  const n = labels.length;
  checkLabels('labels', labels, n);
  checkLabels('predictions', predictions, n);
  if (n === 0) fail('E_ARG', 'binaryScores: no samples');
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i], p = predictions[i];
    if (p === 1) {
      if (y === 1) tp++;
      else fp++;
    } else if (y === 1) fn++;
    else tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  // sklearn: F1 = 2·tp / (2·tp + fp + fn), 0 when the denominator is 0
  const f1 = 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
  return { accuracy: (tp + tn) / n, precision, recall, f1, tp, fp, tn, fn };
}

/** Hard predictions: 1 where score ≥ threshold. */
export function thresholdPredictions(scores: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] >= threshold ? 1 : 0;
  return out;
}

/** `count` evenly spaced values from lo to hi inclusive (NumPy linspace). */
export function linspace(lo: number, hi: number, count: number): Float64Array {
  const out = new Float64Array(count);
  if (count === 1) {
    out[0] = lo;
    return out;
  }
  const step = (hi - lo) / (count - 1);
  for (let i = 0; i < count; i++) out[i] = lo + i * step;
  out[count - 1] = hi;
  return out;
}

/**
 * The threshold with the highest F1 of `scores ≥ τ` against `labels`, scanning `thresholds`
 * in order and keeping the first strict improvement over the best so far, which starts at
 * F1 = 0 with τ = 0.5 (ReStraV's train.py; default grid: 81 values in [0.1, 0.9]).
 */
export function bestF1Threshold(
  scores: ArrayLike<number>, labels: ArrayLike<number>, thresholds: ArrayLike<number> = linspace(0.1, 0.9, 81),
): { threshold: number; f1: number } {
  checkLabels('labels', labels, scores.length);
  let best = 0;
  let tau = 0.5;
  for (let k = 0; k < thresholds.length; k++) {
    const f1 = binaryScores(labels, thresholdPredictions(scores, thresholds[k])).f1;
    if (f1 > best) {
      best = f1;
      tau = thresholds[k];
    }
  }
  return { threshold: tau, f1: best };
}
