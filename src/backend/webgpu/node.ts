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
  // Dawn on Linux needs the Vulkan loader; without one it prints its own multi-line warning to
  // stderr before it finds no adapter, so look for the loader first and say it in one line
  if (spec === 'webgpu' && process.platform === 'linux' && !(await vulkanLoaderFound(process.env))) {
    return { gpu: null, note: `no Vulkan loader (libvulkan.so.1) on this machine: install a GPU driver with Vulkan (Debian: libvulkan1 and the vendor's ICD); without a GPU: ${SWIFTSHADER_HINT} gives SwiftShader` };
  }
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

const SWIFTSHADER_HINT = 'LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Whether the dynamic linker can find libvulkan.so.1: in a folder of LD_LIBRARY_PATH, in the
 * linker's cache (/etc/ld.so.cache names every library it knows), or in the usual folders.
 */
export async function vulkanLoaderFound(env: Record<string, string | undefined>, cachePath = '/etc/ld.so.cache'): Promise<boolean> {
  const { existsSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const lib = 'libvulkan.so.1';
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib'];
  if (dirs.some((d) => existsSync(join(d, lib)))) return true;
  try {
    return readFileSync(cachePath).includes(lib);
  } catch {
    return false;
  }
}

/** A WebGPU context in Node, or null and a one-line reason (no package, no adapter, timeout). */
export async function nodeWebGpu(opts: Omit<WebGpuOptions, 'gpu'> = {}): Promise<{ context: WebGpuContext | null; note: string }> {
  const { gpu, note } = await nodeGpu();
  if (!gpu) return { context: null, note };
  const r = await WebGpuContext.tryCreate({ ...opts, gpu });
  if (!r.context && /no adapter/.test(r.note)) {
    return { context: null, note: `the "webgpu" package found no adapter (no GPU or no Vulkan driver; without a GPU: ${SWIFTSHADER_HINT} gives SwiftShader)` };
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
