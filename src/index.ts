/** sparsecode: the library API. */
export * from './core/index.js';
export * from './backend/index.js';
export * from './linalg/index.js';
export * from './optim/index.js';
export * from './nn/index.js';
export * from './preprocess/index.js';
export * from './worlds/index.js';
export * from './metrics/index.js';
export * from './inference/index.js';
export * from './alignment/index.js';
export {
  createSAE, SparseAutoencoder, TopKSAE, BatchTopKSAE, ReluSAE, JumpReluSAE, MatchingPursuitSAE, SAE_KINDS, geometricMedian,
  trainSAE, saveCheckpoint, loadCheckpoint, learnDictionaryFista, onlineDictionaryLearning,
  type SAEConfig, type SAEKind, type SAEWeights, type FitOptions, type FitResult, type TrainProgress,
} from './dictionary/index.js';
export { saveParams, loadParams, type LoadParamsOptions } from './io/nn-params.js';
export { readSafetensors, writeSafetensors, decodeSafetensors, encodeSafetensors, type SafetensorsFile, type Tensor, type TensorInput } from './io/safetensors.js';
export { saveModel, loadModel, MODEL_KINDS, type ModelKind, type ModelSpec, type LoadedModel, type ModelWeights } from './io/model.js';
export { modelDictionary, type ModelDictionary } from './io/model-dictionary.js';
export { RowStream, sampleRows, readRowsAt, transformedRows, defaultSampleRows, isRowSource, type RowStreamOptions, type StreamPosition } from './dictionary/stream.js';
export type { StreamFitOptions } from './dictionary/trainer.js';
export { readNpy, readNpyMatrix, writeNpy, decodeNpy, encodeNpy, openNpy, type NpyArray, type NpyReader } from './io/npy.js';
export { createNpyWriter, type NpyWriter, type NpyWriterOptions } from './io/npy-writer.js';
export {
  openRows, readAllRows, batches, planBatches, matrixRows, listTensors, memoryBudgetBytes,
  type RowSource, type OpenRowsOptions, type ReadAllOptions, type BatchOptions, type BatchPlan, type RowBatch, type TensorInfo,
} from './io/rows.js';
export {
  runAlignmentSuperposition, runAlignmentSuperpositionCell, predictedSqEuclideanRSA, makeTwoSystems, ALIGNMENT_SUPERPOSITION_METHODS,
  type AlignmentSuperpositionOptions, type AlignmentSuperpositionSettings, type AlignmentSuperpositionConfig,
} from './experiments/alignment-superposition.js';
export {
  runHiddenAlignment, runHiddenAlignmentCell, buildHiddenAlignmentState, randomTopKSAE, HIDDEN_ALIGNMENT_METHODS,
  type HiddenAlignmentOptions, type HiddenAlignmentSettings, type HiddenAlignmentConfig,
} from './experiments/hidden-alignment.js';
export { MlpEncoder, mlpEncoderFlops, mlpTrainingFlopsPerStep, type MlpEncoderConfig, type MlpEncoderFitOptions, type MlpEncoderFitResult } from './dictionary/index.js';
export {
  runAmortisationGap, runAmortisationCell, amortisationWorld, writeAmortisationReport, AMORTISATION_METHODS, AMORTISATION_SETTINGS,
  type AmortisationGapRunOptions, type AmortisationSettings, type AmortisationConfig, type AmortisationMethod, type AmortisationSetting,
} from './experiments/amortisation-gap.js';
export {
  runWhiteningRepro, runWhiteningCell, whiteningCells, fitInputMap, writeWhiteningReport, whiteningDeltas, parseWhiteningMethod,
  WHITENING_KINDS, WHITENING_METHODS, WHITENING_METRICS, PREPROCESSINGS, WHITENING_PRESETS,
  type WhiteningReproOptions, type WhiteningSettings, type WhiteningConfig, type WhiteningKind, type Preprocessing, type InputMap,
} from './experiments/whitening.js';
