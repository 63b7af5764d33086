import { join } from 'node:path';
import { Queue } from 'bullmq';
import { fail } from '../../core/errors.js';
import { executePlan, type ExperimentRun } from '../experiment.js';
import { experimentPlan, findExperiment } from '../registry.js';
import { cellKey, latestByCell, readResults, type Cell, type SweepProgress } from '../runner.js';
import { queueExecutor, type EnqueueReport } from './executor.js';
import { checkConfig, checkSettings, QUEUE_NAME } from './jobs.js';
import { checkRedis, redisOptions, type RedisTarget } from './redis.js';
import { inspectJobs, listSweeps, loadSweep, readQueueLink, type SweepRecord } from './store.js';

/**
 * `sparsecode queue status` and `queue collect`: a sweep's progress read from its jobs, and its
 * result lines written into an output folder (results.jsonl, then report.md once every cell
 * has its line), through the same runner and queue executor as `repro --queue`.
 */

export interface SweepStatus {
  id: string;
  experiment: string;
  preset: string;
  /** the output folder on the machine that enqueued it */
  out?: string;
  total: number;
  /** cells with a successful line (on the queue, or already in --out's results.jsonl) */
  done: number;
  running: number;
  waiting: number;
  /** cells whose final line is an error */
  failed: number;
  /** cells with no job on the queue (expired, removed, or never enqueued) */
  missing: number;
  /** estimated seconds left: mean cell time × cells left / workers (NaN before a cell is done) */
  eta: number;
  updated: string;
}

export interface QueueStatus {
  redis: string;
  version: string;
  /** BullMQ job counts of the whole queue */
  counts: Record<string, number>;
  workers: number;
  sweeps: SweepStatus[];
  /** failed jobs that belong to no sweep (refused payloads), newest first, at most 10 */
  refused: { id: string; reason: string }[];
}

async function sweepStatus(queue: Queue, r: SweepRecord, workers: number, out?: string): Promise<SweepStatus> {
  const views = await inspectJobs(queue, Object.keys(r.jobs));
  const jobOf = new Map<number, string>();
  for (const [id, idx] of Object.entries(r.jobs)) for (const i of idx) jobOf.set(i, id);
  const local = out ? latestByCell(readResults(join(out, 'results.jsonl')).lines) : new Map();
  const s: SweepStatus = { id: r.id, experiment: r.experiment, preset: r.preset, out: r.out, total: r.cells.length, done: 0, running: 0, waiting: 0, failed: 0, missing: 0, eta: NaN, updated: r.updated };
  let seconds = 0;
  r.cells.forEach((c, i) => {
    const id = jobOf.get(i);
    const v = id ? views.get(id) : undefined;
    const line = v?.lines.find((l) => l.method === c.method);
    const mine = local.get(cellKey(c.config, c.method));
    if (mine?.metrics || (line && line.error === undefined)) {
      s.done++;
      seconds += (mine?.metrics ? mine.seconds : line!.seconds) ?? 0;
    } else if (v?.state === 'active') s.running++;
    else if (v?.live) s.waiting++;
    else if (line?.error !== undefined || v?.state === 'failed' || mine?.error !== undefined) s.failed++;
    else s.missing++;
  });
  const left = s.running + s.waiting;
  s.eta = left === 0 ? 0 : s.done > 0 ? ((seconds / s.done) * left) / Math.max(1, workers) : NaN;
  return s;
}

