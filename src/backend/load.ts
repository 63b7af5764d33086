import { registerBackend, recordBackendError, availableBackends } from './registry.js';
import type { BackendName } from './types.js';

/**
 * Load the optional backends (native addon, wasm kernels). Safe to call many times; a
 * backend that cannot load is recorded with its reason and the library falls back,
 * saying so once on stderr unless `quiet`.
 */
let loading: Promise<BackendName[]> | null = null;
let warned = false;

type Loader = () => Promise<import('./types.js').Backend>;
const loaders: Partial<Record<BackendName, Loader>> = {};

/** Backends add their loader here (kept as a table so `load.ts` has no hard dependency on them). */
export function addLoader(name: BackendName, loader: Loader): void {
  loaders[name] = loader;
  loading = null;
}

export function loadBackends(opts: { quiet?: boolean } = {}): Promise<BackendName[]> {
  if (loading) return loading;
  loading = (async () => {
    const missing: string[] = [];
    for (const [name, loader] of Object.entries(loaders) as [BackendName, Loader][]) {
      try {
        registerBackend(await loader());
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        recordBackendError(name, reason);
        missing.push(`${name} (${reason})`);
      }
    }
    if (missing.length && !opts.quiet && !warned && typeof process !== 'undefined') {
      warned = true;
      process.stderr.write(`sparsecode: using ${availableBackends()[0]} backend; not available: ${missing.join('; ')}\n`);
    }
    return availableBackends();
  })();
  return loading;
}
