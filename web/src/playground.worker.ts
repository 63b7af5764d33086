// Web Worker: loads the wasm backend (threads when the page is cross-origin isolated) and runs
// the playground off the main thread; the TopK SAE trains on WebGPU when the browser gives an
// adapter (else on wasm like the rest). Cancelling = the page terminates this worker.
import { registerBackend, useBackend, backend } from '../../src/backend/registry.js';
import { loadWasmBackend } from '../../src/backend/wasm/index.js';
import { runPlayground, type PlaygroundEvent, type PlaygroundParams } from '../../src/explore/playground.js';
import { WebGpuContext } from '../../src/backend/webgpu/context.js';

// DL-FISTA yields with setImmediate between outer steps; browsers have none. A MessageChannel
// task is the closest (setTimeout(0) is clamped to 4 ms after a few nestings).
const g = globalThis as unknown as { setImmediate?: (fn: () => void) => void };
if (typeof g.setImmediate !== 'function') {
  const ch = new MessageChannel();
  const queue: (() => void)[] = [];
  ch.port1.onmessage = () => queue.shift()?.();
  g.setImmediate = (fn: () => void) => {
    queue.push(fn);
    ch.port2.postMessage(0);
  };
}

type Request = { type: 'run'; params: PlaygroundParams; wasmDir: string };

let ready: Promise<string> | null = null;
function init(wasmDir: string): Promise<string> {
  ready ??= (async () => {
    try {
      const wasm = await loadWasmBackend({ dir: wasmDir });
      registerBackend(wasm);
      useBackend('wasm');
      return `wasm, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}${(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? ' (cross-origin isolated)' : ''}`;
    } catch (e) {
      return `js (wasm unavailable: ${(e as Error).message})`;
    }
  })();
  return ready;
}

/** WebGPU for the TopK SAE: the context, or null and the one-line reason (asked once per worker). */
let gpuReady: Promise<{ context: WebGpuContext | null; note: string }> | null = null;
function initGpu(): Promise<{ context: WebGpuContext | null; note: string }> {
  gpuReady ??= WebGpuContext.tryCreate({ timeoutMs: 8000 });
  return gpuReady;
}

function post(e: PlaygroundEvent | { type: 'backend'; name: string } | { type: 'sae-backend'; webgpu: boolean; note: string }): void {
  const transfer: Transferable[] = [];
  if ('atoms' in e && e.atoms) transfer.push(e.atoms.buffer);
  if (e.type === 'world') transfer.push(e.A.buffer);
  (self as unknown as Worker).postMessage(e, transfer);
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const req = ev.data;
  if (req.type !== 'run') return;
  const name = await init(req.wasmDir);
  post({ type: 'backend', name: `${name} — active: ${backend().name}` });
  const gpu = req.params.methods.includes('topk-sae') ? await initGpu() : { context: null, note: 'not needed' };
  post({ type: 'sae-backend', webgpu: !!gpu.context, note: gpu.note });
  try {
    await runPlayground(req.params, post, { webgpu: gpu.context });
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
};
