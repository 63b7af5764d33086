import { fail } from '../../core/errors.js';
import { assertInt, assertNumber } from '../../core/validate.js';
import type { ConvergenceOptions } from '../convergence.js';
import type { Seed } from '../../core/rng.js';

/** The SAE kinds sparsecode trains. */
export type SAEKind = 'relu' | 'topk' | 'batchtopk' | 'jumprelu' | 'mp' | 'matryoshka';
export const SAE_KINDS: readonly SAEKind[] = ['relu', 'topk', 'batchtopk', 'jumprelu', 'mp', 'matryoshka'];

/** The method names the CLI and the experiments use for each SAE kind (`topk-sae` → `topk`). */
export const SAE_METHOD_KINDS: Readonly<Record<string, SAEKind>> = {
  'relu-sae': 'relu',
  'topk-sae': 'topk',
  'batchtopk-sae': 'batchtopk',
  'jumprelu-sae': 'jumprelu',
  'mp-sae': 'mp',
  'matryoshka-sae': 'matryoshka',
};

/** The SAE kind of a method name (`topk-sae` → `topk`), or undefined for a method that is not an SAE. */
export function saeKindOf(method: string): SAEKind | undefined {
  return Object.hasOwn(SAE_METHOD_KINDS, method) ? SAE_METHOD_KINDS[method] : undefined;
}

/** Default sparsity coefficients, in the scaled input space (unit mean squared norm). */
export const DEFAULT_L1 = 0.15;
export const DEFAULT_L0 = 0.02;

/**
 * Configuration shared by every SAE. Only `atoms` is required (and `k` for the top-k kinds and
 * matching pursuit). Loss conventions (in the scaled input space, per batch of n rows):
 *   sqErr = (1/n) sum_i ||xhat_i - x_i||^2   (squared error per row; = dim x the per-entry mse)
 *   relu:      + l1 * (1/n) sum_i sum_a z_ia * (l1DecoderNorm ? ||W_dec[a]|| : 1)
 *   jumprelu:  + l0 * (1/n) sum_i #{a : z_ia > 0}      (straight-through estimator, rectangle kernel)
 *              or, with sparsityLoss 'tanh', + l0 * (1/n) sum_i sum_a tanh(tanhScale * z_ia * ||W_dec[a]||)
 *   topk, batchtopk: + auxkCoef * AuxK loss over dead latents
 *   mp:        sqErr only
 */
