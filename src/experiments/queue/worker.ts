import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { fail } from '../../core/errors.js';
import type { SweepPlan } from '../experiment.js';
import { experimentPlan, findExperiment } from '../registry.js';
import { errorText, type ResultLine } from '../runner.js';
import { jobIdOf, jobLines, QUEUE_NAME, validateCellJob, type CellJob, type CellJobResult, type CellJobSchema } from './jobs.js';
import { checkRedis, redisOptions, type RedisTarget } from './redis.js';

/**
 * `sparsecode worker`: takes jobs (units of sweep cells) from the queue and runs them, each in
 * a compute thread of its own, so that the main thread stays free to renew the jobs' locks.
 *
 * - A job is read as data (validateCellJob); a malformed one is refused: it fails at once,
 *   with the reason recorded on the queue, and is never retried.
 * - Each finished cell's line goes into the job's progress, so a job that comes back (a retry,
 *   or a worker that died) runs only the cells that have no successful line yet.
 * - A cell that throws has an error line; the job is retried (BullMQ attempts, exponential
 *   backoff) while attempts are left, then completes with the error line recorded.
 * - A worker killed mid-cell (kill -9) holds the job's lock no longer: BullMQ's stalled-job
 *   check hands the job to another worker, which resumes the cell from its in-cell checkpoint
 *   when `checkpoints` is a folder all workers see (else it runs the cell again).
 * - Stopping (Ctrl-C, SIGTERM: `signal`) takes no new job, lets the running cells finish for
 *   `graceSeconds`, then cancels them (they checkpoint) and puts their jobs back on the queue.
 */

export interface WorkerOptions {
  target: RedisTarget;
  /** jobs run at once, one compute thread each [1] */
  concurrency?: number;
  /**
   * folder of the in-cell checkpoints (`<folder>/<job id>/...`): a folder every worker sees
   * lets a cell continue on another machine when its worker dies
   */
  checkpoints?: string;
  /** seconds of wall time between the in-cell checkpoints (default: the cells', 60 s) */
  checkpointSeconds?: number;
  /** seconds a job's lock lasts without renewal before the job counts as stalled [30] */
  lockSeconds?: number;
  /** on stop, seconds the running cells get to finish before they go back to the queue [30] */
  graceSeconds?: number;
  /** the compute backend the threads use (the worker process's choice) */
  backend: string;
  signal?: AbortSignal;
  onNote?: (message: string) => void;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'ready'; redis: string; version: string; concurrency: number; threads: number }
  | { type: 'start'; id: string; job: CellJob; attempt: number; resumed: number }
  | { type: 'done'; id: string; job: CellJob; lines: ResultLine[]; seconds: number }
  | { type: 'retry'; id: string; job: CellJob; error: string; attempt: number }
  | { type: 'released'; id: string; job: CellJob }
  | { type: 'refused'; id: string; reason: string };

export interface WorkerSummary {
  jobs: number;
  cells: number;
  failedCells: number;
  refused: number;
  released: number;
}

/** Messages to and from a compute thread. */
export type ToThread =
  | { type: 'run'; job: CellJob; done: string[]; checkpointRoot?: string; checkpointSeconds?: number }
  | { type: 'abort' };
export type FromThread =
  | { type: 'ready' }
  | { type: 'started'; method: string }
  | { type: 'line'; line: ResultLine }
  | { type: 'note'; message: string }
  | { type: 'done' }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };

/** One compute thread: runs one job at a time. */
class ComputeThread {
  private thread: Thread | null = null;
  private ready: Promise<void> | null = null;
  private handler: ((m: FromThread) => void) | null = null;
  private onExit: ((why: string) => void) | null = null;

  constructor(private readonly backend: string) {}

