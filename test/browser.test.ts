// The explorer in a real browser (Debian chromium driven by playwright-core): the model view,
// the experiment view and the playground, whose numbers must equal the library's for the same
// seed. Screenshots go to test-artifacts/. Skipped (with a message) where chromium is missing,
// except in CI (CI=true), where it must run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeModelFixture, makeReproFixture, FIX } from './explore-fixtures.js';
import { startExploreServer, type ExploreServer } from '../src/explore/server.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { readNpyMatrix } from '../src/io/npy.js';
import { mcc } from '../src/metrics/mcc.js';
import { activationCounts } from '../src/metrics/reconstruction.js';
import { registerBackend, useBackend } from '../src/backend/registry.js';
import { loadWasmBackend } from '../src/backend/wasm/index.js';
import { runStopProbingCell, FULL_SETTINGS, type StopProbingConfig } from '../src/experiments/stop-probing/index.js';
import { PLAYGROUND_SETTINGS } from '../src/explore/playground.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && inCI) throw new Error(`browser tests: ${CHROMIUM} is missing in CI; .ci/run installs the Debian chromium package`);
const skip = haveChromium ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); browser tests skipped`;
if (skip) console.log(`# ${skip}`);

const ARTIFACTS = resolve('test-artifacts');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

let tmp = '';
let webRoot = '';
let modelSrv: ExploreServer | null = null;
let reproSrv: ExploreServer | null = null;
let fx: ReturnType<typeof makeModelFixture>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let browser: any = null;

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'sc-browser-'));
  webRoot = join(tmp, 'web');
  const { build } = await import('vite');
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } });
  fx = makeModelFixture(tmp);
  const repro = makeReproFixture(join(tmp, 'repro'));
  modelSrv = await startExploreServer({ dir: fx.model, webRoot, data: fx.X, truth: fx.Z });
  reproSrv = await startExploreServer({ dir: repro.dir, webRoot });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await modelSrv?.close();
  await reproSrv?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e: Error) => errors.push(e.message));
  page.on('console', (m: { type(): string; text(): string }) => { if (m.type() === 'error') errors.push(m.text()); });
  return { page, errors, close: () => ctx.close() };
}

