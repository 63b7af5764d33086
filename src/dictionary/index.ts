/** Dictionary learners: SAEs (hand-written forward/backward), their trainer, Adam, checkpoints. */
export * from './sae/index.js';
export { Adam, learningRate, validateSchedule, type AdamOptions, type LrSchedule } from './adam.js';
export { trainSAE, type FitOptions, type FitResult, type TrainProgress } from './trainer.js';
export { saveCheckpoint, loadCheckpoint, hasCheckpoint, checkpointPath, CHECKPOINT_FILE, type Checkpoint } from './checkpoint.js';
