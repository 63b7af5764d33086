/** Representation-learning objectives: SIGReg / LeJEPA, whitening, InfoNCE, and the two-view trainer. */
export {
  sigreg, sigregGrad, Sigreg, sigregKnots, randomDirections, checkDirections, sigregGaussianExpectation, sigregZeroPerSample, SIGREG_DEFAULTS,
  type SigregOptions, type SigregResult, type SigregGradResult, type SigregKnots,
} from './sigreg.js';
export {
  ViewObjective, lejepaLoss, whiteningLoss, infoNceLoss, alignmentTerm, whiteningTerm, infoNceTerm, checkLambda, OBJECTIVES, OBJECTIVE_DEFAULTS,
  type ObjectiveName, type ObjectiveSpec, type ObjectiveValue,
} from './views.js';
export { trainViews, ViewTrainer, embed, constantCosineSchedule, type ViewEncoder, type TrainViewsOptions, type TrainViewsProgress, type TrainViewsResult } from './train.js';
