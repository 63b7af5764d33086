import { fail } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

/**
 * PyTorch's default initialisation of nn.Linear (reset_parameters): the weight by
 * kaiming_uniform_(a = √5), i.e. U(−b, b) with b = gain·√3/√fan_in, gain = √(2/(1 + a²)) = √(1/3),
 * so b = 1/√fan_in; the bias by U(−1/√fan_in, 1/√fan_in). The draws come from `rng`.
 */
export function kaimingUniform(out: Float32Array, fanIn: number, rng: Rng, a = Math.sqrt(5)): Float32Array {
  if (!(fanIn >= 1)) fail('E_ARG', `kaimingUniform: fan_in must be >= 1, got ${fanIn}`);
  // a = √5 gives exactly 1/√fan_in; written so, it rounds like the bias bound
  const bound = a === Math.sqrt(5) ? 1 / Math.sqrt(fanIn) : (Math.sqrt(2 / (1 + a * a)) * Math.sqrt(3)) / Math.sqrt(fanIn);
  rng.fillUniform(out, -bound, bound);
  return out;
}

/** U(−1/√fan_in, 1/√fan_in), PyTorch's default for a Linear's bias. */
export function biasUniform(out: Float32Array, fanIn: number, rng: Rng): Float32Array {
  if (!(fanIn >= 1)) fail('E_ARG', `biasUniform: fan_in must be >= 1, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  rng.fillUniform(out, -bound, bound);
  return out;
}
