// Web Worker of the LeJEPA playground: loads the wasm backend (threads when the page is
// cross-origin isolated) and trains off the main thread. Stopping = the page terminates it.
import { registerBackend, useBackend, backend } from '../../src/backend/registry.js';
import { loadWasmBackend } from '../../src/backend/wasm/index.js';
import { runLejepaPlayground, type LejepaPlaygroundEvent, type LejepaPlaygroundParams } from '../../src/explore/lejepa-playground.js';

type Request = { type: 'run'; params: LejepaPlaygroundParams; wasmDir: string };

let ready: Promise<string> | null = null;
function init(wasmDir: string): Promise<string> {
  ready ??= (async () => {
    try {
      const wasm = await loadWasmBackend({ dir: wasmDir });
      registerBackend(wasm);
      useBackend('wasm');
      return `wasm, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}`;
    } catch (e) {
      return `js (wasm unavailable: ${(e as Error).message})`;
    }
  })();
  return ready;
}

function post(e: LejepaPlaygroundEvent | { type: 'backend'; name: string }): void {
  const transfer: Transferable[] = [];
  if (e.type === 'world') transfer.push(e.z.buffer, e.x.buffer);
  if (e.type === 'progress') transfer.push(e.h.buffer);
  (self as unknown as Worker).postMessage(e, transfer);
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const req = ev.data;
  if (req.type !== 'run') return;
  const name = await init(req.wasmDir);
  post({ type: 'backend', name: `${name} — active: ${backend().name}` });
  try {
    await runLejepaPlayground(req.params, post);
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
};
