export * from './superposition.js';
export * from './dynamics.js';
export * from './toy-model.js';
export * from './anisotropic.js';
export * from './trajectories.js';
export * from './orbits.js';
