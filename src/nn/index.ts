/**
 * Neural-network building blocks, llm.c style: named forward/backward pairs (no hidden tape),
 * PyTorch's names, shapes, initialisation and numerics; losses with their gradients; one
 * gradcheck. Saving and loading parameters as .safetensors is io/nn-params.ts (saveParams,
 * loadParams), one layer up.
 */
export { type Param, type StateTensor, type Layer } from './types.js';
export { kaimingUniform, biasUniform } from './init.js';
export { Linear, TransposedLinear, type LinearOptions, type TransposedLinearOptions } from './linear.js';
export { ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softplus, Identity, activation, erf, sigmoid, ACTIVATIONS, type ActivationName } from './activations.js';
export { BatchNorm1d, LayerNorm, type BatchNormOptions, type LayerNormOptions } from './norm.js';
export { Sequential, mlp, type MlpOptions } from './sequential.js';
export { mseLoss, crossEntropy, bceWithLogits, gaussianKL, type LossResult } from './loss.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult, type GradcheckParam } from './gradcheck.js';