/** The queue's counts, its workers, and the progress of one sweep (`sweep`, or the one `out` collects) or of all. */
export async function queueStatus(target: RedisTarget, o: { sweep?: string; out?: string } = {}): Promise<QueueStatus> {
  const info = await checkRedis(target);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
  queue.on('error', () => {});
  try {
    const client = await queue.client;
    const id = o.sweep ?? (o.out ? readQueueLink(o.out)?.sweep : undefined);
    let records: SweepRecord[];
    if (id) {
      const r = await loadSweep(client, id);
      if (!r) fail('E_USAGE', `no sweep ${id} on ${target.display}${o.out ? ` (named by ${join(o.out, 'queue.json')})` : ''}; list them with: sparsecode queue status URL`);
      records = [r];
    } else if (o.out) {
      fail('E_USAGE', `${o.out} has no queue.json: it was not filled by repro --queue; drop --out to list every sweep`);
    } else records = await listSweeps(client);
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed');
    const workers = (await queue.getWorkers()).length;
    const sweeps = await Promise.all(records.map((r) => sweepStatus(queue, r, workers, o.out)));
    sweeps.sort((a, b) => b.updated.localeCompare(a.updated));
    const known = new Set(records.flatMap((r) => Object.keys(r.jobs)));
    const all = id ? new Set((await listSweeps(client)).flatMap((r) => Object.keys(r.jobs))) : known;
    const refused = (await queue.getFailed(0, 49)).filter((j) => !all.has(String(j.id))).slice(0, 10).map((j) => ({ id: String(j.id), reason: j.failedReason }));
    return { redis: target.display, version: info.version, counts, workers, sweeps, refused };
  } finally {
    await queue.close().catch(() => {});
  }
}

export interface CollectOptions {
  target: RedisTarget;
  out: string;
  /** the sweep (default: the one DIR/queue.json names, or the only one on the queue) */
  sweep?: string;
  /** wait for the cells still running */
  wait?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  onNote?: (message: string) => void;
  onEnqueued?: (r: EnqueueReport) => void;
}

/**
 * Write a sweep's result lines into `out` (each cell once, as `repro` would), and its report
 * once every cell has its line. The sweep's experiment, settings and cells come from its record
 * on the queue, read as data: a registered experiment, settings of its shape, plain configs.
 */
export async function collectSweep(o: CollectOptions): Promise<ExperimentRun<unknown> & { record: SweepRecord }> {
  await checkRedis(o.target);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(o.target) });
  queue.on('error', () => {});
  let record: SweepRecord | undefined;
  try {
    const client = await queue.client;
    const id = o.sweep ?? readQueueLink(o.out)?.sweep;
    if (id) {
      record = await loadSweep(client, id);
      if (!record) fail('E_USAGE', `no sweep ${id} on ${o.target.display}; list them with: sparsecode queue status URL`);
    } else {
      const all = await listSweeps(client);
      if (all.length !== 1) fail('E_USAGE', all.length ? `${all.length} sweeps on ${o.target.display} and ${o.out} has no queue.json; name one with --sweep (${all.map((r) => `${r.id} ${r.experiment}`).join('; ')})` : `no sweep on ${o.target.display}`);
      record = all[0];
    }
  } finally {
    await queue.close().catch(() => {});
  }
  const ex = findExperiment(record.experiment);
  if (!ex) fail('E_FORMAT', `sweep ${record.id} is of experiment "${record.experiment}", which this sparsecode does not know`);
  const plan = await experimentPlan(ex);
  checkSettings(record.settings, plan.settings);
  if (!Object.hasOwn(plan.def.presets, record.preset)) fail('E_FORMAT', `sweep ${record.id} names an unknown preset "${record.preset}"`);
  const cells: Cell[] = record.cells.map((c, i) => {
    checkConfig(c.config, `cells[${i}].config`);
    if (!ex.methods.includes(c.method)) fail('E_FORMAT', `cells[${i}].method "${String(c.method).slice(0, 80)}" is not a method of ${ex.name}`);
    return { config: c.config, method: c.method, ...(typeof c.group === 'string' ? { group: c.group } : {}) };
  });
  const run = await executePlan({ def: plan.def, preset: record.preset, settings: record.settings, cells }, {
    out: o.out,
    signal: o.signal,
    onProgress: o.onProgress,
    onNote: o.onNote,
    checkpoints: false,
    executor: queueExecutor({ target: o.target, collectOnly: true, wait: o.wait, onNote: o.onNote, onEnqueued: o.onEnqueued }),
  });
  return { ...run, record };
}
