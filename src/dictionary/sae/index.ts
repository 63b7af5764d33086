import { fail } from '../../core/errors.js';
import type { SparseAutoencoder } from './base.js';
import { BatchTopKSAE } from './batchtopk.js';
import { SAE_KINDS, type SAEConfig, type SAEKind } from './config.js';
import { JumpReluSAE } from './jumprelu.js';
import { MatchingPursuitSAE } from './mp.js';
import { MatryoshkaSAE } from './matryoshka.js';
import { ReluSAE } from './relu.js';
import { TopKSAE } from './topk.js';

export { SparseAutoencoder, SaeStepBuffers, type LatentActivity, type SAEWeights, type StepStats } from './base.js';
export { SparseActivationSAE } from './sparse.js';
export { TopKSAE } from './topk.js';
export { BatchTopKSAE } from './batchtopk.js';
export { ReluSAE } from './relu.js';
export { JumpReluSAE } from './jumprelu.js';
export { MatchingPursuitSAE } from './mp.js';
export { MatryoshkaSAE } from './matryoshka.js';
export { TopKTranscoder, jointRows, type TranscoderConfig, type TranscoderWeights } from './transcoder.js';
export { SAE_KINDS, SAE_METHOD_KINDS, saeKindOf, defaultMatryoshkaWidths, checkMatryoshkaWidths, resolveConfig, type SAEConfig, type SAEKind, type ResolvedSAEConfig } from './config.js';
export { geometricMedian, projectRadial } from './init.js';
export { fitTopKWebGpu, type WebGpuFitOptions, type WebGpuFitResult } from './webgpu-fit.js';

/** Make an SAE of the given kind: `createSAE('topk', {atoms: 4096, k: 32})`. */
export function createSAE(kind: SAEKind, config: SAEConfig): SparseAutoencoder {
  switch (kind) {
    case 'relu':
      return new ReluSAE(config);
    case 'topk':
      return new TopKSAE(config);
    case 'batchtopk':
      return new BatchTopKSAE(config);
    case 'jumprelu':
      return new JumpReluSAE(config);
    case 'mp':
      return new MatchingPursuitSAE(config);
    case 'matryoshka':
      return new MatryoshkaSAE(config);
    default:
      return fail('E_ARG', `unknown SAE kind "${kind}"; choose ${SAE_KINDS.join(', ')}`);
  }
}
