import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { auc } from './auc.js';

/**
 * Multi-class classification metrics from a score matrix [n × C] (probabilities or logits, one
 * column per class) and integer labels 0..C−1.
 */

function check(name: string, scores: Matrix, labels: ArrayLike<number>): void {
  if (labels.length !== scores.rows) fail('E_SHAPE', `${name}: ${scores.rows} score rows but ${labels.length} labels; give one label per row`);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= scores.cols) fail('E_ARG', `${name}: label ${v} at row ${i} is not a class index 0..${scores.cols - 1}`);
  }
}

/** The predicted class of each row: the first column holding the row's maximum. */
export function argmaxRows(scores: Matrix): Int32Array {
  const n = scores.rows, C = scores.cols, d = scores.data;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < C; j++) if (d[i * C + j] > d[i * C + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Accuracy: the share of rows whose argmax is the label. */
export function accuracy(scores: Matrix, labels: ArrayLike<number>): number {
  check('accuracy', scores, labels);
  if (!labels.length) fail('E_ARG', 'accuracy: no rows');
  const p = argmaxRows(scores);
  let ok = 0;
  for (let i = 0; i < p.length; i++) ok += p[i] === labels[i] ? 1 : 0;
  return ok / p.length;
}

/** Recall of each class (NaN for a class without samples). */
export function perClassRecall(scores: Matrix, labels: ArrayLike<number>): Float64Array {
  check('perClassRecall', scores, labels);
  const p = argmaxRows(scores);
  const hit = new Float64Array(scores.cols), tot = new Float64Array(scores.cols);
  for (let i = 0; i < p.length; i++) {
    tot[labels[i]]++;
    if (p[i] === labels[i]) hit[labels[i]]++;
  }
  return hit.map((h, c) => (tot[c] ? h / tot[c] : NaN));
}

/**
 * Macro one-vs-rest ROC AUC: the unweighted mean over classes of the AUC of column c as a score
 * for "label = c" — scikit-learn's `roc_auc_score(y, scores, multi_class='ovr', average='macro')`.
 * Every class must occur among the labels (as scikit-learn requires).
 */
export function macroAurocOvr(scores: Matrix, labels: ArrayLike<number>): number {
  check('macroAurocOvr', scores, labels);
  const n = scores.rows, C = scores.cols;
  const col = new Float64Array(n);
  const bin = new Uint8Array(n);
  let s = 0;
  for (let c = 0; c < C; c++) {
    let pos = 0;
    for (let i = 0; i < n; i++) {
      col[i] = scores.data[i * C + c];
      bin[i] = labels[i] === c ? 1 : 0;
      pos += bin[i];
    }
    if (pos === 0 || pos === n) fail('E_ARG', `macroAurocOvr: class ${c} ${pos === 0 ? 'has no' : 'holds every'} sample; one-vs-rest AUC needs positives and negatives of every class`);
    s += auc(col, bin);
  }
  return s / C;
}

/** Row-wise softmax in float64, stored float32 (probabilities from logits). */
export function softmaxRows(logits: Matrix): Matrix {
  const out = logits.clone();
  const C = logits.cols;
  for (let i = 0; i < logits.rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, logits.data[i * C + j]);
    let z = 0;
    const e = new Float64Array(C);
    for (let j = 0; j < C; j++) z += e[j] = Math.exp(logits.data[i * C + j] - m);
    for (let j = 0; j < C; j++) out.data[i * C + j] = e[j] / z;
  }
  return out;
}
