import { fail } from '../../core/errors.js';
import { type GpuAdapter, type GpuBuffer, type GpuCommandEncoder, type GpuComputePipeline, type GpuDevice, type GpuLike, type GpuLimits, MAP_READ, USAGE } from './gpu-types.js';

/**
 * A WebGPU device and the GPU-resident tensors and kernels around it.
 *
 * The compute `Backend` interface is synchronous on Float32Arrays; WebGPU is asynchronous
 * (results come back through `mapAsync`), so this layer is not put behind it op by op.
 * Instead tensors stay on the GPU, ops record compute passes into one command encoder, and
 * only `read()` waits (with a timeout) for the device. Every wait is bounded: adapter and
 * device requests, `mapAsync` and queue drains time out with an E_BACKEND error rather than
 * hang, and a lost device fails every later call with the reason the device gave.
 */
export type DType = 'f32' | 'i32' | 'u32';

export interface WebGpuOptions {
  /** the GPU entry point: navigator.gpu in a browser, `create([])` of the `webgpu` package in Node (default: globalThis.navigator?.gpu) */
  gpu?: GpuLike | null;
  /** milliseconds before an adapter or device request counts as hung [10000] */
  timeoutMs?: number;
  /** milliseconds before a readback or a wait for queued work counts as hung [60000; 600000 on software adapters, which run GPU work on the CPU] */
  waitTimeoutMs?: number;
  powerPreference?: 'low-power' | 'high-performance';
  /** ask for the fallback (software) adapter */
  forceFallbackAdapter?: boolean;
}

/** A buffer on the device: `length` elements of `dtype`, row-major `shape`. */
export class GpuTensor {
  destroyed = false;
  constructor(readonly ctx: WebGpuContext, readonly buffer: GpuBuffer, readonly length: number, readonly dtype: DType, readonly shape: readonly number[]) {}
  get bytes(): number {
    return this.length * 4;
  }
  /** Copy to the host (waits for the queued work; bounded by the context's timeout). */
  read(): Promise<Float32Array | Int32Array | Uint32Array> {
    return this.ctx.read(this);
  }
  async readF32(): Promise<Float32Array> {
    const r = await this.ctx.read(this);
    if (!(r instanceof Float32Array)) fail('E_DTYPE', `tensor is ${this.dtype}, not f32`);
    return r;
  }
  async readI32(): Promise<Int32Array> {
    const r = await this.ctx.read(this);
    if (!(r instanceof Int32Array)) fail('E_DTYPE', `tensor is ${this.dtype}, not i32`);
    return r;
  }
  /** Overwrite from the host (queued in order with the recorded work). */
  write(data: Float32Array | Int32Array | Uint32Array, offset = 0): void {
    this.ctx.write(this, data, offset);
  }
  /** Free the buffer (once the work already submitted that uses it is done). */
  destroy(): void {
    if (!this.destroyed) {
      this.ctx.flush();
      this.ctx.retire(this.buffer);
      this.destroyed = true;
    }
  }
}

