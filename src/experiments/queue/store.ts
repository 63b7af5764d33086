import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job, Queue } from 'bullmq';
import { fail } from '../../core/errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { cellKey, type Cell, type CellConfig, type ResultLine, type SweepIdentity } from '../runner.js';
import { canonicalJson, jobIdOf, jobLines, QUEUE_NAME, sha256, JOB_FORMAT, type CellJob } from './jobs.js';
import type { RedisTarget } from './redis.js';

/**
 * What the queue knows about a sweep, beside its jobs: the sweep record in Redis (experiment,
 * preset, settings, every cell, and which job holds which cell), written by `repro --queue`
 * and read by `queue status` and `queue collect`; and DIR/queue.json, which ties an output
 * folder to its sweep. Plus `inspectJobs`: a job's state and result lines, read as data.
 */

export const SWEEP_FORMAT = 'sparsecode-sweep/1';

export interface SweepRecord {
  format: typeof SWEEP_FORMAT;
  id: string;
  experiment: string;
  preset: string;
  settings: unknown;
  cells: { config: CellConfig; method: string; group?: string }[];
  /** job id → indices (into `cells`) of the cells it runs */
  jobs: Record<string, number[]>;
  /** the output folder on the machine that enqueued (for messages) */
  out?: string;
  updated: string;
}

/** The Redis hash of sweep records (field: sweep id). */
export function sweepsKey(): string {
  return `sparsecode:${QUEUE_NAME}:sweeps`;
}

/** A sweep's id: the hash of its experiment, preset, settings and cells. */
export function sweepIdOf(identity: SweepIdentity, cells: Cell[]): string {
  const keys = cells.map((c) => cellKey(c.config, c.method)).sort();
  return sha256(canonicalJson({ experiment: identity.experiment, preset: identity.preset, settings: identity.settings, cells: keys })).slice(0, 24);
}

type RedisLike = Awaited<Queue['client']>;

export async function loadSweep(client: RedisLike, id: string): Promise<SweepRecord | undefined> {
  const text = await client.hget(sweepsKey(), id);
  return text ? parseSweep(text) : undefined;
}

export async function listSweeps(client: RedisLike): Promise<SweepRecord[]> {
  const all = await client.hgetall(sweepsKey());
  return Object.values(all).map(parseSweep).filter((r): r is SweepRecord => !!r);
}

export async function saveSweep(client: RedisLike, r: SweepRecord): Promise<void> {
  await client.hset(sweepsKey(), { [r.id]: JSON.stringify(r) });
}

function parseSweep(text: string): SweepRecord | undefined {
  try {
    const r = JSON.parse(text);
    if (r && r.format === SWEEP_FORMAT && typeof r.id === 'string' && typeof r.experiment === 'string' && Array.isArray(r.cells) && r.jobs && typeof r.jobs === 'object') return r as SweepRecord;
  } catch {
    // not ours
  }
  return undefined;
}

/** DIR/queue.json: which sweep on which queue this output folder collects. */
export interface QueueLink {
  format: 'sparsecode-queue/1';
  redis: string;
  queue: string;
  sweep: string;
  experiment: string;
  preset: string;
}

export function writeQueueLink(out: string, target: RedisTarget, record: SweepRecord): void {
  const link: QueueLink = { format: 'sparsecode-queue/1', redis: target.display, queue: QUEUE_NAME, sweep: record.id, experiment: record.experiment, preset: record.preset };
  writeFileAtomic(join(out, 'queue.json'), JSON.stringify(link, null, 2) + '\n');
}

export function readQueueLink(out: string): QueueLink | undefined {
  const path = join(out, 'queue.json');
  if (!existsSync(path)) return undefined;
  try {
    const l = JSON.parse(readFileSync(path, 'utf8'));
    if (l && l.format === 'sparsecode-queue/1' && typeof l.sweep === 'string') return l as QueueLink;
  } catch {
    // fall through
  }
  fail('E_FORMAT', `${path} is not a queue link written by repro --queue; delete it or use another --out`);
}

/** BullMQ job states that will still change. */
const LIVE = new Set(['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children']);

export interface JobView {
  id: string;
  /** BullMQ's state, or 'missing' when the job is not (or no more) on the queue */
  state: string;
  live: boolean;
  /** the payload (undefined when it is not a cell job) */
  job?: CellJob;
  /** result lines: the return value's when completed, else the successful lines of its progress */
  lines: ResultLine[];
  /** why the job failed for good (state failed) */
  failedReason?: string;
  attemptsMade: number;
}

/** The state and lines of these jobs (all read at once). */
export async function inspectJobs(queue: Queue, ids: string[]): Promise<Map<string, JobView>> {
  const out = new Map<string, JobView>();
  await Promise.all(ids.map(async (id) => {
    // the state first, then the job: a job read after its state is at least as new (a job that
    // completes in between is read as active, never as completed without its return value)
    const state = await queue.getJobState(id);
    const j: Job | undefined = await queue.getJob(id);
    if (!j || state === 'unknown') {
      out.set(id, { id, state: j ? 'unknown' : 'missing', live: !!j, lines: [], attemptsMade: j?.attemptsMade ?? 0 });
      return;
    }
    const data = j.data as CellJob;
    // a cell job whose id is its payload's hash (anything else on the queue is not ours to read lines from)
    const job = data && data.format === JOB_FORMAT && data.config && Array.isArray(data.methods) && jobIdOf(data) === id ? data : undefined;
    let lines: ResultLine[] = [];
    if (job) {
      const progress = jobLines(j.progress, job).filter((l) => l.error === undefined);
      lines = state === 'completed' ? jobLines(j.returnvalue, job) : progress;
      for (const l of progress) if (!lines.some((x) => x.method === l.method)) lines.push(l);
    }
    out.set(id, { id, state, live: LIVE.has(state), job, lines, failedReason: state === 'failed' ? j.failedReason : undefined, attemptsMade: j.attemptsMade });
  }));
  return out;
}
