import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';
import { randomMixing } from './superposition.js';

/**
 * A small structural causal model with known latent causal variables, for scoring
 * interpretability evidence at each rung of Pearl's ladder (PROTOCOLS.md §8.2, "Causality is
 * Key for Interpretability Claims to Generalise"):
 *
 *   c := μ_c + u_c                         content (root)
 *   s := ρ·c + √(1 − ρ²)·u_s               style: a child of c (the mechanism the shift changes)
 *   g := u_g                               context (root)
 *   n := u_n                               nuisance (root; not in the target)
 *   x := (v + τ ⊙ e)·A + σ·ε               observation: v = [c, s, g, n], each variable read with
 *                                          noise τ_j (c noisily, so s carries extra evidence about
 *                                          c where ρ ≠ 0), mixed by A [4 x dim] (unit rows)
 *   y := c + g + γ·c·g                     the target a network is trained on (γ = 0.5: the effect
 *                                          of c depends on g and vice versa, so per-unit effects
 *                                          differ from the average effect)
 *
 * u, e ~ N(0, 1) and ε ~ N(0, I) are the exogenous noises. A regime sets (μ_c, ρ): in
 * distribution (μ_c, ρ) = (0, 0.8); the shifts change the mechanism of s (ρ → 0), the law of c
 * (μ_c → 1.5), or both. Interventions do(V := f(V)) recompute the descendants with the same
 * exogenous noises, so the same noises give interventional (rung 2) and per-unit
 * counterfactual (rung 3) outcomes: the SCM is the ground truth every rung is scored against.
 */

export const SCM_VARIABLES = ['c', 's', 'g', 'n'] as const;
export type ScmVariable = (typeof SCM_VARIABLES)[number];

export interface ScmRegime {
  /** mean of c */
  muC: number;
  /** strength of the mechanism c → s, in [-1, 1] */
  rho: number;
}

export const SCM_REGIMES: Record<'id' | 'ood' | 'ood-mechanism' | 'ood-covariate', ScmRegime> = {
  id: { muC: 0, rho: 0.8 },
  ood: { muC: 1.5, rho: 0 },
  'ood-mechanism': { muC: 0, rho: 0 },
  'ood-covariate': { muC: 1.5, rho: 0.8 },
};

export interface ScmWorldOptions {
  /** observation dimension (default 8, >= 4) */
  dim?: number;
  /** reading noise of c (default 0.7) and of the other variables (default 0.1) */
  readNoiseC?: number;
  readNoise?: number;
  /** isotropic observation noise σ (default 0.05) */
  noise?: number;
  /** γ, the c·g interaction in the target (default 0.5) */
  interaction?: number;
  seed?: Seed;
}

/** The exogenous noises of `rows` units: everything that is not an intervention. */
export interface ScmNoise {
  rows: number;
  /** [rows x 4]: u_c, u_s, u_g, u_n */
  u: Float64Array;
  /** [rows x 4]: reading noises e */
  e: Float64Array;
  /** [rows x dim]: observation noise ε */
  eps: Float64Array;
}

/** do(V := value) per row, or do(V := V + shift) (the descendants follow their mechanisms). */
export type ScmIntervention =
  | { variable: ScmVariable; shift: number }
  | { variable: ScmVariable; set: number }
  | { variable: ScmVariable; values: ArrayLike<number> };

export class ScmWorld {
  readonly dim: number;
  readonly readNoise: Float64Array;
  readonly noise: number;
  readonly interaction: number;
  /** [4 x dim], unit rows */
  readonly A: Matrix;

  constructor(o: ScmWorldOptions = {}) {
    this.dim = o.dim ?? 8;
    assertInt('dim', this.dim, 4);
    const rc = o.readNoiseC ?? 0.7, r = o.readNoise ?? 0.1;
    this.noise = o.noise ?? 0.05;
    this.interaction = o.interaction ?? 0.5;
    assertNumber('interaction', this.interaction);
    assertNumber('readNoiseC', rc, 0);
    assertNumber('readNoise', r, 0);
    assertNumber('noise', this.noise, 0);
    this.readNoise = Float64Array.from([rc, r, r, r]);
    this.A = randomMixing(4, this.dim, new Rng(o.seed ?? 0).fork('scm:mixing'));
  }

