import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { unzipSync } from 'fflate';
import { fail, isSparsecodeError } from '../core/errors.js';
import { parseNpyHeader } from './npy.js';
import { openSafetensorsIndex } from './safetensors-index.js';
import { detectLayout, type LayoutInfo, readModel } from './sae-layouts.js';

/**
 * What a file or folder holds, read from headers where the format allows (safetensors, .npy),
 * for `sparsecode inspect`: the layout of a model folder, its tensors (name, shape, dtype), its
 * configuration, and whether sparsecode loads it (or the reason it refuses).
 */
export interface TensorListing {
  /** the file, relative to the inspected path */
  file: string;
  name: string;
  shape: number[];
  dtype: string;
}

export interface Inspection {
  path: string;
  /** 'model' (a layout sparsecode reads), or the single file's format */
  kind: 'model' | 'npy' | 'npz' | 'safetensors' | 'json' | 'folder';
  layout?: LayoutInfo;
  /** the model as sparsecode reads it (absent when it refuses: see `refused`) */
  model?: { kind: string; d_in: number; d_sae: number; k: number | null; apply_b_dec_to_input: boolean; threshold: boolean; whitened: boolean; sparsity: boolean };
  /** why sparsecode refuses to load this model */
  refused?: { code: string; message: string };
  tensors: TensorListing[];
  /** the model's configuration file (cfg.json / hyperparams.json) */
  config?: Record<string, unknown>;
  /** files in a folder that is not a model */
  files?: string[];
}

const NPY_HEAD = 1 << 16;

function npyListing(path: string, file: string): TensorListing {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const buf = new Uint8Array(Math.min(size, NPY_HEAD));
    readSync(fd, buf, 0, buf.length, 0);
    const h = parseNpyHeader(buf, path);
    return { file, name: '', shape: h.shape, dtype: h.descr };
  } finally {
    closeSync(fd);
  }
}

function safetensorsListing(path: string, file: string): TensorListing[] {
  const idx = openSafetensorsIndex(path);
  try {
    return idx.entries.map((e) => ({ file, name: e.name, shape: e.shape, dtype: e.dtype }));
  } finally {
    idx.close();
  }
}

function npzListing(path: string, file: string): TensorListing[] {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(buf, { filter: (f) => f.name.endsWith('.npy') && f.originalSize <= 2 ** 31 - 1 && (f.compression === 0 ? f.originalSize === f.size : f.originalSize <= f.size * 1032 + 1024) });
  } catch (e) {
    fail('E_FORMAT', `${path}: not a readable .npz archive (${(e as Error).message})`);
  }
  return Object.entries(members).map(([m, b]) => {
    const h = parseNpyHeader(b, `${path}:${m}`);
    return { file, name: m.slice(0, -4), shape: h.shape, dtype: h.descr };
  });
}

function listFile(path: string, rel: string): TensorListing[] {
  if (path.endsWith('.safetensors')) return safetensorsListing(path, rel);
  if (path.endsWith('.npz')) return npzListing(path, rel);
  if (path.endsWith('.npy')) return [npyListing(path, rel)];
  return [];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Inspect a file or folder (see the module comment). */
export function inspectPath(path: string): Inspection {
  let st;
  try {
    st = statSync(path);
  } catch {
    fail('E_IO', `${path} does not exist`);
  }
  let layout: LayoutInfo | undefined;
  let detected: { name: string; root: string } | null = null;
  let detectError: unknown = null;
  try {
    detected = detectLayout(path);
  } catch (e) {
    if (!isSparsecodeError(e)) throw e;
    detectError = e;
  }
  if (detected) {
    const out: Inspection = { path, kind: 'model', tensors: [] };
    try {
      const r = readModel(path);
      layout = r.layout;
      out.layout = layout;
      const s = r.spec;
      out.model = {
        kind: s.kind, d_in: r.dim, d_sae: r.atoms, k: s.k ?? null, apply_b_dec_to_input: s.applyBDecToInput !== false,
        threshold: !!s.weights.threshold, whitened: !!s.whitening, sparsity: !!r.logSparsity,
      };
      out.config = r.cfg;
    } catch (e) {
      if (!isSparsecodeError(e)) throw e;
      out.refused = { code: e.code, message: e.message };
    }
    const root = detected.root;
    const files = layout?.files ?? (isDir(root) ? readdirSync(root).map((f) => join(root, f)) : [root]);
    for (const f of files) {
      const rel = isDir(path) ? relative(path, f) || basename(f) : basename(f);
      try {
        out.tensors.push(...listFile(f, rel));
      } catch (e) {
        if (!isSparsecodeError(e)) throw e;
        out.refused ??= { code: e.code, message: e.message };
      }
      if (!out.config && (f.endsWith('cfg.json') || f.endsWith('hyperparams.json'))) {
        try {
          out.config = JSON.parse(readFileSync(f, 'utf8'));
        } catch {
          /* reported through refused */
        }
      }
    }
    // a lone .npz that is not a Gemma Scope params file is just an archive of arrays
    if (!(st.isFile() && out.refused && !/^params\.(npz|safetensors)$/.test(basename(path)))) return out;
  }
  if (st.isDirectory()) {
    return { path, kind: 'folder', tensors: [], files: readdirSync(path).sort(), refused: { code: (detectError as { code: string }).code, message: (detectError as Error).message } };
  }
  const b = basename(path);
  if (b.endsWith('.npy')) return { path, kind: 'npy', tensors: [npyListing(path, b)] };
  if (b.endsWith('.safetensors')) return { path, kind: 'safetensors', tensors: safetensorsListing(path, b) };
  if (b.endsWith('.npz')) return { path, kind: 'npz', tensors: npzListing(path, b) };
  if (b.endsWith('.json')) {
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      fail('E_FORMAT', `${path}: not valid JSON (${(e as Error).message})`);
    }
    return { path, kind: 'json', tensors: [], config };
  }
  if (detectError) throw detectError;
  fail('E_FORMAT', `${path}: not a format sparsecode inspects (.npy, .npz, .safetensors, .json, or a model folder)`);
}
