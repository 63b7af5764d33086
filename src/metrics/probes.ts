/**
 * The probes, split into one file each: ridge-probe.ts (ridge regression with the penalty
 * chosen by cross-validation, on linalg/ridge.ts) and logistic-probe.ts (logistic regression by
 * scikit-learn's L-BFGS or Newton's method). This module re-exports both for older imports.
 */
export { ridgeProbe, DEFAULT_RIDGE_ALPHAS, type RidgeProbe, type RidgeProbeOptions } from './ridge-probe.js';
export { logisticProbe, logisticObjective, type LogisticProbe, type LogisticProbeOptions } from './logistic-probe.js';