export interface SAEConfig {
  atoms: number;
  /** active latents per row (topk, mp) or on average per row (batchtopk) */
  k?: number;
  /**
   * ReLU SAE L1 coefficient, in the scaled input space (unit mean squared norm when
   * `scaleInputs`) [0.15]. It soft-thresholds codes at about l1/2 of that scale; 0.15 brings a
   * 64-latent, k = 3, dim-32 world to L0 ≈ 2k with matched |cos| ≈ 0.95 in 1.6k steps (1e-2,
   * the old default, left L0 ≈ 40).
   */
  l1?: number;
  /** ReLU SAE: weight each latent's L1 by its decoder row norm (for use with normalizeDecoder false) [false] */
  l1DecoderNorm?: boolean;
  /**
   * JumpReLU L0 coefficient: the reconstruction error (in units of the scaled input's mean
   * squared norm) one more active latent must buy [0.02]
   */
  l0?: number;
  /**
   * JumpReLU initial threshold, in the scaled input space [0.05]. Thresholds are learned in log
   * space, where Adam moves them by about lr per step: starting at the paper's 1e-3 (far below
   * any code) they cannot rise to the code scale in a few thousand steps, and L0 stays near
   * atoms/2. Rajamanoharan et al.'s 1e-3 suits their ~10⁵-step runs; pass it explicitly there.
   */
  thresholdInit?: number;
  /**
   * JumpReLU straight-through kernel bandwidth, in the scaled input space [0.05]: only
   * pre-activations within bandwidth/2 of a threshold teach it, so a narrow kernel (the paper's
   * 1e-3) gives the threshold a gradient from very few samples.
   */
  bandwidth?: number;
  /**
   * JumpReLU sparsity penalty ['step']: 'step' counts active latents (its gradient reaches only
   * the thresholds, through the straight-through kernel); 'tanh' is SAELens's
   * `jumprelu_sparsity_loss_mode="tanh"`, sum_a tanh(tanhScale · z_a · ‖W_dec[a]‖), a smooth count
   * whose gradient also pulls small active codes toward 0 (and reaches the thresholds through z's
   * straight-through estimator). The SynthSAEBench experiments train their JumpReLU SAEs with it.
   */
  sparsityLoss?: 'step' | 'tanh';
  /** JumpReLU 'tanh' penalty: the scale inside the tanh, in the scaled input space [4] */
  tanhScale?: number;
  /**
   * ReLU / JumpReLU: tune the sparsity coefficient (l1 / l0) during training to reach this mean
   * L0 (active latents per row), with the rate-damped integral controller of the SynthSAEBench
   * experiments (dictionary/sparsity-schedule.ts): the coefficient is l1 (or l0) times a
   * multiplier in [0.01, 100] that moves by at most 0.03 % per step [off]
   */
  targetL0?: number;
  /** the first 0-based step at which the L0 controller may move the multiplier [0] */
  targetL0Start?: number;
  /**
   * the L0 controller's integral gain: the most the multiplier moves per step, relative [3e-4,
   * the reference's, made for its 195,312 steps; for a run of T steps about 60 / T gives the
   * controller the same authority over the run (gain × steps), e.g. 0.02 for 3000]
   */
  targetL0Gain?: number;
  /**
   * ReLU / JumpReLU: raise the sparsity coefficient linearly from 0 over this many steps
   * (SAELens's l1_warm_up_steps / l0_warm_up_steps: step t uses min(1, t / steps) of it) [0]
   */
  sparsityWarmupSteps?: number;
  /** keep decoder rows unit-norm (project out the radial gradient, renormalise each step) [true] */
  normalizeDecoder?: boolean;
  /** learning rate [1e-3] */
  lr?: number;
  /** rows per step [1024, clamped to the number of samples] */
  batch?: number;
  /** training steps; when absent, epochs * ceil(n / batch) */
  steps?: number;
  /**
   * passes over the data when `steps` is absent [10]; 'auto': train until the FVU on a held-out
   * slice stops improving (dictionary/convergence.ts; `convergence` tunes the rule), the
   * default of `sparsecode fit`
   */
  epochs?: number | 'auto';
  /** the stopping rule of epochs 'auto' (dictionary/convergence.ts ConvergenceOptions) */
  convergence?: ConvergenceOptions;
  /** linear warm-up steps [min(1000, 5% of steps)] */
  warmupSteps?: number;
  /** linear decay over the last steps [20% of steps] */
  decaySteps?: number;
  /** decoupled weight decay (AdamW) on the weight matrices [0] */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** decoder bias initialisation [geometric-median] */
  bDecInit?: 'geometric-median' | 'mean' | 'zeros';
  /** scale inputs to unit mean squared norm while training; folded into the weights afterwards [true] */
  scaleInputs?: boolean;
  /** a latent is dead when it has not fired for this many training samples [min(1e7, n)] */
  deadAfter?: number;
  /** AuxK: latents used for the auxiliary loss [min(atoms, floor(dim / 2))] */
  auxK?: number;
  /** AuxK coefficient [1/32]; 0 turns AuxK off */
  auxkCoef?: number;
  /** ReLU SAE: resample dead latents every this many steps; 0 = never [0 unless set] */
  resampleEvery?: number;
  /** BatchTopK: EMA factor for the inference threshold [0.99] */
  thresholdBeta?: number;
  /** the seed of fit() (initialisation, batch order); fit's own `seed` option overrides it */
  seed?: Seed;
  /**
   * Matryoshka: the nested prefix widths m_1 < m_2 < ... < m_G = atoms (SAELens
   * `matryoshka_widths`); the loss sums the reconstruction error of every prefix
   * [atoms/16, atoms/8, atoms/4, atoms/2, atoms, dropping widths below 1 and repeats]
   */
  matryoshkaWidths?: number[];
}

/** The default Matryoshka prefix widths: atoms/16, /8, /4, /2, atoms (repeats and zeros dropped). */
export function defaultMatryoshkaWidths(atoms: number): number[] {
  const w: number[] = [];
  for (const s of [16, 8, 4, 2, 1]) {
    const m = Math.floor(atoms / s);
    if (m >= 1 && (w.length === 0 || m > w[w.length - 1])) w.push(m);
  }
  return w;
}

