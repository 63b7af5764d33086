import { fail } from '../core/errors.js';
import { jsBackend } from './js/index.js';
import type { Backend, BackendName } from './types.js';

/**
 * Which backends are loaded, and which one the library uses.
 *
 * `js` is always there. `native` and `wasm` register themselves when `loadBackends()` finds
 * them. The active backend is, in order: `useBackend(name)`, the SPARSECODE_BACKEND
 * environment variable, or the fastest loaded one (native > wasm > js).
 */
const loaded = new Map<BackendName, Backend>([['js', jsBackend]]);
const loadErrors = new Map<BackendName, string>();
let active: Backend | null = null;
let forced: BackendName | null = null;
const PREFERENCE: BackendName[] = ['native', 'wasm', 'js'];

export function registerBackend(b: Backend): void {
  loaded.set(b.name, b);
  if (!forced) active = null;
}

export function recordBackendError(name: BackendName, reason: string): void {
  loadErrors.set(name, reason);
}

export function backendLoadError(name: BackendName): string | undefined {
  return loadErrors.get(name);
}

export function availableBackends(): BackendName[] {
  return PREFERENCE.filter((n) => loaded.has(n));
}

export function isBackendName(s: string): s is BackendName {
  return s === 'js' || s === 'wasm' || s === 'native';
}

/** Force a backend by name. Throws E_BACKEND when it is not loaded, saying why. */
export function useBackend(name: BackendName | string): Backend {
  if (name === 'webgpu') fail('E_ARG', 'webgpu is not a synchronous backend: use --backend webgpu in the CLI, or WebGpuContext / fitTopKWebGpu (backend/webgpu) in the library; choose js, wasm or native here');
  if (!isBackendName(name)) fail('E_ARG', `unknown backend "${name}"; choose js, wasm or native (or webgpu, for the GPU code)`);
  const b = loaded.get(name);
  if (!b) {
    const why = loadErrors.get(name);
    fail('E_BACKEND', `backend "${name}" is not available${why ? `: ${why}` : ' (call loadBackends() first)'}`);
  }
  forced = name;
  active = b;
  return b;
}

/** The backend in use now. */
export function backend(): Backend {
  if (active) return active;
  const env = typeof process !== 'undefined' ? process.env?.SPARSECODE_BACKEND : undefined;
  // webgpu is not a synchronous backend (backend/webgpu/node.ts): the CPU preference order serves the rest
  if (env && env !== 'webgpu' && !forced) return useBackend(env);
  for (const n of PREFERENCE) {
    const b = loaded.get(n);
    if (b) {
      active = b;
      return b;
    }
  }
  return jsBackend;
}

/** A specific loaded backend (for tests and benchmarks), or undefined. */
export function getBackend(name: BackendName): Backend | undefined {
  return loaded.get(name);
}
