export * from './superposition.js';
export * from './dynamics.js';
export * from './toy-model.js';
export * from './anisotropic.js';
export {
  OuWorld, sampleLatents, ouViews, latentGrid, makeMixing, checkLatentLaw, checkRho, gennormUnitScale, householderQ, AdditiveCouplingMixing,
  spiralMixing, bananaMixing, sinusoidMixing, LATENT_LAWS, MIXINGS,
  type LatentLaw, type LatentLawKind, type Mixing, type MixingName, type OuWorldOptions, type OuBatch,
} from './ou-views.js';
export { MatchedEncoder } from './matched-encoder.js';
