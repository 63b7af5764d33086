/**
 * A pool of worker threads that run tasks of one job at a time over one shared wasm memory.
 *
 * Every worker instantiates the same compiled module over the same `WebAssembly.Memory`
 * (shared). A job is described by a parameter block inside that memory (written by the main
 * thread); the module's `runTask(task, thread)` runs one task of it. Synchronisation uses a
 * small control block of Int32 words and Atomics:
 *
 *   GEN    bumped by the main thread to wake workers for a new job
 *   WORK   (ntasks << 16) | next: a worker claims a task with compareExchange(v, v + 1); a
 *          successful claim always belongs to the job in flight, whose parameters then stay
 *          put until the main thread has seen the task finish
 *   DONE   tasks finished by workers (the main thread counts its own)
 *   LIMIT  workers with id >= LIMIT sit out (setThreads lowered the count)
 *   ERR    set when a task threw in a worker
 *
 * The main thread takes part: it claims tasks like any worker, then blocks in Atomics.wait
 * until the workers' tasks are done (allowed on Node's main thread and in browser workers;
 * the backend never uses the pool on a browser main thread). Workers are unref'd in Node, so
 * an idle pool never keeps the process alive.
 */

import { fail } from '../../core/errors.js';

export const GEN = 0;
export const WORK = 1;
export const DONE = 2;
export const LIMIT = 3;
export const ERR = 4;
/** Most tasks one job may have (the claim word keeps 16 bits for the count). */
export const MAX_TASKS = 0xffff;

/** The worker's whole program, as source text: runs unchanged in node:worker_threads and in a browser Worker. */
export const WORKER_SOURCE = `
'use strict';
function start(msg) {
  var GEN = ${GEN}, WORK = ${WORK}, DONE = ${DONE}, LIMIT = ${LIMIT}, ERR = ${ERR};
  var id = msg.id;
  var ex;
  try {
    ex = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } }).exports;
  } catch (e) {
    return;
  }
  var ctrl = new Int32Array(msg.ctrl);
  var gen = Atomics.load(ctrl, GEN);
  for (;;) {
    if (id < Atomics.load(ctrl, LIMIT)) {
      for (;;) {
        var v = Atomics.load(ctrl, WORK);
        var nt = v >>> 16, nx = v & 0xffff;
        if (nx >= nt) break;
        if (Atomics.compareExchange(ctrl, WORK, v, v + 1) !== v) continue;
        try { ex.runTask(nx, id); } catch (e) { Atomics.store(ctrl, ERR, 1); }
        Atomics.add(ctrl, DONE, 1);
        Atomics.notify(ctrl, DONE, 1);
      }
    }
    Atomics.wait(ctrl, GEN, gen);
    gen = Atomics.load(ctrl, GEN);
  }
}
if (typeof require === 'function') {
  require('node:worker_threads').parentPort.once('message', start);
} else {
  self.onmessage = function (e) { self.onmessage = null; start(e.data); };
}
`;

interface WorkerLike {
  postMessage(msg: unknown): void;
  terminate(): unknown;
}

/** Creates one worker running WORKER_SOURCE (environment-specific). */
export type SpawnWorker = () => WorkerLike;

/**
 * Import a Node built-in at run time. The specifier is not a literal, so bundlers targeting
 * browsers leave it alone (it is only ever called under Node).
 */
export function nodeImport<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ name) as Promise<T>;
}

/** Node: `node:worker_threads` (imported at run time so the module stays bundleable for browsers). */
export async function nodeSpawner(): Promise<SpawnWorker> {
  const wt = await nodeImport<typeof import('node:worker_threads')>('node:worker_threads');
  return () => {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    // A worker that dies just stops claiming tasks; the main thread does the rest.
    w.on('error', () => {});
    return w;
  };
}

/** Browsers (inside a Worker): a classic worker from a Blob URL. */
export function browserSpawner(): SpawnWorker {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  return () => new Worker(url);
}

export class Pool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(64));
  private readonly workers: WorkerLike[] = [];
  private limit = 1;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly spawn: SpawnWorker,
    private readonly runTask: (task: number, thread: number) => void,
  ) {}

  /** Workers started so far (thread ids 1..size). */
  get size(): number {
    return this.workers.length;
  }

  /** Use `n` threads in all (the main thread and n - 1 workers), starting workers as needed. */
  setThreads(n: number): void {
    while (this.workers.length < n - 1) {
      const w = this.spawn();
      w.postMessage({ module: this.module, memory: this.memory, ctrl: this.ctrl.buffer, id: this.workers.length + 1 });
      this.workers.push(w);
    }
    this.limit = n;
    Atomics.store(this.ctrl, LIMIT, n);
  }

  /** Run tasks 0..ntasks-1 of the job whose parameters are in place; returns when all are done. */
  run(ntasks: number): void {
    if (ntasks > MAX_TASKS) fail('E_BACKEND', `wasm pool: ${ntasks} tasks exceed the limit of ${MAX_TASKS}`);
    if (this.limit <= 1 || ntasks <= 1 || this.workers.length === 0) {
      for (let t = 0; t < ntasks; t++) this.runTask(t, 0);
      return;
    }
    const ctrl = this.ctrl;
    Atomics.store(ctrl, ERR, 0);
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, WORK, ntasks << 16);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN, this.limit - 1);
    let mine = 0;
    let failure: unknown = null;
    for (;;) {
      const v = Atomics.load(ctrl, WORK);
      const nx = v & 0xffff;
      if (nx >= ntasks) break;
      if (Atomics.compareExchange(ctrl, WORK, v, v + 1) !== v) continue;
      mine++;
      try {
        this.runTask(nx, 0);
      } catch (e) {
        failure = e;
        break;
      }
    }
    // Close the job (no further claims) and learn how many tasks the workers took.
    const claimed = Atomics.exchange(ctrl, WORK, (ntasks << 16) | ntasks) & 0xffff;
    const theirs = Math.min(claimed, ntasks) - mine;
    for (;;) {
      const d = Atomics.load(ctrl, DONE);
      if (d >= theirs) break;
      Atomics.wait(ctrl, DONE, d);
    }
    if (failure) throw failure;
    if (Atomics.load(ctrl, ERR)) fail('E_BACKEND', 'a wasm worker thread failed while running a task (a kernel trapped); the output is incomplete');
  }

  /** Stop every worker (the pool is unusable afterwards). */
  close(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.limit = 1;
    Atomics.store(this.ctrl, LIMIT, 1);
  }
}