/** Refuse prefix widths that do not nest (strictly increasing integers ending at atoms). */
export function checkMatryoshkaWidths(widths: unknown, atoms: number): number[] {
  if (!Array.isArray(widths) || widths.length === 0) fail('E_ARG', `matryoshkaWidths must be a non-empty list of prefix widths ending at atoms = ${atoms}, e.g. ${defaultMatryoshkaWidths(atoms).join(',')}`);
  for (let g = 0; g < widths.length; g++) {
    const m = widths[g];
    if (!Number.isInteger(m) || m < 1) fail('E_ARG', `matryoshkaWidths[${g}] = ${m} is not a positive integer; give prefix widths like ${defaultMatryoshkaWidths(atoms).join(',')}`);
    if (g > 0 && !(m > widths[g - 1])) fail('E_ARG', `matryoshkaWidths do not nest: ${widths.join(',')} must be strictly increasing (prefix ${g} = ${m} <= prefix ${g - 1} = ${widths[g - 1]}); e.g. ${defaultMatryoshkaWidths(atoms).join(',')}`);
  }
  if (widths[widths.length - 1] !== atoms) fail('E_ARG', `matryoshkaWidths must end at atoms = ${atoms} (the full dictionary), got ${widths.join(',')}; e.g. ${defaultMatryoshkaWidths(atoms).join(',')}`);
  return widths.slice();
}

export interface ResolvedSAEConfig extends Required<Omit<SAEConfig, 'steps' | 'warmupSteps' | 'decaySteps' | 'deadAfter' | 'auxK' | 'batch' | 'k' | 'convergence' | 'seed' | 'matryoshkaWidths' | 'targetL0' | 'targetL0Start' | 'targetL0Gain'>> {
  targetL0?: number;
  targetL0Start?: number;
  targetL0Gain?: number;
  k: number;
  seed?: Seed;
  matryoshkaWidths?: number[];
  convergence?: ConvergenceOptions;
  batch: number;
  steps?: number;
  warmupSteps?: number;
  decaySteps?: number;
  deadAfter?: number;
  auxK?: number;
}

