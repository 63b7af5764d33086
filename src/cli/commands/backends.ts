import { availableBackends, backend, backendLoadError } from '../../backend/index.js';
import type { Command } from '../command.js';

export const backendsCommand: Command = {
  name: 'backends',
  summary: 'list the compute backends, which one is in use, and why any is missing',
  usage: 'backends [--json]',
  options: [{ name: 'json', type: 'boolean', help: 'print one JSON object' }],
  examples: ['sparsecode backends', 'SPARSECODE_BACKEND=js sparsecode backends --json'],
  async run(ctx) {
    const all = ['native', 'wasm', 'js'] as const;
    const info = all.map((n) => ({ name: n, available: availableBackends().includes(n), reason: backendLoadError(n) ?? null }));
    if (ctx.opts.json) {
      ctx.print(JSON.stringify({ active: backend().name, backends: info }));
      return;
    }
    for (const b of info) {
      const mark = b.name === backend().name ? '*' : ' ';
      ctx.print(`${mark} ${b.name.padEnd(7)} ${b.available ? 'available' : `missing${b.reason ? `: ${b.reason}` : ''}`}`);
    }
  },
};
