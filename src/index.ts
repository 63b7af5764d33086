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
export * from './objectives/index.js';
export {
  createSAE, SparseAutoencoder, TopKSAE, BatchTopKSAE, ReluSAE, JumpReluSAE, MatchingPursuitSAE, SAE_KINDS, geometricMedian,
  trainSAE, saveCheckpoint, loadCheckpoint, learnDictionaryFista, onlineDictionaryLearning, SAE_METHOD_KINDS, saeKindOf,
  DLFista, OnlineDL,
  type SAEConfig, type SAEKind, type SAEWeights, type FitOptions, type FitResult, type TrainProgress, type ResolvedSAEConfig, type StepStats,
  type DLFistaConfig, type OnlineDLConfig, type DictionaryEstimatorConfig, type DictionaryFitOptions,
  type DlFistaOptions, type DlFistaResult, type DictionaryProgress, type OnlineDlOptions, type OnlineDlResult,
} from './dictionary/index.js';
export { saveParams, loadParams, type LoadParamsOptions } from './io/nn-params.js';
export { readSafetensors, writeSafetensors, decodeSafetensors, encodeSafetensors, type SafetensorsFile, type Tensor, type TensorInput } from './io/safetensors.js';
export { saveModel, MODEL_KINDS, type ModelKind, type ModelSpec, type ModelWeights, type SaveModelOptions } from './io/model.js';
export { readModel, detectLayout, LAYOUT_DESCRIPTIONS, type LayoutName, type LayoutInfo, type ReadModel, type ReadModelOptions } from './io/sae-layouts.js';
export { readNpz, decodeNpz, encodeNpz, writeNpz, type NpzFile } from './io/npz.js';
export { loadModel, canonicalSpec, makeModel, unitNormWarning, type LoadedModel, type LoadModelOptions } from './dictionary/model-runtime.js';
export { foldActivationScale, foldDecoderNorm, foldDecoderNormIntoGate, foldInputBias, foldFeatureScale, foldWhitening, decoderNorms, hasUnitDecoder } from './dictionary/fold.js';
export { exportSaelens, saelensSpec, firingCounts, logSparsity, type ExportSaelensOptions } from './dictionary/model-export.js';
export { inspectPath, type Inspection, type TensorListing } from './io/inspect.js';
export { writeNeuronpediaExport, readNeuronpediaView, decoderNeighbours, type NeuronpediaOptions, type NeuronpediaResult } from './explore/neuronpedia.js';
export { modelDictionary, type ModelDictionary } from './dictionary/model-dictionary.js';
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
export {
  runInterpretabilityRepro, runInterpretabilityCell, interpretabilityCells, interpretabilityMargins, writeInterpretabilityReport,
  INTERPRETABILITY_METHODS, INTERPRETABILITY_WORLDS, INTERPRETABILITY_PRESETS,
  type InterpretabilityReproOptions, type InterpretabilitySettings, type InterpretabilityConfig,
} from './experiments/interpretability.js';
export {
  runCausalRungsRepro, runCausalRungsCell, causalRungsCells, trainRungsNet, splitNet, rungClaims, writeCausalRungsReport,
  RUNG_METHODS, RUNG_SUBMETHODS, CAUSAL_RUNGS_PRESETS,
  type CausalRungsReproOptions, type CausalRungsSettings, type CausalRungsConfig, type SplitNet,
} from './experiments/causal-rungs.js';
export { loadDigits, stratifiedSplit, selectClasses, partitionByClass, checkClients, type LabelledData, type Client } from './federated/data.js';
export {
  GENERATORS, DEFAULT_GENERATOR_SETTINGS, fitGaussian, fitMixture, gmmEm, kmeansInit, createVae, vaeLossAndGrad, fitVae, fitModule, sampleModule, payloadBytes,
  type GeneratorKind, type GeneratorSettings, type ModulePayload, type GmmParams, type Vae,
} from './federated/generators.js';
export {
  createClassifier, trainClassifier, evaluate, flatParams, trainCentralised, fedAvg, clientModules, bytesByClient, synthesise, serverTrain, unlearnClient,
  type ClassifierSettings, type FedAvgSettings, type FactorySettings, type Evaluation,
} from './federated/learn.js';
export {
  runFederatedFactory, runFederatedFactoryCell, federatedFactoryCells, federatedFactoryMethods, writeFederatedFactoryReport,
  FF_METHODS, FF_METRICS, FF_PRESETS, type FederatedFactorySettings, type FederatedFactoryConfig, type FederatedFactoryOptions,
} from './experiments/federated-factory.js';
export {
  runLejepaRepro, runLejepaCell, lejepaCells, writeLejepaReport, LEJEPA_EXPERIMENTS, LEJEPA_PRESETS, LEJEPA_METRICS, PAPER_SCALING, PAPER_GENNORM,
  type LejepaConfig, type LejepaSettings, type LejepaExperiment, type LejepaReproOptions,
} from './experiments/lejepa.js';
export {
  runRestrav, runRestravCell, restravFeatures, writeRestravReport, RESTRAV_METHODS, RESTRAV_METRICS, RESTRAV_PRESETS,
  type RestravOptions, type RestravSettings, type RestravConfig, type RestravMethod,
} from './experiments/restrav.js';
export {
  runPhyip, runPhyipCell, buildPhyipState, orbitWindows, frozenLinear, mlpProbe, finetune, forceScores, PHYIP_METHODS, PHYIP_METRICS, PHYIP_PRESETS,
  type PhyipOptions, type PhyipSettings, type PhyipConfig, type PhyipMethod, type PhyipState, type OrbitWindows,
} from './experiments/phyip.js';
