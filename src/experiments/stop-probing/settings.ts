import { DEFAULT_RIDGE_ALPHAS } from '../../metrics/probes.js';

/** Every hyperparameter of a sweep; stored in DIR/sweep.json so a resume cannot mix settings. */
export interface StopProbingSettings {
  /** FISTA (oracle, frozen decoders): λ, iterations (run exactly, no early stop), non-negative */
  fistaLambda: number;
  fistaIters: number;
  /** SAEs: AdamW learning rate, batch, epochs, ReLU L1 γ (on the per-element MSE, as the paper) */
  saeLr: number;
  saeBatch: number;
  saeEpochs: number;
  saeGamma: number;
  saeWeightDecay: number;
  /** DL-FISTA: λ, FISTA steps per outer iteration, max outer iterations, tolerance on ‖ΔD‖/‖D‖ */
  dlLambda: number;
  dlFistaIters: number;
  dlMaxOuter: number;
  dlTol: number;
  /** DL-FISTA OOD codes: FISTA iterations with the learned dictionary (early stop at 1e-6 relative change) */
  dlOodIters: number;
  /**
   * DL-FISTA atoms that no sample used in an outer step: absent (or undefined, the presets) re-draws
   * them as seeded random unit directions; 'zero' keeps them at zero for good, the reference code's
   * semantics (docs/stop-probing.md, "Dead atoms"). Absent rather than 'redraw' so that the
   * sweep.json of every folder written before the setting existed still matches.
   */
  dlDeadAtoms?: 'redraw' | 'zero';
  /** ridge probe penalties (leave-one-out CV) */
  probeAlphas: number[];
}

export const FULL_SETTINGS: StopProbingSettings = {
  fistaLambda: 0.1,
  fistaIters: 100,
  saeLr: 5e-4,
  saeBatch: 64,
  saeEpochs: 500,
  saeGamma: 1e-4,
  saeWeightDecay: 0.01,
  dlLambda: 0.1,
  dlFistaIters: 100,
  dlMaxOuter: 1000,
  dlTol: 1e-5,
  dlOodIters: 2000,
  probeAlphas: [...DEFAULT_RIDGE_ALPHAS],
};
