import { dirname } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { fail } from '../../core/errors.js';
import type { ExperimentExecutor } from '../experiment.js';
import { cellKey, cellUnits, configKey, latestByCell, readResults, type Cell, type CellUnit, type ExecuteContext, type ResultLine } from '../runner.js';
import { cellJob, jobIdOf, QUEUE_NAME } from './jobs.js';
import { checkRedis, redisOptions, type RedisTarget } from './redis.js';
import { inspectJobs, loadSweep, saveSweep, sweepIdOf, writeQueueLink, SWEEP_FORMAT, type JobView, type SweepRecord } from './store.js';

/**
 * The queue executor: the runner's cells as BullMQ jobs on Redis, run by `sparsecode worker`s
 * anywhere. `execute` reconciles the cells without a line with the sweep's jobs already on the
 * queue (a live job is waited for, never duplicated; a finished one is collected; a cell whose
 * error is already recorded is enqueued again, as a local resume retries failed cells), adds
 * jobs for the rest (one per unit, its id the hash of its payload), then, with `wait`, lands
 * every line as the queue's events report it, with a periodic poll as a safety net.
 */

export interface QueueExecutorOptions {
  target: RedisTarget;
  /** wait until every cell has landed (default false: enqueue, land what is done, return) */
  wait?: boolean;
  /** enqueue nothing; collect what the sweep's jobs have (sparsecode queue collect) */
  collectOnly?: boolean;
  /** runs of a job before its failed cells are recorded as failed [3] */
  attempts?: number;
  /** seconds between full polls of the jobs' states (events come in between) [10] */
  pollSeconds?: number;
  /** days a finished job stays on the queue for `queue collect` [14] */
  keepDays?: number;
  onNote?: (message: string) => void;
  /** what was enqueued, once it is */
  onEnqueued?: (r: EnqueueReport) => void;
}

export interface EnqueueReport {
  sweep: string;
  /** jobs the sweep's pending cells are in, and how many of them were added now */
  jobs: number;
  added: number;
  /** cells waiting on a job, and cells landed from jobs that had finished */
  pending: number;
  landed: number;
  /** cells with no job on the queue (collectOnly: they need `repro --queue` again) */
  notEnqueued: number;
  redis: string;
  version: string;
}

interface Watched {
  cells: Cell[];
}

