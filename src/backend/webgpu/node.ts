import { WebGpuContext, type WebGpuOptions } from './context.js';
import type { GpuLike } from './gpu-types.js';

/**
 * WebGPU in Node through the optional `webgpu` package (Google's Dawn, prebuilt for linux-x64,
 * darwin and win32). SPARSECODE_WEBGPU_MODULE names another module path to load instead (a
 * local Dawn build, or the package installed elsewhere). Dawn needs a driver: on Linux the
 * Vulkan loader (libvulkan.so.1) and an ICD; without a GPU, Chromium's SwiftShader ICD works:
 *   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
 */
export async function nodeGpu(): Promise<{ gpu: GpuLike | null; note: string }> {
  const spec = (typeof process !== 'undefined' && process.env?.SPARSECODE_WEBGPU_MODULE) || 'webgpu';
  let mod: { create?: (flags: string[]) => unknown };
  try {
    mod = await import(spec);
  } catch (e) {
    return { gpu: null, note: `the optional "webgpu" package did not load (${(e as Error).message.split('\n')[0]}); npm install webgpu` };
  }
  if (typeof mod.create !== 'function') return { gpu: null, note: `${spec} has no create() (not the "webgpu" package?)` };
  try {
    return { gpu: mod.create([]) as GpuLike, note: '' };
  } catch (e) {
    return { gpu: null, note: `webgpu create() failed: ${(e as Error).message}` };
  }
}

/** A WebGPU context in Node, or null and a one-line reason (no package, no adapter, timeout). */
export async function nodeWebGpu(opts: Omit<WebGpuOptions, 'gpu'> = {}): Promise<{ context: WebGpuContext | null; note: string }> {
  const { gpu, note } = await nodeGpu();
  if (!gpu) return { context: null, note };
  const r = await WebGpuContext.tryCreate({ ...opts, gpu });
  if (!r.context && /no adapter/.test(r.note)) {
    return { context: null, note: 'the "webgpu" package found no adapter (no GPU or no Vulkan driver; without a GPU: LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json gives SwiftShader)' };
  }
  return r;
}

let active: WebGpuContext | null = null;
let activeNote = '';

/** `--backend webgpu` / SPARSECODE_BACKEND=webgpu: open the Node context once; null + the note when there is none. */
export async function activateWebGpu(opts: Omit<WebGpuOptions, 'gpu'> = {}): Promise<{ context: WebGpuContext | null; note: string }> {
  if (!active) {
    const r = await nodeWebGpu(opts);
    active = r.context;
    activeNote = r.note;
  }
  return { context: active, note: activeNote };
}

/** Destroy the context `activateWebGpu` opened (a live device keeps a Node process running). */
export function closeWebGpu(): void {
  if (active) {
    active.destroy();
    active = null;
    activeNote = '';
  }
}

/** The context `activateWebGpu` opened (null when none was asked for or found). */
export function activeWebGpu(): WebGpuContext | null {
  return active;
}
