import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { backend } from '../../backend/index.js';
import { fail } from '../../core/errors.js';
import { parseRedisUrl } from '../../experiments/queue/redis.js';
import { runWorker } from '../../experiments/queue/worker.js';
import type { CellJob } from '../../experiments/queue/jobs.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit.js';
import { duration } from '../progress.js';

/** A job in one line: experiment, config and methods. */
function describe(job: CellJob): string {
  const config = Object.entries(job.config).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${job.experiment} ${config}: ${job.methods.join(', ')}`;
}

/** `sparsecode worker --queue URL`: run sweep cells from a queue until stopped. */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'run sweep cells from a Redis queue (repro ... --queue URL) on this machine',
  usage: 'worker --queue redis://[:password@]host:port[/db] [--concurrency N] [--checkpoints DIR] [--checkpoint-seconds S] [--lock-seconds S] [--grace S] [--json]',
  description: [
    'Takes jobs from the queue that `sparsecode repro <experiment> --queue URL` fills, runs them (each in a',
    'compute thread of its own) and puts every cell\'s result line back on the queue; run one or more on every',
    'machine with sparsecode installed (the same version everywhere). A job is one config of a sweep with the',
    'methods that share work on it. A failing cell is retried (repro --attempts, default 3 runs) and then recorded',
    'with its error; a malformed job is refused and recorded on the queue.',
    '',
    'In-cell checkpoints (DL-FISTA, SAE training) go to --checkpoints DIR/<job id>/. When DIR is a folder every',
    'worker sees (NFS, a shared disk), a cell whose worker dies (kill -9, a lost machine) continues from its last',
    'checkpoint on the next worker that takes it (after --lock-seconds, BullMQ\'s stalled-job check); otherwise it',
    'starts again. Ctrl-C (or SIGTERM) takes no new job, gives the running cells --grace seconds to finish, then',
    'stops them at a checkpoint and puts their jobs back on the queue; a second Ctrl-C exits at once.',
    '',
    'Threads: SPARSECODE_THREADS (BLAS and wasm threads per job) defaults to the cores divided by --concurrency.',
  ].join('\n'),
  options: [
    { name: 'queue', type: 'string', required: true, metavar: 'URL', help: 'the Redis queue: redis://[:password@]host:port[/db], or rediss:// for TLS' },
    { name: 'concurrency', type: 'int', default: 1, metavar: 'N', help: 'jobs run at once on this machine, one thread each' },
    { name: 'checkpoints', type: 'string', metavar: 'DIR', help: 'folder of the in-cell checkpoints; shared by all workers to resume cells across machines (default ~/.cache/sparsecode/checkpoints)' },
    { name: 'lock-seconds', type: 'number', default: 30, metavar: 'S', help: 'a job whose worker has not renewed its lock for S seconds goes to another worker' },
    { name: 'checkpoint-seconds', type: 'number', metavar: 'S', help: 'seconds of training between a cell\'s checkpoints (default 60; lower on machines that may vanish)' },
    { name: 'grace', type: 'number', default: 30, metavar: 'S', help: 'on Ctrl-C, seconds the running cells get to finish before they go back to the queue' },
    { name: 'json', type: 'boolean', help: 'print one JSON object per event (ready, start, done, retry, released, refused) on stdout' },
  ],
  examples: [
    'sparsecode worker --queue redis://127.0.0.1:6379/0',
    'sparsecode worker --queue redis://:secret@10.0.0.5:6379/0 --concurrency 2 --checkpoints /mnt/shared/sparsecode-ck',
    'SPARSECODE_THREADS=1 nice -n 19 sparsecode worker --queue rediss://:secret@redis.lab:6380/1',
  ],
  async run(ctx) {
    if (ctx.positionals.length) fail('E_USAGE', `worker takes no positional arguments, got ${ctx.positionals.join(' ')}`);
    const o = ctx.opts;
    const target = parseRedisUrl(o.queue);
    const checkpoints = resolve(o.checkpoints ?? join(homedir(), '.cache', 'sparsecode', 'checkpoints'));
    const t0 = Date.now();
    const summary = await runWorker({
      target,
      concurrency: o.concurrency,
      checkpoints,
      lockSeconds: o['lock-seconds'],
      graceSeconds: o.grace,
      checkpointSeconds: o['checkpoint-seconds'],
      backend: backend().name,
      signal: ctx.signal,
      onNote: (m) => ctx.note(`  ${m}`),
      onEvent: (e) => {
        if (o.json) {
          ctx.print(JSON.stringify(e.type === 'start' || e.type === 'done' || e.type === 'retry' || e.type === 'released' ? { ...e, job: { experiment: e.job.experiment, config: e.job.config, methods: e.job.methods } } : e));
          return;
        }
        if (e.type === 'ready') ctx.note(`worker: ${e.redis} (Redis ${e.version}), ${e.concurrency} job(s) at once, ${e.threads} thread(s) each on the ${backend().name} backend; checkpoints in ${checkpoints}; Ctrl-C to stop`);
        else if (e.type === 'start') ctx.note(`start  ${e.id}  ${describe(e.job)}${e.attempt > 1 ? `  (attempt ${e.attempt})` : ''}${e.resumed ? `  (${e.resumed} cell(s) already done)` : ''}`);
        else if (e.type === 'done') ctx.note(`done   ${e.id}  ${e.lines.length} cell(s) in ${duration(e.seconds)}${e.lines.some((l) => l.error) ? `, ${e.lines.filter((l) => l.error).length} failed: ${e.lines.find((l) => l.error)!.error}` : ''}`);
        else if (e.type === 'retry') ctx.note(`retry  ${e.id}  ${e.error}`);
        else if (e.type === 'released') ctx.note(`back   ${e.id}  on the queue (stopped)`);
        else if (e.type === 'refused') ctx.note(`refused ${e.id}: ${e.reason}`);
      },
    });
    ctx.note(`worker: ${summary.jobs} job(s), ${summary.cells} cell(s) (${summary.failedCells} failed), ${summary.refused} refused, ${summary.released} put back, in ${duration((Date.now() - t0) / 1000)}`);
    return EXIT.ok;
  },
};
