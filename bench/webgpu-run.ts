// Node side of the WebGPU benches: where the job runs (Node's "webgpu" package, or Chromium).
import { fail } from '../src/core/errors.js';
import { webgpuGemmRows, webgpuSaeRow, type GemmSizeArg, type SaeSizeArg } from './webgpu.js';

export interface WebGpuJob { gemm?: GemmSizeArg[]; sae?: SaeSizeArg; repeats?: number; budgetS?: number }

/**
 * Run a WebGPU job for a bench: in headless Chromium with `browser` (SwiftShader unless
 * SPARSECODE_WEBGPU_ADAPTER=gpu), else in Node through the `webgpu` package. Returns the rows and
 * the backend label, or null and a one-line note when there is no adapter.
 */
export async function runWebGpuJob(job: WebGpuJob, browser: boolean): Promise<{ label: string; rows: Record<string, unknown>[] } | { label: null; note: string }> {
  if (browser) {
    const { runInChromium, besideThis, chromiumWebGpuFlags } = await import('./webgpu-browser.js');
    let out: { adapter: string | null; note: string; rows: Record<string, unknown>[] };
    try {
      out = await runInChromium(besideThis('webgpu-bench-entry'), `globalThis.runWebGpuBench(${JSON.stringify(job)})`, { flags: chromiumWebGpuFlags(), timeoutMs: 600000 });
    } catch (e) {
      fail('E_BACKEND', `WebGPU in Chromium: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
    return out.adapter ? { label: 'webgpu-browser', rows: out.rows } : { label: null, note: `no WebGPU adapter in Chromium: ${out.note}` };
  }
  const { activateWebGpu } = await import('../src/backend/webgpu/node.js');
  const { context, note } = await activateWebGpu();
  if (!context) return { label: null, note };
  const rows = job.gemm ? await webgpuGemmRows(context, job.gemm, job) : [await webgpuSaeRow(context, job.sae!, job)];
  return { label: 'webgpu', rows };
}
