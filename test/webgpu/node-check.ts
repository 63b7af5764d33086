// Run by test/webgpu-node.test.ts in a child process (node --expose-gc --import tsx), with the
// Vulkan loader and SwiftShader's ICD in the environment: a WebGPU context in Node through the
// `webgpu` package must survive garbage collection (the package's GPU object owns Dawn's
// instance), and a GEMM must agree with the js backend. Prints one JSON line.
import { nodeWebGpu } from '../../src/backend/webgpu/node.js';
import * as K from '../../src/backend/webgpu/kernels.js';
import { Rng } from '../../src/core/rng.js';

const { context: ctx, note } = await nodeWebGpu();
if (!ctx) {
  console.log(JSON.stringify({ ok: false, note }));
  process.exit(0);
}
const rng = new Rng(1);
const m = 37, k = 19, n = 53;
const A = rng.fillNormal(new Float32Array(m * k)) as Float32Array, B = rng.fillNormal(new Float32Array(k * n)) as Float32Array;
let maxErr = 0;
for (let round = 0; round < 3; round++) {
  // what the package created and nothing else holds must not be collected from under the device
  (globalThis as { gc?: () => void }).gc?.();
  const a = ctx.tensor(A, [m, k]), b = ctx.tensor(B, [k, n]), c = ctx.empty([m, n]);
  K.sgemm(ctx, false, false, m, n, k, 1, a, k, b, n, 0, c, n);
  await ctx.sync();
  const C = await c.readF32();
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
    maxErr = Math.max(maxErr, Math.abs(s - C[i * n + j]));
  }
  for (const t of [a, b, c]) t.destroy();
  await new Promise((r) => setTimeout(r, 20));
}
ctx.destroy();
console.log(JSON.stringify({ ok: true, note, maxErr, software: ctx.isFallback }));
