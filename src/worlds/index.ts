export * from './superposition.js';
