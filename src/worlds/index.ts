export * from './superposition.js';
export * from './dynamics.js';
export * from './toy-model.js';
export * from './anisotropic.js';
export { conceptWorld, silentFraction, type ConceptWorld, type ConceptWorldOptions } from './concepts.js';
export {
  ScmWorld, SCM_VARIABLES, SCM_REGIMES, scmTarget, latentColumn,
  type ScmVariable, type ScmRegime, type ScmWorldOptions, type ScmNoise, type ScmIntervention,
} from './scm.js';
export {
  OuWorld, sampleLatents, ouViews, latentGrid, makeMixing, checkLatentLaw, checkRho, gennormUnitScale, householderQ, AdditiveCouplingMixing,
  spiralMixing, bananaMixing, sinusoidMixing, LATENT_LAWS, MIXINGS,
  type LatentLaw, type LatentLawKind, type Mixing, type MixingName, type OuWorldOptions, type OuBatch,
} from './ou-views.js';
export { MatchedEncoder } from './matched-encoder.js';
export * from './trajectories.js';
export * from './orbits.js';
