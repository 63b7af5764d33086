import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { SparsecodeError } from '../core/errors.js';

/**
 * Write a file atomically: write to a temporary name in the same folder, fsync, rename over
 * the target. After a crash there is either the old file or the new one, never half of one.
 * `data` may be several chunks (written in order without concatenating them).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | (string | Uint8Array)[]): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of Array.isArray(data) ? data : [data]) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let off = 0;
      // at most 1 GiB per call: one writeSync of 4 GiB or more wraps its length to 32 bits
      while (off < buf.length) off += writeSync(fd, buf, off, Math.min(buf.length - off, 1 << 30));
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    const err = e as NodeJS.ErrnoException;
    throw new SparsecodeError('E_IO', `cannot write ${path}: ${err.message}`);
  }
}
