import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../core/errors.js';

/** The nearest ancestor of `path` (itself included) that does not exist below one that does, or null when `path` exists. */
function firstMissing(path: string): string | null {
  let p = resolve(path);
  if (existsSync(p)) return null;
  for (;;) {
    const up = dirname(p);
    if (up === p || existsSync(up)) return p;
    p = up;
  }
}

/**
 * Check an output directory argument (`fit --out DIR`, `world --out DIR`) before any work:
 * refused (E_USAGE) when the path is a file; otherwise returns a note saying which directories
 * will be created, or null when DIR exists.
 */
export function checkOutDir(path: string, flag: string, cmd: string): string | null {
  if (existsSync(path) && !statSync(path).isDirectory()) {
    fail('E_USAGE', `${flag} ${path} is a file; ${cmd} writes a directory of files there: pass a directory path (a new name such as ${path.replace(/\/+$/, '')}.d/ is created, an existing folder is used)`);
  }
  const missing = firstMissing(path);
  if (missing === null) return null;
  return missing === resolve(path) ? `${cmd}: creating the directory ${path}` : `${cmd}: creating the directory ${path} (and the missing ones above it, from ${missing})`;
}

/**
 * Check an output file argument (`encode --out Z.npy`): refused (E_USAGE) when the path is an
 * existing directory (`--out .`); returns a note when its directory will be created, else null.
 */
export function checkOutFile(path: string, flag: string, cmd: string, example: string): string | null {
  if (path === '' || /[/\\]$/.test(path) || (existsSync(path) && statSync(path).isDirectory())) {
    fail('E_USAGE', `${flag} ${path || '""'} is a directory; ${cmd} writes one file: pass a file name, e.g. ${flag} ${join(path || '.', example)}`);
  }
  const dir = dirname(path);
  const missing = firstMissing(dir);
  if (missing === null) return null;
  return `${cmd}: creating the directory ${dir} for ${path}`;
}

/** Quote one command-line argument for a POSIX shell when it needs it. */
export function shellQuote(a: string): string {
  return /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
