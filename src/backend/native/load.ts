import { addLoader } from '../load.js';
import type { NativeAddon, NativeBackend } from './index.js';
import { makeNativeBackend } from './index.js';

/**
 * Registers the native backend's loader. Importing this module does nothing else: Node's
 * modules are imported inside the loader, so bundling it for a browser is harmless (the
 * loader then reports that the native backend needs Node).
 *
 * The addon is native/build/Release/sparsecode.node under the package folder (built by
 * `npm install`; rebuild with `node scripts/build-native.mjs`), or SPARSECODE_NATIVE_PATH.
 * Threads: SPARSECODE_THREADS if set; else OpenBLAS's own variables (OPENBLAS_NUM_THREADS,
 * OMP_NUM_THREADS) if set; else every core. Idle OpenBLAS threads sleep at once
 * (OPENBLAS_THREAD_TIMEOUT=4 while the addon loads, unless set) instead of spinning for ~0.1 s.
 */
export const ADDON_RELATIVE_PATH = 'native/build/Release/sparsecode.node';

/** log2 of the cycles OpenBLAS's idle threads spin before sleeping (its own default is 28) */
export const OPENBLAS_THREAD_TIMEOUT = 4;

const REBUILD_HINT = 'install OpenBLAS (e.g. apt-get install libopenblas-dev) and run "node scripts/build-native.mjs" in the sparsecode folder';

async function findPackageRoot(): Promise<string> {
  const { existsSync, readFileSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if (JSON.parse(readFileSync(p, 'utf8')).name === 'sparsecode') return dir;
      } catch {
        /* not ours; keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error('cannot locate the sparsecode package folder (package.json) from ' + import.meta.url);
}

/** Resolve the thread count from the environment: a number to set, or null to leave OpenBLAS's default. */
export function threadsFromEnv(env: Record<string, string | undefined>, cores: number): number | null {
  const raw = env.SPARSECODE_THREADS;
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SPARSECODE_THREADS must be a positive integer, got "${raw}"`);
    return n;
  }
  if (env.OPENBLAS_NUM_THREADS || env.GOTO_NUM_THREADS || env.OMP_NUM_THREADS) return null;
  return Math.max(1, cores);
}

export async function loadNative(): Promise<NativeBackend> {
  if (typeof process === 'undefined' || !process.versions?.node) throw new Error('the native backend runs only in Node.js');
  const { createRequire } = await import('node:module');
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const os = await import('node:os');
  const file = process.env.SPARSECODE_NATIVE_PATH || join(await findPackageRoot(), ADDON_RELATIVE_PATH);
  if (!existsSync(file)) throw new Error(`the native addon is not built (${file} is missing); ${REBUILD_HINT}`);
  let addon: NativeAddon;
  // OpenBLAS's threads spin for 2^28 cycles (~0.1 s) after each GEMM before they sleep, taking a
  // core from the kernels that follow it (a TopK step's top-k ran at half speed after the encoder
  // GEMM). OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, as it loads: 2^4 cycles, unless the user
  // chose a value. Removed again once loaded, so processes started later (benchmark peers) keep
  // their own defaults.
  const setTimeout = process.env.OPENBLAS_THREAD_TIMEOUT === undefined && process.env.GOTO_THREAD_TIMEOUT === undefined;
  if (setTimeout) process.env.OPENBLAS_THREAD_TIMEOUT = String(OPENBLAS_THREAD_TIMEOUT);
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new Error(`the native addon ${file} does not load (${msg}); ${REBUILD_HINT}`);
  } finally {
    if (setTimeout) delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
  const b = makeNativeBackend(addon);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const n = threadsFromEnv(process.env, cores);
  if (n !== null) b.setThreads(n);
  return b;
}

addLoader('native', loadNative);
