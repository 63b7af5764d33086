import { parentPort, workerData } from 'node:worker_threads';
import { loadBackends, useBackend } from '../../backend/index.js';
import type { SweepPlan } from '../experiment.js';
import { experimentPlan, findExperiment } from '../registry.js';
import { CheckpointBook, errorText, runUnit, type Cell, type CheckpointLayout } from '../runner.js';
import type { FromThread, ToThread } from './worker.js';

/**
 * A worker's compute thread: runs one job's cells at a time with the same `runUnit` as a local
 * sweep, while the worker's main thread keeps the job's lock alive and talks to Redis. The job
 * was validated by the main thread; the experiment is looked up by name in the registry.
 */

const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);
const plans = new Map<string, SweepPlan<unknown>>();
let current: AbortController | null = null;

async function run(m: Extract<ToThread, { type: 'run' }>): Promise<void> {
  const ac = new AbortController();
  current = ac;
  try {
    const ex = findExperiment(m.job.experiment);
    if (!ex) throw new Error(`unknown experiment ${m.job.experiment}`);
    let plan = plans.get(ex.name);
    if (!plan) plans.set(ex.name, (plan = await experimentPlan(ex)));
    const def = plan.def;
    const done = new Set(m.done);
    const cells: Cell[] = m.job.methods.map((method) => ({ config: m.job.config, method }));
    const folder = def.checkpointFolder;
    const layout: CheckpointLayout | undefined = folder && m.checkpointRoot ? { root: m.checkpointRoot, folder: (c) => folder(c.config, c.method), seconds: m.checkpointSeconds } : undefined;
    const book = layout ? new CheckpointBook(layout, cells, (c) => done.has(c.method)) : null;
    const ok = await runUnit({ group: '', cells: cells.filter((c) => !done.has(c.method)) }, {
      run: (cell, cache, signal, ctx) => def.runCell(cell.config, cell.method, m.job.settings, cache, signal, ctx),
      land: (cell, line) => {
        book?.landed(cell);
        post({ type: 'line', line });
      },
      started: (cell) => post({ type: 'started', method: cell.method }),
      signal: ac.signal,
      checkpoints: layout,
      onNote: (message) => post({ type: 'note', message }),
    });
    post({ type: ok ? 'done' : 'cancelled' });
  } catch (e) {
    post({ type: 'error', message: errorText(e) });
  } finally {
    current = null;
  }
}

port.on('message', (m: ToThread) => {
  if (m.type === 'abort') current?.abort();
  else if (m.type === 'run') void run(m);
});

const { backend } = workerData as { backend: string };
await loadBackends({ quiet: true });
useBackend(backend);
post({ type: 'ready' });
