/**
 * Representational alignment: compare two representations A [n x p] and B [n x q] of the same
 * n samples (rows), widths may differ. Pure functions; every metric returns `{ value, ... }`.
 */
export { linearCKA, debiasedCKA, rbfCKA } from './cka.js';
export type { CkaOptions, CkaResult, CkaSpace, RbfCkaOptions, RbfCkaResult } from './cka.js';
export { rsa, rdm } from './rsa.js';
export type { RsaOptions, RsaResult, RdmKind, RdmCompare } from './rsa.js';
export { regression, kfoldIds } from './regression.js';
export type { RegressionOptions, RegressionResult } from './regression.js';
export { crossCorrelation, semiMatching, softMatching, softMatchingFromScores } from './matching.js';
export type { MatchingOptions, SemiMatchingResult, SoftMatchingResult } from './matching.js';
export { transport } from './transport.js';
export { procrustes } from './procrustes.js';
export type { ProcrustesOptions, ProcrustesResult } from './procrustes.js';
export { pearson, spearman, rankAverage } from './common.js';
export {
  kSparseLatentCovariance, bernoulliLatentCovariance, predictedLinearCKA, predictedRegressionR2,
  randomProjectionCKA, randomProjectionR2,
} from './superposition.js';
export type { LatentCovariance } from './superposition.js';
export { alignmentMetrics, align } from './align.js';
export type { AlignmentMetric, AlignOptions, AlignResult } from './align.js';