/** Fill defaults and refuse bad hyperparameters up front (E_ARG naming the argument and the fix). */
export function resolveConfig(kind: SAEKind, cfg: SAEConfig): ResolvedSAEConfig {
  if (!SAE_KINDS.includes(kind)) fail('E_ARG', `unknown SAE kind "${kind}"; choose ${SAE_KINDS.join(', ')}`);
  if (!cfg || typeof cfg !== 'object') fail('E_ARG', 'SAE config must be an object with at least {atoms}');
  assertInt('atoms', cfg.atoms, 1);
  const needsK = kind === 'topk' || kind === 'batchtopk' || kind === 'mp' || kind === 'matryoshka';
  if (needsK && cfg.k === undefined) fail('E_ARG', `a ${kind} SAE needs k (active latents per row), e.g. {atoms: ${cfg.atoms}, k: ${Math.max(1, Math.min(32, cfg.atoms >> 2))}}`);
  const k = cfg.k ?? 0;
  if (needsK) {
    assertInt('k', k, 1);
    if (k > cfg.atoms) fail('E_ARG', `k = ${k} is larger than atoms = ${cfg.atoms}; choose k <= atoms`);
  }
  const r: ResolvedSAEConfig = {
    atoms: cfg.atoms,
    k,
    l1: cfg.l1 ?? DEFAULT_L1,
    l1DecoderNorm: cfg.l1DecoderNorm ?? false,
    l0: cfg.l0 ?? DEFAULT_L0,
    thresholdInit: cfg.thresholdInit ?? 0.05,
    bandwidth: cfg.bandwidth ?? 0.05,
    sparsityLoss: cfg.sparsityLoss ?? 'step',
    tanhScale: cfg.tanhScale ?? 4,
    normalizeDecoder: cfg.normalizeDecoder ?? true,
    lr: cfg.lr ?? 1e-3,
    batch: cfg.batch ?? 1024,
    epochs: cfg.epochs ?? 10,
    weightDecay: cfg.weightDecay ?? 0,
    beta1: cfg.beta1 ?? 0.9,
    beta2: cfg.beta2 ?? 0.999,
    bDecInit: cfg.bDecInit ?? 'geometric-median',
    scaleInputs: cfg.scaleInputs ?? true,
    auxkCoef: cfg.auxkCoef ?? 1 / 32,
    resampleEvery: cfg.resampleEvery ?? 0,
    thresholdBeta: cfg.thresholdBeta ?? 0.99,
    sparsityWarmupSteps: cfg.sparsityWarmupSteps ?? 0,
  };
  const penalised = kind === 'relu' || kind === 'jumprelu';
  for (const key of ['targetL0', 'targetL0Start', 'targetL0Gain', 'sparsityWarmupSteps'] as const) {
    if (cfg[key] !== undefined && !penalised) fail('E_ARG', `${key} applies to the SAEs with a sparsity coefficient (relu, jumprelu), not to ${kind}${needsK ? ' (its L0 is set by k)' : ''}`);
  }
  if (cfg.targetL0 !== undefined) {
    assertNumber('targetL0', cfg.targetL0, 0, cfg.atoms, { exclusiveMin: true });
    r.targetL0 = cfg.targetL0;
  }
  if (cfg.targetL0Start !== undefined) {
    if (cfg.targetL0 === undefined) fail('E_ARG', 'targetL0Start needs targetL0 (the L0 the controller tunes the sparsity coefficient to)');
    assertInt('targetL0Start', cfg.targetL0Start, 0);
    r.targetL0Start = cfg.targetL0Start;
  }
  if (cfg.targetL0Gain !== undefined) {
    if (cfg.targetL0 === undefined) fail('E_ARG', 'targetL0Gain needs targetL0 (the L0 the controller tunes the sparsity coefficient to)');
    assertNumber('targetL0Gain', cfg.targetL0Gain, 0, 0.5, { exclusiveMin: true });
    r.targetL0Gain = cfg.targetL0Gain;
  }
  assertInt('sparsityWarmupSteps', r.sparsityWarmupSteps, 0);
  for (const key of ['sparsityLoss', 'tanhScale'] as const) {
    if (cfg[key] !== undefined && kind !== 'jumprelu') fail('E_ARG', `${key} applies to a jumprelu SAE (its L0 penalty), not to ${kind}`);
  }
  if (r.sparsityLoss !== 'step' && r.sparsityLoss !== 'tanh') fail('E_ARG', `sparsityLoss must be 'step' or 'tanh', got ${JSON.stringify(r.sparsityLoss)}`);
  assertNumber('tanhScale', r.tanhScale, 0, Infinity, { exclusiveMin: true });
  if (cfg.steps !== undefined) r.steps = cfg.steps;
  if (cfg.warmupSteps !== undefined) r.warmupSteps = cfg.warmupSteps;
  if (cfg.decaySteps !== undefined) r.decaySteps = cfg.decaySteps;
  if (cfg.deadAfter !== undefined) r.deadAfter = cfg.deadAfter;
  if (cfg.auxK !== undefined) r.auxK = cfg.auxK;
  if (cfg.convergence !== undefined) r.convergence = { ...cfg.convergence };
  if (cfg.seed !== undefined) r.seed = cfg.seed;
  if (kind === 'matryoshka') r.matryoshkaWidths = checkMatryoshkaWidths(cfg.matryoshkaWidths ?? defaultMatryoshkaWidths(cfg.atoms), cfg.atoms);
  else if (cfg.matryoshkaWidths !== undefined) fail('E_ARG', `matryoshkaWidths applies to a matryoshka SAE, not to ${kind}`);
  assertNumber('l1', r.l1, 0);
  assertNumber('l0', r.l0, 0);
  assertNumber('thresholdInit', r.thresholdInit, 0, Infinity, { exclusiveMin: true });
  assertNumber('bandwidth', r.bandwidth, 0, Infinity, { exclusiveMin: true });
  if (typeof cfg.lr === 'number' && !(cfg.lr > 0)) fail('E_ARG', `lr must be a positive number, got ${cfg.lr}; try 1e-3`);
  assertNumber('lr', r.lr, 0, Infinity, { exclusiveMin: true });
  assertInt('batch', r.batch, 1);
  if (r.epochs !== 'auto') assertInt("epochs (a positive integer or 'auto')", r.epochs, 1);
  if (r.epochs === 'auto' && r.steps !== undefined) fail('E_ARG', "give epochs 'auto' or steps, not both");
  if (r.convergence !== undefined && (typeof r.convergence !== 'object' || r.convergence === null)) fail('E_ARG', 'convergence must be an object {minSteps, maxSteps, evalEvery, stretch, rtol, heldOutRows}');
  if (r.steps !== undefined) assertInt('steps', r.steps, 1);
  if (r.warmupSteps !== undefined) assertInt('warmupSteps', r.warmupSteps, 0);
  if (r.decaySteps !== undefined) assertInt('decaySteps', r.decaySteps, 0);
  if (r.deadAfter !== undefined) assertInt('deadAfter', r.deadAfter, 1);
  if (r.auxK !== undefined) assertInt('auxK', r.auxK, 1, cfg.atoms);
  assertNumber('weightDecay', r.weightDecay, 0);
  assertNumber('auxkCoef', r.auxkCoef, 0);
  assertInt('resampleEvery', r.resampleEvery, 0);
  assertNumber('thresholdBeta', r.thresholdBeta, 0, 1);
  if (!['geometric-median', 'mean', 'zeros'].includes(r.bDecInit)) fail('E_ARG', `bDecInit must be geometric-median, mean or zeros, got "${r.bDecInit}"`);
  return r;
}
