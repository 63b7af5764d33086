export { mcc, type MccOptions, type MccResult } from './mcc.js';
export { dictionaryRecovery, type DictionaryRecovery } from './dictionary.js';
export { mse, fve, l0, deadLatents, activationCounts } from './reconstruction.js';
export { auc, unitAucs, bestUnitAuc } from './auc.js';
export {
  ridgeProbe, logisticProbe, DEFAULT_RIDGE_ALPHAS,
  type RidgeProbe, type RidgeProbeOptions, type LogisticProbe, type LogisticProbeOptions,
} from './probes.js';
export { linearIdentifiabilityR2, type IdentifiabilityR2 } from './identifiability.js';
export { amortisationGap, sparseCodingObjectives, fistaFlopsPerSample, lassoLambdaOf, type AmortisationGap, type AmortisationGapOptions } from './amortisation.js';
export {
  STRAIGHTENING_FEATURE_NAMES, MIN_TRAJECTORY_FRAMES, straighteningFeatures, trajectoryGeometry, featuresFromGeometry, meanCurvature, batchStraighteningFeatures,
  type TrajectoryGeometry, type TrajectoryInput,
} from './curvature.js';
export { binaryScores, bestF1Threshold, thresholdPredictions, linspace, type BinaryScores } from './classification.js';
export { mape, powerLawFit, type PowerLawFit } from './regression-scores.js';
export { trainStraighteningDetector, trainBinaryMlp, type StraighteningDetector, type StraighteningDetectorOptions, type StraighteningDetectorResult } from './straightening-detector.js';
