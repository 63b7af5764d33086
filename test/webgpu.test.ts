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
