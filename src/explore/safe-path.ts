import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';

/**
 * Map a request path (relative, still percent-encoded, as it came off the wire) to a regular
 * file inside `root`, or null when it must not be served. Refused: undecodable escapes, NUL,
 * backslashes, empty, `.` or `..` segments (raw or encoded), absolute paths and drive letters,
 * dot-files, anything that resolves (after following symlinks) outside `root`, and anything
 * that is not a regular file.
 */
export function resolveInside(root: string, rawRel: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(rawRel);
  } catch {
    return null;
  }
  if (rel === '' || rel.includes('\0') || rel.includes('\\') || rel.includes('%')) return null;
  if (rel.startsWith('/') || isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) return null;
  const parts = rel.split('/');
  for (const p of parts) if (p === '' || p === '.' || p === '..' || p.startsWith('.')) return null;
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
  } catch {
    return null;
  }
  const full = resolve(rootReal, rel);
  if (!full.startsWith(rootReal + sep)) return null;
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    return null;
  }
  if (!real.startsWith(rootReal + sep)) return null;
  try {
    if (!statSync(real).isFile()) return null;
  } catch {
    return null;
  }
  return real;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  jsonl: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  wasm: 'application/wasm',
  map: 'application/json; charset=utf-8',
  npy: 'application/octet-stream',
  safetensors: 'application/octet-stream',
};

/** Content type by file extension; unknown types are served as bytes. */
export function contentType(path: string): string {
  const m = /\.([a-z0-9]+)$/i.exec(path);
  return (m && TYPES[m[1].toLowerCase()]) || 'application/octet-stream';
}
