/** Dictionary learners: SAEs (hand-written forward/backward), their trainer, Adam, checkpoints. */
export * from './sae/index.js';
export { Adam, type AdamOptions } from '../optim/adam.js';
export { learningRate, validateSchedule, type LrSchedule } from '../optim/schedule.js';
export { trainSAE, type FitOptions, type FitResult, type TrainProgress } from './trainer.js';
export { L0Controller, sparsityWarmUp, type L0ControllerOptions, type L0ControllerState } from './sparsity-schedule.js';
export { saveCheckpoint, loadCheckpoint, hasCheckpoint, checkpointPath, checkpointStep, CHECKPOINT_FILE, type Checkpoint, type CheckpointExtra } from './checkpoint.js';
export { learnDictionaryFista, type DlFistaOptions, type DlFistaResult, type DictionaryProgress } from './dl-fista.js';
export { onlineDictionaryLearning, type OnlineDlOptions, type OnlineDlResult, type OnlineDlCheckpointOptions } from './online-dl.js';
export { DLFista, OnlineDL, type DLFistaConfig, type OnlineDLConfig, type DictionaryEstimatorConfig, type DictionaryFitOptions } from './estimators.js';
export {
  MlpEncoder, mlpEncoderFlops, mlpTrainingFlopsPerStep, normalizeDecoderRows,
  type MlpEncoderConfig, type MlpEncoderFitOptions, type MlpEncoderFitResult, type MlpLoss, type MlpGradients,
} from './mlp-encoder.js';
