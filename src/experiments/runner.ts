import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fail, isSparsecodeError } from '../core/errors.js';

/**
 * A resumable sweep runner. A sweep is a list of cells (config × seed × method); each cell's
 * result is one line of JSON in `DIR/results.jsonl`, appended and fsync'd as soon as the cell
 * lands, so a killed sweep loses at most the cells that were running. On start the runner
 * reads the file, drops a torn last line (a kill in the middle of a write), and skips every
 * cell that already has a successful line. A cell that throws is recorded as
 * `{"config", "method", "error", "seconds"}` and the sweep carries on; failed cells are run
 * again on the next start (unless `retryFailed: false`).
 *
 * One runner, two executors. The runner owns the results file, the progress and the
 * checkpoint folders; an executor runs the cells that have no line yet, a unit at a time (the
 * consecutive cells of one group, which share a cache), and hands each finished cell's line
 * back. `localExecutor` runs them here, one after another; the queue executor
 * (experiments/queue/) sends each unit to Redis as a job for `sparsecode worker`s, which run it
 * with the same `runUnit` as the local executor, so both give the same lines.
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
  /**
   * the cell's checkpoint folder (the sweep's checkpoint root joined with the folder the
   * experiment names for the cell): write checkpoints there and resume from what it holds;
   * undefined: write none. The runner removes it once every cell that uses it has its line.
   */
  checkpointDir?: string;
  /**
   * seconds of wall time between a long cell's checkpoints (`repro --checkpoint-seconds`,
   * `worker --checkpoint-seconds`); undefined: the cell's own default (60 s)
   */
  checkpointSeconds?: number;
  /** one-line notes for the user from inside the cell (resumed from a checkpoint, progress) */
  note?: (message: string) => void;
}

/** Computes one cell's metrics; may use `cache` (shared within a unit) to reuse work. */
export type CellFunction = (cell: Cell, cache: Map<string, unknown>, signal?: AbortSignal, ctx?: CellRun) => Promise<Record<string, number>> | Record<string, number>;

export interface Cell {
  config: CellConfig;
  method: string;
  /**
   * Cells with the same group (and config) share one cache object while they run back to back
   * (e.g. one world and one trained SAE for an SAE and FISTA on its decoder): one unit, which is
   * one job on a queue. Default: the config key.
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
  /** cells running now (where the executor knows: the queue's active jobs; 0 or 1 locally) */
  running?: number;
  /** a report that only updates `running` (no cell landed) */
  tick?: boolean;
}

export interface SweepOptions {
  /** folder for results.jsonl (created when missing) */
  dir: string;
  cells: Cell[];
  /** computes one cell's metrics; may use `cache` (shared within a group) to reuse work */
  run: CellFunction;
  onProgress?: (p: SweepProgress) => void;
  signal?: AbortSignal;
  /** rerun cells whose stored line is an error (default true) */
  retryFailed?: boolean;
  /** results file name inside dir (default results.jsonl) */
  file?: string;
  /**
   * checkpoint folders of the cells that learn: `root` joined with `folder(cell)` (null: the
   * cell writes none). A folder is removed once every cell of this sweep that uses it has a
   * line (a failed cell too, so its rerun starts afresh); folders left by a kill between a
   * line and its clean-up go on the next start.
   */
  checkpoints?: CheckpointLayout;
  /** notes from inside the cells */
  onNote?: (message: string) => void;
  /** where the cells run (default localExecutor: here, one after another) */
  executor?: SweepExecutor;
  /** what the sweep is (the queue executor puts it into every job) */
  identity?: SweepIdentity;
  /**
   * also write the cell's method under this field name in every line (an experiment whose
   * contract calls the method e.g. `objective`); `method` stays, so the file reads back as usual
   */
  methodField?: string;
}

/** Where the checkpoint folders of a sweep's cells are. */
export interface CheckpointLayout {
  root: string;
  folder: (cell: Cell) => string | null;
  /** seconds between a long cell's checkpoints (the cells' default when undefined) */
  seconds?: number;
}

