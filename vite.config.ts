import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The web explorer (web/): `npm run build:web` writes a static build to dist/web/, which
 * `sparsecode explore` serves. The wasm kernels (dist/wasm/*.wasm, from `npm run build:wasm`)
 * are copied to dist/web/wasm/. Dev server: `npx vite` (playground only; the JSON API comes
 * from `sparsecode explore`). Both send the cross-origin isolation headers the wasm backend's
 * threads need (SharedArrayBuffer).
 */
const here = dirname(fileURLToPath(import.meta.url));
const WASM_FILES = ['sparsecode.wasm', 'sparsecode-single.wasm'];
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

function wasmKernels(): Plugin {
  const src = (f: string) => join(here, 'dist', 'wasm', f);
  const check = () => {
    const missing = WASM_FILES.filter((f) => !existsSync(src(f)));
    if (missing.length) throw new Error(`wasm kernels missing (${missing.map(src).join(', ')}); run "npm run build:wasm" first`);
  };
  return {
    name: 'sparsecode-wasm-kernels',
    buildStart: check,
    generateBundle() {
      for (const f of WASM_FILES) this.emitFile({ type: 'asset', fileName: `wasm/${f}`, source: readFileSync(src(f)) });
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /^\/wasm\/([a-z-]+\.wasm)$/.exec(req.url ?? '');
        if (!m || !WASM_FILES.includes(m[1])) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(src(m[1])));
      });
    },
  };
}

export default defineConfig({
  root: join(here, 'web'),
  base: './',
  publicDir: false,
  plugins: [wasmKernels()],
  build: {
    outDir: join(here, 'dist', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
