/** sparsecode: the library API. */
export * from './core/index.js';
export * from './backend/index.js';
export * from './linalg/index.js';
export * from './preprocess/index.js';
export * from './worlds/index.js';
export * from './metrics/index.js';
