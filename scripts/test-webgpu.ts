// `npm run test:webgpu`: the WebGPU conformance suite (test/webgpu/conformance.ts: every WGSL
// kernel against the js backend on awkward shapes) in headless Chromium. Without a GPU, Debian's
// chromium runs WebGPU on the CPU through SwiftShader (the flags below), so this checks the WGSL
// anywhere. Prints one line per case and ends with the plain line `N passed, M failed`; exits 1
// when a case fails or there is no adapter.
//
//   npm run test:webgpu                      # all cases
//   npm run test:webgpu -- --filter sgemm    # cases whose name matches a regular expression
//   CHROMIUM_PATH=/path/to/chrome npm run test:webgpu
import { existsSync } from 'node:fs';
import { runInChromium } from './webgpu-browser.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const args = process.argv.slice(2);
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : undefined;

if (!existsSync(CHROMIUM)) {
  console.log(`chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}
const t0 = Date.now();
const out = await runInChromium<{ adapter: string | null; note: string; results: { name: string; ok: boolean; detail: string; ms: number }[] }>(
  'test/webgpu/browser-entry.ts', `globalThis.runWebGpuSuite(${JSON.stringify(filter ?? '')})`, { log: (l) => console.log(l), executablePath: CHROMIUM },
);
if (!out.adapter) {
  console.log(`no WebGPU adapter: ${out.note}`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}
const passed = out.results.filter((r) => r.ok).length, failed = out.results.length - passed;
console.log(`# adapter: ${out.adapter}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || out.results.length === 0 ? 1 : 0);
