export type { Backend, BackendName } from './types.js';
export { jsBackend } from './js/index.js';
export { backend, useBackend, getBackend, availableBackends, registerBackend, backendLoadError, isBackendName } from './registry.js';
export { loadBackends, addLoader } from './load.js';
export * from './ops.js';
import './native/load.js';
import './wasm/index.js';
export { loadWasmBackend, WasmBackend, type WasmLoadOptions } from './wasm/index.js';
export * from './webgpu/index.js';
