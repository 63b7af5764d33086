import { fail } from '../core/errors.js';
import { assertNumber } from '../core/validate.js';

/**
 * Gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (L2 norm over all buffers together):
 * with N = √(Σ g²) (float64 accumulation), every gradient is scaled by maxNorm / (N + 1e-6) when
 * that factor is below 1. Returns N, the norm before clipping. A non-finite N (a NaN or Inf in a
 * gradient) is returned with the gradients left untouched, for the caller to skip the step or
 * fail (PyTorch would scale everything to NaN).
 */
export function clipGradNorm(grads: Float32Array[], maxNorm: number): number {
  if (!Array.isArray(grads)) fail('E_ARG', 'clipGradNorm: grads must be an array of Float32Array gradient buffers');
  assertNumber('clipGradNorm maxNorm', maxNorm, 0, Infinity, { exclusiveMin: true });
  let ss = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  }
  const norm = Math.sqrt(ss);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  }
  return norm;
}
