// `npm run test:webgpu`: the WebGPU conformance suite (test/webgpu/conformance.ts: every WGSL
// kernel against the js backend on awkward shapes) in headless Chromium. Without a GPU, Debian's
// chromium runs WebGPU on the CPU through SwiftShader (the flags below), so this checks the WGSL
// anywhere. Prints one line per case and ends with the plain line `N passed, M failed`; exits 1
// when a case fails or there is no adapter.
//
//   npm run test:webgpu                      # all cases
//   npm run test:webgpu -- --filter sgemm    # cases whose name matches a regular expression
//   CHROMIUM_PATH=/path/to/chrome npm run test:webgpu
//   npm run test:webgpu -- --node            # in Node through the optional "webgpu" package instead
//   SPARSECODE_WEBGPU_ADAPTER=gpu npm run test:webgpu   # Chromium on the machine's GPU, not SwiftShader
import { existsSync } from 'node:fs';
import { runInChromium, chromiumWebGpuFlags } from '../bench/webgpu-browser.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const args = process.argv.slice(2);
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : undefined;

if (args.includes('--node')) {
  // the same suite in this process, on the adapter the "webgpu" package finds
  const { nodeWebGpu } = await import('../src/backend/webgpu/node.js');
  const { runConformance } = await import('../test/webgpu/conformance.js');
  const { context, note } = await nodeWebGpu({ timeoutMs: 30000 });
  if (!context) {
    console.log(`no WebGPU adapter: ${note}`);
    console.log('0 passed, 0 failed');
    process.exit(1);
  }
  const results = await runConformance(context, (l) => console.log(l), filter ? new RegExp(filter) : undefined);
  context.destroy();
  const passed = results.filter((r) => r.ok).length;
  console.log(`# adapter: ${context.adapterDescription} (Node)`);
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exit(results.length - passed > 0 || results.length === 0 ? 1 : 0);
}
if (!existsSync(CHROMIUM)) {
  console.log(`chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}
const t0 = Date.now();
const out = await runInChromium<{ adapter: string | null; note: string; results: { name: string; ok: boolean; detail: string; ms: number }[] }>(
  'test/webgpu/browser-entry.ts', `globalThis.runWebGpuSuite(${JSON.stringify(filter ?? '')})`, { log: (l) => console.log(l), executablePath: CHROMIUM, flags: chromiumWebGpuFlags() },
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
