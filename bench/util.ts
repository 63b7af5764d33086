/**
 * Benchmark helpers: timing (warm-up, median of repeats, a time budget), GEMM sizes, and
 * running a Python peer script (NumPy, PyTorch, scikit-learn) on the same machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../src/core/errors.js';

export interface Timing {
  /** median seconds per run */
  median: number;
  /** fastest run, seconds */
  min: number;
  /** timed runs (after warm-up) */
  runs: number;
}

export interface TimeOptions {
  /** untimed runs first (default 1); skipped when a single run exceeds budgetS / 2 */
  warmup?: number;
  /** timed runs wanted (default 5) */
  repeats?: number;
  /** stop adding timed runs once this many seconds (warm-up included) have passed (default 3); at least one timed run always */
  budgetS?: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

/** Time fn: warm up, then the median of up to `repeats` runs within a time budget. */
export function timeIt(fn: () => void, opts: TimeOptions = {}): Timing {
  const warmup = opts.warmup ?? 1;
  const repeats = Math.max(1, opts.repeats ?? 5);
  const budget = opts.budgetS ?? 3;
  const times: number[] = [];
  const start = now(); // the warm-up counts towards the budget
  for (let w = 0; w < warmup; w++) {
    const t0 = now();
    fn();
    const dt = now() - t0;
    if (dt > budget / 2) {
      // too slow to afford a warm-up: count this run
      times.push(dt);
      break;
    }
  }
  while (times.length < repeats && (times.length === 0 || now() - start < budget)) {
    const t0 = now();
    fn();
    times.push(now() - t0);
  }
  return { median: median(times), min: Math.min(...times), runs: times.length };
}

/**
 * Time a cheap call: run it `calls` times per sample (after a warm-up of the same size) and
 * return the median seconds per call over `samples` samples.
 */
export function timePerCall(fn: () => void, calls: number, samples = 5): number {
  for (let i = 0; i < calls; i++) fn();
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    for (let i = 0; i < calls; i++) fn();
    per.push((now() - t0) / calls);
  }
  return median(per);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export function cores(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
}

/** Thread counts to try for a backend with setThreads: 1, 2, 4, ... up to and including the core count. */
export function threadCounts(max = cores()): number[] {
  const out: number[] = [];
  for (let t = 1; t < max; t *= 2) out.push(t);
  out.push(max);
  return out;
}

export interface GemmSize {
  m: number;
  k: number;
  n: number;
}

/** Parse "MxKxN" (m x k x n: A is [m x k], B is [k x n]). */
export function parseGemmSize(s: string): GemmSize {
  const parts = s.toLowerCase().split('x').map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1)) {
    fail('E_USAGE', `--sizes: "${s}" is not MxKxN with positive whole numbers (e.g. 1024x1024x1024)`);
  }
  return { m: parts[0], k: parts[1], n: parts[2] };
}

export const gemmFlops = (s: GemmSize): number => 2 * s.m * s.k * s.n;

/** Round to a few significant digits for printing. */
export function sig(x: number, digits = 4): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}

/** Environment variables that change how OpenBLAS (ours and NumPy's) runs; reported with results. */
export function blasEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && /^(OPENBLAS_|GOTO_|OMP_NUM_THREADS$|MKL_NUM_THREADS$|SPARSECODE_THREADS$)/.test(k)) out[k] = v;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Python peers

const here = dirname(fileURLToPath(import.meta.url));
/** bench/peers/ beside this file when run from source; from dist/bench/ the sources' bench/peers/. */
export const PEERS_DIR = [join(here, 'peers'), join(here, '..', '..', 'bench', 'peers')].find((d) => existsSync(join(d, 'gemm.py'))) ?? join(here, 'peers');

/** The Python interpreter for peers: SPARSECODE_PYTHON, /usr/bin/python3, or python3 on PATH. */
export function findPython(): string | null {
  const env = process.env.SPARSECODE_PYTHON;
  if (env) return existsSync(env) ? env : null;
  if (existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d && existsSync(join(d, 'python3'))) return join(d, 'python3');
  }
  return null;
}

export type PeerResult = { ok: true; rows: Record<string, unknown>[] } | { ok: false; reason: string };

/**
 * Run bench/peers/<script> with JSON arguments on stdin; it prints one JSON object per line.
 * A line {"skip": "reason"} (e.g. numpy missing) or a missing interpreter skips the peer.
 * The peer inherits this process's environment (so OpenBLAS settings are the same).
 */
export function runPeer(script: string, input: unknown, opts: { timeoutS?: number; env?: Record<string, string> } = {}): PeerResult {
  const py = findPython();
  if (!py) return { ok: false, reason: 'python3 not found (set SPARSECODE_PYTHON)' };
  const path = join(PEERS_DIR, script);
  if (!existsSync(path)) return { ok: false, reason: `${path} is missing` };
  const r = spawnSync(py, [path], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: (opts.timeoutS ?? 600) * 1000,
    env: { ...process.env, ...opts.env },
    maxBuffer: 16 << 20,
  });
  if (r.error) return { ok: false, reason: `${script}: ${r.error.message}` };
  const rows: Record<string, unknown>[] = [];
  for (const line of (r.stdout ?? '').split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const row = JSON.parse(t);
      if (typeof row.skip === 'string') return { ok: false, reason: row.skip };
      rows.push(row);
    } catch {
      /* not a result line */
    }
  }
  if (r.status !== 0) {
    const err = (r.stderr ?? '').trim().split('\n').slice(-1)[0] ?? '';
    return { ok: false, reason: `${script} exited with ${r.status}${err ? `: ${err}` : ''}` };
  }
  return { ok: true, rows };
}