  /** Draw the exogenous noises of `rows` units. */
  sampleNoise(rows: number, rng: Rng): ScmNoise {
    assertInt('rows', rows, 1);
    const u = new Float64Array(rows * 4), e = new Float64Array(rows * 4), eps = new Float64Array(rows * this.dim);
    rng.fork('u').fillNormal(u);
    rng.fork('e').fillNormal(e);
    rng.fork('eps').fillNormal(eps);
    return { rows, u, e, eps };
  }

  /** The latent variables [rows x 4] (c, s, g, n; float64) under a regime and an optional intervention. */
  latents(z: ScmNoise, regime: ScmRegime, iv?: ScmIntervention): Float64Array {
    checkRegime(regime);
    const n = z.rows, v = new Float64Array(n * 4);
    const k = Math.sqrt(Math.max(0, 1 - regime.rho * regime.rho));
    const j = iv ? SCM_VARIABLES.indexOf(iv.variable) : -1;
    if (iv && j < 0) fail('E_ARG', `unknown variable "${iv.variable}"; the SCM has ${SCM_VARIABLES.join(', ')}`);
    if (iv && 'values' in iv && iv.values.length !== n) fail('E_SHAPE', `intervention values: ${iv.values.length} for ${n} rows`);
    const apply = (i: number, natural: number): number => {
      if (!iv) return natural;
      if ('shift' in iv) return natural + iv.shift;
      if ('set' in iv) return iv.set;
      return iv.values[i];
    };
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      let c = regime.muC + z.u[o];
      if (j === 0) c = apply(i, c);
      let s = regime.rho * c + k * z.u[o + 1];
      if (j === 1) s = apply(i, s);
      let g = z.u[o + 2];
      if (j === 2) g = apply(i, g);
      let nn = z.u[o + 3];
      if (j === 3) nn = apply(i, nn);
      v[o] = c;
      v[o + 1] = s;
      v[o + 2] = g;
      v[o + 3] = nn;
    }
    return v;
  }

  /** Observations x [rows x dim] of latents v (float32 storage). */
  observe(v: Float64Array, z: ScmNoise): Matrix {
    const n = z.rows, d = this.dim;
    if (v.length !== n * 4) fail('E_SHAPE', `observe: latents have ${v.length / 4} rows, the noise ${n}`);
    const X = new Matrix(n, d);
    const r = new Float64Array(4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) r[j] = v[i * 4 + j] + this.readNoise[j] * z.e[i * 4 + j];
      for (let q = 0; q < d; q++) {
        let s = this.noise * z.eps[i * d + q];
        for (let j = 0; j < 4; j++) s += r[j] * this.A.data[j * d + q];
        X.data[i * d + q] = s;
      }
    }
    return X;
  }

  /** The target y = c + g + γ·c·g [rows x 1]. */
  target(v: Float64Array): Matrix {
    const n = v.length / 4;
    const y = new Matrix(n, 1);
    for (let i = 0; i < n; i++) y.data[i] = scmTarget(v[i * 4], v[i * 4 + 2], this.interaction);
    return y;
  }

  /** Everything for `rows` units of a regime: noises, latents, observations, target. */
  draw(rows: number, regime: ScmRegime, rng: Rng): { noise: ScmNoise; v: Float64Array; X: Matrix; y: Matrix } {
    const noise = this.sampleNoise(rows, rng);
    const v = this.latents(noise, regime);
    return { noise, v, X: this.observe(v, noise), y: this.target(v) };
  }
}

/** y = c + g + γ·c·g */
export function scmTarget(c: number, g: number, interaction: number): number {
  return c + g + interaction * c * g;
}

function checkRegime(r: ScmRegime): void {
  if (!r || typeof r !== 'object') fail('E_ARG', 'regime must be {muC, rho}');
  assertNumber('regime.muC', r.muC);
  assertNumber('regime.rho', r.rho, -1, 1);
}

/** Column j of the latents [rows x 4] as float64. */
export function latentColumn(v: Float64Array, variable: ScmVariable): Float64Array {
  const j = SCM_VARIABLES.indexOf(variable);
  if (j < 0) fail('E_ARG', `unknown variable "${variable}"; the SCM has ${SCM_VARIABLES.join(', ')}`);
  const n = v.length / 4, out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = v[i * 4 + j];
  return out;
}
