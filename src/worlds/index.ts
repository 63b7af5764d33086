export * from './superposition.js';
export * from './dynamics.js';
