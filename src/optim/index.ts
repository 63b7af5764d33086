/** Optimisers, learning-rate schedules and gradient clipping: one of each in the codebase. */
export { Adam, type AdamOptions } from './adam.js';
export {
  lrSchedule, validateLrSchedule, learningRate, validateSchedule, LR_SCHEDULE_KINDS,
  type LrScheduleKind, type LrScheduleSpec, type LrSchedule,
} from './schedule.js';
export { clipGradNorm } from './clip.js';
