// WebGPU in Node through the optional `webgpu` package (Dawn), on SwiftShader: Chromium's
// Vulkan ICD stands in for a GPU driver. Skipped, with the reason, where Chromium's SwiftShader
// is missing, except in CI (CI=true), where .ci/run installs chromium and it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { Matrix } from '../src/core/matrix.js';

const LIB = '/usr/lib/chromium';
const ICD = join(LIB, 'vk_swiftshader_icd.json');
const inCI = process.env.CI === 'true';
if (!existsSync(ICD) && inCI) throw new Error(`webgpu-node tests: ${ICD} is missing in CI; .ci/run installs the Debian chromium package`);
const skip = existsSync(ICD) ? false : `SwiftShader's Vulkan ICD not found at ${ICD} (apt-get install chromium); WebGPU in Node skipped`;
if (skip) console.log(`# ${skip}`);
const env = { ...process.env, LD_LIBRARY_PATH: LIB, VK_ICD_FILENAMES: ICD, SPARSECODE_BACKEND: '' };
const BIN = join(process.cwd(), 'bin', 'sparsecode.js');

test('Node WebGPU: the context survives garbage collection and a GEMM agrees with js (SwiftShader)', { skip, timeout: 120000 }, () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/webgpu/node-check.ts'], { env, encoding: 'utf8', timeout: 110000 });
  assert.equal(r.status, 0, `exit ${r.status} signal ${r.signal}:\n${r.stdout}${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  assert.equal(res.ok, true, res.note);
  assert.equal(res.software, true);
  assert.ok(res.maxErr < 1e-4, `max |GPU - js| ${res.maxErr}`);
});

test('fit topk-sae --backend webgpu trains on the GPU and ends where --backend js ends; other runs say why they stay on the CPU', { skip, timeout: 240000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-wgfit-'));
  try {
    const rng = new Rng(3);
    const n = 1200, d = 12, atoms = 24;
    const D = rng.fillNormal(new Float64Array(atoms * d));
    const X = new Matrix(n, d);
    for (let i = 0; i < n; i++) for (let t = 0; t < 3; t++) {
      const a = rng.int(atoms), c = rng.uniform();
      for (let j = 0; j < d; j++) X.data[i * d + j] += c * D[a * d + j];
    }
    writeNpy(join(dir, 'x.npy'), X);
    const fit = (backend: string, out: string, extra: string[] = []) => spawnSync(process.execPath, [BIN, 'fit', 'topk-sae', '--input', join(dir, 'x.npy'), '--atoms', '32', '--k', '3', '--seed', '0', '--out', join(dir, out), '--json', '--backend', backend, ...extra], { env, encoding: 'utf8', timeout: 200000 });
    const g = fit('webgpu', 'gpu', ['--epochs', '6']);
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stderr, /training on the GPU \(.*swiftshader/i);
    const gj = JSON.parse(g.stdout);
    assert.equal(gj.backend, 'webgpu');
    const c = fit('js', 'cpu', ['--epochs', '6']);
    assert.equal(c.status, 0, c.stderr);
    const cj = JSON.parse(c.stdout);
    assert.equal(gj.steps, cj.steps);
    assert.ok(Math.abs(gj.fvu - cj.fvu) < 2e-3, `FVU on the GPU ${gj.fvu} vs js ${cj.fvu}`);
    const saved = JSON.parse(readFileSync(join(dir, 'gpu', 'cfg.json'), 'utf8'));
    assert.equal(saved.sparsecode.training.backend, 'webgpu');
    // epochs auto: the CPU trainer, and the note says what to pass for the GPU
    const a = fit('webgpu', 'auto', ['--max-steps', '200']);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /training on the CPU, not the GPU: .*--epochs N or --steps T/);
    assert.notEqual(JSON.parse(a.stdout).backend, 'webgpu');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the WebGPU conformance suite passes in Node too (npm run test:webgpu -- --node, on SwiftShader)', { skip, timeout: 240000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-webgpu.ts', '--node'], { env, encoding: 'utf8', timeout: 230000 });
  const out = `${r.stdout}${r.stderr}`;
  const m = /^(\d+) passed, (\d+) failed$/.exec(r.stdout.trim().split('\n').pop() ?? '');
  assert.ok(m, `the suite ends with "N passed, M failed"; got (exit ${r.status}, signal ${r.signal}):\n${out.slice(-3000)}`);
  assert.equal(Number(m[2]), 0, out.split('\n').filter((l) => l.startsWith('FAIL')).join('\n'));
  assert.ok(Number(m[1]) >= 100, `at least 100 cases ran (${m[1]})`);
  assert.equal(r.status, 0, out.slice(-2000));
});
