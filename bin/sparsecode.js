#!/usr/bin/env node
// The sparsecode CLI. Runs the compiled library in dist/ (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('sparsecode: not built yet; run `npm install` (or `npm run build`) in the package folder first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2), { isolate: true });
process.exitCode = code;
