import { fail } from '../core/errors.js';
import { readExact } from './elements.js';
import { f16ToNumber, writeSafetensors, type TensorInput } from './safetensors.js';
import { openSafetensorsIndex } from './safetensors-index.js';

/** One named float32 tensor (nn's `StateTensor`: a layer's parameter or buffer). */
export interface NamedTensor {
  name: string;
  param: Float32Array;
  shape: number[];
}

/**
 * Parameters (and buffers) of `nn` layers as .safetensors files with PyTorch's names and shapes:
 * a Sequential's `state()` saved here loads into the same torch.nn.Sequential with
 * `model.load_state_dict(safetensors.torch.load_file(path))`, and a file PyTorch saved
 * (`safetensors.torch.save_file(model.state_dict(), path)`) loads back with `loadParams`.
 * Everything is written as F32 (PyTorch casts on load; its int64 `num_batches_tracked` included);
 * reading accepts F32, F64, F16, BF16, I64 and I32.
 */
export function saveParams(path: string, tensors: NamedTensor[], metadata: Record<string, string> = {}): void {
  if (!Array.isArray(tensors)) fail('E_ARG', 'saveParams: give the tensors as an array of {name, param, shape} (model.state() or model.params())');
  const out: Record<string, TensorInput> = {};
  for (const t of tensors) {
    if (!t || typeof t.name !== 'string' || !(t.param instanceof Float32Array) || !Array.isArray(t.shape)) {
      fail('E_ARG', 'saveParams: every tensor needs {name: string, param: Float32Array, shape: number[]}');
    }
    if (Object.prototype.hasOwnProperty.call(out, t.name)) fail('E_ARG', `saveParams: two tensors are named ${JSON.stringify(t.name)}; names must be unique`);
    Object.defineProperty(out, t.name, { value: { shape: t.shape, data: t.param, dtype: 'F32' }, enumerable: true, writable: true, configurable: true });
  }
  writeSafetensors(path, out, metadata);
}

export interface LoadParamsOptions {
  /** refuse a file with tensors the model does not have (default true, as PyTorch's strict) */
  strict?: boolean;
}

/**
 * Read the tensors named like `tensors` from a .safetensors file into their buffers (in place).
 * Every tensor must be present with the same shape; values must be finite. Returns the names
 * of the file's tensors that were not used (none when strict).
 */
export function loadParams(path: string, tensors: NamedTensor[], opts: LoadParamsOptions = {}): { unexpected: string[] } {
  if (!Array.isArray(tensors)) fail('E_ARG', 'loadParams: give the tensors as an array of {name, param, shape} (model.state() or model.params())');
  const strict = opts.strict ?? true;
  const idx = openSafetensorsIndex(path);
  try {
    const byName = new Map(idx.entries.map((e) => [e.name, e]));
    const wanted = new Set(tensors.map((t) => t.name));
    const missing = tensors.filter((t) => !byName.has(t.name)).map((t) => t.name);
    if (missing.length) fail('E_FORMAT', `${path}: no tensor ${missing.map((m) => JSON.stringify(m)).join(', ')}; the file has ${[...byName.keys()].slice(0, 20).join(', ') || 'no tensors'} (was it saved from the same architecture?)`);
    const unexpected = [...byName.keys()].filter((k) => !wanted.has(k));
    if (strict && unexpected.length) fail('E_FORMAT', `${path}: tensors the model does not have: ${unexpected.slice(0, 20).join(', ')}; pass {strict: false} to ignore them`);
    for (const t of tensors) {
      const e = byName.get(t.name)!;
      const count = e.shape.reduce((a, b) => a * b, 1);
      const sameShape = e.shape.length === t.shape.length && e.shape.every((s, i) => s === t.shape[i]);
      if (!sameShape || count !== t.param.length) {
        fail('E_SHAPE', `${path}: tensor ${t.name} is [${e.shape.join(', ')}], the model's is [${t.shape.join(', ')}]; build the model with the sizes it was saved with`);
      }
      const bytes = new Uint8Array(e.end - e.begin);
      readExact(idx.fd, bytes, 0, bytes.length, idx.dataStart + e.begin, path);
      const dv = new DataView(bytes.buffer);
      const dst = t.param;
      switch (e.dtype) {
        case 'F32': for (let i = 0; i < count; i++) dst[i] = dv.getFloat32(4 * i, true); break;
        case 'F64': for (let i = 0; i < count; i++) dst[i] = dv.getFloat64(8 * i, true); break;
        case 'F16': for (let i = 0; i < count; i++) dst[i] = f16ToNumber(dv.getUint16(2 * i, true)); break;
        case 'BF16': for (let i = 0; i < count; i++) dst[i] = bf16(dv.getUint16(2 * i, true)); break;
        case 'I64': for (let i = 0; i < count; i++) dst[i] = Number(dv.getBigInt64(8 * i, true)); break;
        case 'I32': for (let i = 0; i < count; i++) dst[i] = dv.getInt32(4 * i, true); break;
        default: fail('E_DTYPE', `${path}: tensor ${t.name} has dtype ${e.dtype}; parameters must be F32, F64, F16, BF16, I64 or I32`);
      }
      for (let i = 0; i < count; i++) if (!Number.isFinite(dst[i])) fail('E_NONFINITE', `${path}: tensor ${t.name} has a non-finite value at element ${i}`);
    }
    return { unexpected };
  } finally {
    idx.close();
  }
}

const u32 = new Uint32Array(1);
const f32 = new Float32Array(u32.buffer);
function bf16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}
