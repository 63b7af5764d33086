// WebGPU bad input without a GPU: no WebGPU, no adapter, hung requests and readbacks, a lost
// device, buffers over the limits: each a clear E_BACKEND error (or a note and the CPU fallback
// in the CLI), never a hang. A fake device stands in for the GPU; the kernels themselves are
// checked in test/webgpu.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { WebGpuContext } from '../src/backend/webgpu/context.js';
import type { GpuDevice, GpuLike } from '../src/backend/webgpu/gpu-types.js';

const never = <T>() => new Promise<T>(() => {});

function fakeGpu(o: { lost?: Promise<{ reason: string; message: string }>; mapAsync?: () => Promise<void>; maxBinding?: number } = {}): GpuLike {
  const limits = { maxStorageBufferBindingSize: o.maxBinding ?? 1 << 20, maxBufferSize: 1 << 22, maxComputeWorkgroupsPerDimension: 65535, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384, maxStorageBuffersPerShaderStage: 8 };
  const device = {
    limits,
    lost: o.lost ?? never(),
    queue: { writeBuffer() {}, submit() {}, onSubmittedWorkDone: () => Promise.resolve() },
    createBuffer: (d: { size: number }) => ({ size: d.size, mapAsync: o.mapAsync ?? (() => Promise.resolve()), getMappedRange: () => new ArrayBuffer(d.size), unmap() {}, destroy() {} }),
    createCommandEncoder: () => ({ copyBufferToBuffer() {}, clearBuffer() {}, beginComputePass: () => ({ setPipeline() {}, setBindGroup() {}, dispatchWorkgroups() {}, end() {} }), finish: () => ({}) }),
    destroy() {},
  } as unknown as GpuDevice;
  return { requestAdapter: async () => ({ limits, info: { vendor: 'fake', architecture: 'test' }, features: { has: () => false }, requestDevice: async () => device }) };
}

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: { code?: string; message: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('no WebGPU at all: E_BACKEND naming the fix; tryCreate gives null and the one-line note', async () => {
  await rejectsWith(WebGpuContext.create({ gpu: null }), 'E_BACKEND', /not available.*webgpu/);
  const r = await WebGpuContext.tryCreate({ gpu: null });
  assert.equal(r.context, null);
  assert.ok(r.note.length > 0 && !r.note.includes('\n'));
});

test('no adapter: E_BACKEND saying so (and how Chromium gets a software one)', async () => {
  await rejectsWith(WebGpuContext.create({ gpu: { requestAdapter: async () => null } }), 'E_BACKEND', /no adapter.*swiftshader/);
});

test('a hung adapter or device request times out with E_BACKEND instead of hanging', async () => {
  const t0 = Date.now();
  await rejectsWith(WebGpuContext.create({ gpu: { requestAdapter: () => never() }, timeoutMs: 150 }), 'E_BACKEND', /requestAdapter did not finish within 150 ms/);
  const hungDevice: GpuLike = { requestAdapter: async () => ({ limits: {} as never, features: { has: () => false }, requestDevice: () => never() }) };
  await rejectsWith(WebGpuContext.create({ gpu: hungDevice, timeoutMs: 150 }), 'E_BACKEND', /requestDevice did not finish within 150 ms/);
  assert.ok(Date.now() - t0 < 5000);
});

test('a hung readback (mapAsync) times out with E_BACKEND', async () => {
  const ctx = await WebGpuContext.create({ gpu: fakeGpu({ mapAsync: () => never() }), waitTimeoutMs: 150 });
  const t = ctx.tensor(new Float32Array([1, 2, 3]));
  await rejectsWith(t.read(), 'E_BACKEND', /mapAsync \(readback\) did not finish within 150 ms/);
});

test('a lost device: the pending readback and every later call fail with E_BACKEND giving the reason', async () => {
  let lose!: (info: { reason: string; message: string }) => void;
  const lost = new Promise<{ reason: string; message: string }>((r) => { lose = r; });
  const ctx = await WebGpuContext.create({ gpu: fakeGpu({ lost, mapAsync: () => never() }), waitTimeoutMs: 5000 });
  const t = ctx.tensor(new Float32Array(4));
  const pending = t.read();
  lose({ reason: 'unknown', message: 'GPU reset' });
  await rejectsWith(pending, 'E_BACKEND', /lost.*GPU reset/);
  assert.throws(() => ctx.empty([4]), (e: { code?: string; message: string }) => e.code === 'E_BACKEND' && /lost \(unknown: GPU reset\)/.test(e.message));
});

test('a buffer over the device limits: E_BACKEND naming the limit, before allocating', async () => {
  const ctx = await WebGpuContext.create({ gpu: fakeGpu({ maxBinding: 1024 }) });
  assert.throws(() => ctx.empty([257], 'f32', 'codes'), (e: { code?: string; message: string }) => e.code === 'E_BACKEND' && /codes \[257\] f32 needs 1028 bytes, over this device's maxStorageBufferBindingSize \(1024 bytes\)/.test(e.message));
  assert.doesNotThrow(() => ctx.empty([256]));
});

test('CLI --backend webgpu / SPARSECODE_BACKEND=webgpu without an adapter: one line, then the CPU backend', () => {
  const cli = ['--import', 'tsx', 'test/run-cli.ts'];
  for (const [args, env] of [[['backends', '--backend', 'webgpu'], {}], [['backends'], { SPARSECODE_BACKEND: 'webgpu' }]] as const) {
    const r = spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, ...env, SPARSECODE_WEBGPU_MODULE: resolve('test/fixtures/webgpu/no-adapter.mjs') } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => /webgpu/i.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^sparsecode: webgpu unavailable \(.*no adapter.*\); using the (native|wasm|js) backend$/);
    assert.match(r.stdout, /available/);
  }
});

test('Node without a Vulkan loader: one line naming libvulkan.so.1, and Dawn is not loaded (no warning of its own)', async () => {
  const { vulkanLoaderFound } = await import('../src/backend/webgpu/node.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'vk-'));
  try {
    const cache = join(dir, 'ld.so.cache');
    writeFileSync(cache, 'glibc-ld.so.cache1.1\0libm.so.6\0/usr/lib/x86_64-linux-gnu/libm.so.6\0');
    const system = await vulkanLoaderFound({}, cache);
    writeFileSync(join(dir, 'libvulkan.so.1'), '');
    assert.equal(await vulkanLoaderFound({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }, cache), true, 'found on LD_LIBRARY_PATH');
    writeFileSync(cache, 'glibc-ld.so.cache1.1\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0');
    assert.equal(await vulkanLoaderFound({}, cache), true, 'found in the linker cache');
    if (system || process.platform !== 'linux') return; // this machine has a loader: the CLI check below would reach Dawn
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'backends'], { encoding: 'utf8', timeout: 60000, env: { ...process.env, SPARSECODE_BACKEND: 'webgpu', LD_LIBRARY_PATH: '', SPARSECODE_WEBGPU_MODULE: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Couldn't load Vulkan/);
  const lines = r.stderr.split('\n').filter((l) => /webgpu/i.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /no Vulkan loader \(libvulkan\.so\.1\)/);
});
