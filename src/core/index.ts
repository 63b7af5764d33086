export * from './errors.js';
export * from './matrix.js';
export * from './rng.js';
export * from './validate.js';