  private start(): Promise<void> {
    const here = import.meta.url;
    const workerData = { backend: this.backend };
    let t: Thread;
    if (here.endsWith('.ts')) {
      // running from the TypeScript sources (tests): the thread registers tsx before loading its module
      const url = new URL('./cell-thread.ts', here).href;
      t = new Thread(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData });
    } else {
      t = new Thread(new URL('./cell-thread.js', here), { workerData });
    }
    this.thread = t;
    return new Promise<void>((resolve, reject) => {
      t.on('message', (m: FromThread) => {
        if (m.type === 'ready') resolve();
        else this.handler?.(m);
      });
      t.on('error', (e) => {
        reject(e);
        this.onExit?.(`the compute thread failed: ${e.message}`);
      });
      t.on('exit', (code) => {
        this.thread = null;
        this.ready = null;
        reject(new Error(`the compute thread exited (${code}) before it was ready`));
        this.onExit?.(`the compute thread exited (${code})`);
      });
    });
  }

  /** Run a job; resolves with how it ended ('error' when the thread died or could not run it). */
  async run(msg: Extract<ToThread, { type: 'run' }>, on: { line: (l: ResultLine) => void; note: (m: string) => void; started: (method: string) => void }): Promise<{ end: 'done' | 'cancelled' | 'error'; message?: string }> {
    if (!this.ready) this.ready = this.start();
    await this.ready;
    return new Promise((resolve) => {
      const finish = (r: { end: 'done' | 'cancelled' | 'error'; message?: string }) => {
        this.handler = null;
        this.onExit = null;
        resolve(r);
      };
      this.handler = (m) => {
        if (m.type === 'line') on.line(m.line);
        else if (m.type === 'note') on.note(m.message);
        else if (m.type === 'started') on.started(m.method);
        else if (m.type === 'done' || m.type === 'cancelled') finish({ end: m.type });
        else if (m.type === 'error') finish({ end: 'error', message: m.message });
      };
      this.onExit = (why) => finish({ end: this.stopping ? 'cancelled' : 'error', message: why });
      this.thread!.postMessage(msg);
    });
  }

  private stopping = false;

  /** Ask the running cell to stop (it checkpoints and the job goes back to the queue); kill the thread if it does not within `seconds`. */
  abort(seconds: number): void {
    if (!this.thread || !this.handler) return;
    this.stopping = true;
    this.thread.postMessage({ type: 'abort' } satisfies ToThread);
    const t = this.thread;
    setTimeout(() => {
      if (this.thread === t && this.handler) void t.terminate();
    }, seconds * 1000).unref();
  }

  async close(): Promise<void> {
    await this.thread?.terminate();
  }
}

