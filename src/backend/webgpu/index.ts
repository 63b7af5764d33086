/**
 * WebGPU: a device-resident layer (tensors that stay on the GPU, WGSL kernels recorded into one
 * command encoder, async readback). Not a synchronous `Backend`: see docs/webgpu.md.
 */
export { WebGpuContext, GpuTensor, type DType, type WebGpuOptions, type UniformField } from './context.js';
export * as webgpuKernels from './kernels.js';
export { AtomLists } from './kernels.js';
export type { GpuLike } from './gpu-types.js';
export { GpuTopKTrainer, type GpuTopKOptions, type TopKParams } from './topk-sae.js';
export { nodeWebGpu, activateWebGpu, activeWebGpu, closeWebGpu } from './node.js';
