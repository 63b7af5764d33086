/** Preprocessing: centring, scaling, PCA and ZCA whitening (fit / apply / invert / JSON). */
export { fitWhitening, whiteningFromJSON, Whitening, DEFAULT_WHITENING_EPS } from './whiten.js';
export type { WhiteningMethod, WhiteningOptions, WhiteningJSON } from './whiten.js';
export { fitCenter, fitScale, columnTransformFromJSON, ColumnTransform } from './scale.js';
export type { ColumnTransformJSON } from './scale.js';
