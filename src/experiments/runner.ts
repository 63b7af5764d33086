import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fail, isSparsecodeError } from '../core/errors.js';

/**
 * A resumable sweep runner. A sweep is a list of cells (config × seed × method); each cell's
 * result is one line of JSON in `DIR/results.jsonl`, appended and fsync'd as soon as the cell
 * finishes, so a killed sweep loses at most the cell that was running. On start the runner
 * reads the file, drops a torn last line (a kill in the middle of a write), and skips every
 * cell that already has a successful line. A cell that throws is recorded as
 * `{"config", "method", "error", "seconds"}` and the sweep carries on; failed cells are run
 * again on the next start (unless `retryFailed: false`).
 */

/** Scalar values a config may hold (they make up the cell's identity). */
export type ConfigValue = number | string | boolean | null;
export type CellConfig = Record<string, ConfigValue>;

/** One line of results.jsonl. */
export interface ResultLine {
  config: CellConfig;
  method: string;
  /** present on success; metrics a method lacks are omitted */
  metrics?: Record<string, number>;
  /** present on failure: the error message (code first, when a SparsecodeError) */
  error?: string;
  /** seconds the cell took, including the time recorded by a checkpoint it resumed from */
  seconds: number;
  /** of `seconds`, the part spent by earlier processes (a cell resumed from a checkpoint) */
  seconds_before_resume?: number;
}

/**
 * Passed to a cell's `run`: a cell that resumes work from a checkpoint adds the seconds that
 * checkpoint recorded, so its line's `seconds` is the cell's whole time, not the last process's.
 */
export interface CellRun {
  priorSeconds: number;
}

export interface Cell {
  config: CellConfig;
  method: string;
  /**
   * Cells with the same group share one cache object while they run back to back (e.g. one
   * world and one trained SAE for every method of a config × seed). Default: the config key.
   */
  group?: string;
}

export interface SweepProgress {
  /** cells finished in total (skipped + run now), of `total` */
  done: number;
  total: number;
  /** cells skipped because results.jsonl already had them */
  skipped: number;
  /** cells run in this session so far, and how many of those failed */
  ran: number;
  failed: number;
  /** seconds since the sweep started, and the estimated seconds left (NaN before the first cell) */
  elapsed: number;
  eta: number;
  /** the cell just finished (absent for the initial report) */
  cell?: Cell;
  line?: ResultLine;
}

export interface SweepOptions {
  /** folder for results.jsonl (created when missing) */
  dir: string;
  cells: Cell[];
  /** computes one cell's metrics; may use `cache` (shared within a group) to reuse work */
  run: (cell: Cell, cache: Map<string, unknown>, signal?: AbortSignal, ctx?: CellRun) => Promise<Record<string, number>> | Record<string, number>;
  onProgress?: (p: SweepProgress) => void;
  signal?: AbortSignal;
  /** rerun cells whose stored line is an error (default true) */
  retryFailed?: boolean;
  /** results file name inside dir (default results.jsonl) */
  file?: string;
  /**
   * also write the cell's method under this field name in every line (an experiment whose
   * contract calls the method e.g. `objective`); `method` stays, so the file reads back as usual
   */
  methodField?: string;
}

export interface SweepSummary {
  /** path of the results file */
  path: string;
  total: number;
  skipped: number;
  ran: number;
  failed: number;
  seconds: number;
  /** the final line for every cell of this sweep, in cell order (undefined when cancelled before it) */
  lines: (ResultLine | undefined)[];
  /** true when the signal stopped the sweep before every cell ran */
  cancelled: boolean;
}

/** Canonical JSON of a config: keys sorted, so the same config always gives the same string. */
export function configKey(config: CellConfig): string {
  const keys = Object.keys(config).sort();
  return JSON.stringify(keys.map((k) => [k, config[k]]));
}

/** The identity of a cell: its config and method. */
export function cellKey(config: CellConfig, method: string): string {
  return `${configKey(config)}|${method}`;
}

export interface ReadResults {
  lines: ResultLine[];
  /** lines that were not valid result lines (torn last line included), with their 1-based number */
  bad: { line: number; text: string }[];
  /** byte length of the file up to and including the last complete, valid-looking newline */
  validBytes: number;
  /** true when the file did not end with a newline (a write was cut off) */
  torn: boolean;
}

function isResultLine(v: unknown): v is ResultLine {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return !!o.config && typeof o.config === 'object' && typeof o.method === 'string' && (o.metrics !== undefined || typeof o.error === 'string');
}

/** Parse a results.jsonl file; a missing file is empty. Never throws on bad lines (they are listed). */
export function readResults(path: string): ReadResults {
  if (!existsSync(path)) return { lines: [], bad: [], validBytes: 0, torn: false };
  const buf = readFileSync(path);
  const lastNl = buf.lastIndexOf(0x0a);
  const torn = buf.length > 0 && lastNl !== buf.length - 1;
  const text = buf.subarray(0, lastNl + 1).toString('utf8');
  const lines: ResultLine[] = [];
  const bad: { line: number; text: string }[] = [];
  const rows = text.split('\n');
  rows.pop(); // after the last newline
  rows.forEach((row, i) => {
    if (row.trim() === '') return;
    try {
      const v = JSON.parse(row);
      if (isResultLine(v)) lines.push(v);
      else bad.push({ line: i + 1, text: row });
    } catch {
      bad.push({ line: i + 1, text: row });
    }
  });
  if (torn) bad.push({ line: rows.length + 1, text: buf.subarray(lastNl + 1).toString('utf8') });
  return { lines, bad, validBytes: lastNl + 1, torn };
}

