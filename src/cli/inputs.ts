import { SparsecodeError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { openRows, readAllRows, type RowSource } from '../io/rows.js';
import type { OptionSpec } from './args.js';

/**
 * Input matrices for CLI commands: every `X.npy` argument also takes `X.safetensors` (with
 * `--tensor NAME`, or `X.safetensors:NAME` to pick a tensor per file; the name may be left out
 * when the file holds exactly one 2-D tensor). float16/bfloat16/float64, big-endian and
 * Fortran-order data are converted to float32 row-major.
 */
export const TENSOR_OPTION: OptionSpec = {
  name: 'tensor',
  type: 'string',
  help: 'tensor to read from .safetensors inputs (FILE.safetensors:NAME picks one per file; optional when a file holds one 2-D tensor)',
  metavar: 'NAME',
};

function withArg<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SparsecodeError && !e.message.startsWith(what)) throw new SparsecodeError(e.code, `${what}: ${e.message}`, e.details);
    throw e;
  }
}

/**
 * Read a whole input matrix named by a command-line argument (`what`, e.g. '--input'), from .npy
 * or .safetensors. Refuses files over the memory budget (SPARSECODE_MAX_BYTES, default half the
 * machine's memory) and non-finite values (naming row and column); errors start with `what`.
 */
export function readMatrixArg(path: string, tensor: string | undefined, what: string, label?: string): Matrix {
  return withArg(what, () => readAllRows(path, { tensor, label }));
}

/** Open an input for streaming row reads (see readMatrixArg); the caller closes it. */
export function openRowsArg(path: string, tensor: string | undefined, what: string, label?: string): RowSource {
  return withArg(what, () => openRows(path, { tensor, label }));
}
