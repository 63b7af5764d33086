/**
 * One error type for the whole library. `code` is stable and machine-readable;
 * the message names the problem and, where possible, the fix.
 */
export type ErrorCode =
  | 'E_SHAPE' // shapes disagree
  | 'E_NONFINITE' // NaN or Inf where finite numbers are required
  | 'E_DATA' // the data cannot answer the question (no variance, a constant row or column where a correlation is needed)
  | 'E_DTYPE' // unsupported element type
  | 'E_ARG' // a bad argument value (negative lambda, k > atoms, ...)
  | 'E_FORMAT' // a malformed or unsupported file
  | 'E_IO' // a file could not be read or written
  | 'E_USAGE' // bad command-line usage
  | 'E_DIVERGED' // an optimisation produced non-finite values
  | 'E_CANCELLED' // the caller aborted
  | 'E_BACKEND' // a compute backend could not be loaded or failed
  | 'E_NOTCONVERGED'; // an iterative routine ran out of iterations

export class SparsecodeError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SparsecodeError';
    this.code = code;
    if (details) this.details = details;
  }
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new SparsecodeError(code, message, details);
}

export function isSparsecodeError(e: unknown): e is SparsecodeError {
  return e instanceof SparsecodeError;
}
