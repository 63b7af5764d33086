import { availableBackends, backend, backendLoadError } from '../../backend/index.js';
import { activateWebGpu } from '../../backend/webgpu/node.js';
import type { Command } from '../command.js';

export const backendsCommand: Command = {
  name: 'backends',
  summary: 'list the compute backends, which one is in use, and why any is missing (webgpu: the GPU code, through the optional "webgpu" package)',
  usage: 'backends [--json]',
  options: [{ name: 'json', type: 'boolean', help: 'print one JSON object' }],
  examples: ['sparsecode backends', 'SPARSECODE_BACKEND=js sparsecode backends --json'],
  async run(ctx) {
    const all = ['native', 'wasm', 'js'] as const;
    const info = all.map((n) => ({ name: n, available: availableBackends().includes(n), reason: backendLoadError(n) ?? null }));
    // WebGPU (the GPU code: bench, fitTopKWebGpu) through the optional "webgpu" package
    const gpu = await activateWebGpu();
    const webgpu = gpu.context ? { available: true, adapter: gpu.context.adapterDescription, software: gpu.context.isFallback } : { available: false, reason: gpu.note };
    if (ctx.opts.json) {
      ctx.print(JSON.stringify({ active: backend().name, backends: info, webgpu }));
      return;
    }
    for (const b of info) {
      const mark = b.name === backend().name ? '*' : ' ';
      ctx.print(`${mark} ${b.name.padEnd(7)} ${b.available ? 'available' : `missing${b.reason ? `: ${b.reason}` : ''}`}`);
    }
    ctx.print(`  ${'webgpu'.padEnd(7)} ${gpu.context ? `available (GPU code only): ${gpu.context.adapterDescription}` : `missing: ${gpu.note}`}`);
  },
};