test('model view: summary metrics, sortable feature table, feature panel', { skip }, async () => {
  const { page, errors, close } = await newPage();
  await page.goto(modelSrv!.url);
  await page.waitForSelector('#feature-panel h2');
  // summary MCC equals the library's MCC of the model's codes against the truth
  const model = loadModel(fx.model);
  const X = readNpyMatrix(fx.X), Z = readNpyMatrix(fx.Z);
  const codes = model.encode(X);
  const want = mcc(codes, Z, { pad: 'none' }).mcc;
  const shown = Number(await page.textContent('.card[data-metric="mcc"] .card-value'));
  assert.ok(Math.abs(shown - want) < 6e-4, `MCC shown ${shown}, library ${want}`);
  assert.ok(want > 0.5, `the fixture model's codes follow the truth (MCC ${want})`);
  // one row per feature, first sorted by frequency (descending) = the library's activation counts
  const rows = await page.$$eval('#feature-table tbody tr', (trs: Element[]) => trs.map((tr) => Number(tr.getAttribute('data-index'))));
  assert.equal(rows.length, FIX.latents);
  const counts = activationCounts(codes);
  for (let i = 1; i < rows.length; i++) assert.ok(counts[rows[i - 1]] >= counts[rows[i]], 'rows sorted by frequency');
  // click the "#" header: ascending index order
  await page.click('#feature-table th[data-key="index"]');
  const byIndex = await page.$$eval('#feature-table tbody tr', (trs: Element[]) => trs.map((tr) => Number(tr.getAttribute('data-index'))));
  assert.deepEqual(byIndex, Array.from({ length: FIX.latents }, (_, i) => i));
  // pick feature 5: its panel, histogram, atom strip, neighbours and top samples
  await page.click('#feature-table tbody tr[data-index="5"]');
  await page.waitForFunction(() => document.querySelector('#feature-panel h2')?.textContent === 'Feature 5');
  assert.equal(await page.$$eval('#feature-panel .strip', (e: Element[]) => e.length), 2, 'atom and matched true direction');
  assert.ok((await page.$$eval('#feature-panel .bar', (e: Element[]) => e.length)) > 0, 'histogram bars');
  assert.ok((await page.$$eval('#feature-panel table.top tbody tr', (e: Element[]) => e.length)) > 0, 'top samples');
  const freqText = await page.textContent('#feature-panel .facts');
  assert.match(freqText!, new RegExp(`fires on ${(100 * counts[5] / X.rows).toFixed(1)}%`));
  await page.screenshot({ path: join(ARTIFACTS, 'model-view.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await close();
});

test('experiment view: tables, plots with hover values, method toggles', { skip }, async () => {
  const { page, errors, close } = await newPage();
  await page.goto(reproSrv!.url);
  await page.waitForSelector('#plots svg');
  // 3 methods x 2 configs: mean over the two seeds, as the report's aggregate
  const cells = await page.$$eval('#results-table td[data-metric="mcc_ood"]', (tds: Element[]) => tds.map((td) => Number(td.getAttribute('data-value'))));
  assert.equal(cells.length, 6);
  const oracle50 = Number(await page.getAttribute('#results-table tr[data-method="oracle"] td[data-metric="mcc_ood"]', 'data-value'));
  assert.ok(Math.abs(oracle50 - 0.905) < 1e-9, `oracle mean over seeds ${oracle50}, want 0.905`);
  assert.equal(await page.$$eval('#plots svg g[data-series]', (g: Element[]) => g.length), 3);
  // hover a point: the tooltip shows its value
  await page.hover('#plots svg g[data-series="probe"] circle');
  const tip = await page.textContent('.tooltip');
  assert.match(tip!, /Linear probe/);
  assert.match(tip!, /mcc_ood = 0\.65/);
  await page.screenshot({ path: join(ARTIFACTS, 'experiment-view.png'), fullPage: true });
  // toggle the probe off: its series and table rows disappear
  await page.click('.legend input[data-method="probe"]');
  assert.equal(await page.$$eval('#plots svg g[data-series]', (g: Element[]) => g.length), 2);
  assert.equal(await page.$$eval('#results-table tr[data-method="probe"]', (r: Element[]) => r.length), 0);
  // switch the metric
  await page.selectOption('#metric', 'mcc_id');
  assert.match((await page.textContent('#plots .plot-title'))!, /mcc_id/);
  assert.deepEqual(errors, []);
  await close();
});

test('playground: runs in a worker on the wasm backend; numbers equal the library protocol for the same seed', { skip, timeout: 120000 }, async () => {
  const P = { n: 12, k: 2, m: 6, N: 200, epochs: 4, outer: 6, seed: 3 };
  const { page, errors, close } = await newPage();
  await page.goto(`${modelSrv!.url}#/play?n=${P.n}&k=${P.k}&m=${P.m}&N=${P.N}&epochs=${P.epochs}&outer=${P.outer}`);
  await page.waitForSelector('#run');
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated');
  await page.fill('#seed', String(P.seed));
  await page.click('#run');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('app')!.dataset.state ?? ''), null, { timeout: 90000 });
  assert.match((await page.textContent('#status'))!, /^done/, await page.textContent('#status'));
  assert.match((await page.textContent('#backend'))!, /wasm, \d+ threads? \(cross-origin isolated\) — active: wasm/);
  const shown: Record<string, Record<string, number>> = await page.$$eval('#play-results tbody tr', (trs: Element[]) => {
    const out: Record<string, Record<string, number>> = {};
    for (const tr of trs) {
      const m = tr.getAttribute('data-method')!;
      out[m] = {};
      for (const td of Array.from(tr.querySelectorAll('td[data-metric]'))) {
        const v = td.getAttribute('data-value');
        if (v) out[m][td.getAttribute('data-metric')!] = Number(v);
      }
    }
    return out;
  });
  await page.screenshot({ path: join(ARTIFACTS, 'playground.png'), fullPage: true });
  assert.equal(await page.$$eval('#pictures canvas', (c: Element[]) => c.length), 2, 'atom pictures for the TopK SAE and DL-FISTA');

  // the same cells in Node with the protocol's own code (runStopProbingCell), on the wasm backend
  const wasm = await loadWasmBackend({ threads: 2 });
  registerBackend(wasm);
  useBackend('wasm');
  const config: StopProbingConfig = { latents: P.n, active: P.k, samples: P.N, dim: P.m, seed: P.seed };
  const settings = { ...FULL_SETTINGS, ...PLAYGROUND_SETTINGS, saeEpochs: P.epochs, dlMaxOuter: P.outer };
  const cache = new Map<string, unknown>();
  for (const [method, cell] of [['probe', 'probe'], ['oracle', 'oracle'], ['topk-sae', 'topk-sae'], ['dl-fista', 'dl-fista']] as const) {
    const want = await runStopProbingCell(config, cell, settings, cache);
    for (const metric of ['mcc_id', 'mcc_ood', ...(method === 'topk-sae' || method === 'dl-fista' ? ['dict_mean_cos'] : [])]) {
      const got = shown[method]?.[metric];
      assert.ok(got !== undefined, `${method} ${metric} shown`);
      assert.ok(Math.abs(got - want[metric]) < 1e-6, `${method} ${metric}: browser ${got}, library ${want[metric]}`);
    }
  }
  // the shown text is the value to 3 decimals
  const txt = await page.textContent('#play-results tr[data-method="oracle"] td[data-metric="mcc_ood"] .num');
  assert.equal(txt, shown.oracle.mcc_ood.toFixed(3));
  wasm.close();
  assert.deepEqual(errors, []);
  await close();
});