/** What a sweep is: its experiment (by registered name), preset and every hyperparameter. */
export interface SweepIdentity {
  experiment: string;
  preset: string;
  settings: unknown;
}

/** Consecutive cells of one group and one config, run back to back in one process with one cache. */
export interface CellUnit {
  group: string;
  cells: Cell[];
}

/** What an executor gets from the runner. */
export interface ExecuteContext {
  /** hand a finished cell's line to the runner (each cell once; any order) */
  land: (cell: Cell, line: ResultLine) => void;
  /** how many cells run now (for progress) */
  running: (n: number) => void;
  run: CellFunction;
  signal?: AbortSignal;
  checkpoints?: CheckpointLayout;
  onNote?: (message: string) => void;
  identity?: SweepIdentity;
  /** every cell of the sweep, and the results file (the queue executor records them with the jobs) */
  cells: Cell[];
  path: string;
}

/** Runs the cells that have no line yet. */
export interface SweepExecutor {
  /** for messages: "local", "queue redis://host:6379/0" */
  readonly name: string;
  /**
   * Cells run on several machines at once: progress estimates the time left from the rate at
   * which cells land rather than from their mean time.
   */
  readonly parallel?: boolean;
  /**
   * Run `units` and `land` every cell's line. Resolves when every cell has landed, when the
   * signal fired (`cancelled`), or, for an executor that hands the cells to others without
   * waiting for them, once they are handed over (`detached`: lines may be missing).
   */
  execute(units: CellUnit[], ctx: ExecuteContext): Promise<{ cancelled?: boolean; detached?: boolean }>;
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
  /** cells still without a line for this sweep: 0 unless cancelled or handed to a queue without waiting */
  pending: number;
  /** true when the executor handed the cells over and returned without waiting for them */
  detached: boolean;
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

export function errorText(e: unknown): string {
  if (isSparsecodeError(e)) return e.message.startsWith(`${e.code}`) ? e.message : `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** Last line per cell key (a later success replaces an earlier error and vice versa). */
export function latestByCell(lines: ResultLine[]): Map<string, ResultLine> {
  const m = new Map<string, ResultLine>();
  for (const l of lines) m.set(cellKey(l.config, l.method), l);
  return m;
}


function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}

function isCancellation(e: unknown, signal?: AbortSignal): boolean {
  return !!signal?.aborted || (isSparsecodeError(e) && e.code === 'E_CANCELLED');
}

/**
 * Run one cell and make its line: metrics (finite numbers only) and seconds on success, the
 * error message on failure. Returns null when the cell was cancelled (nothing to record).
 */
export async function runCellLine(cell: Cell, run: CellFunction, cache: Map<string, unknown>, signal?: AbortSignal, ctx: Omit<CellRun, 'priorSeconds'> = {}): Promise<ResultLine | null> {
  const c0 = performance.now();
  const cr: CellRun = { priorSeconds: 0, ...ctx };
  try {
    const metrics = await run(cell, cache, signal, cr);
    const clean: Record<string, number> = {};
    for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) clean[k] = v;
    const prior = Number.isFinite(cr.priorSeconds) && cr.priorSeconds > 0 ? cr.priorSeconds : 0;
    const line: ResultLine = { config: cell.config, method: cell.method, metrics: clean, seconds: round((performance.now() - c0) / 1000 + prior) };
    if (prior > 0) line.seconds_before_resume = round(prior);
    return line;
  } catch (e) {
    if (isCancellation(e, signal)) return null;
    return { config: cell.config, method: cell.method, error: errorText(e), seconds: round((performance.now() - c0) / 1000) };
  }
}

/** The group of a cell (default: its config key). */
export function cellGroup(cell: Cell): string {
  return cell.group ?? configKey(cell.config);
}

/** Split cells (in order) into units: runs of consecutive cells with the same group and config. */
export function cellUnits(cells: Cell[]): CellUnit[] {
  const units: CellUnit[] = [];
  let last: { group: string; config: string } | null = null;
  for (const c of cells) {
    const group = cellGroup(c);
    const config = configKey(c.config);
    if (last && last.group === group && last.config === config) units[units.length - 1].cells.push(c);
    else units.push({ group, cells: [c] });
    last = { group, config };
  }
  return units;
}

/**
 * Run one unit's cells in order with one shared cache; `land` gets each line as it is made.
 * Returns false when the signal stopped it (the cancelled cell and the rest have no line).
 * The local executor and the queue's workers both run cells through this function.
 */
export async function runUnit(
  unit: CellUnit,
  o: { run: CellFunction; land: (cell: Cell, line: ResultLine) => void; signal?: AbortSignal; checkpoints?: CheckpointLayout; onNote?: (message: string) => void; started?: (cell: Cell) => void },
): Promise<boolean> {
  const cache = new Map<string, unknown>();
  for (const cell of unit.cells) {
    if (o.signal?.aborted) return false;
    o.started?.(cell);
    const folder = o.checkpoints ? o.checkpoints.folder(cell) : null;
    const line = await runCellLine(cell, o.run, cache, o.signal, { checkpointDir: folder ? join(o.checkpoints!.root, folder) : undefined, checkpointSeconds: o.checkpoints?.seconds, note: o.onNote });
    if (!line) return false;
    o.land(cell, line);
    // let signals and timers through between cells
    await new Promise<void>((r) => setImmediate(r));
  }
  return true;
}

/**
 * The checkpoint folders of a set of cells and the cells that still need each: a folder is
 * removed (with the parents it leaves empty, up to the root) once none of its cells is pending.
 */
export class CheckpointBook {
  private readonly users = new Map<string, Set<string>>();
  private readonly pending = new Set<string>();

  /** `done(cell)`: the cell already has its final line (its folder may go). */
  constructor(readonly layout: CheckpointLayout, cells: Cell[], done: (cell: Cell) => boolean) {
    const root = resolve(layout.root);
    for (const c of cells) {
      const f = layout.folder(c);
      if (!f) continue;
      const abs = resolve(root, f);
      const rel = relative(root, abs);
      if (rel === '' || rel.startsWith('..')) fail('E_ARG', `checkpoint folder "${f}" of ${c.method} is not inside ${root}`);
      const key = cellKey(c.config, c.method);
      if (!this.users.has(abs)) this.users.set(abs, new Set());
      this.users.get(abs)!.add(key);
      if (!done(c)) this.pending.add(key);
    }
  }

  /** Remove the folders no pending cell needs (left behind by a kill between a line and its clean-up). */
  sweepStale(): void {
    for (const [f, u] of this.users) if (![...u].some((k) => this.pending.has(k))) this.remove(f);
  }

  /** A cell has its line: remove its folder when no other pending cell needs it. */
  landed(cell: Cell): void {
    const key = cellKey(cell.config, cell.method);
    this.pending.delete(key);
    const f = this.layout.folder(cell);
    if (!f) return;
    const abs = resolve(this.layout.root, f);
    const u = this.users.get(abs);
    if (u && ![...u].some((k) => this.pending.has(k))) this.remove(abs);
  }

  private remove(folder: string): void {
    if (!existsSync(folder)) return;
    rmSync(folder, { recursive: true, force: true });
    const root = resolve(this.layout.root);
    for (let dir = dirname(folder); ; dir = dirname(dir)) {
      try {
        if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
        else break;
      } catch {
        // already gone
      }
      if (dir === root || !dir.startsWith(root)) break;
    }
  }
}

/** The default executor: every unit here, one after another. */
export const localExecutor: SweepExecutor = {
  name: 'local',
  async execute(units, ctx) {
    for (const unit of units) {
      const ok = await runUnit(unit, {
        run: ctx.run,
        signal: ctx.signal,
        checkpoints: ctx.checkpoints,
        onNote: ctx.onNote,
        land: ctx.land,
        started: () => ctx.running(1),
      });
      if (!ok) return { cancelled: true };
    }
    return {};
  },
};

/** Run (or resume) a sweep. Resolves when every cell has a line, when `signal` fires, or when a detached executor has handed the cells over. */
export async function runSweep(opts: SweepOptions): Promise<SweepSummary> {
  const path = join(opts.dir, opts.file ?? 'results.jsonl');
  mkdirSync(opts.dir, { recursive: true });
  const retryFailed = opts.retryFailed ?? true;
  const prior = readResults(path);
  if (prior.torn) dropTornTail(path, prior.validBytes);
  const stored = latestByCell(prior.lines);

  const total = opts.cells.length;
  const lines: (ResultLine | undefined)[] = new Array(total).fill(undefined);
  const index = new Map<string, number>();
  const todo: Cell[] = [];
  opts.cells.forEach((c, i) => {
    const key = cellKey(c.config, c.method);
    if (index.has(key)) fail('E_ARG', `runSweep: cell ${c.method} ${configKey(c.config)} appears twice in the sweep; cells must be distinct`);
    index.set(key, i);
    const s = stored.get(key);
    if (s && (s.error === undefined || !retryFailed)) lines[i] = s;
    else todo.push(c);
  });
  const book = opts.checkpoints ? new CheckpointBook(opts.checkpoints, opts.cells, (c) => stored.get(cellKey(c.config, c.method))?.metrics !== undefined) : null;
  book?.sweepStale();

  const executor = opts.executor ?? localExecutor;
  const skipped = total - todo.length;
  const t0 = performance.now();
  let ran = 0;
  let failed = 0;
  let runSeconds = 0;
  let running = 0;
  const landed = new Set<number>();
  const report = (cell?: Cell, line?: ResultLine, tick = false) => {
    const elapsed = (performance.now() - t0) / 1000;
    const left = total - skipped - ran;
    const perCell = executor.parallel ? elapsed / ran : runSeconds / ran;
    const eta = ran > 0 ? perCell * left : left === 0 ? 0 : NaN;
    opts.onProgress?.({ done: skipped + ran, total, skipped, ran, failed, elapsed, eta, cell, line, running, ...(tick ? { tick } : {}) });
  };
  report();

  const result = await executor.execute(cellUnits(todo), {
    cells: opts.cells,
    path,
    run: opts.run,
    signal: opts.signal,
    checkpoints: opts.checkpoints,
    onNote: opts.onNote,
    identity: opts.identity,
    running: (n) => {
      if (n === running) return;
      running = n;
      // a parallel executor's running count changes between landings; locally it is the cell being run
      if (executor.parallel) report(undefined, undefined, true);
    },
    land: (cell, line) => {
      const i = index.get(cellKey(cell.config, cell.method));
      if (i === undefined) fail('E_ARG', `${executor.name}: a line for ${cell.method} ${configKey(cell.config)}, which is not a cell of this sweep`);
      if (landed.has(i)) return; // each cell once
      landed.add(i);
      if (opts.methodField && opts.methodField !== 'method') {
        const { config, ...rest } = line;
        line = { config, [opts.methodField]: cell.method, ...rest };
      }
      appendLine(path, line);
      lines[i] = line;
      ran++;
      if (line.error !== undefined) failed++;
      runSeconds += line.seconds;
      book?.landed(cell);
      if (!executor.parallel) running = 0;
      report(cell, line);
    },
  });
  const pending = lines.filter((l) => !l).length;
  return {
    path, total, skipped, ran, failed, seconds: (performance.now() - t0) / 1000, lines,
    cancelled: !!result.cancelled, pending, detached: !!result.detached,
  };
}

/** `--seeds` of every experiment: non-negative integers (undefined: the preset's). */
export function checkSeeds(seeds: readonly number[] | undefined): void {
  for (const s of seeds ?? []) if (!Number.isInteger(s) || s < 0) fail('E_USAGE', `--seeds must be non-negative integers, got ${s}`);
}
