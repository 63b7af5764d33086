export { mcc, type MccOptions, type MccResult } from './mcc.js';
export { dictionaryRecovery, type DictionaryRecovery } from './dictionary.js';
export { mse, fve, l0, deadLatents, activationCounts } from './reconstruction.js';
export { auc, unitAucs, bestUnitAuc } from './auc.js';
export { ridgeProbe, DEFAULT_RIDGE_ALPHAS, type RidgeProbe, type RidgeProbeOptions } from './ridge-probe.js';
export { logisticProbe, logisticObjective, type LogisticProbe, type LogisticProbeOptions } from './logistic-probe.js';
export { linearIdentifiabilityR2, type IdentifiabilityR2 } from './identifiability.js';
export { amortisationGap, sparseCodingObjectives, fistaFlopsPerSample, lassoLambdaOf, type AmortisationGap, type AmortisationGapOptions } from './amortisation.js';
export {
  mis, misTasks, misScores, misSubsetSize, misTasksToJSON, cosineSimilarity, matrixSimilarity,
  type SimilarityModel, type MisOptions, type MisTaskOptions, type MisTasks, type MisScores, type MisResult,
} from './interpretability.js';
export {
  kmeans, kmeansPlusPlus, kmeansDirections, kmeansActivations, l2NormalizeRows, negativeDistances,
  type KMeansOptions, type KMeansResult, type KMeansInit, type KMeansDirections, type KMeansDirectionsOptions,
} from './kmeans.js';
export {
  parseClaim, parseClaims, checkClaim, checkClaims, EVIDENCE_KINDS, RUNG_NAMES, REGIMES, SCOPES,
  type ClaimRecord, type ClaimCheck, type ClaimFlag, type Rung, type Regime, type Scope,
} from './claims.js';
export { accuracy, argmaxRows, perClassRecall, macroAurocOvr, softmaxRows } from './multiclass.js';
export { groundTruthMetrics, explainedVariance, absCosines, bestTrueFeature, type GroundTruthMetrics } from './ground-truth.js';
export { syntheticAbsorption, type AbsorptionParent } from './absorption.js';
export { syntheticSparseProbing, syntheticSparseProbingTop1, logistic1d, logisticL2, SPARSE_PROBING_KS, type SparseProbingFeature } from './sparse-probing.js';
export {
  worldModelMetrics, gridMetrics, boundQuantities, orthogonalityError, procrustesError, covariance, r2Both,
  type WorldModelMetrics, type BoundQuantities,
} from './world-model.js';
export {
  STRAIGHTENING_FEATURE_NAMES, MIN_TRAJECTORY_FRAMES, straighteningFeatures, trajectoryGeometry, featuresFromGeometry, meanCurvature, batchStraighteningFeatures,
  type TrajectoryGeometry, type TrajectoryInput,
} from './curvature.js';
export { binaryScores, bestF1Threshold, thresholdPredictions, linspace, type BinaryScores } from './classification.js';
export { mape, powerLawFit, type PowerLawFit } from './regression-scores.js';
export { trainStraighteningDetector, trainBinaryMlp, type StraighteningDetector, type StraighteningDetectorOptions, type StraighteningDetectorResult } from './straightening-detector.js';
