// Web Worker: loads the wasm backend (threads when the page is cross-origin isolated) and runs
// the playground off the main thread. Cancelling = the page terminates this worker.
import { registerBackend, useBackend, backend } from '../../src/backend/registry.js';
import { loadWasmBackend } from '../../src/backend/wasm/index.js';
import { runPlayground, type PlaygroundEvent, type PlaygroundParams } from '../../src/explore/playground.js';

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

function post(e: PlaygroundEvent | { type: 'backend'; name: string }): void {
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
  try {
    await runPlayground(req.params, post);
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
};
