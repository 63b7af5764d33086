import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { SparsecodeError } from '../core/errors.js';

/**
 * Write a file atomically: write to a temporary name in the same folder, fsync, rename over
 * the target. After a crash there is either the old file or the new one, never half of one.
 * `data` may be several chunks (written in order without concatenating them).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | (string | Uint8Array)[]): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new SparsecodeError('E_IO', `cannot write ${path}: ${(e as Error).message}`);
  }
  removeStaleTemps(dir, basename(path));
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

/**
 * Remove temporary files a killed writer of `name` left in `dir` (`.<name>.<pid>.<stamp>.tmp`
 * whose process no longer exists). Never touches a live writer's file or anything else.
 */
export function removeStaleTemps(dir: string, name: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(e.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      unlinkSync(join(dir, e));
    } catch {
      /* raced with another cleaner */
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