export function queueExecutor(o: QueueExecutorOptions): ExperimentExecutor {
  const attempts = o.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) fail('E_USAGE', `--attempts must be an integer 1-100, got ${attempts}`);
  const note = o.onNote ?? (() => {});
  return {
    name: `queue ${o.target.display}`,
    parallel: true,
    async execute(units: CellUnit[], ctx: ExecuteContext) {
      const identity = ctx.identity;
      if (!identity) fail('E_USAGE', 'a queue run needs the experiment\'s name and settings: run it through runExperiment');
      const info = await checkRedis(o.target);
      if (Number(info.version.split('.')[0]) < 6 || /^6\.[01]\./.test(info.version)) note(`Redis ${info.version} at ${o.target.display}: BullMQ recommends 6.2 or newer`);
      const queue = new Queue(QUEUE_NAME, { connection: redisOptions(o.target) });
      let lastError = 0;
      queue.on('error', (e) => {
        if (Date.now() - lastError > 30_000) note(`queue: ${e.message} (retrying)`);
        lastError = Date.now();
      });
      let events: QueueEvents | undefined;
      try {
        const client = await queue.client;
        const sweepId = sweepIdOf(identity, ctx.cells);
        const index = new Map(ctx.cells.map((c, i) => [cellKey(c.config, c.method), i]));
        const prev = await loadSweep(client, sweepId);
        const jobOfCell = new Map<string, string>();
        if (prev) for (const [id, idx] of Object.entries(prev.jobs)) for (const i of idx) if (prev.cells[i]) jobOfCell.set(cellKey(prev.cells[i].config, prev.cells[i].method), id);
        const stored = latestByCell(readResults(ctx.path).lines);
        const todo = units.flatMap((u) => u.cells);
        const landed = new Set<string>();
        const land = (cell: Cell, line: ResultLine) => {
          const k = cellKey(cell.config, cell.method);
          if (landed.has(k)) return;
          landed.add(k);
          ctx.land(cell, { ...line, config: cell.config });
        };

        // 1. the cells' jobs already on the queue
        const views = await inspectJobs(queue, [...new Set(todo.map((c) => jobOfCell.get(cellKey(c.config, c.method))).filter((x): x is string => !!x))]);
        const watched = new Map<string, Watched>();
        const fresh: Cell[] = [];
        for (const c of todo) {
          const k = cellKey(c.config, c.method);
          const id = jobOfCell.get(k);
          const v = id ? views.get(id) : undefined;
          if (!id || !v || !v.job || v.state === 'missing' || !v.job.methods.includes(c.method)) {
            fresh.push(c);
            continue;
          }
          const line = finalLine(v, c);
          if (v.live) {
            const done = v.lines.find((l) => l.method === c.method && l.error === undefined);
            if (done) land(c, done);
            else watchCell(watched, id, c);
          } else if (!line || (line.error !== undefined && stored.get(k)?.error !== undefined)) {
            fresh.push(c); // the job has no line for it, or its error is recorded already: run it again
          } else {
            land(c, line);
          }
        }

        // 2. jobs for the rest. A unit whose job is already on the queue (another sweep with the
        // same cells, or a record that was lost) is waited for or collected, never run twice.
        let added = 0;
        const notEnqueued = o.collectOnly ? fresh.length : 0;
        if (!o.collectOnly && fresh.length) {
          const keep = (o.keepDays ?? 14) * 86400;
          const adds: { name: string; data: unknown; opts: object }[] = [];
          const enqueue = async (cells: Cell[]): Promise<void> => {
            const job = cellJob(identity.experiment, identity.settings, cells);
            const id = jobIdOf(job);
            const v = (await inspectJobs(queue, [id])).get(id)!;
            if (v.live) {
              for (const c of cells) watchCell(watched, id, c);
              return;
            }
            if (v.state !== 'missing') {
              const again: Cell[] = [];
              for (const c of cells) {
                const line = v.job ? finalLine(v, c) : undefined;
                if (line && !(line.error !== undefined && stored.get(cellKey(c.config, c.method))?.error !== undefined)) land(c, line);
                else again.push(c);
              }
              if (!again.length) return;
              if (again.length < cells.length) return enqueue(again);
              // the same job finished before and its cells are to run again
              await (await queue.getJob(id))?.remove();
            }
            adds.push({
              name: identity.experiment,
              data: job,
              opts: { jobId: id, attempts, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: keep }, removeOnFail: { age: keep } },
            });
            for (const c of cells) watchCell(watched, id, c);
          };
          for (const unit of cellUnits(fresh)) await enqueue(unit.cells);
          for (let i = 0; i < adds.length; i += 500) await queue.addBulk(adds.slice(i, i + 500) as Parameters<Queue['addBulk']>[0]);
          added = adds.length;
        }

        // 3. the sweep record and DIR/queue.json
        const record: SweepRecord = {
          format: SWEEP_FORMAT, id: sweepId, experiment: identity.experiment, preset: identity.preset, settings: identity.settings,
          cells: ctx.cells.map((c) => ({ config: c.config, method: c.method, ...(c.group ? { group: c.group } : {}) })),
          jobs: {}, out: dirname(ctx.path), updated: new Date().toISOString(),
        };
        const assign = new Map<string, string>(jobOfCell);
        for (const [id, w] of watched) for (const c of w.cells) assign.set(cellKey(c.config, c.method), id);
        for (const [k, id] of assign) {
          const i = index.get(k);
          if (i === undefined) continue;
          (record.jobs[id] ??= []).push(i);
        }
        if (!o.collectOnly) {
          await saveSweep(client, record);
          writeQueueLink(dirname(ctx.path), o.target, record);
        }
        const pendingCells = () => [...watched.values()].reduce((s, w) => s + w.cells.filter((c) => !landed.has(cellKey(c.config, c.method))).length, 0);
        o.onEnqueued?.({ sweep: sweepId, jobs: watched.size, added, pending: pendingCells(), landed: landed.size, notEnqueued, redis: o.target.display, version: info.version });
        if (watched.size === 0) return { detached: notEnqueued > 0 };
        if (!o.wait) return { detached: true };

        // 4. wait: events wake the loop; every pollSeconds all watched jobs are read again
        events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(o.target) });
        events.on('error', () => {});
        const dirty = new Set<string>();
        let wake: () => void = () => {};
        const mark = ({ jobId }: { jobId: string }) => {
          if (watched.has(jobId)) {
            dirty.add(jobId);
            wake();
          }
        };
        for (const ev of ['completed', 'failed', 'progress', 'active', 'waiting', 'stalled', 'removed'] as const) events.on(ev as 'completed', mark as never);
        await events.waitUntilReady();
        const pollMs = (o.pollSeconds ?? 10) * 1000;
        let lastPoll = 0;
        const active = new Map<string, number>();
        const onAbort = () => wake();
        ctx.signal?.addEventListener('abort', onAbort);
        try {
          while (watched.size && !ctx.signal?.aborted) {
            const full = Date.now() - lastPoll >= pollMs;
            const ids = full ? [...watched.keys()] : [...dirty];
            dirty.clear();
            if (full) lastPoll = Date.now();
            const vs = await inspectJobs(queue, ids);
            for (const [id, v] of vs) {
              const w = watched.get(id);
              if (!w) continue;
              for (const c of w.cells) {
                const done = v.lines.find((l) => l.method === c.method && l.error === undefined);
                if (done) land(c, done);
              }
              if (!v.live) {
                for (const c of w.cells) land(c, finalLine(v, c) ?? errorLine(c, `the job ${id} ended (${v.state}) without a line for this cell`));
                watched.delete(id);
              }
              const left = v.state === 'active' ? w.cells.filter((c) => !landed.has(cellKey(c.config, c.method))).length : 0;
              if (left) active.set(id, left);
              else active.delete(id);
            }
            ctx.running([...active.values()].reduce((a, b) => a + b, 0));
            if (!watched.size || dirty.size) continue;
            await new Promise<void>((r) => {
              const t = setTimeout(r, Math.max(50, lastPoll + pollMs - Date.now()));
              wake = () => {
                clearTimeout(t);
                // events come in bursts: read them together
                setTimeout(r, 20);
              };
            });
            wake = () => {};
          }
        } finally {
          ctx.signal?.removeEventListener('abort', onAbort);
        }
        ctx.running(0);
        return watched.size ? { cancelled: true } : {};
      } finally {
        await events?.close().catch(() => {});
        await queue.close().catch(() => {});
      }
    },
  };
}

function watchCell(watched: Map<string, Watched>, id: string, c: Cell): void {
  let w = watched.get(id);
  if (!w) watched.set(id, (w = { cells: [] }));
  if (!w.cells.some((x) => x.method === c.method && configKey(x.config) === configKey(c.config))) w.cells.push(c);
}

function errorLine(c: Cell, error: string): ResultLine {
  return { config: c.config, method: c.method, error, seconds: 0 };
}

/** A finished job's line for a cell: its own line, or for a job that failed for good an error line with the reason. */
function finalLine(v: JobView, c: Cell): ResultLine | undefined {
  const own = v.lines.find((l) => l.method === c.method);
  if (v.state === 'completed') return own;
  if (v.state === 'failed') return own?.error === undefined && own ? own : errorLine(c, `job failed after ${v.attemptsMade} attempt(s): ${v.failedReason ?? 'no reason recorded'}`);
  return undefined;
}
