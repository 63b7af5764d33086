/** Dense linear algebra in float64: eigendecomposition, SVD, Cholesky, ridge/least squares, power iteration, assignment. */
export { eighSym } from './eigh.js';
export type { EighResult, EighOptions } from './eigh.js';
export { svd } from './svd.js';
export type { SvdResult, SvdOptions } from './svd.js';
export { cholesky, choleskyInPlace, choleskySolve, choleskySolveInPlace, solveSPD } from './cholesky.js';
export { ridge, lstsq } from './ridge.js';
export type { RidgeOptions, RidgeResult, LstsqResult } from './ridge.js';
export { crossProduct, rowGram } from './gram.js';
export { columnMeans, normalizeRows, randomUnitRows, redrawUnitRow, type DrawCounter } from './rows.js';
export type { GramOptions } from './gram.js';
export { spectralNormSquared } from './power.js';
export { linearSumAssignment } from './hungarian.js';
