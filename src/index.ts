/** sparsecode: the library API. */
export * from './core/index.js';
export * from './backend/index.js';
export { linearSumAssignment } from './linalg/hungarian.js';
export { cholesky, choleskySolve, solveSPD } from './linalg/cholesky.js';
export { spectralNormSquared } from './linalg/power.js';
export * from './worlds/index.js';
export * from './metrics/index.js';
