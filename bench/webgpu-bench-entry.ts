// Bundled into a page by bench/webgpu-browser.ts for `sparsecode bench gemm|sae --browser`.
import { WebGpuContext } from '../src/backend/webgpu/context.js';
import { webgpuGemmRows, webgpuSaeRow, type GemmSizeArg, type SaeSizeArg } from './webgpu.js';

interface Job { gemm?: GemmSizeArg[]; sae?: SaeSizeArg; repeats?: number; budgetS?: number }

(globalThis as unknown as { runWebGpuBench: (job: Job) => Promise<unknown> }).runWebGpuBench = async (job: Job) => {
  const { context, note } = await WebGpuContext.tryCreate({ timeoutMs: 30000, waitTimeoutMs: 540000 }); // software adapters take minutes for big sizes
  if (!context) return { adapter: null, note, rows: [] };
  try {
    const rows = job.gemm ? await webgpuGemmRows(context, job.gemm, job) : [await webgpuSaeRow(context, job.sae!, job)];
    return { adapter: context.adapterDescription, note, rows };
  } finally {
    context.destroy();
  }
};