/** Run a worker until `signal` stops it. */
export async function runWorker(o: WorkerOptions): Promise<WorkerSummary> {
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) fail('E_USAGE', `--concurrency must be an integer 1-256, got ${concurrency}`);
  const lockSeconds = o.lockSeconds ?? 30;
  if (!(lockSeconds >= 1)) fail('E_USAGE', `--lock-seconds must be at least 1, got ${lockSeconds}`);
  if (o.checkpointSeconds !== undefined && !(o.checkpointSeconds > 0)) fail('E_USAGE', `--checkpoint-seconds must be a positive number, got ${o.checkpointSeconds}`);
  const grace = o.graceSeconds ?? 30;
  if (!(grace >= 0)) fail('E_USAGE', `--grace must be >= 0 seconds, got ${grace}`);
  const note = o.onNote ?? (() => {});
  const info = await checkRedis(o.target);

  // BLAS/wasm threads per compute thread: the cores shared among the jobs (unless set)
  if (!process.env.SPARSECODE_THREADS) process.env.SPARSECODE_THREADS = String(Math.max(1, Math.floor(availableParallelism() / concurrency)));
  const threads: ComputeThread[] = [];
  const idle: ComputeThread[] = [];
  const acquire = () => idle.pop() ?? (threads.push(new ComputeThread(o.backend)), threads[threads.length - 1]);
  const running = new Set<ComputeThread>();

  const plans = new Map<string, SweepPlan<unknown>>();
  const schemaOf = (name: string): CellJobSchema | undefined => {
    const ex = findExperiment(name);
    const plan = plans.get(name);
    return ex && plan ? { methods: ex.methods, settings: plan.settings } : undefined;
  };
  const summary: WorkerSummary = { jobs: 0, cells: 0, failedCells: 0, refused: 0, released: 0 };

  const processor = async (job: Job, token?: string): Promise<CellJobResult> => {
    const id = String(job.id);
    let payload: CellJob;
    try {
      const name = (job.data as { experiment?: unknown })?.experiment;
      const ex = typeof name === 'string' ? findExperiment(name) : undefined;
      if (ex && !plans.has(ex.name)) plans.set(ex.name, await experimentPlan(ex));
      payload = validateCellJob(job.data, schemaOf);
      if (id !== jobIdOf(payload)) throw new Error(`the job id ${id.slice(0, 80)} is not the hash of its payload (${jobIdOf(payload)})`);
    } catch (e) {
      const reason = errorText(e);
      summary.refused++;
      o.onEvent?.({ type: 'refused', id, reason });
      throw new UnrecoverableError(`refused: ${reason}`);
    }
    const lines = new Map<string, ResultLine>();
    for (const l of jobLines(job.progress, payload)) if (l.error === undefined) lines.set(l.method, l);
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    o.onEvent?.({ type: 'start', id, job: payload, attempt, resumed: lines.size });
    const t0 = performance.now();
    // progress writes in order; the job returns only after the last one
    let progress: Promise<void> = Promise.resolve();
    const thread = acquire();
    running.add(thread);
    let end: Awaited<ReturnType<ComputeThread['run']>>;
    try {
      end = await thread.run(
        { type: 'run', job: payload, done: [...lines.keys()], checkpointRoot: o.checkpoints ? join(o.checkpoints, id) : undefined, checkpointSeconds: o.checkpointSeconds },
        {
          line: (l) => {
            lines.set(l.method, l);
            const ok = [...lines.values()].filter((x) => x.error === undefined);
            progress = progress.then(() => job.updateProgress({ lines: ok } satisfies CellJobResult)).catch((e) => note(`job ${id}: progress not saved (${(e as Error).message})`));
          },
          note: (m) => note(m),
          started: () => {},
        },
      );
    } finally {
      running.delete(thread);
      idle.push(thread);
    }
    await progress;
    if (end.end === 'cancelled') {
      summary.released++;
      o.onEvent?.({ type: 'released', id, job: payload });
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (end.end === 'error') throw new Error(end.message ?? 'the compute thread failed');
    const all = payload.methods.map((m) => lines.get(m)).filter((l): l is ResultLine => !!l);
    const failed = all.filter((l) => l.error !== undefined);
    if (failed.length && attempt < attempts) {
      const error = `${failed.length} of ${all.length} cells failed (attempt ${attempt} of ${attempts}); ${failed[0].method}: ${failed[0].error}`;
      o.onEvent?.({ type: 'retry', id, job: payload, error, attempt });
      throw new Error(error);
    }
    if (o.checkpoints) rmSync(join(o.checkpoints, id), { recursive: true, force: true });
    summary.jobs++;
    summary.cells += all.length;
    summary.failedCells += failed.length;
    o.onEvent?.({ type: 'done', id, job: payload, lines: all, seconds: (performance.now() - t0) / 1000 });
    return { lines: all };
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: redisOptions(o.target),
    concurrency,
    lockDuration: lockSeconds * 1000,
    stalledInterval: lockSeconds * 1000,
    maxStalledCount: 3,
    autorun: false,
  });
  let lastError = 0;
  worker.on('error', (e) => {
    if (Date.now() - lastError > 30_000) note(`worker: ${e.message} (retrying)`);
    lastError = Date.now();
  });
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      note(`stopping: no new jobs; ${running.size ? `the running cells have ${grace} s to finish, then go back to the queue (their checkpoints stay)` : 'none running'}`);
      const timer = setTimeout(() => {
        for (const t of running) t.abort(20);
      }, grace * 1000);
      timer.unref();
      void worker.close().then(() => {
        clearTimeout(timer);
        resolve();
      });
    };
    if (o.signal?.aborted) stop();
    else o.signal?.addEventListener('abort', stop, { once: true });
  });
  await worker.waitUntilReady();
  o.onEvent?.({ type: 'ready', redis: o.target.display, version: info.version, concurrency, threads: Number(process.env.SPARSECODE_THREADS) });
  void worker.run().catch((e) => note(`worker: ${(e as Error).message}`));
  await stopped;
  await Promise.all(threads.map((t) => t.close()));
  return summary;
}
