import type { ErrorCode } from '../core/errors.js';

/**
 * Exit codes (documented in the README):
 *   0  success
 *   1  the computation failed (diverged, did not converge, backend failure, internal error)
 *   2  usage error: unknown command or option, bad option value
 *   3  bad input data: unreadable, malformed or unsupported file, wrong shapes, NaN/Inf, data
 *      that cannot answer the question (E_DATA: no variance, a constant row or column where a
 *      correlation is needed)
 *   130 interrupted (Ctrl-C / SIGTERM); partial work is checkpointed where the command supports it
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, input: 3, interrupted: 130 } as const;

export function exitCodeFor(code: ErrorCode | undefined): number {
  switch (code) {
    case 'E_USAGE':
    case 'E_ARG':
      return EXIT.usage;
    case 'E_FORMAT':
    case 'E_IO':
    case 'E_SHAPE':
    case 'E_NONFINITE':
    case 'E_DTYPE':
    case 'E_DATA':
      return EXIT.input;
    case 'E_CANCELLED':
      return EXIT.interrupted;
    default:
      return EXIT.failed;
  }
}
