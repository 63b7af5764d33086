// Run a bundled TypeScript entry in headless Chromium with WebGPU (SwiftShader on the CPU when
// there is no GPU), served from 127.0.0.1, and return the value of an expression. Used by
// `npm run test:webgpu` and `sparsecode bench ... --browser`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** a file next to this module: its .ts source under tsx, the compiled .js in dist */
export function besideThis(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const ts = join(here, `${name}.ts`);
  return existsSync(ts) ? ts : join(here, `${name}.js`);
}

export const WEBGPU_FLAGS = [
  '--headless', '--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
];

/** SwiftShader (the default), or the machine's GPU with SPARSECODE_WEBGPU_ADAPTER=gpu (for a session with a GPU) */
export function chromiumWebGpuFlags(): string[] {
  if (process.env.SPARSECODE_WEBGPU_ADAPTER !== 'gpu') return WEBGPU_FLAGS;
  return [...WEBGPU_FLAGS.filter((f) => !/swiftshader/.test(f)), '--ignore-gpu-blocklist', '--use-angle=vulkan', '--enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan'];
}

export async function bundle(entry: string): Promise<string> {
  let build: typeof import('esbuild').build;
  try {
    ({ build } = await import('esbuild'));
  } catch {
    throw Object.assign(new Error('running WebGPU code in Chromium needs esbuild (a dev dependency: npm install in the sparsecode checkout)'), { code: 'E_BACKEND' });
  }
  // Node built-ins that browser-safe library modules import for their Node-only paths become
  // empty modules (as Vite does for the explorer)
  const nodeStub = {
    name: 'node-builtins-stub',
    setup(b: { onResolve: Function; onLoad: Function }) {
      b.onResolve({ filter: /^node:/ }, (a: { path: string }) => ({ path: a.path, namespace: 'node-stub' }));
      b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
  const r = await build({ entryPoints: [resolve(entry)], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'error', plugins: [nodeStub as never] });
  return r.outputFiles[0].text;
}

export async function runInChromium<T>(entry: string, expr: string, opts: { log?: (line: string) => void; executablePath?: string; timeoutMs?: number; flags?: string[] } = {}): Promise<T> {
  const js = await bundle(entry);
  const html = '<!doctype html><meta charset="utf-8"><title>sparsecode webgpu</title><script type="module" src="/entry.js"></script>';
  const srv = createServer((req, res) => {
    if (req.url === '/entry.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html);
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: opts.executablePath ?? (process.env.CHROMIUM_PATH || '/usr/bin/chromium'), headless: true, args: opts.flags ?? WEBGPU_FLAGS, timeout: 30000 });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => opts.log?.(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(`typeof ${expr.split('(')[0]} === 'function'`, null, { timeout: 30000 });
    const timeout = opts.timeoutMs ?? 300000;
    const result = await Promise.race([
      page.evaluate(expr) as Promise<T>,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`the page did not finish within ${timeout} ms${errors.length ? `; page errors: ${errors.join('; ')}` : ''}`)), timeout).unref()),
    ]);
    return result;
  } finally {
    await browser.close();
    srv.close();
  }
}
