// The WebGPU conformance suite (`npm run test:webgpu`: every WGSL kernel against the js backend,
// in headless Chromium on SwiftShader) as part of `npm test`. Skipped, with the reason, where
// chromium is missing, except in CI (CI=true), where it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
if (!existsSync(CHROMIUM) && inCI) throw new Error(`webgpu tests: ${CHROMIUM} is missing in CI; .ci/run installs the Debian chromium package`);
const skip = existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); WebGPU conformance skipped`;
if (skip) console.log(`# ${skip}`);

test('WebGPU kernels agree with the js backend in headless Chromium (npm run test:webgpu)', { skip, timeout: 240000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-webgpu.ts'], { encoding: 'utf8', timeout: 230000 });
  const out = `${r.stdout}${r.stderr}`;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const m = /^(\d+) passed, (\d+) failed$/.exec(last);
  assert.ok(m, `the suite ends with "N passed, M failed"; got:\n${out.slice(-3000)}`);
  const failures = out.split('\n').filter((l) => l.startsWith('FAIL'));
  assert.equal(Number(m[2]), 0, `failed cases:\n${failures.join('\n')}`);
  assert.ok(Number(m[1]) >= 100, `at least 100 cases ran (${m[1]})`);
  assert.equal(r.status, 0, out.slice(-2000));
});

test('playground: the TopK SAE trains on WebGPU when the browser has an adapter (badge), numbers as the library on js; wasm without', { skip, timeout: 240000 }, async () => {
  const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const { makeModelFixture } = await import('./explore-fixtures.js');
  const { startExploreServer } = await import('../src/explore/server.js');
  const { runPlayground, PLAYGROUND_SETTINGS } = await import('../src/explore/playground.js');
  const { useBackend } = await import('../src/backend/registry.js');
  const { WEBGPU_FLAGS } = await import('../bench/webgpu-browser.js');
  const tmp = mkdtempSync(join(tmpdir(), 'sc-webgpu-'));
  const webRoot = join(tmp, 'web');
  const { build } = await import('vite');
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } });
  const fx = makeModelFixture(tmp);
  const srv = await startExploreServer({ dir: fx.model, webRoot, data: fx.X, truth: fx.Z });
  const { chromium } = await import('playwright-core');
  const P = { n: 12, k: 2, m: 6, N: 200, epochs: 6, seed: 3 };
  const runIn = async (flags: string[]) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: flags, timeout: 30000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${srv.url}#/play?n=${P.n}&k=${P.k}&m=${P.m}&N=${P.N}&epochs=${P.epochs}&outer=5&methods=topk-sae`);
      await page.waitForSelector('#run');
      await page.fill('#seed', String(P.seed));
      await page.click('#run');
      await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('app')!.dataset.state ?? ''), null, { timeout: 120000 });
      const status = await page.textContent('#status');
      const badge = { backend: await page.getAttribute('#sae-backend', 'data-backend'), text: await page.textContent('#sae-backend') };
      if (flags === WEBGPU_FLAGS) {
        mkdirSync(resolve('test-artifacts'), { recursive: true });
        await page.screenshot({ path: resolve('test-artifacts', 'playground-webgpu.png'), fullPage: true });
      }
      const shown: Record<string, number> = await page.$$eval('#play-results tr[data-method="topk-sae"] td[data-metric]', (tds: Element[]) =>
        Object.fromEntries(tds.filter((td) => td.getAttribute('data-value')).map((td) => [td.getAttribute('data-metric'), Number(td.getAttribute('data-value'))])));
      return { status, badge, shown, errors };
    } finally {
      await browser.close();
    }
  };
  try {
    const gpu = await runIn(WEBGPU_FLAGS);
    assert.match(gpu.status ?? '', /^done/, gpu.status ?? '');
    assert.equal(gpu.badge.backend, 'webgpu', `badge: ${gpu.badge.text}`);
    assert.match(gpu.badge.text ?? '', /TopK SAE: WebGPU — WebGPU on .*swiftshader/i);
    // the library's own run (js backend, CPU trainer) for the same seed: the same math in float32, so close, not bit-equal
    useBackend('js');
    let want: Record<string, number> = {};
    await runPlayground({ latents: P.n, active: P.k, dim: P.m, samples: P.N, seed: P.seed, settings: { ...PLAYGROUND_SETTINGS, saeEpochs: P.epochs, dlMaxOuter: 5 }, methods: ['topk-sae'] },
      (e) => { if (e.type === 'result') want = e.metrics as unknown as Record<string, number>; });
    for (const metric of ['mcc_id', 'mcc_ood', 'dict_mean_cos']) {
      assert.ok(gpu.shown[metric] !== undefined, `topk-sae ${metric} shown`);
      assert.ok(Math.abs(gpu.shown[metric] - want[metric]) < 5e-3, `${metric}: WebGPU ${gpu.shown[metric]}, library (js) ${want[metric]}`);
    }
    assert.deepEqual(gpu.errors, []);
    // without WebGPU (the default headless flags give no adapter) the badge says wasm and the run still completes
    const plain = await runIn(['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']);
    assert.match(plain.status ?? '', /^done/, plain.status ?? '');
    assert.equal(plain.badge.backend, 'wasm', `badge: ${plain.badge.text}`);
    assert.deepEqual(plain.errors, []);
  } finally {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
