/**
 * The slice of the WebGPU API this layer uses, declared here so the package needs neither
 * `@webgpu/types` nor a DOM lib that has them. Structural types: the browser's `navigator.gpu`
 * and the `webgpu` npm package's `create()` both satisfy them.
 */
export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly [key: string]: unknown;
}

export interface GpuAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
}

export interface GpuLike {
  requestAdapter(opts?: { powerPreference?: 'low-power' | 'high-performance'; forceFallbackAdapter?: boolean }): Promise<GpuAdapter | null>;
}

export interface GpuAdapter {
  readonly limits: GpuLimits;
  readonly info?: GpuAdapterInfo;
  readonly features: { has(name: string): boolean };
  requestDevice(desc?: { requiredLimits?: Record<string, number>; label?: string }): Promise<GpuDevice>;
}

export interface GpuDeviceLostInfo {
  readonly reason: string;
  readonly message: string;
}

export interface GpuError {
  readonly message: string;
}

export interface GpuDevice {
  readonly limits: GpuLimits;
  readonly queue: GpuQueue;
  readonly lost: Promise<GpuDeviceLostInfo>;
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GpuBuffer;
  createShaderModule(desc: { code: string; label?: string }): GpuShaderModule;
  createComputePipeline(desc: { layout: 'auto'; compute: { module: GpuShaderModule; entryPoint: string; constants?: Record<string, number> }; label?: string }): GpuComputePipeline;
  createBindGroup(desc: { layout: GpuBindGroupLayout; entries: { binding: number; resource: { buffer: GpuBuffer; offset?: number; size?: number } }[]; label?: string }): GpuBindGroup;
  createCommandEncoder(desc?: { label?: string }): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GpuError | null>;
  destroy(): void;
}

export interface GpuQueue {
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBufferLike, dataOffset?: number, size?: number): void;
  submit(buffers: GpuCommandBuffer[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuShaderModule {
  getCompilationInfo?(): Promise<{ messages: readonly { type: string; message: string; lineNum: number }[] }>;
}
export interface GpuBindGroupLayout { readonly __brand?: 'GPUBindGroupLayout' }
export interface GpuBindGroup { readonly __brand?: 'GPUBindGroup' }
export interface GpuCommandBuffer { readonly __brand?: 'GPUCommandBuffer' }

export interface GpuComputePipeline {
  getBindGroupLayout(index: number): GpuBindGroupLayout;
}

export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, group: GpuBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(desc?: { label?: string }): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  clearBuffer(buffer: GpuBuffer, offset?: number, size?: number): void;
  finish(): GpuCommandBuffer;
}

/** GPUBufferUsage and GPUMapMode flags (the spec's values; not every runtime defines the globals). */
export const USAGE = { MAP_READ: 0x0001, MAP_WRITE: 0x0002, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 } as const;
export const MAP_READ = 0x0001;