/**
 * Append one line (JSON + newline) with a single write, then fsync, so a kill leaves either
 * the whole line or a torn tail that readResults drops.
 */
export function appendLine(path: string, value: unknown): void {
  const data = Buffer.from(JSON.stringify(value) + '\n', 'utf8');
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | null = null;
  try {
    fd = openSync(path, 'a');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    fail('E_IO', `cannot append to ${path}: ${(e as Error).message}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Cut a torn last line off the file so the next append starts on a fresh line. */
function dropTornTail(path: string, validBytes: number): void {
  const fd = openSync(path, 'r+');
  try {
    if (fstatSync(fd).size > validBytes) {
      ftruncateSync(fd, validBytes);
      fsyncSync(fd);
    }
  } finally {
    closeSync(fd);
  }
}

function errorText(e: unknown): string {
  if (isSparsecodeError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** Last line per cell key (a later success replaces an earlier error and vice versa). */
export function latestByCell(lines: ResultLine[]): Map<string, ResultLine> {
  const m = new Map<string, ResultLine>();
  for (const l of lines) m.set(cellKey(l.config, l.method), l);
  return m;
}

/** Run (or resume) a sweep. Resolves when every cell has a line, or when `signal` fires. */
export async function runSweep(opts: SweepOptions): Promise<SweepSummary> {
  const path = join(opts.dir, opts.file ?? 'results.jsonl');
  mkdirSync(opts.dir, { recursive: true });
  const retryFailed = opts.retryFailed ?? true;
  const prior = readResults(path);
  if (prior.torn) dropTornTail(path, prior.validBytes);
  const stored = latestByCell(prior.lines);

  const total = opts.cells.length;
  const lines: (ResultLine | undefined)[] = new Array(total).fill(undefined);
  const todo: number[] = [];
  const seen = new Set<string>();
  opts.cells.forEach((c, i) => {
    const key = cellKey(c.config, c.method);
    if (seen.has(key)) fail('E_ARG', `runSweep: cell ${c.method} ${configKey(c.config)} appears twice in the sweep; cells must be distinct`);
    seen.add(key);
    const s = stored.get(key);
    if (s && (s.error === undefined || !retryFailed)) lines[i] = s;
    else todo.push(i);
  });
  const skipped = total - todo.length;
  const t0 = performance.now();
  let ran = 0;
  let failed = 0;
  let runSeconds = 0;
  const report = (cell?: Cell, line?: ResultLine) => {
    const elapsed = (performance.now() - t0) / 1000;
    const left = total - skipped - ran;
    const eta = ran > 0 ? (runSeconds / ran) * left : left === 0 ? 0 : NaN;
    opts.onProgress?.({ done: skipped + ran, total, skipped, ran, failed, elapsed, eta, cell, line });
  };
  report();

  let cache = new Map<string, unknown>();
  let group: string | null = null;
  let cancelled = false;
  for (const i of todo) {
    if (opts.signal?.aborted) {
      cancelled = true;
      break;
    }
    const cell = opts.cells[i];
    const g = cell.group ?? configKey(cell.config);
    if (g !== group) {
      cache = new Map();
      group = g;
    }
    const c0 = performance.now();
    const ctx: CellRun = { priorSeconds: 0 };
    let line: ResultLine;
    try {
      const metrics = await opts.run(cell, cache, opts.signal, ctx);
      const clean: Record<string, number> = {};
      for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) clean[k] = v;
      const prior = Number.isFinite(ctx.priorSeconds) && ctx.priorSeconds > 0 ? ctx.priorSeconds : 0;
      line = { config: cell.config, method: cell.method, metrics: clean, seconds: round((performance.now() - c0) / 1000 + prior) };
      if (prior > 0) line.seconds_before_resume = round(prior);
    } catch (e) {
      if (opts.signal?.aborted || (isSparsecodeError(e) && e.code === 'E_CANCELLED')) {
        cancelled = true;
        break;
      }
      line = { config: cell.config, method: cell.method, error: errorText(e), seconds: round((performance.now() - c0) / 1000) };
      failed++;
    }
    if (opts.methodField && opts.methodField !== 'method') {
      const { config, ...rest } = line;
      line = { config, [opts.methodField]: cell.method, ...rest };
    }
    appendLine(path, line);
    lines[i] = line;
    ran++;
    runSeconds += line.seconds;
    report(cell, line);
    // let signals and timers through between cells
    await new Promise<void>((r) => setImmediate(r));
  }
  return { path, total, skipped, ran, failed, seconds: (performance.now() - t0) / 1000, lines, cancelled };
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
