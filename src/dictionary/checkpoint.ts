import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../io/safetensors.js';

/**
 * Training checkpoints: one safetensors file `checkpoint.safetensors` in a folder, holding the
 * parameters, the optimiser moments and any other arrays, with the JSON training state in the
 * header metadata under `sparsecode_checkpoint`. Written atomically (temporary name, fsync,
 * rename), so after a crash the folder holds the previous checkpoint or the new one, never half.
 */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const KEY = 'sparsecode_checkpoint';

export interface Checkpoint {
  /** steps completed */
  step: number;
  /** JSON-serialisable training state (config, counters, ...) */
  state: Record<string, unknown>;
  tensors: Record<string, TensorInput>;
}

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(checkpointPath(dir));
}

export function saveCheckpoint(dir: string, ck: Checkpoint): void {
  writeSafetensors(checkpointPath(dir), ck.tensors, { [KEY]: JSON.stringify({ version: 1, step: ck.step, state: ck.state }) });
}

/** Read a checkpoint folder; null when it holds none. */
export function loadCheckpoint(dir: string): Checkpoint | null {
  const path = checkpointPath(dir);
  if (!existsSync(path)) return null;
  const f = readSafetensors(path);
  const raw = f.metadata[KEY];
  if (raw === undefined) fail('E_FORMAT', `${path}: not a sparsecode checkpoint (no ${KEY} metadata)`);
  let meta: { version: number; step: number; state: Record<string, unknown> };
  try {
    meta = JSON.parse(raw);
  } catch {
    fail('E_FORMAT', `${path}: checkpoint metadata is not valid JSON`);
  }
  if (meta.version !== 1 || !Number.isInteger(meta.step) || meta.step < 0) fail('E_FORMAT', `${path}: unsupported checkpoint (version ${meta.version}, step ${meta.step})`);
  const tensors: Record<string, TensorInput> = {};
  for (const [k, t] of Object.entries(f.tensors)) tensors[k] = { shape: t.shape, data: t.data, dtype: t.dtype };
  return { step: meta.step, state: meta.state ?? {}, tensors };
}

/** One setting a checkpoint records (compared on resume as JSON). */
export type Setting = string | number | boolean | null | readonly (string | number)[];
export type Settings = Record<string, Setting>;

/** One setting that differs between a checkpoint and the run that would resume it. */
export interface SettingDifference {
  key: string;
  checkpoint: unknown;
  run: unknown;
}

/**
 * The settings that differ between those a checkpoint recorded and this run's, in the run's
 * order. A key the checkpoint did not record (written before that setting was recorded) is not
 * compared; one the checkpoint recorded that this run lacks differs (run: undefined).
 */
export function settingsDifferences(recorded: Record<string, unknown>, run: Settings): SettingDifference[] {
  const out: SettingDifference[] = [];
  for (const [key, v] of Object.entries(run)) {
    if (!Object.hasOwn(recorded, key)) continue;
    if (JSON.stringify(recorded[key]) !== JSON.stringify(v)) out.push({ key, checkpoint: recorded[key], run: v });
  }
  for (const key of Object.keys(recorded)) if (!Object.hasOwn(run, key)) out.push({ key, checkpoint: recorded[key], run: undefined });
  return out;
}

export interface SettingsCheckOptions {
  /** the checkpoint folder (named in the message) */
  dir: string;
  /** who resumes (the message's first word, e.g. `fit`, `dl-fista`) */
  where: string;
  /** a sentence to add after a field's line (e.g. how to resume a streamed run) */
  hints?: Record<string, string>;
}

/**
 * Refuse to resume a checkpoint made with other settings: E_ARG (exit 2) naming every field that
 * differs with the checkpoint's value and this run's, and the fix (the same settings, or delete
 * the checkpoint). One check for every trainer that checkpoints (SAEs, DL-FISTA).
 */
export function checkSettings(recorded: Record<string, unknown>, run: Settings, o: SettingsCheckOptions): void {
  const diffs = settingsDifferences(recorded, run);
  if (diffs.length === 0) return;
  const show = (v: unknown) => (v === undefined ? '(not set)' : JSON.stringify(v));
  const lines = diffs.map((x) => `  ${x.key}: written for ${x.key} = ${show(x.checkpoint)}, this run has ${x.key} = ${show(x.run)}${o.hints?.[x.key] ? ` ${o.hints[x.key]}` : ''}`);
  fail(
    'E_ARG',
    `${o.where}: the checkpoint in ${o.dir} was written with other settings than this run's (${diffs.length} differ${diffs.length === 1 ? 's' : ''}):\n${lines.join('\n')}\n`
      + `Resume with the checkpoint's settings, or delete ${checkpointPath(o.dir)} (or write to another folder) to start afresh.`,
    { differences: diffs, key: diffs[0].key, checkpoint: diffs[0].checkpoint, run: diffs[0].run },
  );
}

/** FNV-1a (two lanes) over the 32-bit words of float32 values: a cheap 64-bit fingerprint of data. */
export function hashFloat32(a: Float32Array): string {
  const w = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let h = 0x811c9dc5;
  let g = 0x12345679;
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    h = Math.imul(h ^ x, 0x01000193);
    g = Math.imul(g ^ (x >>> 16) ^ (x << 16), 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0') + (g >>> 0).toString(16).padStart(8, '0');
}

/**
 * More state for a learner to keep in its checkpoints (a stopping rule's history, a warm
 * start): `save` gives JSON state and tensors, stored under `extra` and tensor names prefixed
 * `extra.`; `restore` gets them back on resume.
 */
export interface CheckpointExtra {
  save(): { state: Record<string, unknown>; tensors?: Record<string, TensorInput> };
  restore(state: Record<string, unknown>, tensors: Record<string, TensorInput>): void;
}

/** Add an extra's state and tensors to a checkpoint being written. */
export function saveExtra(extra: CheckpointExtra, state: Record<string, unknown>, tensors: Record<string, TensorInput>): void {
  const e = extra.save();
  state.extra = e.state;
  for (const [k, t] of Object.entries(e.tensors ?? {})) tensors[`extra.${k}`] = t;
}

/** Hand a loaded checkpoint's extra state and tensors back (refused when the checkpoint has none). */
export function restoreExtra(extra: CheckpointExtra, ck: Checkpoint, dir: string, where: string): void {
  const s = ck.state.extra;
  if (!s || typeof s !== 'object') fail('E_FORMAT', `${where}: the checkpoint in ${dir} has no extra state (written by another caller); delete ${dir} to start afresh`);
  const tensors: Record<string, TensorInput> = {};
  for (const [k, t] of Object.entries(ck.tensors)) if (k.startsWith('extra.')) tensors[k.slice(6)] = t;
  extra.restore(s as Record<string, unknown>, tensors);
}

/** The step of the checkpoint in `dir`, read from its header only (null when there is none or it cannot be read). */
export function checkpointStep(dir: string): number | null {
  const path = checkpointPath(dir);
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) return null;
    const len = Number(head.readBigUInt64LE(0));
    if (!(len > 0 && len < 100_000_000)) return null;
    const json = Buffer.alloc(len);
    if (readSync(fd, json, 0, len, 8) !== len) return null;
    const meta = JSON.parse(json.toString('utf8')).__metadata__?.[KEY];
    const step = meta ? JSON.parse(meta).step : null;
    return Number.isInteger(step) ? step : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