/** A value for a uniform block: 'u' a u32, 'i' an i32, 'f' an f32. */
export type UniformField = ['u' | 'i' | 'f', number];

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`WebGPU: ${what} did not finish within ${ms} ms (a hung or lost device); raise timeoutMs or use another backend`), { code: 'E_BACKEND' })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function describe(adapter: GpuAdapter): string {
  const i = adapter.info ?? {};
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/** The limits this layer raises to the adapter's maximum when it requests the device. */
const RAISED = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'] as const;

export class WebGpuContext {
  /** why the device was lost (undefined while it works) */
  lostReason: string | undefined;
  /** the first uncaptured device error (a WGSL or validation bug), surfaced by the next read */
  deviceError: string | undefined;
  private encoder: GpuCommandEncoder | null = null;
  private pendingUniforms: GpuBuffer[] = [];
  /** buffers freed by the caller while submitted work may still use them: destroyed after the next completed wait */
  private retired: GpuBuffer[] = [];
  private pipelines = new Map<string, GpuComputePipeline>();
  readonly timeoutMs: number;

  /**
   * Where an op has two kernels with the same results (topkRows, gatherDot): the workgroup one
   * (fast on GPUs), or the one-thread-per-item one (fast on software adapters, where workgroup
   * barriers cost milliseconds). Defaults to !isFallback; tests set it to check both.
   */
  preferWorkgroupKernels: boolean;

  /**
   * The entry point and adapter the device came from, held for the context's life: in Node the
   * `webgpu` package's GPU object owns Dawn's instance, and when it is garbage-collected the
   * instance's threads go while the device still runs work (seen as a hang in
   * onSubmittedWorkDone or a crash in a mutex with SwiftShader).
   */
  private readonly owners: [GpuLike, GpuAdapter];

  private constructor(readonly device: GpuDevice, readonly adapterDescription: string, readonly isFallback: boolean, timeoutMs: number, owners: [GpuLike, GpuAdapter]) {
    this.owners = owners;
    this.preferWorkgroupKernels = !isFallback;
    /** the bound on readbacks and queue drains */
    this.timeoutMs = timeoutMs;
    device.lost.then((info) => {
      this.lostReason = `${info.reason || 'unknown'}${info.message ? `: ${info.message}` : ''}`;
    });
    const d = device as unknown as { addEventListener?: (t: string, f: (e: { error?: { message?: string } }) => void) => void };
    d.addEventListener?.('uncapturederror', (e) => {
      this.deviceError ??= e.error?.message ?? 'unknown device error';
    });
  }

  /**
   * Request an adapter and a device. Throws E_BACKEND naming the reason when there is no
   * WebGPU, no adapter, the request times out, or the device cannot be created.
   */
  static async create(opts: WebGpuOptions = {}): Promise<WebGpuContext> {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu ?? null;
    if (!gpu) fail('E_BACKEND', 'WebGPU is not available here (no navigator.gpu; in Node install the optional "webgpu" package); use the js, wasm or native backend');
    let adapter: GpuAdapter | null;
    try {
      adapter = await withTimeout(gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance', ...(opts.forceFallbackAdapter ? { forceFallbackAdapter: true } : {}) }), timeoutMs, 'requestAdapter');
    } catch (e) {
      fail('E_BACKEND', `WebGPU adapter request failed: ${(e as Error).message}`);
    }
    if (!adapter) fail('E_BACKEND', 'WebGPU: no adapter (no GPU, or the GPU is blocklisted; in Chromium without a GPU add --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader); use the js, wasm or native backend');
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED) {
      const v = adapter.limits[name];
      if (typeof v === 'number') requiredLimits[name] = v;
    }
    let device: GpuDevice;
    try {
      device = await withTimeout(adapter.requestDevice({ requiredLimits, label: 'sparsecode' }), timeoutMs, 'requestDevice');
    } catch (e) {
      fail('E_BACKEND', `WebGPU device request failed on ${describe(adapter)}: ${(e as Error).message}`);
    }
    const info = adapter.info ?? {};
    const fallback = /swiftshader|llvmpipe|lavapipe|warp|cpu/i.test(`${info.architecture} ${info.description} ${info.vendor}`);
    const soft = fallback || !!opts.forceFallbackAdapter;
    return new WebGpuContext(device, describe(adapter), soft, opts.waitTimeoutMs ?? (soft ? 600000 : 60000), [gpu, adapter]);
  }

  /** `create`, or null with a one-line note saying why (for callers that fall back). */
  static async tryCreate(opts: WebGpuOptions = {}): Promise<{ context: WebGpuContext | null; note: string }> {
    try {
      const context = await WebGpuContext.create(opts);
      return { context, note: `WebGPU on ${context.adapterDescription}${context.isFallback ? ' (software adapter: correctness only, not speed)' : ''}` };
    } catch (e) {
      return { context: null, note: (e as Error).message };
    }
  }

  get limits(): GpuLimits {
    return this.device.limits;
  }

  private alive(): void {
    if (this.lostReason !== undefined) fail('E_BACKEND', `the WebGPU device was lost (${this.lostReason}); create a new context or use another backend`);
  }

  /** Fail with E_BACKEND, naming the limit, when a buffer of `bytes` would not fit this device. */
  checkBytes(bytes: number, what: string): void {
    const l = this.device.limits;
    if (bytes > l.maxStorageBufferBindingSize) {
      fail('E_BACKEND', `WebGPU: ${what} needs ${bytes} bytes, over this device's maxStorageBufferBindingSize (${l.maxStorageBufferBindingSize} bytes); use a smaller batch or fewer latents, or another backend`);
    }
    if (bytes > l.maxBufferSize) {
      fail('E_BACKEND', `WebGPU: ${what} needs ${bytes} bytes, over this device's maxBufferSize (${l.maxBufferSize} bytes); use a smaller batch or fewer latents, or another backend`);
    }
  }

  /** Fail with E_BACKEND when a dispatch would need more workgroups per dimension than the device allows. */
  checkGroups(groups: number, what: string): void {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups > max * max) fail('E_BACKEND', `WebGPU: ${what} needs ${groups} workgroups, over this device's maxComputeWorkgroupsPerDimension² (${max}²); split the work`);
  }

  /** An uninitialised (zeroed) tensor. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): GpuTensor {
    this.alive();
    const length = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(length) || length < 0) fail('E_ARG', `tensor shape [${shape.join(', ')}] is not a list of non-negative integers`);
    const bytes = Math.max(16, Math.ceil((length * 4) / 16) * 16);
    this.checkBytes(length * 4, `${label} [${shape.join(' x ')}] ${dtype}`);
    const buffer = this.device.createBuffer({ size: bytes, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label });
    return new GpuTensor(this, buffer, length, dtype, shape);
  }

  /** A tensor holding a copy of `data`. */
  tensor(data: Float32Array | Int32Array | Uint32Array, shape: readonly number[] = [data.length], label = 'tensor'): GpuTensor {
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : 'u32';
    if (shape.reduce((a, b) => a * b, 1) !== data.length) fail('E_SHAPE', `tensor shape [${shape.join(', ')}] does not hold ${data.length} values`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data, 0);
    return t;
  }

  write(t: GpuTensor, data: Float32Array | Int32Array | Uint32Array, offset = 0): void {
    this.alive();
    if (offset + data.length > t.length) fail('E_SHAPE', `write of ${data.length} values at ${offset} overflows a tensor of ${t.length}`);
    if (data.length === 0) return;
    // recorded work must run before a later write reaches the buffer: submit it first
    this.flush();
    this.device.queue.writeBuffer(t.buffer, offset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  /** The compute pipeline for `code` (compiled once per key). */
  pipeline(key: string, code: string): GpuComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private enc(): GpuCommandEncoder {
    this.alive();
    this.encoder ??= this.device.createCommandEncoder({ label: 'sparsecode' });
    return this.encoder;
  }

  /** A uniform buffer holding `fields` (each 4 bytes, in order), freed after the next submit. */
  uniform(fields: UniformField[]): GpuBuffer {
    const size = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
    const buf = this.device.createBuffer({ size, usage: USAGE.UNIFORM | USAGE.COPY_DST, label: 'params' });
    this.device.queue.writeBuffer(buf, 0, packUniform(fields, size));
    this.pendingUniforms.push(buf);
    return buf;
  }

  /**
   * Record one dispatch of pipeline `key` (WGSL `code`, entry point `main`) over `groups`
   * workgroups (a 1D count is split into x·y under the per-dimension limit; shaders compute the
   * linear workgroup index as wid.y·nwg.x + wid.x). `bindings` go to @binding(0..n−1) of
   * @group(0), then the uniform (if any).
   */
  dispatch(key: string, code: string, bindings: (GpuTensor | GpuBuffer)[], uniform: UniformField[] | GpuBuffer | null, groups: number | [number, number]): void {
    const pipe = this.pipeline(key, code);
    const entries = bindings.map((b, i) => ({ binding: i, resource: { buffer: b instanceof GpuTensor ? b.buffer : b } }));
    if (uniform) entries.push({ binding: bindings.length, resource: { buffer: Array.isArray(uniform) ? this.uniform(uniform) : uniform } });
    const group = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries, label: key });
    let gx: number, gy: number;
    if (Array.isArray(groups)) [gx, gy] = groups;
    else {
      this.checkGroups(groups, key);
      const max = this.device.limits.maxComputeWorkgroupsPerDimension;
      gx = Math.min(groups, max);
      gy = Math.ceil(groups / gx);
    }
    if (gx === 0 || gy === 0) return;
    const pass = this.enc().beginComputePass({ label: key });
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
  }

  /** Record a buffer-to-buffer copy of `length` elements. */
  copy(src: GpuTensor, dst: GpuTensor, length = src.length, srcOffset = 0, dstOffset = 0): void {
    if (srcOffset + length > src.length || dstOffset + length > dst.length) fail('E_SHAPE', `copy of ${length} values overflows a tensor`);
    if (length > 0) this.enc().copyBufferToBuffer(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, length * 4);
  }

  /** Record zeroing a tensor. */
  zero(t: GpuTensor): void {
    this.enc().clearBuffer(t.buffer, 0, t.buffer.size);
  }

  /** Submit the recorded work. */
  flush(): void {
    if (this.encoder) {
      const cmd = this.encoder.finish();
      this.encoder = null;
      this.device.queue.submit([cmd]);
    }
    if (this.pendingUniforms.length) {
      // not destroyed now: some drivers (Dawn on SwiftShader in Node) crash when a buffer of work in flight is destroyed
      this.retired.push(...this.pendingUniforms);
      this.pendingUniforms = [];
    }
  }

  /** Destroy `buf` after the next completed wait for the device (see flush). */
  retire(buf: GpuBuffer): void {
    this.retired.push(buf);
  }

  private release(upTo: number): void {
    const done = this.retired.splice(0, upTo);
    for (const b of done) b.destroy();
  }

  /** Wait until the device has finished the submitted work (bounded by the timeout). */
  async sync(): Promise<void> {
    this.flush();
    const n = this.retired.length;
    await this.bounded(this.device.queue.onSubmittedWorkDone(), 'onSubmittedWorkDone');
    this.release(n);
    this.checkErrors();
  }

  private checkErrors(): void {
    this.alive();
    if (this.deviceError !== undefined) {
      const msg = this.deviceError;
      this.deviceError = undefined; // reported once: later work is judged on its own
      fail('E_BACKEND', `WebGPU device error: ${msg}`);
    }
  }

  private async bounded<T>(p: Promise<T>, what: string): Promise<T> {
    const lost = this.device.lost.then((info) => {
      throw Object.assign(new Error(`the WebGPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`), { code: 'E_BACKEND' });
    });
    try {
      return await withTimeout(Promise.race([p, lost]), this.timeoutMs, what);
    } catch (e) {
      fail('E_BACKEND', (e as Error).message);
    }
  }

  /** Copy a tensor to the host. */
  async read(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array> {
    this.alive();
    if (t.destroyed) fail('E_ARG', 'read of a destroyed tensor');
    const bytes = Math.max(4, t.length * 4);
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: MAP_READ | USAGE.COPY_DST, label: 'readback' });
    try {
      if (t.length > 0) this.enc().copyBufferToBuffer(t.buffer, 0, staging, 0, t.length * 4);
      this.flush();
      const n = this.retired.length;
      await this.bounded(staging.mapAsync(MAP_READ), 'mapAsync (readback)');
      this.release(n);
      this.checkErrors();
      const raw = staging.getMappedRange().slice(0, t.length * 4);
      staging.unmap();
      return t.dtype === 'f32' ? new Float32Array(raw) : t.dtype === 'i32' ? new Int32Array(raw) : new Uint32Array(raw);
    } finally {
      staging.destroy();
    }
  }

  destroy(): void {
    this.encoder = null;
    this.retired = [];
    this.device.destroy();
  }
}

function packUniform(fields: UniformField[], size: number): ArrayBuffer {
  const buf = new ArrayBuffer(size);
  const dv = new DataView(buf);
  fields.forEach(([t, v], i) => {
    if (t === 'f') dv.setFloat32(i * 4, v, true);
    else if (t === 'i') dv.setInt32(i * 4, v, true);
    else dv.setUint32(i * 4, v >>> 0, true);
  });
  return buf;
}
