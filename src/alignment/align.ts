import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import type { Seed } from '../core/rng.js';
import { debiasedCKA, linearCKA, rbfCKA } from './cka.js';
import { semiMatching, softMatching } from './matching.js';
import { procrustes } from './procrustes.js';
import { regression } from './regression.js';
import { rsa, type RdmCompare, type RdmKind } from './rsa.js';

/** Every alignment metric by its CLI / experiment name. */
export const alignmentMetrics = [
  'linear-cka', 'rbf-cka', 'debiased-cka', 'rsa', 'regression', 'semi-matching', 'soft-matching', 'procrustes',
] as const;
export type AlignmentMetric = (typeof alignmentMetrics)[number];

export interface AlignOptions {
  /** rsa: RDM kind (default 'correlation') */
  rdm?: RdmKind;
  /** rsa: RDM comparison (default 'spearman') */
  compare?: RdmCompare;
  /** regression: CV folds (default 5) */
  folds?: number;
  /** regression: ridge alpha (default 1) */
  alpha?: number;
  /** regression: fold-assignment seed (default 0) */
  seed?: Seed;
  /** rbf-cka: bandwidth factor (default 1) */
  factor?: number;
  /** semi-/soft-matching: match on |r| (default false) */
  abs?: boolean;
}

export interface AlignResult {
  metric: AlignmentMetric;
  value: number;
  /** metric-specific scalars (never large arrays), JSON-ready */
  details: Record<string, unknown>;
}

function mean(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/**
 * Run one alignment metric by name: A [n x p] and B [n x q], samples are rows. Returns the
 * value and a few JSON-ready details. Used by `sparsecode align` and the experiments.
 */
export function align(A: Matrix, B: Matrix, metric: AlignmentMetric, opts: AlignOptions = {}): AlignResult {
  const shape = { samples: A.rows, widthA: A.cols, widthB: B.cols };
  switch (metric) {
    case 'linear-cka': {
      const r = linearCKA(A, B);
      return { metric, value: r.value, details: { ...shape, space: r.space } };
    }
    case 'debiased-cka': {
      const r = debiasedCKA(A, B);
      return { metric, value: r.value, details: { ...shape, space: r.space } };
    }
    case 'rbf-cka': {
      const r = rbfCKA(A, B, { factor: opts.factor });
      return { metric, value: r.value, details: { ...shape, factor: opts.factor ?? 1, sigmaA: r.sigmaA, sigmaB: r.sigmaB } };
    }
    case 'rsa': {
      const r = rsa(A, B, { rdm: opts.rdm, compare: opts.compare });
      return { metric, value: r.value, details: { ...shape, rdm: r.rdm, compare: r.compare, pairs: r.pairs } };
    }
    case 'regression': {
      const r = regression(A, B, { folds: opts.folds, alpha: opts.alpha, seed: opts.seed });
      return { metric, value: r.value, details: { ...shape, meanR: r.meanR, r2: r.r2, folds: r.folds, alpha: r.alpha, seed: opts.seed ?? 0 } };
    }
    case 'semi-matching': {
      const r = semiMatching(A, B, { abs: opts.abs });
      return { metric, value: r.value, details: { ...shape, abs: !!opts.abs } };
    }
    case 'soft-matching': {
      const r = softMatching(A, B, { abs: opts.abs });
      return { metric, value: r.value, details: { ...shape, abs: !!opts.abs, method: r.method, planEntries: r.plan.mass.length } };
    }
    case 'procrustes': {
      const r = procrustes(A, B);
      return { metric, value: r.value, details: { ...shape, residual: r.residual, angle: r.angle, meanSingularValue: mean(r.singularValues) } };
    }
    default:
      fail('E_ARG', `unknown alignment metric "${String(metric)}"; choose one of ${alignmentMetrics.join(', ')}`);
  }
}
