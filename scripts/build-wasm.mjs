#!/usr/bin/env node
// Build the wasm kernels (kernels/sparsecode.ts, AssemblyScript) into dist/wasm/:
//   sparsecode.wasm         shared memory (imported), for the multi-threaded backend
//   sparsecode-single.wasm  unshared memory (imported), where SharedArrayBuffer is unavailable
// Run by `npm run build` (and so by `npm install`/`npm ci` through `prepare`).
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'wasm');
await mkdir(outDir, { recursive: true });

let asc;
try {
  asc = await import('assemblyscript/asc');
} catch (e) {
  console.error(`build-wasm: cannot load the AssemblyScript compiler (${e.message}); run npm install`);
  process.exit(1);
}

const common = [
  join(root, 'kernels', 'sparsecode.ts'),
  '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd', '--importMemory', '--initialMemory', '1', '--maximumMemory', '65536',
];
const variants = [
  { file: 'sparsecode.wasm', extra: ['--enable', 'threads', '--sharedMemory'] },
  { file: 'sparsecode-single.wasm', extra: [] },
];
for (const v of variants) {
  const { error, stderr } = await asc.main([...common, ...v.extra, '--outFile', join(outDir, v.file)]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: ${v.file} failed: ${error.message}`);
    process.exit(1);
  }
}
console.log(`build-wasm: wrote ${variants.map((v) => 'dist/wasm/' + v.file).join(', ')}`);
