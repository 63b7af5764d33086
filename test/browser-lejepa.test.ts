// The LeJEPA playground in a real browser (Debian chromium driven by playwright-core): the 2-D
// spiral world trained live with SIGReg in a Web Worker on the wasm backend; the R² it shows must
// equal the library's (runLejepaPlayground in Node, wasm backend) for the same settings. Screenshot
// to test-artifacts/. Skipped (with a message) where chromium is missing, except in CI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeReproFixture } from './explore-fixtures.js';
import { startExploreServer, type ExploreServer } from '../src/explore/server.js';
import { registerBackend, useBackend } from '../src/backend/registry.js';
import { loadWasmBackend } from '../src/backend/wasm/index.js';
import { LEJEPA_PLAYGROUND_DEFAULTS, runLejepaPlayground, type LejepaPlaygroundEvent } from '../src/explore/lejepa-playground.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && inCI) throw new Error(`browser tests: ${CHROMIUM} is missing in CI`);
const skip = haveChromium ? false : `chromium not found at ${CHROMIUM}; browser tests skipped`;
if (skip) console.log(`# ${skip}`);

const ARTIFACTS = resolve('test-artifacts');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
let tmp = '';
let srv: ExploreServer | null = null;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let browser: any = null;

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'sc-lejepa-browser-'));
  const webRoot = join(tmp, 'web');
  const { build } = await import('vite');
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } });
  const repro = makeReproFixture(join(tmp, 'repro'));
  srv = await startExploreServer({ dir: repro.dir, webRoot });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('LeJEPA playground: trains in a worker; the R² shown equals the library run for the same settings', { skip, timeout: 240000 }, async () => {
  const P = { steps: 200, width: 16, seed: 2 };
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e: Error) => errors.push(e.message));
  page.on('console', (m: { type(): string; text(): string }) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${srv!.url}#/lejepa?steps=${P.steps}&width=${P.width}&seed=${P.seed}`);
  await page.waitForSelector('#lj-run');
  assert.equal(await page.textContent('#lj-out-lambda'), '0.0010');
  await page.click('#lj-run');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('app')!.dataset.state ?? ''), null, { timeout: 200000 });
  assert.match((await page.textContent('#lj-status'))!, /^done/, (await page.textContent('#lj-status')) ?? '');
  assert.match((await page.textContent('#lj-backend'))!, /active: wasm/);
  const shown = Number(await page.getAttribute('#lj-r2', 'data-value'));
  const shownGrid = Number(await page.getAttribute('#lj-r2grid', 'data-value'));
  assert.equal(await page.$$eval('#lj-pictures canvas', (c: Element[]) => c.length), 3, 'latents, observations, embedding');
  assert.equal(await page.$$eval('#lj-curves svg', (c: Element[]) => c.length), 1, 'the R² curve');
  await page.screenshot({ path: join(ARTIFACTS, 'lejepa-playground.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await ctx.close();

  const wasm = await loadWasmBackend({ threads: 2 });
  registerBackend(wasm);
  useBackend('wasm');
  let done: Extract<LejepaPlaygroundEvent, { type: 'done' }> | null = null;
  await runLejepaPlayground({ ...LEJEPA_PLAYGROUND_DEFAULTS, lambda: 10 ** -3, ...P }, (e) => { if (e.type === 'done') done = e; });
  assert.ok(done);
  const want = done as Extract<LejepaPlaygroundEvent, { type: 'done' }>;
  assert.ok(Math.abs(shown - want.r2_hz) < 1e-6, `browser ${shown}, library ${want.r2_hz}`);
  assert.ok(Math.abs(shownGrid - want.r2_hz_grid) < 1e-6, `grid: browser ${shownGrid}, library ${want.r2_hz_grid}`);
  wasm.close();
});
