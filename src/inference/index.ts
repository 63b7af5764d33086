import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import type { Backend } from '../backend/types.js';
import { fista, ista } from './fista.js';
import { lassoCD } from './lasso-cd.js';
import { matchingPursuit, omp } from './omp.js';
import type { InferenceResult } from './common.js';

export { fista, ista, chooseGradient, type ProxGradOptions, type ProxGradResult } from './fista.js';
export { lassoCD, type LassoCDOptions, type LassoCDResult } from './lasso-cd.js';
export { omp, matchingPursuit, GRAM_MAX_ATOMS, type OmpOptions, type MatchingPursuitOptions } from './omp.js';
export { lassoObjectives, meanL0, type InferenceResult } from './common.js';

export const ENCODE_METHODS = ['fista', 'ista', 'lasso-cd', 'omp', 'mp'] as const;
export type EncodeMethod = (typeof ENCODE_METHODS)[number];

export interface EncodeOptions {
  /** default 'fista' */
  method?: EncodeMethod;
  /** L1 weight (fista, ista, lasso-cd; required there) */
  lambda?: number;
  /** iteration cap (fista/ista: iterations, default 100; lasso-cd: sweeps, default 1000) */
  iters?: number;
  /** atoms per sample (omp: cap, mp: steps; required for mp) */
  k?: number;
  /** z >= 0 (fista, ista, lasso-cd) */
  nonneg?: boolean;
  /** stopping tolerance; for omp the target squared residual */
  tol?: number;
  /** warm start codes (fista, ista, lasso-cd) */
  init?: Matrix;
  backend?: Backend;
}

export interface EncodeResult extends InferenceResult {
  method: EncodeMethod;
}

/**
 * Codes for X [samples x dim] from a fixed dictionary D [atoms x dim], by the chosen method.
 * The L1 methods solve min 1/2||x − zD||² + λ||z||₁ per sample; `objective` is its mean (for
 * omp/mp, with λ = lambda ?? 0).
 */
export function encode(X: Matrix, D: Matrix, opts: EncodeOptions = {}): EncodeResult {
  const method = opts.method ?? 'fista';
  const needLambda = (m: string) => {
    if (opts.lambda === undefined) fail('E_ARG', `encode: method ${m} needs lambda (the L1 weight, e.g. 0.1)`);
    return opts.lambda;
  };
  const rejectK = (m: string) => {
    if (opts.k !== undefined) fail('E_ARG', `encode: k applies to omp and mp, not to ${m}; use lambda to set sparsity`);
  };
  let r: InferenceResult;
  switch (method) {
    case 'fista':
    case 'ista': {
      rejectK(method);
      const o = { lambda: needLambda(method), iters: opts.iters, tol: opts.tol, nonneg: opts.nonneg, init: opts.init, backend: opts.backend };
      r = method === 'fista' ? fista(X, D, o) : ista(X, D, o);
      break;
    }
    case 'lasso-cd':
      rejectK(method);
      r = lassoCD(X, D, { lambda: needLambda(method), iters: opts.iters, tol: opts.tol, nonneg: opts.nonneg, init: opts.init, backend: opts.backend });
      break;
    case 'omp':
    case 'mp': {
      if (opts.nonneg) fail('E_ARG', `encode: nonneg is not supported by ${method}; use fista, ista or lasso-cd`);
      if (opts.init) fail('E_ARG', `encode: ${method} does not take a warm start`);
      if (method === 'omp') r = omp(X, D, { k: opts.k, tol: opts.tol, backend: opts.backend });
      else {
        if (opts.k === undefined) fail('E_ARG', 'encode: method mp needs k (the number of greedy steps)');
        r = matchingPursuit(X, D, { k: opts.k, backend: opts.backend });
      }
      const lambda = opts.lambda ?? 0;
      if (lambda !== 0 && r.objective !== undefined) {
        let l1 = 0;
        for (let i = 0; i < r.Z.data.length; i++) l1 += Math.abs(r.Z.data[i]);
        r.objective += (lambda * l1) / Math.max(1, X.rows);
      }
      break;
    }
    default:
      fail('E_ARG', `encode: unknown method "${String(method)}"; choose one of ${ENCODE_METHODS.join(', ')}`);
  }
  return { ...r, method };
}
