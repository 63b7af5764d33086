import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { assertFinite } from '../core/validate.js';
import { checkLabels, checkMatrix, columnVariances } from './util.js';

/**
 * Area under the ROC curve for binary labels (1 = positive, 0 = negative), with tied
 * scores counted one half, exactly as scikit-learn's roc_auc_score (it equals the
 * Mann-Whitney U statistic over nPos·nNeg, computed here with mid-ranks). Needs both classes.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  checkLabels('labels', labels, n);
  assertFinite('scores', Float64Array.from(scores));
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i];
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) {
    fail('E_ARG', `auc: labels hold only one class (${nPos} positive, ${nNeg} negative); ROC AUC needs both`);
  }
  return aucUnchecked(scores, labels, nPos, new Int32Array(n));
}

/** AUC by mid-ranks; `order` is an Int32Array scratch of length n. */
function aucUnchecked(scores: ArrayLike<number>, labels: ArrayLike<number>, nPos: number, order: Int32Array): number {
  const n = scores.length;
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const midRank = (i + 1 + j) / 2; // ranks i+1 … j (1-based)
    for (let t = i; t < j; t++) if (labels[order[t]] === 1) rankSumPos += midRank;
    i = j;
  }
  const nNeg = n - nPos;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Per-column sign-invariant AUC max(AUC, 1 − AUC) of each code column as a score for the
 * labels. A column with standard deviation < 1e-10, or labels with one class only, scores
 * 0.5 (as the reference code).
 */
export function unitAucs(codes: Matrix, labels: ArrayLike<number>): Float64Array {
  checkMatrix('codes', codes);
  checkLabels('labels', labels, codes.rows);
  const n = codes.rows;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i];
  const out = new Float64Array(codes.cols).fill(0.5);
  if (nPos === 0 || nPos === n) return out;
  const v = columnVariances(codes);
  const col = new Float64Array(n);
  const order = new Int32Array(n);
  for (let j = 0; j < codes.cols; j++) {
    if (Math.sqrt(v[j]) < 1e-10) continue;
    for (let i = 0; i < n; i++) col[i] = codes.data[i * codes.cols + j];
    const a = aucUnchecked(col, labels, nPos, order);
    out[j] = Math.max(a, 1 - a);
  }
  return out;
}

/**
 * Best-single-unit AUC (PAPERS sec. 1): the code column with the highest in-distribution
 * sign-invariant AUC (first on ties) is chosen, and its sign-invariant AUC on the OOD set
 * is reported. Both use max(AUC, 1 − AUC) independently, as the reference code does.
 */
export function bestUnitAuc(
  codesId: Matrix, yId: ArrayLike<number>, codesOod: Matrix, yOod: ArrayLike<number>,
): { unit: number; aucId: number; aucOod: number; perUnitId: Float64Array } {
  checkMatrix('codesId', codesId);
  checkMatrix('codesOod', codesOod);
  if (codesId.cols !== codesOod.cols) {
    fail('E_SHAPE', `shape mismatch: codesId has ${codesId.cols} columns, codesOod has ${codesOod.cols}; both must come from the same encoder`);
  }
  const per = unitAucs(codesId, yId);
  let best = 0;
  for (let j = 1; j < per.length; j++) if (per[j] > per[best]) best = j;
  const oodCol = codesOod.takeCols([best]);
  const aucOod = unitAucs(oodCol, yOod)[0];
  return { unit: best, aucId: per[best], aucOod, perUnitId: per };
}
