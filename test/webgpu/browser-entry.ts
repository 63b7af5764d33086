// Bundled into the conformance page by scripts/test-webgpu.ts: exposes the suite to the runner.
// the trainer yields with setImmediate; browsers have none
const g = globalThis as unknown as { setImmediate?: (fn: () => void) => void };
g.setImmediate ??= (fn) => { setTimeout(fn, 0); };

import { WebGpuContext } from '../../src/backend/webgpu/context.js';
import { runConformance } from './conformance.js';

(globalThis as unknown as { runWebGpuSuite: (filter?: string) => Promise<unknown> }).runWebGpuSuite = async (filter?: string) => {
  const { context, note } = await WebGpuContext.tryCreate({ timeoutMs: 15000 });
  if (!context) return { adapter: null, note, results: [] };
  const results = await runConformance(context, (line) => console.log(line), filter ? new RegExp(filter) : undefined);
  context.destroy();
  return { adapter: context.adapterDescription, note, results };
};
