import type { SAEKind } from '../../dictionary/sae/config.js';
import type { WebGpuContext } from '../../backend/webgpu/context.js';
import { activeWebGpu } from '../../backend/webgpu/node.js';

/**
 * Whether `fit` trains on the GPU: with `--backend webgpu` (and an adapter found) a TopK SAE on
 * data in memory with a fixed budget and no checkpoints trains in `fitTopKWebGpu`; anything else
 * trains on the CPU, and `note` says why and what to pass. `context` is null and `note` empty
 * when no GPU was asked for.
 */
export function webgpuFitPlan(o: Record<string, any>, kind: SAEKind, streaming: boolean, auto: boolean): { context: WebGpuContext | null; note: string } {
  const context = activeWebGpu();
  if (!context) return { context: null, note: '' };
  const why: string[] = [];
  if (kind !== 'topk') why.push(`it trains TopK SAEs (this is ${kind})`);
  if (streaming) why.push('it needs the rows in memory (this run streams them; raise --memory-budget or drop --stream)');
  if (auto) why.push('it needs a fixed budget (pass --epochs N or --steps T instead of --epochs auto)');
  if (o['checkpoint-every'] !== undefined || o.resume) why.push('it writes no checkpoints (drop --checkpoint-every / --resume)');
  if (why.length === 0) return { context, note: '' };
  return { context: null, note: `fit: training on the CPU, not the GPU: the WebGPU trainer ${why.join('; ')}` };
}
