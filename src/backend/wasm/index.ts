import { fail } from '../../core/errors.js';
import { addLoader } from '../load.js';
import { WasmBackend, type KernelExports } from './backend.js';
import { browserSpawner, nodeImport, nodeSpawner, type SpawnWorker } from './pool.js';

export { WasmBackend } from './backend.js';

/**
 * Loading the wasm backend: find the built kernels (`npm run build` writes them to
 * dist/wasm/), compile them, make the memory (shared when threads are possible), start the
 * worker pool. Works in Node and in browsers; Node-only modules are imported dynamically.
 */
export interface WasmLoadOptions {
  /** A directory (URL, or a path in Node) holding sparsecode.wasm / sparsecode-single.wasm. */
  dir?: string | URL;
  /** Threads to use; default SPARSECODE_THREADS, else the number of cores. */
  threads?: number;
  /** Set false to use the unshared, single-threaded build. */
  shared?: boolean;
  /** Bytes of wasm memory one pass of a call may use before the call is split (default 512 MiB). */
  budgetBytes?: number;
}

const SHARED_FILE = 'sparsecode.wasm';
const SINGLE_FILE = 'sparsecode-single.wasm';
const MAX_DEFAULT_THREADS = 16;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Where the built kernels may be: next to dist/src (a build or an installed package), or dist/wasm seen from src/ (tests run from sources). */
function defaultLocations(shared: boolean): URL[] {
  return shared
    ? [new URL('../../../wasm/sparsecode.wasm', import.meta.url), new URL('../../../dist/wasm/sparsecode.wasm', import.meta.url)]
    : [new URL('../../../wasm/sparsecode-single.wasm', import.meta.url), new URL('../../../dist/wasm/sparsecode-single.wasm', import.meta.url)];
}

async function toDirUrl(dir: string | URL): Promise<URL> {
  if (dir instanceof URL) return dir.href.endsWith('/') ? dir : new URL(dir.href + '/');
  if (isNode && !/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) {
    const { pathToFileURL } = await nodeImport<typeof import('node:url')>('node:url');
    return pathToFileURL(dir.endsWith('/') ? dir : dir + '/');
  }
  return new URL(dir.endsWith('/') ? dir : dir + '/');
}

async function readKernels(candidates: URL[]): Promise<Uint8Array<ArrayBuffer>> {
  const tried: string[] = [];
  for (const url of candidates) {
    if (url.protocol === 'file:' && isNode) {
      const { readFile } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
      const { fileURLToPath } = await nodeImport<typeof import('node:url')>('node:url');
      const path = fileURLToPath(url);
      try {
        const buf = await readFile(path);
        return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        tried.push(path);
      }
    } else {
      try {
        const res = await fetch(url);
        if (res.ok) return new Uint8Array(await res.arrayBuffer());
        tried.push(`${url.href} (HTTP ${res.status})`);
      } catch (e) {
        tried.push(`${url.href} (${(e as Error).message})`);
      }
    }
  }
  fail('E_BACKEND', `wasm kernels not found (looked for ${tried.join(', ')}); run "npm run build" to build them`);
}

async function defaultThreads(): Promise<number> {
  const env = isNode ? process.env.SPARSECODE_THREADS : undefined;
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) fail('E_ARG', `SPARSECODE_THREADS must be a positive integer, got "${env}"`);
    return n;
  }
  let cores = 1;
  if (isNode) {
    const os = await nodeImport<typeof import('node:os')>('node:os');
    cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  } else if (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) {
    cores = navigator.hardwareConcurrency;
  }
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, cores));
}

/** Whether this thread may block in Atomics.wait (Node, or a browser worker; not a page's main thread). */
function mayBlock(): boolean {
  if (isNode) return true;
  const g = globalThis as { WorkerGlobalScope?: new () => unknown };
  return typeof g.WorkerGlobalScope === 'function' && globalThis instanceof g.WorkerGlobalScope;
}

function sharedMemoryPossible(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  // Browsers hand out SharedArrayBuffer only to cross-origin isolated pages.
  return isNode || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

function makeMemory(shared: boolean): { memory: WebAssembly.Memory; maxBytes: number } {
  let last: unknown = null;
  // The kernels declare at most 65536 pages (4 GiB); ask for less where a browser refuses that.
  for (const maximum of [65536, 32768, 16384, 4096]) {
    try {
      return { memory: new WebAssembly.Memory({ initial: 64, maximum, shared }), maxBytes: maximum * 65536 };
    } catch (e) {
      last = e;
    }
  }
  fail('E_BACKEND', `cannot create wasm memory: ${(last as Error)?.message ?? 'unknown reason'}`);
}

/** Load a new wasm backend instance (each has its own memory and worker pool). */
export async function loadWasmBackend(opts: WasmLoadOptions = {}): Promise<WasmBackend> {
  if (typeof WebAssembly !== 'object') fail('E_BACKEND', 'WebAssembly is not available in this environment');
  const threads = opts.threads ?? (await defaultThreads());
  const shared = opts.shared !== false && sharedMemoryPossible();
  const file = shared ? SHARED_FILE : SINGLE_FILE;
  const candidates = opts.dir !== undefined ? [new URL(file, await toDirUrl(opts.dir))] : defaultLocations(shared);
  const bytes = await readKernels(candidates);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (e) {
    fail('E_BACKEND', `cannot compile the wasm kernels (${(e as Error).message}); this runtime may lack WebAssembly SIMD (Node >= 16.4, current browsers have it), or the file is stale: run "npm run build"`);
  }
  const { memory, maxBytes } = makeMemory(shared);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  let spawn: SpawnWorker | null = null;
  if (shared && mayBlock()) spawn = isNode ? await nodeSpawner() : typeof Worker === 'function' ? browserSpawner() : null;
  return new WasmBackend({
    exports,
    memory,
    maxBytes,
    threading: spawn ? { module, spawn } : undefined,
    threads: spawn ? threads : 1,
    budgetBytes: opts.budgetBytes,
  });
}

addLoader('wasm', () => loadWasmBackend());
