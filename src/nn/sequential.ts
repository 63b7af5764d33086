import { fail } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import type { Backend } from '../backend/types.js';
import { ACTIVATIONS, activation, type ActivationName } from './activations.js';
import { Linear } from './linear.js';
import { BatchNorm1d, LayerNorm } from './norm.js';
import type { Layer, Param, StateTensor } from './types.js';

/**
 * Layers applied in order, as torch.nn.Sequential: parameter and buffer names get the layer's
 * index as prefix (`0.weight`, `0.bias`, `1.running_mean`, `3.weight`, …) so a state saved here
 * loads into the same nn.Sequential in PyTorch and back.
 */
export class Sequential implements Layer {
  readonly kind = 'Sequential';
  readonly layers: Layer[];

  constructor(layers: Layer[]) {
    if (!Array.isArray(layers) || layers.length === 0) fail('E_ARG', 'Sequential needs a non-empty array of layers');
    for (const [i, l] of layers.entries()) {
      if (!l || typeof l.forward !== 'function' || typeof l.backward !== 'function') fail('E_ARG', `Sequential: element ${i} is not a layer (needs forward/backward/params)`);
    }
    this.layers = layers;
  }

  get backend(): Backend | undefined {
    return this.layers[0].backend;
  }

  /** Run every layer on this backend (undefined: the active backend at call time). */
  set backend(b: Backend | undefined) {
    for (const l of this.layers) l.backend = b;
  }

  forward(x: Matrix, train = true): Matrix {
    let h = x;
    for (const l of this.layers) h = l.forward(h, train);
    return h;
  }

  /** Back through every layer; with inputGrad = false the first layer skips dL/dx. */
  backward(dy: Matrix, inputGrad = true): Matrix {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i].backward(g, i > 0 || inputGrad);
    return g;
  }

  params(): Param[] {
    const out: Param[] = [];
    this.layers.forEach((l, i) => {
      for (const p of l.params()) out.push({ ...p, name: `${i}.${p.name}` });
    });
    return out;
  }

  buffers(): StateTensor[] {
    const out: StateTensor[] = [];
    this.layers.forEach((l, i) => {
      for (const b of l.buffers()) out.push({ ...b, name: `${i}.${b.name}` });
    });
    return out;
  }

  /** Parameters then buffers: everything PyTorch's state_dict() holds (what saveParams writes). */
  state(): StateTensor[] {
    return [...this.params(), ...this.buffers()];
  }

  zeroGrad(): void {
    for (const l of this.layers) l.zeroGrad();
  }
}

export interface MlpOptions {
  /** widths [in, hidden₁, …, out]: one Linear per consecutive pair (at least two entries) */
  sizes: number[];
  /** nonlinearity after every hidden Linear (default 'relu'), by name or as a factory */
  activation?: ActivationName | (() => Layer);
  /** a BatchNorm1d after every hidden Linear, before the activation (default false) */
  batchNorm?: boolean;
  /** a LayerNorm after every hidden Linear, before the activation (default false) */
  layerNorm?: boolean;
  /** biases in the Linear layers (default true) */
  bias?: boolean;
  /** a nonlinearity after the last Linear too (default none) */
  outputActivation?: ActivationName | (() => Layer);
  /** initialisation draws (PyTorch's defaults), Linear by Linear, weight then bias (default seed 0) */
  rng?: Rng | Seed;
  backend?: Backend;
}

/**
 * A multilayer perceptron as an nn.Sequential: Linear, [BatchNorm1d | LayerNorm], activation, …,
 * Linear [, output activation]. E.g. sizes [784, 256, 10] gives `0` Linear(784, 256), `1` ReLU,
 * `2` Linear(256, 10), with parameters `0.weight`, `0.bias`, `2.weight`, `2.bias`.
 */
export function mlp(o: MlpOptions): Sequential {
  if (!o || typeof o !== 'object' || !Array.isArray(o.sizes)) fail('E_ARG', 'mlp needs {sizes: [in, hidden..., out]}');
  const sizes = o.sizes;
  if (sizes.length < 2) fail('E_ARG', `mlp sizes needs at least [in, out], got [${sizes.join(', ')}]`);
  for (const s of sizes) if (!Number.isInteger(s) || s < 1) fail('E_ARG', `mlp sizes must be positive integers, got [${sizes.join(', ')}]`);
  if (o.batchNorm && o.layerNorm) fail('E_ARG', 'mlp: choose batchNorm or layerNorm, not both');
  const act = (a: ActivationName | (() => Layer)): Layer => {
    if (typeof a === 'function') return a();
    if (!ACTIVATIONS.includes(a)) fail('E_ARG', `mlp activation ${JSON.stringify(a)} is unknown; use one of ${ACTIVATIONS.join(', ')} or a factory`);
    return activation(a);
  };
  for (const a of [o.activation, o.outputActivation]) if (a !== undefined && typeof a !== 'function') act(a);
  const rng = toRng(o.rng);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1], { bias: o.bias ?? true, rng }));
    if (i + 2 < sizes.length) {
      if (o.batchNorm) layers.push(new BatchNorm1d(sizes[i + 1]));
      if (o.layerNorm) layers.push(new LayerNorm(sizes[i + 1]));
      layers.push(act(o.activation ?? 'relu'));
    } else if (o.outputActivation !== undefined) layers.push(act(o.outputActivation));
  }
  const net = new Sequential(layers);
  if (o.backend) net.backend = o.backend;
  return net;
}
